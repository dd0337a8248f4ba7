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
    /// How fresh each poller's data is (the header's freshness indicator).
    #[serde(default)]
    pub pollers: Vec<PollerFreshness>,
}

/// How fresh one poller's data is, as every signed-in user may see it (no error text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollerFreshness {
    pub name: String,
    /// 0: switched off in Settings.
    pub interval_seconds: i64,
    /// Seconds since its last successful run, when the answer was made; `None`: not yet.
    pub age_seconds: Option<i64>,
    /// Its last run failed.
    pub failing: bool,
    /// It has run in this process (a follower replica's pollers wait for the leadership).
    pub ran: bool,
}

impl PollerFreshness {
    /// From the runtime's status at `now`.
    pub fn of(p: &PollerStatus, now: DateTime<Utc>) -> Self {
        PollerFreshness {
            name: p.name.clone(),
            interval_seconds: p.interval_seconds,
            age_seconds: p.last_ok_at.map(|t| (now - t).num_seconds().max(0)),
            failing: p.last_error.is_some() && p.last_run_at != p.last_ok_at,
            ran: p.runs > 0,
        }
    }
}

/// The pollers that feed a page, by path, and what the header calls them.
pub const PAGE_POLLERS: &[(&str, &str, &str)] = &[
    ("/keys", "minions.keys", "keys poller"),
    ("/minions", "minions.presence", "presence poller"),
    ("/jobs", "jobs.index", "jobs poller"),
    ("/timeline", "jobs.index", "jobs poller"),
    ("/fleet", "fleet.ingest", "fleet poller"),
    ("/inventory", "inventory.collect", "inventory poller"),
    ("/", "minions.presence", "presence poller"),
];

/// What the header says of a page's data.
#[derive(Debug, Clone, PartialEq)]
pub struct Freshness {
    /// "Updated 12 s ago", "Updating…", "Poller off".
    pub text: String,
    /// Longer: which poller, how often, since when.
    pub detail: String,
    /// The data may be out of date: the banner shows `detail`.
    pub stale: bool,
}

fn age_text(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

/// The freshness of the page at `path` from `status`; `None` for a page no poller feeds, or
/// whose poller has not run in this process.
pub fn freshness(path: &str, status: &SaltSetupStatus) -> Option<Freshness> {
    let (_, name, label) = PAGE_POLLERS.iter().find(|(p, _, _)| {
        if *p == "/" {
            path == "/"
        } else {
            path == *p || path.starts_with(&format!("{p}/"))
        }
    })?;
    let p = status.pollers.iter().find(|p| p.name == *name)?;
    if p.interval_seconds <= 0 {
        return Some(Freshness {
            text: "Poller off".into(),
            detail: format!("The {label} is switched off in Settings: this page is not updated."),
            stale: true,
        });
    }
    if !p.ran {
        return None;
    }
    let every = age_text(p.interval_seconds);
    let salt_down = matches!(
        status.connection.state,
        ConnectionState::Unreachable | ConnectionState::LoginFailed
    );
    Some(match p.age_seconds {
        None => Freshness {
            text: "Not updated yet".into(),
            detail: format!("The {label} (every {every}) has not succeeded yet."),
            stale: true,
        },
        Some(age) => {
            // Three missed runs (and a minute of slack for slow ones) is stale.
            let late = age > 3 * p.interval_seconds + 60;
            let stale = late || p.failing || salt_down;
            let why = if salt_down {
                "salt-api cannot be reached"
            } else if p.failing {
                "its last run failed"
            } else {
                "it is late"
            };
            Freshness {
                text: format!("Updated {} ago", age_text(age)),
                detail: if stale {
                    format!(
                        "This page's data is {} old: the {label} (every {every}) is not keeping up, {why}.",
                        age_text(age)
                    )
                } else {
                    format!(
                        "From the {label}, every {every}; last success {} ago.",
                        age_text(age)
                    )
                },
                stale,
            }
        }
    })
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
    /// A poller that has not run yet (see also [`PollerFreshness::of`]).
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

#[cfg(test)]
mod freshness_tests {
    use super::*;

    fn status(state: ConnectionState, pollers: Vec<PollerFreshness>) -> SaltSetupStatus {
        SaltSetupStatus {
            configured: true,
            missing: vec![],
            can_edit: false,
            connection: SaltConnection {
                state,
                detail: String::new(),
                since: None,
            },
            pollers,
        }
    }

    fn keys(age: Option<i64>, failing: bool, interval: i64) -> PollerFreshness {
        PollerFreshness {
            name: "minions.keys".into(),
            interval_seconds: interval,
            age_seconds: age,
            failing,
            ran: true,
        }
    }

    #[test]
    fn a_page_is_as_fresh_as_the_poller_that_feeds_it() {
        let ok = status(ConnectionState::Connected, vec![keys(Some(12), false, 60)]);
        let f = freshness("/keys", &ok).unwrap();
        assert_eq!((f.text.as_str(), f.stale), ("Updated 12 s ago", false));
        assert!(
            f.detail.contains("keys poller, every 1 min"),
            "{}",
            f.detail
        );
        assert_eq!(freshness("/keys/x", &ok).unwrap().text, "Updated 12 s ago");
        // Pages no poller feeds, and pollers that have not run here, say nothing.
        assert_eq!(freshness("/users", &ok), None);
        assert_eq!(freshness("/jobs", &ok), None);
        // Late, failing, salt-api down or off: stale.
        let late = status(ConnectionState::Connected, vec![keys(Some(600), false, 60)]);
        assert!(freshness("/keys", &late).unwrap().stale);
        assert_eq!(
            freshness("/keys", &late).unwrap().text,
            "Updated 10 min ago"
        );
        let failing = status(ConnectionState::Connected, vec![keys(Some(30), true, 60)]);
        assert!(freshness("/keys", &failing)
            .unwrap()
            .detail
            .contains("last run failed"));
        let down = status(
            ConnectionState::Unreachable,
            vec![keys(Some(30), false, 60)],
        );
        assert!(freshness("/keys", &down)
            .unwrap()
            .detail
            .contains("salt-api cannot be reached"));
        let off = status(ConnectionState::Connected, vec![keys(None, false, 0)]);
        assert_eq!(freshness("/keys", &off).unwrap().text, "Poller off");
    }
}
