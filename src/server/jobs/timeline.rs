//! Timeline and job-activity reads over `jobs_index` (SPEC 6.5 "Activity buckets", 6.6): the SQL,
//! and the pure grouping, status and bucketing rules, unit-tested without a database.

use crate::model::timeline::{
    category, ActivityBucket, JobActivityOut, TimelineArgs, TimelineBar, TimelineGroup,
    TimelineOut, CATEGORIES, MAX_BARS,
};
use crate::rbac::Permission;
use crate::server::db::{Db, Dialect, Engine, Ts};
use crate::server::jobs::ingest::JobRow;
use crate::server::jobs::JobsCache;
use crate::with_db;
use chrono::{DateTime, Duration, DurationRound, Utc};
use sqlx::QueryBuilder;
use std::collections::{HashMap, HashSet};

/// Label of the user row for jobs Salt recorded no user for.
pub const NO_USER_LABEL: &str = "(no user recorded)";

fn escape_like(s: &str) -> String {
    s.to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn push_globs<DB: Dialect>(q: &mut QueryBuilder<'_, DB>, globs: &Option<Vec<String>>) {
    crate::server::minions::store::push_allowed(q, "('job:' || jid)", globs);
}

/// Jobs started in `[start, end]` matching the filters, newest first, at most `limit`.
pub async fn window_rows(
    db: &Db,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    args: &TimelineArgs,
    globs: &Option<Vec<String>>,
    limit: usize,
) -> Result<Vec<JobRow>, sqlx::Error> {
    with_db!(db, p, DB => {
        let mut q: QueryBuilder<DB> = QueryBuilder::new(
            "SELECT jid, function, target, target_type, salt_user, started_at, \
             CAST(arguments AS TEXT) AS arguments FROM jobs_index WHERE started_at >= ",
        );
        q.push_bind(Ts(start))
            .push(" AND started_at <= ")
            .push_bind(Ts(end));
        if !args.include_system {
            q.push(" AND is_system = FALSE");
        }
        if !args.function_filter.is_empty() {
            q.push(" AND lower(function) LIKE ")
                .push_bind(format!("%{}%", escape_like(&args.function_filter)))
                .push(" ESCAPE '\\'");
        }
        if !args.user.is_empty() {
            q.push(" AND salt_user = ").push_bind(args.user.clone());
        }
        push_globs(&mut q, globs);
        q.push(" ORDER BY started_at DESC, jid DESC LIMIT ")
            .push_bind(limit as i64);
        q.build_query_as().fetch_all(p).await
    })
}

/// A bar's status from the jobs index alone ([`apply_state_runs`] then adds what the fleet
/// ingest knows of state jobs).
///
/// Running comes from the active-JID cache. SPEC 6.6 gives finished `state.*` jobs
/// pass/changed/failed from `highstate_runs` and `unknown` until they are ingested; with the
/// fleet poller off "not yet ingested" would mean *every* state run forever, so a finished state
/// job without a summary is `complete`: drawn in the pass colour and labelled "complete (no
/// state summary yet)", without claiming its states passed. Other finished jobs are `pass`
/// (SPEC: "non-state job finished"). Before the jobs poller's first cycle nothing is known, so
/// anything not marked running is `unknown`.
pub fn bar_status(category: &str, active: bool, active_known: bool) -> &'static str {
    if active {
        "running"
    } else if !active_known {
        "unknown"
    } else if category == "state" {
        "complete"
    } else {
        "pass"
    }
}

/// Group rows (any order) into Timeline rows: busiest first (ties by label), bars oldest first.
/// A user row takes the colour of its most frequent category.
pub fn group_rows(
    rows: Vec<JobRow>,
    group_by: &str,
    active: &HashSet<String>,
    active_known: bool,
) -> Vec<TimelineGroup> {
    let by_user = group_by == "user";
    let mut groups: HashMap<String, Vec<TimelineBar>> = HashMap::new();
    for r in rows {
        let cat = category(&r.function);
        let key = if by_user {
            r.salt_user.clone().unwrap_or_default()
        } else {
            r.function.clone()
        };
        groups.entry(key).or_default().push(TimelineBar {
            status: bar_status(cat, active.contains(&r.jid), active_known).to_string(),
            category: cat.to_string(),
            jid: r.jid,
            function: r.function,
            target: r.target,
            user: r.salt_user,
            started_at: r.started_at,
            completed_at: None,
            minion_count: None,
            failed_minion_count: None,
        });
    }
    let mut out: Vec<TimelineGroup> = groups
        .into_iter()
        .map(|(key, mut bars)| {
            bars.sort_by(|a, b| {
                a.started_at
                    .cmp(&b.started_at)
                    .then_with(|| a.jid.cmp(&b.jid))
            });
            let category = if by_user {
                dominant_category(&bars)
            } else {
                category(&key)
            };
            let label = if key.is_empty() && by_user {
                NO_USER_LABEL.to_string()
            } else {
                key.clone()
            };
            TimelineGroup {
                key,
                label,
                category: category.to_string(),
                bar_count: bars.len() as i64,
                bars,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.bar_count
            .cmp(&a.bar_count)
            .then_with(|| a.label.cmp(&b.label))
    });
    out
}

fn dominant_category(bars: &[TimelineBar]) -> &'static str {
    let mut best = ("other", 0usize);
    for c in CATEGORIES {
        let n = bars.iter().filter(|b| b.category == *c).count();
        if n > best.1 {
            best = (c, n);
        }
    }
    best.0
}

/// What the fleet ingest knows of a state job: (completed_at, minions, failed, changed, blocked).
pub type StateJob = (DateTime<Utc>, i64, i64, i64, i64);

/// The ingested state jobs started in `[start, end]` (`highstate_jobs`), by JID.
pub async fn state_runs(
    db: &Db,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<HashMap<String, StateJob>, sqlx::Error> {
    let rows: Vec<(String, DateTime<Utc>, i64, i64, i64, i64)> = with_db!(db, p => {
        sqlx::query_as(
            "SELECT jid, completed_at, minions, failed, changed, blocked FROM highstate_jobs \
             WHERE started_at >= $1 AND started_at <= $2 AND minions > 0",
        )
        .bind(Ts(start))
        .bind(Ts(end))
        .fetch_all(p)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(jid, at, m, f, c, b)| (jid, (at, m, f, c, b)))
        .collect())
}

/// Give finished state bars what the fleet ingest knows (SPEC 6.6): their completion (so they
/// get a width), `failed` when a minion failed or did not return, else `changed` or `pass`, and
/// the minion counts. A state job not ingested yet stays `complete` (no summary yet).
pub fn apply_state_runs(groups: &mut [TimelineGroup], runs: &HashMap<String, StateJob>) {
    for bar in groups.iter_mut().flat_map(|g| g.bars.iter_mut()) {
        let Some(&(completed, minions, failed, changed, blocked)) = runs.get(&bar.jid) else {
            continue;
        };
        bar.completed_at = Some(completed.max(bar.started_at));
        bar.minion_count = Some(minions);
        bar.failed_minion_count = Some(failed + blocked);
        if bar.status != "running" && bar.category == "state" {
            bar.status = if failed + blocked > 0 {
                "failed"
            } else if changed > 0 {
                "changed"
            } else {
                "pass"
            }
            .to_string();
        }
    }
}

/// The Timeline for a validated query at `now` (SPEC 6.6).
pub async fn timeline(
    db: &Db,
    cache: &JobsCache,
    args: &TimelineArgs,
    globs: Option<Vec<String>>,
    now: DateTime<Utc>,
    poller_enabled: bool,
) -> Result<TimelineOut, sqlx::Error> {
    let start = now - Duration::seconds(args.window_seconds);
    let end = now;
    // One more than the cap tells whether older jobs were left out.
    let mut rows = window_rows(db, start, end, args, &globs, MAX_BARS + 1).await?;
    let truncated = rows.len() > MAX_BARS;
    rows.truncate(MAX_BARS);
    let active_known = cache.active_known();
    let mut groups = group_rows(rows, &args.group_by, &cache.active(), active_known);
    let runs = state_runs(db, start, end).await?;
    apply_state_runs(&mut groups, &runs);
    Ok(TimelineOut {
        window: args.window.clone(),
        window_start: start,
        window_end: end,
        group_by: args.group_by.clone(),
        total_bars: groups.iter().map(|g| g.bar_count).sum(),
        groups,
        truncated,
        last_polled_at: cache.last_polled_at(),
        active_known,
        poller_enabled,
    })
}

/// Non-system jobs started in `[start, end]` per clock hour, keyed `YYYY-MM-DDTHH`.
pub async fn hourly_counts(
    db: &Db,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    globs: &Option<Vec<String>>,
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let rows: Vec<(String, i64)> = with_db!(db, p, DB => {
        // The UTC hour of the start, as the first 13 characters of the stored RFC 3339 text.
        let hour = match DB::ENGINE {
            Engine::Sqlite => "substr(started_at, 1, 13)",
            Engine::Postgres => "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')",
        };
        let mut q: QueryBuilder<DB> = QueryBuilder::new(format!(
            "SELECT {hour} AS hour, COUNT(*) AS n FROM jobs_index \
             WHERE is_system = FALSE AND started_at >= "
        ));
        q.push_bind(Ts(start))
            .push(" AND started_at <= ")
            .push_bind(Ts(end));
        push_globs(&mut q, globs);
        q.push(format!(" GROUP BY {hour}"));
        q.build_query_as().fetch_all(p).await?
    });
    Ok(rows.into_iter().collect())
}

/// One bucket per clock hour from the hour holding `start` to the hour holding `end` (an `end`
/// exactly on the hour opens no empty last bucket), counts from `counts` (missing hours are 0).
pub fn fill_buckets(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    counts: &HashMap<String, i64>,
) -> Vec<ActivityBucket> {
    let hour = Duration::hours(1);
    let mut h = start.duration_trunc(hour).unwrap_or(start);
    let mut out = vec![];
    while h <= end {
        let key = h.format("%Y-%m-%dT%H").to_string();
        out.push(ActivityBucket {
            hour_start: h,
            count: counts.get(&key).copied().unwrap_or(0),
        });
        h += hour;
    }
    if out.len() > 1
        && out.last().is_some_and(|b| b.count == 0)
        && end.duration_trunc(hour) == Ok(end)
    {
        out.pop();
    }
    out
}

/// Which of these JIDs `jobs_index` knows as Halite's own or Salt's system traffic.
pub async fn system_jids(db: &Db, jids: &[String]) -> Result<HashSet<String>, sqlx::Error> {
    let mut out = HashSet::new();
    for chunk in jids.chunks(500) {
        let rows: Vec<(String,)> = with_db!(db, p, DB => {
            let mut q: QueryBuilder<DB> =
                QueryBuilder::new("SELECT jid FROM jobs_index WHERE is_system = TRUE AND jid IN (");
            let mut sep = q.separated(", ");
            for j in chunk {
                sep.push_bind(j.clone());
            }
            q.push(")");
            q.build_query_as().fetch_all(p).await?
        });
        out.extend(rows.into_iter().map(|r| r.0));
    }
    Ok(out)
}

/// Running JIDs the user may view, system traffic left out (the Overview's "Running jobs").
pub async fn running_count(
    db: &Db,
    cache: &JobsCache,
    perms: &[Permission],
) -> Result<i64, sqlx::Error> {
    let visible: Vec<String> = cache
        .active()
        .into_iter()
        .filter(|j| crate::rbac::allowed(perms, "view", &format!("job:{j}")))
        .collect();
    if visible.is_empty() {
        return Ok(0);
    }
    let system = system_jids(db, &visible).await?;
    Ok(visible.iter().filter(|j| !system.contains(*j)).count() as i64)
}

/// Hourly job activity over the last `hours` hours at `now` (SPEC 6.5).
pub async fn activity(
    db: &Db,
    cache: &JobsCache,
    hours: i64,
    globs: &Option<Vec<String>>,
    perms: &[Permission],
    now: DateTime<Utc>,
) -> Result<JobActivityOut, sqlx::Error> {
    let start = now - Duration::hours(hours);
    let counts = hourly_counts(db, start, now, globs).await?;
    let buckets = fill_buckets(start, now, &counts);
    Ok(JobActivityOut {
        hours,
        total: buckets.iter().map(|b| b.count).sum(),
        buckets,
        running: running_count(db, cache, perms).await?,
        last_polled_at: cache.last_polled_at(),
        active_known: cache.active_known(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::from_text;
    use crate::server::to_text;

    fn row(jid: &str, function: &str, user: Option<&str>, at: &str) -> JobRow {
        JobRow {
            jid: jid.into(),
            function: function.into(),
            target: Some("*".into()),
            target_type: None,
            salt_user: user.map(str::to_string),
            started_at: from_text(at).unwrap(),
            arguments: None,
        }
    }

    fn sample() -> Vec<JobRow> {
        vec![
            row("3", "test.ping", Some("root"), "2026-11-27T10:00:00.000Z"),
            row(
                "1",
                "state.apply",
                Some("halite"),
                "2026-11-27T08:00:00.000Z",
            ),
            row("2", "test.ping", Some("halite"), "2026-11-27T09:00:00.000Z"),
            row("4", "cmd.run", None, "2026-11-27T11:00:00.000Z"),
            row("5", "test.ping", Some("root"), "2026-11-27T07:00:00.000Z"),
        ]
    }

    #[test]
    fn timeline_groups_by_function_busiest_first() {
        let active: HashSet<String> = ["2".to_string()].into();
        let g = group_rows(sample(), "function", &active, true);
        let keys: Vec<&str> = g.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(
            keys,
            ["test.ping", "cmd.run", "state.apply"],
            "3 first, ties by label"
        );
        assert_eq!(g[0].bar_count, 3);
        assert_eq!(g[0].category, "test");
        let jids: Vec<&str> = g[0].bars.iter().map(|b| b.jid.as_str()).collect();
        assert_eq!(jids, ["5", "2", "3"], "oldest first");
        let status: Vec<&str> = g[0].bars.iter().map(|b| b.status.as_str()).collect();
        assert_eq!(status, ["pass", "running", "pass"]);
        assert_eq!(
            g[2].bars[0].status, "complete",
            "finished state job: no summary yet"
        );
        assert_eq!(g[2].category, "state");
    }

    #[test]
    fn timeline_groups_by_user() {
        let g = group_rows(sample(), "user", &HashSet::new(), true);
        let labels: Vec<&str> = g.iter().map(|g| g.label.as_str()).collect();
        assert_eq!(labels, ["halite", "root", NO_USER_LABEL]);
        assert_eq!(g[0].key, "halite");
        assert_eq!(g[0].bar_count, 2);
        assert_eq!(g[1].category, "test");
        assert_eq!(g[2].key, "", "no user: empty key, readable label");
        assert_eq!(g[2].category, "cmd");
        // halite ran one state and one test job: a tie goes to the earlier category.
        assert_eq!(g[0].category, "state");
    }

    #[test]
    fn timeline_status_rules() {
        assert_eq!(bar_status("state", true, true), "running");
        assert_eq!(bar_status("test", true, false), "running");
        assert_eq!(bar_status("state", false, true), "complete");
        assert_eq!(bar_status("cmd", false, true), "pass");
        assert_eq!(bar_status("cmd", false, false), "unknown");
        let g = group_rows(sample(), "function", &HashSet::new(), false);
        assert!(g
            .iter()
            .flat_map(|g| &g.bars)
            .all(|b| b.status == "unknown"));
        assert!(group_rows(vec![], "function", &HashSet::new(), true).is_empty());
    }

    #[test]
    fn timeline_like_escaping() {
        assert_eq!(escape_like("A_b%c\\"), "a\\_b\\%c\\\\");
    }

    #[test]
    fn timeline_activity_buckets() {
        let now = from_text("2026-11-27T12:34:56.000Z").unwrap();
        let start = now - Duration::hours(24);
        let counts: HashMap<String, i64> = [
            ("2026-11-26T12".to_string(), 2),
            ("2026-11-27T00".to_string(), 5),
            ("2026-11-27T12".to_string(), 1),
            ("2026-11-25T00".to_string(), 99),
        ]
        .into();
        let b = fill_buckets(start, now, &counts);
        assert_eq!(b.len(), 25, "partial first and last hours");
        assert_eq!(to_text(b[0].hour_start), "2026-11-26T12:00:00.000Z");
        assert_eq!(b[0].count, 2);
        assert_eq!(to_text(b[12].hour_start), "2026-11-27T00:00:00.000Z");
        assert_eq!(b[12].count, 5);
        assert_eq!(to_text(b[24].hour_start), "2026-11-27T12:00:00.000Z");
        assert_eq!(
            b.iter().map(|b| b.count).sum::<i64>(),
            8,
            "outside hours ignored"
        );
        // On the hour: no empty bucket that starts at `now`.
        let now = from_text("2026-11-27T12:00:00.000Z").unwrap();
        let b = fill_buckets(now - Duration::hours(1), now, &HashMap::new());
        assert_eq!(b.len(), 1);
        assert_eq!(to_text(b[0].hour_start), "2026-11-27T11:00:00.000Z");
    }
}
