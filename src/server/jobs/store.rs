//! jobs store
