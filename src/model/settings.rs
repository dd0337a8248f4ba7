//! Runtime settings as the Settings page shows them, and the runtime's status (Salt connection,
//! poller health).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Salt API connection as shown on the page (the password is never sent back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaltSettings {
    pub url: String,
    pub username: String,
    pub password_set: bool,
    pub verify: bool,
    pub eauth: String,
}

/// Poller cadences and the event stream switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollerSettings {
    pub inventory_refresh_minutes: i64,
    pub inventory_refresh_initial_delay_s: i64,
    pub fleet_poll_interval_seconds: i64,
    pub jobs_poll_interval_seconds: i64,
    pub minion_state_keys_interval_seconds: i64,
    pub minion_state_presence_interval_seconds: i64,
    pub minion_state_grains_interval_seconds: i64,
    pub minion_state_initial_delay_seconds: i64,
    pub event_stream_enabled: bool,
    pub event_stream_retention_days: i64,
    /// Days `jobs_index` keeps a job (DECISIONS: 90).
    pub jobs_retention_days: i64,
    /// Days the audit log keeps a row (default 365).
    pub audit_retention_days: i64,
}

/// Overview recent-activity widget display settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WidgetSettings {
    pub hide_dispatch: bool,
    pub hide_routine: bool,
    pub show_jobs: bool,
    pub show_keys: bool,
    pub show_minions: bool,
    pub event_count: i64,
    pub heartbeat_minutes: i64,
}

/// Everything on the Settings page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    pub salt: SaltSettings,
    pub pollers: PollerSettings,
    pub widget: WidgetSettings,
    pub updated_at: String,
}

/// Whether Salt is configured and reachable (drives the first-run prompt and the banner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaltSetupStatus {
    pub configured: bool,
    pub missing: Vec<String>,
    pub can_edit: bool,
    pub connection: SaltConnection,
}

text_enum! {
    /// The runtime's view of salt-api.
    pub enum ConnectionState {
        Starting = "starting",
        Unconfigured = "unconfigured",
        Connected = "connected",
        Unreachable = "unreachable",
        LoginFailed = "login_failed",
    }
}

/// The runtime's view of salt-api; `since` is when it entered that state (UTC, RFC 3339).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaltConnection {
    pub state: ConnectionState,
    pub detail: String,
    #[serde(with = "crate::model::time::utc::option")]
    pub since: Option<DateTime<Utc>>,
}

/// One background task's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollerStatus {
    pub name: String,
    pub interval_seconds: i64,
    #[serde(with = "crate::model::time::utc::option")]
    pub last_run_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::model::time::utc::option")]
    pub last_ok_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_summary: Option<String>,
    pub last_duration_ms: Option<i64>,
    pub runs: u64,
}

impl PollerStatus {
    /// A poller that has not run yet.
    pub fn new(name: &str, interval_seconds: i64) -> Self {
        PollerStatus {
            name: name.to_string(),
            interval_seconds,
            last_run_at: None,
            last_ok_at: None,
            last_error: None,
            last_summary: None,
            last_duration_ms: None,
            runs: 0,
        }
    }
}

/// Connection state, pollers and the replicas (Settings page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeView {
    pub connection: SaltConnection,
    pub pollers: Vec<PollerStatus>,
    pub cluster: ClusterView,
}

/// One Halite process on the shared database, as its heartbeat row shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Replica {
    pub id: String,
    pub host: String,
    #[serde(with = "crate::model::time::utc")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "crate::model::time::utc")]
    pub heartbeat_at: DateTime<Utc>,
    pub is_leader: bool,
    #[serde(with = "crate::model::time::utc::option")]
    pub leader_since: Option<DateTime<Utc>>,
    /// Not heard from for several heartbeats: the process is gone (or cut off from the
    /// database). Its row stays listed for a day.
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    #[serde(default)]
    pub silent: bool,
}

/// This replica's role and the replica list (Settings page, `/readyz`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    /// This process's replica id (`host:pid:random`).
    pub this_replica: String,
    pub is_leader: bool,
    /// The leader's replica id, when one is known.
    pub leader: Option<String>,
    /// Since when the leader leads, when known.
    #[serde(with = "crate::model::time::utc::option")]
    pub leader_since: Option<DateTime<Utc>>,
    /// Every replica with a heartbeat in the last day, leader first.
    pub replicas: Vec<Replica>,
}

/// Result of Test Connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaltTestResult {
    pub ok: bool,
    pub detail: String,
    pub minion_count: Option<usize>,
}
