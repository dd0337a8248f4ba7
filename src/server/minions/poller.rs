//! The minion state pollers (keys, presence, grains), registered with the runtime.

use super::{ingest, store};
use crate::model::settings::PollerSettings;
use crate::salt::SaltClient;
use crate::server::db::Db;
use crate::server::poller::{PollError, PollResult, PollerCtx, PollerSpec};
use std::sync::Arc;

/// Keys via `wheel key.list_all`: insert new, update changed, delete vanished.
#[tracing::instrument(skip_all)]
pub async fn poll_keys(client: &SaltClient, db: &Db) -> PollResult {
    let lists = client.key_list_all().await?;
    let existing = store::load_key_states(db).await?;
    let diff = ingest::reconcile_keys(&existing, &lists);
    store::apply_keys(db, &diff, chrono::Utc::now()).await?;
    Ok(format!(
        "{} keys ({} pending); +{} ~{} -{}",
        lists.accepted.len() + lists.pending.len() + lists.rejected.len() + lists.denied.len(),
        lists.pending.len(),
        diff.insert.len(),
        diff.update.len(),
        diff.delete.len()
    ))
}

/// Presence via `runner manage.present show_ip=true`.
#[tracing::instrument(skip_all)]
pub async fn poll_presence(client: &SaltClient, db: &Db) -> PollResult {
    let present = client.manage_present_ips().await?;
    let existing = store::load_presence(db).await?;
    let changes = ingest::reconcile_presence(&existing, &present);
    store::apply_presence(db, &changes, chrono::Utc::now()).await?;
    Ok(format!(
        "{} online; {} changed",
        present.len(),
        changes.len()
    ))
}

/// Grains via `runner cache.grains` (the master's cache) for accepted minions. An offline minion
/// keeps the facts the master last cached for it (the list marks the row offline).
#[tracing::instrument(skip_all)]
pub async fn poll_grains(client: &SaltClient, db: &Db) -> PollResult {
    let existing = store::load_grain_hashes(db).await?;
    if existing.is_empty() {
        return Ok("no accepted minions".into());
    }
    let grains = client.cache_grains_raw("*", "glob").await?;
    let polled: Vec<String> = grains
        .iter()
        .map(|(id, _)| id)
        .filter(|id| existing.contains_key(*id))
        .cloned()
        .collect();
    let updates =
        tokio::task::spawn_blocking(move || ingest::reconcile_grains_raw(&existing, &grains))
            .await
            .map_err(|e| PollError::Internal(format!("grains ingest failed: {e}")))?;
    store::apply_grains(db, &updates, &polled, chrono::Utc::now()).await?;
    Ok(format!(
        "{} minions; {} changed",
        polled.len(),
        updates.len()
    ))
}

fn spec(
    name: &'static str,
    interval: fn(&PollerSettings) -> i64,
    initial_delay: fn(&PollerSettings) -> i64,
    run: fn(PollerCtx) -> futures::future::BoxFuture<'static, PollResult>,
) -> PollerSpec {
    PollerSpec {
        name,
        interval,
        initial_delay,
        run: Arc::new(run),
    }
}

/// The three minion pollers.
pub fn specs() -> Vec<PollerSpec> {
    vec![
        // Staggered first runs: keys create the rows, presence marks them online, grains
        // then has online minions to ask about.
        spec(
            "minions.keys",
            |p| p.minion_state_keys_interval_seconds,
            |p| p.minion_state_initial_delay_seconds,
            |ctx| Box::pin(async move { poll_keys(&ctx.client, &ctx.db).await }),
        ),
        spec(
            "minions.presence",
            |p| p.minion_state_presence_interval_seconds,
            |p| p.minion_state_initial_delay_seconds + 2,
            |ctx| {
                Box::pin(async move {
                    // Presence needs the minion rows the keys poller creates: refresh keys first
                    // when the table is still empty (fresh install).
                    if store::load_key_states(&ctx.db)
                        .await
                        .map(|m| m.is_empty())
                        .unwrap_or(false)
                    {
                        poll_keys(&ctx.client, &ctx.db).await?;
                    }
                    poll_presence(&ctx.client, &ctx.db).await
                })
            },
        ),
        spec(
            "minions.grains",
            |p| p.minion_state_grains_interval_seconds,
            |p| p.minion_state_initial_delay_seconds + 5,
            |ctx| Box::pin(async move { poll_grains(&ctx.client, &ctx.db).await }),
        ),
    ]
}
