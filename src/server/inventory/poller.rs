//! The inventory poller (SPEC 2.6 InventoryScheduler): every `inventory_refresh_minutes`
//! (Settings → Pollers), after `inventory_refresh_initial_delay_s`, collect the packages of every
//! accepted minion that answered the latest presence check. Offline minions are skipped and keep
//! their rows; minions whose key is gone are forgotten (by every collection). One run at a time, and the next one
//! starts a full interval after the last one ended.

use super::collect;
use crate::server::db::Db;
use crate::server::poller::{PollResult, PollerCtx, PollerSpec};
use std::sync::Arc;

/// The minions a collection asks: accepted and online (from the minion poller's snapshots).
pub async fn online_minions(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    crate::with_db!(db, p => sqlx::query_scalar(
        "SELECT minion_id FROM minion_snapshots WHERE key_status = 'accepted' AND online \
         ORDER BY minion_id",
    )
    .fetch_all(p)
    .await)
}

/// One run.
pub async fn poll_inventory(ctx: &PollerCtx) -> PollResult {
    let minions = online_minions(&ctx.db).await?;
    if minions.is_empty() {
        return Ok("no online accepted minion to collect from".into());
    }
    // A manual refresh may be running: wait for it.
    let writes = collect::lock_writes(&ctx.db).await?;
    let s = collect::collect(&ctx.client, &ctx.db, minions, None, writes).await?;
    let packages: i64 = s.package_counts.values().sum();
    Ok(format!(
        "{} of {} minions refreshed ({packages} packages), {} did not answer, {} errors, \
         {} forgotten, in {} ms",
        s.minions_refreshed,
        s.minions_targeted,
        s.no_answer.len(),
        s.errors.len(),
        s.forgotten,
        s.duration_ms
    ))
}

/// The inventory poller spec.
pub fn specs() -> Vec<PollerSpec> {
    vec![PollerSpec {
        name: "inventory.collect",
        interval: |p| p.inventory_refresh_minutes.saturating_mul(60),
        initial_delay: |p| p.inventory_refresh_initial_delay_s,
        run: Arc::new(|ctx: PollerCtx| Box::pin(async move { poll_inventory(&ctx).await })),
    }]
}
