//! Timeline bars, job-activity buckets and the Timeline's validated query arguments.

use crate::error::AppError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Windows the Timeline offers (URL value, label).
pub const WINDOWS: &[(&str, &str)] = &[
    ("1h", "1 hour"),
    ("4h", "4 hours"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
];
/// Default window.
pub const DEFAULT_WINDOW: &str = "24h";
/// Ways to group rows (URL value, label).
pub const GROUP_BYS: &[(&str, &str)] = &[("function", "Function"), ("user", "User")];
/// Most jobs one Timeline shows (the most recent in the window).
pub const MAX_BARS: usize = 2_000;
/// Longest function filter accepted.
pub const MAX_FUNCTION_FILTER: usize = 128;
/// Longest Salt user name accepted.
pub const MAX_USER: usize = 255;
/// Function categories, in legend order; an unmatched prefix is `other`.
pub const CATEGORIES: &[&str] = &[
    "state", "cmd", "pkg", "service", "test", "runner", "wheel", "manage", "other",
];

/// The category (row colour) of a Salt function, from its module prefix.
pub fn category(function: &str) -> &'static str {
    let module = function.split('.').next().unwrap_or_default();
    CATEGORIES
        .iter()
        .copied()
        .find(|c| *c != "other" && *c == module)
        .unwrap_or("other")
}

/// Length of a window value (`1h`, `4h`, `24h`, `7d`) in seconds; `None` when not offered.
pub fn window_seconds(window: &str) -> Option<i64> {
    match window {
        "1h" => Some(3_600),
        "4h" => Some(4 * 3_600),
        "24h" => Some(24 * 3_600),
        "7d" => Some(7 * 24 * 3_600),
        _ => None,
    }
}

/// One job on the Timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineBar {
    pub jid: String,
    pub function: String,
    pub target: Option<String>,
    pub user: Option<String>,
    #[serde(with = "crate::model::time::utc")]
    pub started_at: DateTime<Utc>,
    /// Set once state runs are ingested (Fleet); until then state jobs are start markers too.
    #[serde(with = "crate::model::time::utc::option")]
    pub completed_at: Option<DateTime<Utc>>,
    /// `running`, `pass`, `changed`, `failed` or `unknown` (SPEC 6.6).
    pub status: String,
    pub category: String,
    /// Responding / failed minions of a state run (Fleet ingest; `None` until it exists).
    pub minion_count: Option<i64>,
    pub failed_minion_count: Option<i64>,
}

/// One row of the Timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineGroup {
    /// The function name or the Salt user (empty when Salt did not record one).
    pub key: String,
    pub label: String,
    pub category: String,
    pub bar_count: i64,
    /// Oldest first.
    pub bars: Vec<TimelineBar>,
}

/// What `timeline/get` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineOut {
    pub window: String,
    #[serde(with = "crate::model::time::utc")]
    pub window_start: DateTime<Utc>,
    #[serde(with = "crate::model::time::utc")]
    pub window_end: DateTime<Utc>,
    pub group_by: String,
    /// Busiest first.
    pub groups: Vec<TimelineGroup>,
    pub total_bars: i64,
    /// More jobs than [`MAX_BARS`] started in the window; the oldest were left out.
    pub truncated: bool,
    #[serde(with = "crate::model::time::utc::option")]
    pub last_polled_at: Option<DateTime<Utc>>,
    /// False until the jobs poller has finished a cycle (statuses are guesses until then).
    pub active_known: bool,
    /// Whether the jobs poller is switched on (Settings → Pollers).
    pub poller_enabled: bool,
}

/// One hour of job activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityBucket {
    /// Start of the hour.
    #[serde(with = "crate::model::time::utc")]
    pub hour_start: DateTime<Utc>,
    pub count: i64,
}

/// What `jobs/activity` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobActivityOut {
    pub hours: i64,
    /// Oldest first, one per clock hour touched by the window (the first and the last may be
    /// partial, so `hours + 1` buckets unless the window starts on the hour).
    pub buckets: Vec<ActivityBucket>,
    /// Non-system jobs started in the last `hours` hours (the sum of the buckets).
    pub total: i64,
    /// Running JIDs (active-JID cache) the user may view, Halite's own system jobs left out.
    pub running: i64,
    #[serde(with = "crate::model::time::utc::option")]
    pub last_polled_at: Option<DateTime<Utc>>,
    pub active_known: bool,
}

/// `true`/`on`/`1` (checkbox and URL forms) or empty/`false`/`0`.
pub fn parse_flag(field: &str, v: &str) -> Result<bool, AppError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "0" | "off" | "no" => Ok(false),
        "true" | "1" | "on" | "yes" => Ok(true),
        _ => Err(AppError::invalid(
            field,
            format!("{field} must be true or false."),
        )),
    }
}

/// Validated Timeline arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineArgs {
    pub window: String,
    pub window_seconds: i64,
    pub group_by: String,
    pub include_system: bool,
    /// Lower-cased; empty means any.
    pub function_filter: String,
    /// Exact Salt user; empty means any.
    pub user: String,
}

/// Check the Timeline's query arguments (all strings, as they come from the URL).
pub fn validate_timeline_args(
    window: &str,
    group_by: &str,
    include_system: &str,
    function_filter: &str,
    user: &str,
) -> Result<TimelineArgs, AppError> {
    let window = match window.trim() {
        "" => DEFAULT_WINDOW,
        w => w,
    };
    let window_seconds = window_seconds(window).ok_or_else(|| {
        AppError::invalid(
            "window",
            format!(
                "Window must be one of {}.",
                WINDOWS.iter().map(|w| w.0).collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let group_by = match group_by.trim() {
        "" => "function",
        g => g,
    };
    if !GROUP_BYS.iter().any(|g| g.0 == group_by) {
        return Err(AppError::invalid(
            "group_by",
            "Group by must be function or user.",
        ));
    }
    let include_system = parse_flag("include_system", include_system)?;
    let function_filter = AppError::check_plain_text(
        "function_filter",
        "The function filter",
        function_filter,
        MAX_FUNCTION_FILTER,
    )?;
    let user = AppError::check_plain_text("user", "The user name", user, MAX_USER)?;
    Ok(TimelineArgs {
        window: window.to_string(),
        window_seconds,
        group_by: group_by.to_string(),
        include_system,
        function_filter: function_filter.to_lowercase(),
        user: user.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_categories() {
        assert_eq!(category("state.apply"), "state");
        assert_eq!(category("state.highstate"), "state");
        assert_eq!(category("cmd.run"), "cmd");
        assert_eq!(category("pkg.install"), "pkg");
        assert_eq!(category("service.restart"), "service");
        assert_eq!(category("test.ping"), "test");
        assert_eq!(category("runner.jobs.active"), "runner");
        assert_eq!(category("wheel.key.list_all"), "wheel");
        assert_eq!(category("manage.present"), "manage");
        assert_eq!(category("grains.items"), "other");
        assert_eq!(
            category("states.apply"),
            "other",
            "prefix is the whole module name"
        );
        assert_eq!(category("other.thing"), "other");
        assert_eq!(category(""), "other");
        assert_eq!(category("state"), "state");
    }

    #[test]
    fn timeline_window_parsing() {
        assert_eq!(window_seconds("1h"), Some(3_600));
        assert_eq!(window_seconds("4h"), Some(14_400));
        assert_eq!(window_seconds("24h"), Some(86_400));
        assert_eq!(window_seconds("7d"), Some(604_800));
        for bad in ["", "2h", "1d", "24H", "7 days", "-1h"] {
            assert_eq!(window_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn timeline_argument_validation() {
        let a = validate_timeline_args("", "", "", "", "").unwrap();
        assert_eq!(
            (a.window.as_str(), a.window_seconds, a.group_by.as_str()),
            ("24h", 86_400, "function")
        );
        assert!(!a.include_system);
        let a = validate_timeline_args("7d", "user", "true", "  State.APPLY ", " root ").unwrap();
        assert_eq!(a.function_filter, "state.apply");
        assert_eq!(a.user, "root");
        assert!(a.include_system);
        assert!(
            validate_timeline_args("1h", "", "on", "", "")
                .unwrap()
                .include_system
        );
        let field = |r: Result<TimelineArgs, AppError>| r.unwrap_err().field().map(str::to_string);
        assert_eq!(
            field(validate_timeline_args("3h", "", "", "", "")).as_deref(),
            Some("window")
        );
        assert_eq!(
            field(validate_timeline_args("", "minion", "", "", "")).as_deref(),
            Some("group_by")
        );
        assert_eq!(
            field(validate_timeline_args("", "", "maybe", "", "")).as_deref(),
            Some("include_system")
        );
        assert_eq!(
            field(validate_timeline_args("", "", "", &"x".repeat(129), "")).as_deref(),
            Some("function_filter")
        );
        assert!(validate_timeline_args("", "", "", &"x".repeat(128), "").is_ok());
        assert_eq!(
            field(validate_timeline_args("", "", "", "", &"u".repeat(256))).as_deref(),
            Some("user")
        );
        assert_eq!(
            validate_timeline_args("", "", "", "", "x").unwrap().user,
            "x".to_string()
        );
        assert_eq!(
            validate_timeline_args("x", "", "", "", "")
                .unwrap_err()
                .status(),
            422
        );
    }
}
