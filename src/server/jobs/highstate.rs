//! jobs highstate
