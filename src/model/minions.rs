//! Minions: list rows, status counts, the detail view and the list's status vocabulary (the
//! sort columns and page sizes are in `crate::model::list`).

pub use crate::model::ids::MinionId;
use crate::model::keys::KeyState;
use crate::model::page::Page;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

text_enum! {
    /// A minion's derived status: `online`/`offline` for an accepted key, else the key state
    /// (`minion_snapshots.status`, a generated column).
    pub enum MinionStatus {
        Online = "online",
        Offline = "offline",
        Pending = "pending",
        Rejected = "rejected",
        Denied = "denied",
    }
}

impl MinionStatus {
    /// The key state behind this status.
    pub fn key_state(self) -> KeyState {
        match self {
            MinionStatus::Online | MinionStatus::Offline => KeyState::Accepted,
            MinionStatus::Pending => KeyState::Pending,
            MinionStatus::Rejected => KeyState::Rejected,
            MinionStatus::Denied => KeyState::Denied,
        }
    }
}

/// Counts per derived status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusCounts {
    pub online: i64,
    pub offline: i64,
    pub pending: i64,
    pub rejected: i64,
    pub denied: i64,
}

impl StatusCounts {
    /// Sum of every status.
    pub fn all(&self) -> i64 {
        self.online + self.offline + self.pending + self.rejected + self.denied
    }
    /// Count for one status name; the sum for anything else (`""`, "all").
    pub fn get(&self, status: &str) -> i64 {
        match status.parse() {
            Ok(s) => self.of(s),
            Err(_) => self.all(),
        }
    }
    /// Count for one status.
    pub fn of(&self, status: MinionStatus) -> i64 {
        match status {
            MinionStatus::Online => self.online,
            MinionStatus::Offline => self.offline,
            MinionStatus::Pending => self.pending,
            MinionStatus::Rejected => self.rejected,
            MinionStatus::Denied => self.denied,
        }
    }
    /// Add `n` to one status.
    pub fn add(&mut self, status: MinionStatus, n: i64) {
        match status {
            MinionStatus::Online => self.online += n,
            MinionStatus::Offline => self.offline += n,
            MinionStatus::Pending => self.pending += n,
            MinionStatus::Rejected => self.rejected += n,
            MinionStatus::Denied => self.denied += n,
        }
    }
}

/// One row of the minions table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct MinionRow {
    pub id: String,
    pub status: MinionStatus,
    pub ip: Option<String>,
    pub os: Option<String>,
    pub salt: Option<String>,
    pub cpus: Option<i64>,
    pub mem_mb: Option<i64>,
    pub virtual_type: Option<String>,
    /// Computed from the refresh times after reading (not a column).
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub stale: bool,
}

/// One page of minions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinionPage {
    #[serde(flatten)]
    pub list: Page<MinionRow>,
    pub counts: StatusCounts,
}

/// Everything the detail page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct MinionDetail {
    pub id: MinionId,
    pub status: MinionStatus,
    pub key_status: KeyState,
    pub ip: Option<String>,
    pub os: Option<String>,
    pub os_family: Option<String>,
    pub osrelease: Option<String>,
    pub kernel: Option<String>,
    pub kernelrelease: Option<String>,
    pub virtual_type: Option<String>,
    pub cpus: Option<i64>,
    pub cpu_model: Option<String>,
    pub mem_mb: Option<i64>,
    pub salt: Option<String>,
    pub grains_json: Option<String>,
    #[serde(with = "crate::model::time::utc::option")]
    pub keys_refreshed_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::model::time::utc::option")]
    pub presence_refreshed_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::model::time::utc::option")]
    pub grains_refreshed_at: Option<DateTime<Utc>>,
    /// Computed from the refresh times after reading (not a column).
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub stale: bool,
}

/// Valid status filters.
pub const STATUSES: &[&str] = &["online", "offline", "pending", "rejected", "denied"];

/// Data older than this (minutes) is flagged stale.
pub const STALE_MINUTES: i64 = 10;
