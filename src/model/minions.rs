//! Minions: list rows, status counts, the detail view and the list's status vocabulary (the
//! sort columns and page sizes are in `crate::model::list`).

use serde::{Deserialize, Serialize};

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
    /// Count for one status name.
    pub fn get(&self, status: &str) -> i64 {
        match status {
            "online" => self.online,
            "offline" => self.offline,
            "pending" => self.pending,
            "rejected" => self.rejected,
            "denied" => self.denied,
            _ => self.all(),
        }
    }
}

/// One row of the minions table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinionRow {
    pub id: String,
    pub status: String,
    pub ip: Option<String>,
    pub os: Option<String>,
    pub salt: Option<String>,
    pub cpus: Option<i64>,
    pub mem_mb: Option<i64>,
    pub virtual_type: Option<String>,
    pub stale: bool,
}

/// One page of minions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinionPage {
    pub rows: Vec<MinionRow>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub counts: StatusCounts,
}

/// Everything the detail page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinionDetail {
    pub id: String,
    pub status: String,
    pub key_status: String,
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
    pub keys_refreshed_at: Option<String>,
    pub presence_refreshed_at: Option<String>,
    pub grains_refreshed_at: Option<String>,
    pub stale: bool,
}

/// Valid status filters.
pub const STATUSES: &[&str] = &["online", "offline", "pending", "rejected", "denied"];

/// Data older than this (minutes) is flagged stale.
pub const STALE_MINUTES: i64 = 10;
