//! Shared application state, handed to every render and server function as context.

use crate::server::auth::throttle::LoginThrottle;
use crate::server::config::Config;
use crate::server::db::Db;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Everything a request may need; cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
    /// The one cipher for secrets at rest (the stored salt-api password).
    pub secrets: Arc<crate::server::secrets::SecretsCipher>,
    pub throttle: Arc<LoginThrottle>,
    /// Caps the audit rows a client can cause without signing in.
    pub audit_limiter: Arc<crate::server::audit::AnonAuditLimiter>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub runtime: Arc<crate::server::runtime::Runtime>,
    /// Ids of users whose account changed (deactivated, password reset, roles changed): open
    /// streams re-check their session at once instead of at their next periodic check.
    pub user_events: tokio::sync::broadcast::Sender<String>,
    /// Exports running now ([`crate::server::export::MAX_EXPORTS`] at most: each
    /// holds a database connection while it runs).
    pub exports: Arc<tokio::sync::Semaphore>,
    /// Cancelled when the process starts shutting down: long-lived streams (the activity
    /// stream, the session watch) end cleanly so the server can drain.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl AppState {
    /// Tell open streams that a user's account changed (nobody listening is fine).
    pub fn user_changed(&self, user_id: &str) {
        let _ = self.user_events.send(user_id.to_string());
    }
}
