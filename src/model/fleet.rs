//! Fleet health (SPEC 6.10): each accepted minion's highstate compliance from the `state.*`
//! jobs the master ran, the fleet's compliance over recent state runs, the states that fail most,
//! and one run's detail. Both builds: the pages render these, the server fills them.

use crate::error::AppError;
use crate::model::jobs::StateSummary;
use crate::model::list::{optional_choice, push_str, ListFilters, SortColumn};
use crate::model::page::Page;
use crate::model::time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A run older than this (days) makes an otherwise fine minion `stale`.
pub const STALE_DAYS: i64 = 2;
/// Default and largest number of state runs in the compliance chart.
pub const COMPLIANCE_RUNS: i64 = 30;
pub const MAX_COMPLIANCE_RUNS: i64 = 200;
/// Default and largest number of rows in the top-failures panel.
pub const TOP_FAILURES: i64 = 10;
pub const MAX_TOP_FAILURES: i64 = 50;
/// Default and largest number of runs on a minion's Runs tab.
pub const MINION_RUNS: i64 = 20;
pub const MAX_MINION_RUNS: i64 = 200;
/// Longest state id a filter may name (characters).
pub const MAX_STATE_ID: usize = 512;

text_enum! {
    /// A minion's health (SPEC 6.10), from its latest ingested state run and its presence.
    /// Precedence: offline, then no run (`unknown`), then `blocked`, failures (`unhealthy`),
    /// `stale`, changes, `healthy` — a known failure or a blocked run is never hidden by age.
    pub enum HealthStatus {
        Healthy = "healthy",
        Changed = "changed",
        Unhealthy = "unhealthy",
        Blocked = "blocked",
        Stale = "stale",
        Unknown = "unknown",
    }
}

impl HealthStatus {
    /// Human label for chips and badges.
    pub fn label(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Changed => "Changed",
            HealthStatus::Unhealthy => "Unhealthy",
            HealthStatus::Blocked => "Blocked",
            HealthStatus::Stale => "Stale",
            HealthStatus::Unknown => "Unknown",
        }
    }

    /// What the status means, for hover text.
    pub fn meaning(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Online; its latest run passed with no changes",
            HealthStatus::Changed => "Online; its latest run passed and changed something",
            HealthStatus::Unhealthy => "Offline, or a state failed in its latest run",
            HealthStatus::Blocked => "It did not return in its latest run",
            HealthStatus::Stale => "Online, but its latest run is more than 2 days old",
            HealthStatus::Unknown => "Online, no state run seen yet",
        }
    }
}

text_enum! {
    /// What one state run says on its own (no presence, no age): the Runs tab's badge.
    pub enum RunStatus {
        Healthy = "healthy",
        Changed = "changed",
        Unhealthy = "unhealthy",
        Blocked = "blocked",
    }
}

impl RunStatus {
    /// The status of a run with these counts. `result: null` (test mode) is counted as a change.
    pub fn of(blocked: bool, fail: i64, change: i64) -> Self {
        if blocked {
            RunStatus::Blocked
        } else if fail > 0 {
            RunStatus::Unhealthy
        } else if change > 0 {
            RunStatus::Changed
        } else {
            RunStatus::Healthy
        }
    }
}

/// How many minions have each health status (the chips).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCounts {
    pub healthy: i64,
    pub changed: i64,
    pub unhealthy: i64,
    pub blocked: i64,
    pub stale: i64,
    pub unknown: i64,
}

impl HealthCounts {
    pub fn all(&self) -> i64 {
        self.healthy + self.changed + self.unhealthy + self.blocked + self.stale + self.unknown
    }
    pub fn of(&self, s: HealthStatus) -> i64 {
        match s {
            HealthStatus::Healthy => self.healthy,
            HealthStatus::Changed => self.changed,
            HealthStatus::Unhealthy => self.unhealthy,
            HealthStatus::Blocked => self.blocked,
            HealthStatus::Stale => self.stale,
            HealthStatus::Unknown => self.unknown,
        }
    }
    pub fn add(&mut self, s: HealthStatus, n: i64) {
        match s {
            HealthStatus::Healthy => self.healthy += n,
            HealthStatus::Changed => self.changed += n,
            HealthStatus::Unhealthy => self.unhealthy += n,
            HealthStatus::Blocked => self.blocked += n,
            HealthStatus::Stale => self.stale += n,
            HealthStatus::Unknown => self.unknown += n,
        }
    }
    /// The count for a filter value (`""`: all).
    pub fn get(&self, filter: &str) -> i64 {
        filter.parse().map(|s| self.of(s)).unwrap_or(self.all())
    }
}

/// One state run of one minion, as lists show it (no states).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RunSummary {
    pub id: String,
    pub minion_id: String,
    pub jid: String,
    pub fun: String,
    #[serde(with = "time::utc")]
    pub completed_at: DateTime<Utc>,
    pub pass_count: i64,
    pub fail_count: i64,
    pub change_count: i64,
    pub total_count: i64,
    pub duration_ms: f64,
    pub blocked: bool,
    /// The run rendered nothing: Salt answered with render errors (counted as failures).
    pub render_error: bool,
    pub status: RunStatus,
}

/// One row of the fleet table: a minion, its health and its latest run (if any).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct FleetRow {
    pub minion_id: String,
    /// Answered the latest presence check (a minion known only from runs counts as online).
    pub online: bool,
    pub status: HealthStatus,
    pub run_id: Option<String>,
    pub jid: Option<String>,
    pub fun: Option<String>,
    #[serde(with = "time::utc::option")]
    pub completed_at: Option<DateTime<Utc>>,
    pub pass_count: i64,
    pub fail_count: i64,
    pub change_count: i64,
    pub total_count: i64,
    pub duration_ms: f64,
}

/// One page of the fleet table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetPage {
    #[serde(flatten)]
    pub list: Page<FleetRow>,
    /// Counts per status for the search (and failing-state filter), whatever the status filter.
    pub counts: HealthCounts,
}

/// A minion's tile in the health grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct HealthTile {
    pub minion_id: String,
    pub status: HealthStatus,
}

/// One state job in the compliance chart: how many of its minions passed, changed, failed or
/// were blocked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ComplianceBucket {
    pub jid: String,
    pub fun: String,
    /// The last of its minions' completion times.
    #[serde(with = "time::utc")]
    pub completed_at: DateTime<Utc>,
    pub minions: i64,
    pub passed: i64,
    pub changed: i64,
    pub failed: i64,
    pub blocked: i64,
}

/// A state that fails on some minions' latest run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct TopFailure {
    pub state_id: String,
    /// `module.function`, e.g. `pkg.installed`.
    pub fun: String,
    /// A name of the state (one of them, when it differs between minions).
    pub name: String,
    /// Minions whose latest run fails it.
    pub minions: i64,
    /// One of Salt's comments for it.
    pub comment: String,
}

/// Everything above the fleet table: chips, grid, compliance chart, top failures, freshness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetSummary {
    pub counts: HealthCounts,
    /// Empty when not asked for (the Overview needs none).
    pub tiles: Vec<HealthTile>,
    /// Oldest first.
    pub compliance: Vec<ComplianceBucket>,
    pub top_failures: Vec<TopFailure>,
    /// The fleet poller is on (Settings → Pollers).
    pub poller_enabled: bool,
    /// The jobs poller or the event stream fills the jobs index the fleet poller reads.
    pub jobs_source: bool,
    #[serde(with = "time::utc::option")]
    pub last_ingest_at: Option<DateTime<Utc>>,
}

/// One run with its states (failing first) for `/fleet/runs/:id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub run: RunSummary,
    /// `None` when the raw return is no longer kept (older runs keep only their counts).
    pub states: Option<StateSummary>,
    /// The minion's health now (from its latest run and presence), if it is still known.
    pub minion_status: Option<HealthStatus>,
}

/// A minion's run history (Runs tab), newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinionRuns {
    pub minion_id: String,
    pub total: i64,
    pub runs: Vec<RunSummary>,
    pub status: HealthStatus,
}

/// The fleet table's sortable columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetSort {
    Minion,
    Status,
    Completed,
    Failures,
    Changes,
}

impl SortColumn for FleetSort {
    // The default (worst first, as the store orders an unsorted list) leads.
    const ALL: &'static [Self] = &[
        FleetSort::Status,
        FleetSort::Minion,
        FleetSort::Completed,
        FleetSort::Failures,
        FleetSort::Changes,
    ];
    fn as_str(self) -> &'static str {
        match self {
            FleetSort::Minion => "minion",
            FleetSort::Status => "status",
            FleetSort::Completed => "completed",
            FleetSort::Failures => "failures",
            FleetSort::Changes => "changes",
        }
    }
}

/// The fleet table's filters: a health status and a failing state id (both optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetFilters {
    pub status: String,
    /// Only minions whose latest run fails the state with this id.
    pub failing: String,
}

/// [`FleetFilters`] once checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidFleetFilters {
    pub status: Option<HealthStatus>,
    pub failing: Option<String>,
}

impl ListFilters for FleetFilters {
    const PATH: &'static str = "/fleet";
    type Sort = FleetSort;
    type Valid = ValidFleetFilters;
    fn from_query(get: &dyn Fn(&str) -> String) -> Self {
        FleetFilters {
            status: get("status"),
            failing: get("failing"),
        }
    }
    fn to_query(&self, out: &mut Vec<String>) {
        push_str(out, "status", &self.status);
        push_str(out, "failing", &self.failing);
    }
    fn is_active(&self) -> bool {
        !self.status.is_empty() || !self.failing.is_empty()
    }
    fn validate(self) -> Result<Self::Valid, AppError> {
        let names: Vec<&str> = HealthStatus::ALL.iter().map(|s| s.as_str()).collect();
        let status = optional_choice(
            "status",
            &self.status,
            &format!("Status must be one of {}.", names.join(", ")),
        )?;
        let failing = self.failing.trim();
        AppError::check_max_chars("failing", "The state id", failing, MAX_STATE_ID)?;
        if failing.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "failing",
                "The state id may not contain control characters.",
            ));
        }
        Ok(ValidFleetFilters {
            status,
            failing: (!failing.is_empty()).then(|| failing.to_string()),
        })
    }
}

/// A count argument (`limit`): 0 means `default`, else 1 to `max`.
pub fn validate_limit(
    field: &'static str,
    n: i64,
    default: i64,
    max: i64,
) -> Result<i64, AppError> {
    match n {
        0 => Ok(default),
        1.. if n <= max => Ok(n),
        _ => Err(AppError::invalid(
            field,
            format!("{field} must be a number from 1 to {max}."),
        )),
    }
}

/// A run id: a UUID (36 characters of hex digits and dashes).
pub fn validate_run_id(s: &str) -> Result<String, AppError> {
    let s = s.trim();
    let ok = s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if !ok {
        return Err(AppError::invalid("id", "That is not a valid run id."));
    }
    Ok(s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_status_rules() {
        // (blocked, fail, change) -> status; blocked wins, then failures, then changes.
        let table = [
            ((false, 0, 0), RunStatus::Healthy),
            ((false, 0, 3), RunStatus::Changed),
            ((false, 1, 3), RunStatus::Unhealthy),
            ((true, 0, 0), RunStatus::Blocked),
            ((true, 2, 1), RunStatus::Blocked),
        ];
        for ((b, f, c), want) in table {
            assert_eq!(RunStatus::of(b, f, c), want, "{b} {f} {c}");
        }
    }

    #[test]
    fn filters_and_limits() {
        let ok = FleetFilters {
            status: "blocked".into(),
            failing: " lab-fail ".into(),
        }
        .validate()
        .unwrap();
        assert_eq!(ok.status, Some(HealthStatus::Blocked));
        assert_eq!(ok.failing.as_deref(), Some("lab-fail"));
        let bad = FleetFilters {
            status: "green".into(),
            failing: String::new(),
        };
        assert_eq!(bad.validate().unwrap_err().field(), Some("status"));
        let long = FleetFilters {
            status: String::new(),
            failing: "x".repeat(MAX_STATE_ID + 1),
        };
        assert_eq!(long.validate().unwrap_err().field(), Some("failing"));
        assert_eq!(validate_limit("limit", 0, 30, 200).unwrap(), 30);
        assert_eq!(validate_limit("limit", 200, 30, 200).unwrap(), 200);
        assert!(validate_limit("limit", 201, 30, 200).is_err());
        assert!(validate_limit("limit", -1, 30, 200).is_err());
        assert!(validate_run_id("0b7c2a0e-4a63-4a8e-9f59-1d2f3c4b5a69").is_ok());
        assert!(validate_run_id("0b7c2a0e-4a63-4a8e-9f59-1d2f3c4b5a6").is_err());
        assert!(validate_run_id("../../etc/passwd").is_err());
    }
}
