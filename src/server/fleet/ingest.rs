//! From a minion's return of a `state.*` job to a `highstate_runs` row: counting (SPEC 6.10,
//! DECISIONS: `result: null` counts as a change), the blocked sentinel, render errors, and the
//! batched, idempotent write on (minion_id, jid) with each minion's latest-run pointer, the
//! failing states and the per-job sums kept up to date.

use crate::salt::events::{EventTag, SaltEvent};
use crate::salt::replies::JobDetail;
use crate::salt::state::{classify, StateRun};
use crate::server::db::{Db, Dialect, Engine, JsonText, Ts};
use crate::with_db;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeSet;

/// Runs written per transaction.
const BATCH: usize = 500;
/// Longest Salt comment kept with a failing state (characters).
const MAX_COMMENT: usize = 2000;
/// Longest state id or name kept (characters; the `failing` filter takes as many).
const MAX_NAME: usize = crate::model::fleet::MAX_STATE_ID;
/// Failing states kept per run (a requisite cascade can fail hundreds): the counts stay exact.
pub const MAX_FAILURES: usize = 50;
/// Largest raw return kept whole (bytes); a larger one keeps only its failing and changed states.
pub const MAX_RAW: usize = 256 * 1024;
/// Longest duration one state may add (ms): Salt's own figures are trusted only this far.
const MAX_STATE_MS: f64 = 86_400_000.0;

/// Where a run came from: the master's job cache is the authority over a bus event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Job,
    Event,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Job => "job",
            Source::Event => "event",
        }
    }
}

/// One failing state of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub state_id: String,
    pub fun: String,
    pub name: String,
    pub comment: String,
    pub run_num: i64,
}

/// One minion's state run, parsed and counted, ready to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub minion_id: String,
    pub jid: String,
    pub fun: String,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    pub pass_count: i64,
    pub fail_count: i64,
    pub change_count: i64,
    pub total_count: i64,
    pub duration_ms: f64,
    pub blocked: bool,
    pub render_error: bool,
    /// The return as Salt sent it (JSON), or only its failing and changed states when it is
    /// larger than [`MAX_RAW`], or `None` when even that is.
    pub raw: Option<String>,
    pub failures: Vec<Failure>,
    pub source: Source,
}

/// A JID's start time (`YYYYMMDDHHMMSSffffff`, UTC).
pub fn jid_time(jid: &str) -> Option<DateTime<Utc>> {
    if jid.len() < 14 || !jid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let base = chrono::NaiveDateTime::parse_from_str(&jid[..14], "%Y%m%d%H%M%S").ok()?;
    let micros: i64 = jid.get(14..20).and_then(|s| s.parse().ok()).unwrap_or(0);
    Some(base.and_utc() + chrono::Duration::microseconds(micros))
}

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The raw return to keep: whole when it is at most [`MAX_RAW`] bytes, else only its failing
/// and changed states (`None` when even those are too large).
fn kept_raw(ret: &Value) -> Option<String> {
    let whole = ret.to_string();
    if whole.len() <= MAX_RAW {
        return Some(whole);
    }
    let map = ret.as_object()?;
    let notable: serde_json::Map<String, Value> = map
        .iter()
        .filter(|(_, st)| {
            st.get("result") != Some(&Value::Bool(true))
                || st
                    .get("changes")
                    .is_some_and(|c| c.as_object().is_some_and(|o| !o.is_empty()))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let part = Value::Object(notable).to_string();
    (part.len() <= MAX_RAW).then_some(part)
}

/// A minion's run from its return of `fun` in job `jid`. `completed_at`: when it is known (an
/// event's time), else the JID's time plus the states' durations. `None` when the return is not
/// a state run at all (counted as skipped).
pub fn run_from_return(
    minion_id: &str,
    jid: &str,
    fun: &str,
    ret: &Value,
    completed_at: Option<DateTime<Utc>>,
) -> Option<NewRun> {
    let started_at = jid_time(jid)?;
    let mut run = NewRun {
        minion_id: minion_id.to_string(),
        jid: jid.to_string(),
        fun: fun.to_string(),
        started_at,
        completed_at: completed_at.unwrap_or(started_at),
        pass_count: 0,
        fail_count: 0,
        change_count: 0,
        total_count: 0,
        duration_ms: 0.0,
        blocked: false,
        render_error: false,
        raw: kept_raw(ret),
        failures: vec![],
        source: Source::Job,
    };
    match classify(ret) {
        StateRun::Unparseable => return None,
        StateRun::NotReturned(_) => run.blocked = true,
        StateRun::RenderError(errors) => {
            run.render_error = true;
            run.fail_count = errors.len().max(1) as i64;
            run.total_count = run.fail_count;
            run.failures = errors
                .iter()
                .take(5)
                .enumerate()
                .map(|(i, e)| Failure {
                    state_id: "(render error)".into(),
                    fun: clip(fun, MAX_NAME),
                    name: format!("render error {}", i + 1),
                    comment: clip(e, MAX_COMMENT),
                    run_num: i as i64,
                })
                .collect();
        }
        StateRun::States(parsed) => {
            for st in &parsed.states {
                run.total_count += 1;
                run.duration_ms += st
                    .duration_ms
                    .filter(|d| d.is_finite() && *d >= 0.0)
                    .map_or(0.0, |d| d.min(MAX_STATE_MS));
                match st.result {
                    Some(true) => run.pass_count += 1,
                    Some(false) => {
                        run.fail_count += 1;
                        if run.failures.len() < MAX_FAILURES {
                            run.failures.push(Failure {
                                state_id: clip(&st.id, MAX_NAME),
                                fun: clip(&st.fun, MAX_NAME),
                                name: clip(&st.name, MAX_NAME),
                                comment: clip(&st.comment, MAX_COMMENT),
                                run_num: st.run_num,
                            });
                        }
                    }
                    None => {}
                }
                if st.result.is_none() || st.changes.is_some() {
                    run.change_count += 1;
                }
            }
            if completed_at.is_none() {
                run.completed_at =
                    chrono::Duration::try_milliseconds(run.duration_ms.round() as i64)
                        .and_then(|d| started_at.checked_add_signed(d))
                        .unwrap_or(started_at);
            }
        }
    }
    Some(run)
}

/// A run from a `salt/job/<jid>/ret/<minion>` event of a state function; `None` for any other
/// event.
pub fn run_from_event(ev: &SaltEvent) -> Option<NewRun> {
    let EventTag::JobRet { jid, minion } = ev.kind() else {
        return None;
    };
    let fun = ev.data.get("fun").and_then(Value::as_str)?;
    if !crate::salt::state::is_state_function(fun) {
        return None;
    }
    // `2026-11-27T08:49:31.123456` (UTC), with `+00:00` on 3008.
    let at = ev.data.get("_stamp").and_then(Value::as_str).and_then(|s| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(|t| t.and_utc())
            })
            .ok()
    });
    // The minion named in the tag must be the one that sent it (a minion can put any tag on
    // the bus; the job cache later overrides what an event wrote).
    if ev.data.get("id").and_then(Value::as_str) != Some(minion) {
        return None;
    }
    let ret = ev.data.get("return").unwrap_or(&Value::Null);
    let mut run = run_from_return(minion, jid, fun, ret, at)?;
    run.source = Source::Event;
    Some(run)
}

/// What ingesting one job did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Runs written (new, or a blocked placeholder replaced by a real return).
    pub written: usize,
    /// Minions recorded as blocked (did not return).
    pub blocked: usize,
    /// Returns that were not state runs.
    pub skipped: usize,
    /// Targeted minions with no return yet (the job may still be running).
    pub missing: usize,
    /// Every targeted minion has a row now.
    pub complete: bool,
}

/// Ingest one job lookup (`jobs.list_job`) of the job `jid` running `fun` (as the jobs index
/// has them: the reply's own fields are not trusted to name the job). Minions whose run from
/// the job cache is already stored are not parsed again. With `job_done`, targeted minions
/// that have no return are recorded as blocked (the job has ended without them) and the job is
/// complete.
pub async fn ingest_job(
    db: &Db,
    jid: &str,
    fun: &str,
    detail: &JobDetail,
    job_done: bool,
    now: DateTime<Utc>,
) -> Result<IngestReport, sqlx::Error> {
    let done: Vec<String> = with_db!(db, p => sqlx::query_scalar(
        "SELECT minion_id FROM highstate_runs WHERE jid = $1 AND source = 'job' AND NOT blocked",
    )
    .bind(jid)
    .fetch_all(p)
    .await?);
    let done: BTreeSet<String> = done.into_iter().collect();
    let mut report = IngestReport::default();
    // Parsed and written a batch at a time: a 10k-minion job's runs (with their raw returns)
    // are never all in memory at once.
    let mut runs = Vec::with_capacity(BATCH);
    for (minion, r) in &detail.results {
        if done.contains(minion) {
            continue;
        }
        match run_from_return(minion, jid, fun, &r.ret, None) {
            Some(run) => runs.push(run),
            None => report.skipped += 1,
        }
        if runs.len() >= BATCH {
            report.blocked += runs.iter().filter(|r| r.blocked).count();
            report.written += write_runs(db, &runs, now).await?;
            runs.clear();
        }
    }
    let returned: BTreeSet<&str> = detail.results.keys().map(String::as_str).collect();
    let missing: Vec<&String> = detail
        .minions
        .iter()
        .filter(|m| !returned.contains(m.as_str()))
        .collect();
    if job_done {
        let text = Value::String("Minion did not return. [No response in the job cache]".into());
        for m in &missing {
            if let Some(run) = run_from_return(m, jid, fun, &text, None) {
                runs.push(run);
            }
        }
    } else {
        report.missing = missing.len();
    }
    report.blocked += runs.iter().filter(|r| r.blocked).count();
    report.written += write_runs(db, &runs, now).await?;
    report.complete = job_done || report.missing == 0;
    refresh_jobs(
        db,
        &[jid.to_string()],
        report.skipped as i64,
        report.complete,
        now,
    )
    .await?;
    Ok(report)
}

/// Write runs in batched transactions, idempotently on (minion_id, jid): an existing run is
/// kept, except a blocked one, which a real return replaces. Keeps each minion's latest-run
/// pointer and the failing states. Returns how many runs were written.
pub async fn write_runs(
    db: &Db,
    runs: &[NewRun],
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let mut written = 0;
    for chunk in runs.chunks(BATCH) {
        written += with_db!(db, p => {
            let mut written = 0;
            let mut tx = p.begin().await?;
            for r in chunk {
                let id: Option<String> = sqlx::query_scalar(
                    "INSERT INTO highstate_runs (id, minion_id, jid, fun, started_at, completed_at, \
                     pass_count, fail_count, change_count, total_count, duration_ms, blocked, \
                     render_error, raw_result, ingested_at, source) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                     ON CONFLICT (minion_id, jid) DO UPDATE SET fun = excluded.fun, \
                     completed_at = excluded.completed_at, pass_count = excluded.pass_count, \
                     fail_count = excluded.fail_count, change_count = excluded.change_count, \
                     total_count = excluded.total_count, duration_ms = excluded.duration_ms, \
                     blocked = excluded.blocked, render_error = excluded.render_error, \
                     raw_result = excluded.raw_result, ingested_at = excluded.ingested_at, \
                     source = excluded.source \
                     WHERE (highstate_runs.blocked AND NOT excluded.blocked) \
                        OR (highstate_runs.source = 'event' AND excluded.source = 'job') \
                     RETURNING id",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(&r.minion_id)
                .bind(&r.jid)
                .bind(&r.fun)
                .bind(Ts(r.started_at))
                .bind(Ts(r.completed_at))
                .bind(r.pass_count)
                .bind(r.fail_count)
                .bind(r.change_count)
                .bind(r.total_count)
                .bind(r.duration_ms)
                .bind(r.blocked)
                .bind(r.render_error)
                .bind(r.raw.clone().map(JsonText))
                .bind(Ts(now))
                .bind(r.source.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(id) = id else { continue };
                written += 1;
                sqlx::query("DELETE FROM highstate_failures WHERE run_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                for f in &r.failures {
                    sqlx::query(
                        "INSERT INTO highstate_failures \
                         (run_id, minion_id, state_id, fun, name, comment, run_num) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    )
                    .bind(&id)
                    .bind(&r.minion_id)
                    .bind(&f.state_id)
                    .bind(&f.fun)
                    .bind(&f.name)
                    .bind(&f.comment)
                    .bind(f.run_num)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(
                    "INSERT INTO minion_latest_run (minion_id, run_id, completed_at) \
                     VALUES ($1, $2, $3) \
                     ON CONFLICT (minion_id) DO UPDATE SET run_id = excluded.run_id, \
                     completed_at = excluded.completed_at \
                     WHERE excluded.completed_at >= minion_latest_run.completed_at",
                )
                .bind(&r.minion_id)
                .bind(&id)
                .bind(Ts(r.completed_at))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            written
        });
    }
    Ok(written)
}

/// Recompute the per-job sums of `jids` from their runs. `skipped` and `complete` are set when
/// the caller knows them (a job lookup); an event-only update leaves them as they were.
pub async fn refresh_jobs(
    db: &Db,
    jids: &[String],
    skipped: i64,
    complete: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for jid in jids {
        with_db!(db, p, DB => {
            let greatest = match DB::ENGINE {
                Engine::Sqlite => "MAX",
                Engine::Postgres => "GREATEST",
            };
            sqlx::query(&format!(
                "INSERT INTO highstate_jobs (jid, fun, started_at, completed_at, minions, passed, \
                 changed, failed, blocked, skipped, complete, ingested_at) \
                 SELECT jid, MIN(fun), MIN(started_at), MAX(completed_at), COUNT(*), \
                 SUM(CASE WHEN NOT blocked AND fail_count = 0 AND change_count = 0 THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN NOT blocked AND fail_count = 0 AND change_count > 0 THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN NOT blocked AND fail_count > 0 THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN blocked THEN 1 ELSE 0 END), $1, $2, $3 \
                 FROM highstate_runs WHERE jid = $4 GROUP BY jid \
                 ON CONFLICT (jid) DO UPDATE SET fun = excluded.fun, \
                 completed_at = excluded.completed_at, \
                 minions = excluded.minions, passed = excluded.passed, changed = excluded.changed, \
                 failed = excluded.failed, blocked = excluded.blocked, \
                 skipped = {greatest}(highstate_jobs.skipped, excluded.skipped), \
                 complete = highstate_jobs.complete OR excluded.complete, \
                 ingested_at = excluded.ingested_at"
            ))
            .bind(skipped)
            .bind(complete)
            .bind(Ts(now))
            .bind(jid)
            .execute(p)
            .await?;
            if complete {
                // A job whose every return was skipped has no runs: still remember it as done.
                sqlx::query(
                    "INSERT INTO highstate_jobs (jid, fun, started_at, completed_at, skipped, \
                     complete, ingested_at) SELECT jid, function, started_at, started_at, $1, TRUE, \
                     $2 FROM jobs_index WHERE jid = $3 AND started_at IS NOT NULL \
                     ON CONFLICT (jid) DO UPDATE SET complete = TRUE",
                )
                .bind(skipped)
                .bind(Ts(now))
                .bind(jid)
                .execute(p)
                .await?;
            }
        });
    }
    Ok(())
}

/// Write runs that arrived as bus events (the live path) and update their jobs' sums.
pub async fn write_live(
    db: &Db,
    runs: &[NewRun],
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let written = write_runs(db, runs, now).await?;
    let jids: BTreeSet<String> = runs.iter().map(|r| r.jid.clone()).collect();
    let jids: Vec<String> = jids.into_iter().collect();
    refresh_jobs(db, &jids, 0, false, now).await?;
    Ok(written)
}

/// Drop the raw return of runs completed before `cutoff` that are no minion's latest run (their
/// counts stay), and runs older than `retention_cutoff` altogether. Returns (raw dropped, runs
/// deleted).
pub async fn prune(
    db: &Db,
    raw_cutoff: DateTime<Utc>,
    retention_cutoff: DateTime<Utc>,
) -> Result<(u64, u64), sqlx::Error> {
    with_db!(db, p => {
        let raw = sqlx::query(
            "UPDATE highstate_runs SET raw_result = NULL WHERE raw_result IS NOT NULL \
             AND completed_at < $1 AND id NOT IN (SELECT run_id FROM minion_latest_run)",
        )
        .bind(Ts(raw_cutoff))
        .execute(p)
        .await?
        .rows_affected();
        let deleted = sqlx::query(
            "DELETE FROM highstate_runs WHERE completed_at < $1 \
             AND id NOT IN (SELECT run_id FROM minion_latest_run)",
        )
        .bind(Ts(retention_cutoff))
        .execute(p)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM highstate_jobs WHERE completed_at < $1")
            .bind(Ts(retention_cutoff))
            .execute(p)
            .await?;
        Ok((raw, deleted))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::to_text;
    use serde_json::json;

    #[test]
    fn jid_times() {
        let t = jid_time("20261127084927485894").unwrap();
        assert_eq!(to_text(t), "2026-11-27T08:49:27.485Z");
        assert_eq!(jid_time("2026112708"), None);
        assert_eq!(jid_time("2026112708492748589x"), None);
    }

    #[test]
    fn counts_of_a_run() {
        let ret = json!({
            "file_|-a_|-/a_|-managed": {"result": true, "changes": {"diff": "new"}, "duration": 10.0, "__id__": "a", "comment": "ok", "name": "/a"},
            "pkg_|-b_|-b_|-installed": {"result": false, "changes": {}, "duration": 5.0, "__id__": "b", "comment": "Package b failed", "name": "b"},
            "test_|-c_|-c_|-nop": {"result": null, "changes": {}, "duration": 1.0, "__id__": "c", "comment": "would change", "name": "c"},
            "test_|-d_|-d_|-nop": {"result": true, "changes": {}, "duration": 1.0, "__id__": "d", "comment": "", "name": "d"}
        });
        let r =
            run_from_return("web-01", "20261127084927485894", "state.apply", &ret, None).unwrap();
        assert_eq!(
            (r.pass_count, r.fail_count, r.change_count, r.total_count),
            (2, 1, 2, 4)
        );
        assert!(!r.blocked && !r.render_error);
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.failures[0].state_id, "b");
        assert_eq!(r.failures[0].fun, "pkg.installed");
        assert_eq!(r.failures[0].comment, "Package b failed");
        assert_eq!((r.completed_at - r.started_at).num_milliseconds(), 17);

        let blocked = run_from_return(
            "web-02",
            "20261127084927485894",
            "state.apply",
            &json!("Minion did not return. [No response]"),
            None,
        )
        .unwrap();
        assert!(blocked.blocked);
        assert_eq!(
            (blocked.pass_count, blocked.fail_count, blocked.total_count),
            (0, 0, 0)
        );

        let render = run_from_return(
            "web-03",
            "20261127084927485894",
            "state.apply",
            &json!(["Rendering SLS 'base:lab.render_error' failed: Jinja syntax error"]),
            None,
        )
        .unwrap();
        assert!(render.render_error && !render.blocked);
        assert_eq!(render.fail_count, 1);
        assert_eq!(render.failures[0].state_id, "(render error)");

        assert_eq!(
            run_from_return("x", "20261127084927485894", "state.apply", &json!(3), None),
            None
        );
        assert_eq!(
            run_from_return("x", "not-a-jid", "state.apply", &json!({}), None),
            None
        );
    }
}
