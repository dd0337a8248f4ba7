//! The jobs poller (SPEC 2.6 JobsIndexScheduler): `jobs.list_jobs` over a time window into
//! `jobs_index`, the active-JID cache from `jobs.active`, and retention pruning.

use super::{ingest, store, JobsCache};
use crate::salt::SaltClient;
use crate::server::db::Db;
use crate::server::poller::{PollResult, PollerCtx, PollerSpec};
use std::collections::HashSet;
use std::sync::Arc;

/// One cycle. Returns a summary for the poller status board.
#[tracing::instrument(skip_all)]
pub async fn poll_jobs(
    client: &SaltClient,
    db: &Db,
    cache: &JobsCache,
    retention_days: i64,
) -> PollResult {
    let started = chrono::Utc::now();
    let last = cache.last_polled_at();
    let from = ingest::window_start(last, started);
    let jobs = client.list_jobs(Some(&from)).await?;
    let active = client.jobs_active().await?;
    let (rows, skipped) = ingest::rows_from_list_jobs(&jobs);
    let new = store::upsert_jobs(db, &rows, chrono::Utc::now()).await?;
    let cutoff = started - chrono::Duration::days(retention_days.max(1));
    let pruned = store::prune(db, cutoff).await?;
    let running: HashSet<String> = active.into_iter().map(|a| a.jid).collect();
    let n_running = running.len();
    cache.set_active(running, started);
    Ok(format!(
        "{} jobs since {from} ({new} new, {skipped} skipped); {n_running} running; {pruned} pruned",
        rows.len()
    ))
}

/// The jobs poller spec.
pub fn specs() -> Vec<PollerSpec> {
    vec![PollerSpec {
        name: "jobs.index",
        interval: |p| p.jobs_poll_interval_seconds,
        initial_delay: |_| 3,
        run: Arc::new(|ctx: PollerCtx| {
            Box::pin(async move {
                let retention = crate::server::settings::load_view(&ctx.db)
                    .await
                    .map(|v| v.pollers.jobs_retention_days)
                    .unwrap_or(90);
                poll_jobs(&ctx.client, &ctx.db, &ctx.jobs, retention).await
            })
        }),
    }]
}
