//! The Overview's figures.

use crate::model::keys::KeyState;
use crate::model::minions::StatusCounts;
use crate::model::timeline::JobActivityOut;
use serde::{Deserialize, Serialize};

/// Key counts by state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyCounts {
    pub accepted: i64,
    pub pending: i64,
    pub rejected: i64,
    pub denied: i64,
}

impl KeyCounts {
    /// Count one key.
    pub fn add(&mut self, state: KeyState) {
        match state {
            KeyState::Accepted => self.accepted += 1,
            KeyState::Pending => self.pending += 1,
            KeyState::Rejected => self.rejected += 1,
            KeyState::Denied => self.denied += 1,
        }
    }
}

/// What the Overview shows; `None` where the user may not look.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewData {
    pub minions: Option<StatusCounts>,
    pub keys: Option<KeyCounts>,
    /// Inline SVG, one tile per minion (generated server-side so 10k tiles cost one node tree
    /// the browser parses once, with nothing to hydrate).
    pub heatmap_svg: Option<String>,
    pub heatmap_count: i64,
    /// Running jobs, jobs in the last 24 h and their hourly buckets (`view:job`).
    pub jobs: Option<JobActivityOut>,
    /// Whether the jobs poller is switched on (the job figures stand still when it is off).
    pub jobs_poller_enabled: bool,
}
