//! Server functions (stable paths under `/api/`) and the types they exchange.

pub mod activity;
pub mod auth;
pub mod jobs;
pub mod keys;
pub mod minions;
pub mod overview;
pub mod run;
pub mod settings;
pub mod templates;
pub mod timeline;
