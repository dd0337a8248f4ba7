//! Server functions (stable paths under `/api/`) and the types they exchange.

pub mod auth;
pub mod keys;
pub mod minions;
pub mod overview;
pub mod settings;
