//! Fleet health (SPEC 6.10), served from `highstate_runs` and `minion_snapshots` (never a live
//! salt-api call): the table, the summary above it (chips, grid, compliance chart, top failures),
//! one run's detail and a minion's run history. Every answer covers only the minions the caller
//! may `view` (`minion:<id>`).

use crate::error::AppError;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::fleet::{
    ComplianceBucket, FleetFilters, FleetPage, FleetRow, FleetSort, FleetSummary, HealthCounts,
    HealthStatus, HealthTile, MinionRuns, RunDetail, RunStatus, RunSummary, TopFailure,
    COMPLIANCE_RUNS, MINION_RUNS, STALE_DAYS, TOP_FAILURES,
};

/// One page of the fleet table: search (minion id), status and failing-state filters, sort,
/// paging.
#[server(endpoint = "fleet/list")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_fleet(
    #[server(default)] q: String,
    #[server(default)] status: String,
    #[server(default)] failing: String,
    #[server(default)] sort: String,
    #[server(default)] dir: String,
    #[server(default)] page: i64,
    #[server(default)] per_page: i64,
) -> Result<FleetPage, AppError> {
    use crate::model::list::{ListParams, ListQuery};
    use crate::model::page::Page;
    let (state, _, globs) =
        super::view_scope("minion", "You do not have permission to view minions.").await?;
    let lq: ListQuery<FleetFilters> = ListParams {
        q,
        sort,
        dir,
        page,
        per_page,
        filters: FleetFilters { status, failing },
    }
    .try_into()?;
    let (rows, total, counts) =
        crate::server::fleet::store::list(&state.db, &lq, &globs, chrono::Utc::now()).await?;
    Ok(FleetPage {
        list: Page::new(rows, total, lq.page, lq.per_page),
        counts,
    })
}

/// Chips, the health grid (when `tiles`), the compliance chart over the last `runs` state jobs
/// (0: 30, at most 200) and the `failures` most failing states (0: 10, at most 50).
#[server(endpoint = "fleet/summary")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_fleet_summary(
    #[server(default)] tiles: bool,
    #[server(default)] runs: i64,
    #[server(default)] failures: i64,
) -> Result<FleetSummary, AppError> {
    use crate::model::fleet::{validate_limit, MAX_COMPLIANCE_RUNS, MAX_TOP_FAILURES};
    let (state, _, globs) =
        super::view_scope("minion", "You do not have permission to view minions.").await?;
    let runs = validate_limit("runs", runs, COMPLIANCE_RUNS, MAX_COMPLIANCE_RUNS)?;
    let failures = validate_limit("failures", failures, TOP_FAILURES, MAX_TOP_FAILURES)?;
    crate::server::fleet::summary(&state, &globs, tiles, runs, failures).await
}

/// One state run with its states, failing first (`view` on the run's minion).
#[server(endpoint = "fleet/run")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_run(id: String) -> Result<RunDetail, AppError> {
    crate::server::auth::session()?;
    let id = crate::model::fleet::validate_run_id(&id)?;
    crate::server::fleet::run_detail(&id).await
}

/// A minion's state runs, newest first (`limit` 0: 20, at most 200).
#[server(endpoint = "minions/runs")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_minion_runs(
    id: String,
    #[server(default)] limit: i64,
) -> Result<MinionRuns, AppError> {
    use crate::model::fleet::{validate_limit, MAX_MINION_RUNS};
    crate::server::auth::session()?;
    let id = crate::model::minions::MinionId::new(id)?;
    let limit = validate_limit("limit", limit, MINION_RUNS, MAX_MINION_RUNS)?;
    let (state, _) = crate::server::auth::require("view", &format!("minion:{id}")).await?;
    crate::server::fleet::minion_runs(&state.db, &id, limit, chrono::Utc::now()).await
}
