//! The fleet ingest poller (SPEC 2.6 FleetIngestScheduler): finds `state.*` jobs in `jobs_index`
//! started inside the lookback window that are not yet fully ingested, looks each up with
//! `jobs.list_job` and writes its minions' runs ([`super::ingest`]).

use super::ingest;
use crate::salt::SaltClient;
use crate::server::db::{Db, Dialect};
use crate::server::jobs::JobsCache;
use crate::server::poller::{PollResult, PollerCtx, PollerSpec};
use crate::with_db;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// How far back the poller looks for state jobs (older runs would be stale anyway, and the
/// master's job cache keeps 24 h by default).
pub const LOOKBACK_HOURS: i64 = 48;
/// Jobs looked up per run at most (the rest wait for the next run).
pub const MAX_JOBS_PER_RUN: i64 = 50;
/// A job not running and older than this has ended: minions without a return are blocked.
pub const MISSING_GRACE_SECS: i64 = 120;
/// A job older than this has ended whatever the active-job cache says.
pub const JOB_END_SECS: i64 = 3600;
/// Raw returns are kept this long (a minion's latest run keeps its own always).
pub const RAW_KEEP_DAYS: i64 = 14;

/// State jobs in the window that are not complete yet, oldest first: (jid, function, start).
pub async fn pending_jobs(
    db: &Db,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String, DateTime<Utc>)>, sqlx::Error> {
    let funs = crate::salt::state::STATE_FUNCTIONS;
    with_db!(db, p, DB => {
        let mut q = sqlx::QueryBuilder::<DB>::new(
            "SELECT j.jid, j.function, j.started_at FROM jobs_index j \
             LEFT JOIN highstate_jobs h ON h.jid = j.jid \
             WHERE (h.jid IS NULL OR NOT h.complete) AND j.started_at >= ",
        );
        DB::push_ts(&mut q, now - Duration::hours(LOOKBACK_HOURS));
        q.push(" AND j.function IN (");
        for (i, f) in funs.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            DB::push_str(&mut q, f.to_string());
        }
        q.push(") ORDER BY j.started_at LIMIT ");
        DB::push_i64(&mut q, MAX_JOBS_PER_RUN);
        q.build_query_as().fetch_all(p).await
    })
}

/// Has the job ended (so that targeted minions without a return did not return)? Past the grace
/// when the active-job cache says it no longer runs; past [`JOB_END_SECS`] whatever it says
/// (or when it has not been read yet).
pub fn job_ended(jobs: &JobsCache, jid: &str, started: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let age = (now - started).num_seconds();
    age >= JOB_END_SECS
        || (age >= MISSING_GRACE_SECS && jobs.active_known() && !jobs.is_active(jid))
}

/// One run of the poller at `now`. A job whose lookup fails is left for the next run and the
/// others go on; the run fails only when every lookup failed (salt-api down).
pub async fn poll_fleet(
    client: &SaltClient,
    db: &Db,
    jobs: &JobsCache,
    now: DateTime<Utc>,
) -> PollResult {
    let pending = pending_jobs(db, now).await?;
    let (mut written, mut blocked, mut skipped, mut complete) = (0, 0, 0, 0);
    let mut failed: Vec<(String, crate::salt::SaltError)> = vec![];
    for (jid, fun, started) in &pending {
        let detail = match client.list_job(jid).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(%jid, error = %e, "fleet: job lookup failed; retried next run");
                failed.push((jid.clone(), e));
                continue;
            }
        };
        let ended = job_ended(jobs, jid, *started, now);
        let r = ingest::ingest_job(db, jid, fun, &detail, ended, now).await?;
        written += r.written;
        blocked += r.blocked;
        skipped += r.skipped;
        complete += usize::from(r.complete);
    }
    if !pending.is_empty() && failed.len() == pending.len() {
        if let Some((_, e)) = failed.pop() {
            return Err(e.into());
        }
    }
    Ok(format!(
        "{} state jobs looked up ({complete} complete, {} failed): {written} runs written, \
         {blocked} blocked, {skipped} skipped",
        pending.len(),
        failed.len()
    ))
}

/// Drop raw returns older than [`RAW_KEEP_DAYS`] (a minion's latest run keeps its own) and runs
/// older than the jobs retention; hourly, from the runtime's housekeeping (so it runs with the
/// fleet poller off too). Returns (raw returns dropped, runs deleted).
pub async fn prune(db: &Db, now: DateTime<Utc>) -> Result<(u64, u64), sqlx::Error> {
    let jobs_retention = crate::server::settings::load_view(db)
        .await
        .map(|v| v.pollers.jobs_retention_days)
        .unwrap_or(90);
    ingest::prune(
        db,
        now - Duration::days(RAW_KEEP_DAYS),
        now - Duration::days(jobs_retention.max(1)),
    )
    .await
}

/// The fleet poller spec.
pub fn specs() -> Vec<PollerSpec> {
    vec![PollerSpec {
        name: "fleet.ingest",
        interval: |p| p.fleet_poll_interval_seconds,
        initial_delay: |_| 20,
        run: Arc::new(|ctx: PollerCtx| {
            Box::pin(async move { poll_fleet(&ctx.client, &ctx.db, &ctx.jobs, Utc::now()).await })
        }),
    }]
}
