//! jobs ingest
