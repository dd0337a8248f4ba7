//! Server-only code: configuration, database, auth, audit, runtime, HTTP wiring.

pub mod activity;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod db;
pub mod diagnostics;
pub mod export;
pub mod fleet;
pub mod http;
pub mod inventory;
pub mod jobs;
pub mod keys;
pub mod metrics;
pub mod minions;
pub mod page_watchdog;
pub mod poller;
pub mod roles;
pub mod run;
pub mod runtime;
pub mod secrets;
pub mod settings;
pub mod sqlglob;
pub mod state;
pub mod templates;
pub mod users;

/// Current UTC time as the RFC 3339 text stored in the database.
pub fn now_text() -> String {
    to_text(chrono::Utc::now())
}

/// A UTC time as the RFC 3339 text stored in the database (millisecond precision, `Z`).
pub fn to_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parse a stored RFC 3339 time; `None` when it is malformed.
pub fn from_text(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Every poller the feature modules register with the runtime.
pub fn pollers() -> Vec<poller::PollerSpec> {
    let mut v = minions::poller::specs();
    v.extend(jobs::poller::specs());
    v.extend(fleet::poller::specs());
    v.extend(inventory::poller::specs());
    v
}
