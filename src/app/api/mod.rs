//! Server functions (stable paths under `/api/`) and the types they exchange.

pub mod auth;
pub mod settings;
