//! Minions and keys: snapshot store, pure ingest, and the three pollers.

pub mod export;
pub mod ingest;
pub mod poller;
pub mod store;
