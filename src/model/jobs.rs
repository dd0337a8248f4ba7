//! Jobs: list rows, job detail, parsed state returns, and the JID and argument helpers both
//! builds use.

pub use crate::model::ids::Jid;
use crate::model::page::Page;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Live mode asks the master directly and shows at most this many jobs (SPEC 6.5).
pub const LIVE_CAP: usize = 500;

text_enum! {
    /// A job in the jobs list: `running` while its JID is in the active cache.
    pub enum JobStatus {
        Running = "running",
        Complete = "complete",
    }
}

text_enum! {
    /// Where one targeted minion is in a job.
    pub enum MinionJobState {
        Returned = "returned",
        Running = "running",
        NoResponse = "no_response",
    }
}

/// One row of the jobs table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct JobListRow {
    pub jid: String,
    pub function: String,
    pub target: Option<String>,
    pub target_type: Option<String>,
    pub user: Option<String>,
    #[serde(with = "crate::model::time::utc::option")]
    pub started_at: Option<DateTime<Utc>>,
    pub status: JobStatus,
}

/// One page of jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobsPage {
    #[serde(flatten)]
    pub list: Page<JobListRow>,
    pub live: bool,
    #[serde(with = "crate::model::time::utc::option")]
    pub last_polled_at: Option<DateTime<Utc>>,
    pub active_known: bool,
    pub poller_enabled: bool,
}

/// One state of a state run (highstate table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateRow {
    pub state_id: String,
    pub sls: Option<String>,
    pub name: String,
    /// `module.function`, e.g. `file.managed`.
    pub fun: String,
    /// `pass`, `fail` or `would_change` (test mode).
    pub result: String,
    pub duration_ms: Option<f64>,
    pub comment: String,
    pub changes_json: Option<String>,
    pub run_num: i64,
}

/// A minion's parsed state return.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateSummary {
    pub rows: Vec<StateRow>,
    /// Render errors and other non-state returns, verbatim.
    pub errors: Vec<String>,
    pub no_top: bool,
    pub pass: i64,
    pub fail: i64,
    pub would_change: i64,
    pub changed: i64,
    pub duration_ms: f64,
}

/// One targeted minion in a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobMinionRow {
    pub minion: String,
    pub state: MinionJobState,
    pub success: Option<bool>,
    pub retcode: Option<i64>,
    /// Pretty JSON of the return (clipped for huge returns).
    pub return_json: String,
    pub truncated: bool,
    pub highstate: Option<StateSummary>,
}

/// Job detail (live from the master).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetailView {
    pub jid: Jid,
    pub function: String,
    pub arguments: Vec<String>,
    pub kwargs: Vec<(String, String)>,
    pub target: Option<String>,
    pub target_type: Option<String>,
    pub user: Option<String>,
    #[serde(with = "crate::model::time::utc::option")]
    pub started_at: Option<DateTime<Utc>>,
    pub running: bool,
    pub is_state: bool,
    pub minions: Vec<JobMinionRow>,
    pub returned: i64,
    pub failed: i64,
    pub no_response: i64,
    pub can_kill: bool,
    pub raw_json: String,
    pub raw_truncated: bool,
}

/// Split Salt's `Arguments` list into positional args and `__kwarg__` dicts.
pub fn split_arguments(v: &serde_json::Value) -> (Vec<String>, Vec<(String, String)>) {
    use serde_json::Value;
    let show = |x: &Value| match x {
        Value::String(s) => s.clone(),
        o => o.to_string(),
    };
    let mut args = vec![];
    let mut kwargs = vec![];
    for a in v.as_array().into_iter().flatten() {
        match a {
            Value::Object(m) if m.get("__kwarg__") == Some(&Value::Bool(true)) => {
                for (k, val) in m {
                    if k != "__kwarg__" {
                        kwargs.push((k.clone(), show(val)));
                    }
                }
            }
            other => args.push(show(other)),
        }
    }
    (args, kwargs)
}

/// Pretty JSON clipped to `max` bytes (on a char boundary).
pub fn clipped_json(v: &serde_json::Value, max: usize) -> (String, bool) {
    let s = serde_json::to_string_pretty(v).unwrap_or_default();
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s[..end].to_string(), true)
}

/// What a kill request did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KillResult {
    pub jid: Jid,
    pub minions: Vec<String>,
    pub message: String,
}
