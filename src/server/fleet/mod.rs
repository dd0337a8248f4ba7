//! Fleet health (SPEC 2.6 FleetIngestScheduler, 3.8, 6.10): the ingest of `state.*` job returns
//! into `highstate_runs` ([`ingest`], from the poller in [`poller`] and from `job.ret` events),
//! and the reads the pages make ([`store`]).

pub mod export;
pub mod ingest;
pub mod poller;
pub mod store;

use crate::error::AppError;
use crate::model::fleet::{FleetSummary, MinionRuns, RunDetail};
use crate::server::db::Db;
use crate::server::state::AppState;
use chrono::{DateTime, Utc};

/// Chips, grid, compliance and top failures for the minions `globs` allows (`None`: all).
pub async fn summary(
    state: &AppState,
    globs: &Option<Vec<String>>,
    tiles: bool,
    runs: i64,
    failures: i64,
) -> Result<FleetSummary, AppError> {
    let now = Utc::now();
    let counts = store::counts(&state.db, globs, now).await?;
    let tiles = if tiles {
        store::tiles(&state.db, globs, now).await?
    } else {
        vec![]
    };
    let compliance = store::compliance(&state.db, globs, runs).await?;
    let top_failures = store::top_failures(&state.db, globs, failures).await?;
    let pollers = crate::server::settings::load_pollers(&state.db).await?;
    Ok(FleetSummary {
        counts,
        tiles,
        compliance,
        top_failures,
        poller_enabled: pollers.fleet_poll_interval_seconds > 0,
        jobs_source: pollers.jobs_poll_interval_seconds > 0 || pollers.event_stream_enabled,
        last_ingest_at: store::last_ingest(&state.db).await?,
    })
}

/// One run with its states, once the caller may view its minion (404 when unknown).
pub async fn run_detail(id: &str) -> Result<RunDetail, AppError> {
    let load = async |db: &Db| {
        store::run(db, id)
            .await?
            .ok_or_else(|| AppError::NotFound("No state run with that id is known.".into()))
    };
    let (state, _, (run, raw)) =
        crate::server::auth::require_on("view", load, |(r, _)| format!("minion:{}", r.minion_id))
            .await?;
    let states = raw.map(|raw| {
        let v: serde_json::Value = serde_json::from_str(&raw).unwrap_or_default();
        crate::server::jobs::highstate::parse_state_return(&v)
    });
    let minion_status = store::status_of(&state.db, &run.minion_id, Utc::now()).await?;
    Ok(RunDetail {
        run,
        states,
        minion_status,
    })
}

/// A minion's run history, newest first.
pub async fn minion_runs(
    db: &Db,
    id: &str,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<MinionRuns, AppError> {
    let (runs, total) = store::minion_runs(db, id, limit).await?;
    let status = store::status_of(db, id, now)
        .await?
        .unwrap_or(crate::model::fleet::HealthStatus::Unknown);
    Ok(MinionRuns {
        minion_id: id.to_string(),
        total,
        runs,
        status,
    })
}
