//! Minions list and detail, served from `minion_snapshots` (never a live salt-api call).

use crate::error::AppError;
use leptos::prelude::*;

pub use crate::model::page::Page;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::minions::{
    MinionDetail, MinionId, MinionPage, MinionRow, MinionStatus, StatusCounts, STALE_MINUTES,
    STATUSES,
};

/// One page of minions: search (id, OS, IP), status filter, sort, paging.
#[server(endpoint = "minions/list")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_minions(
    #[server(default)] q: String,
    #[server(default)] status: String,
    #[server(default)] sort: String,
    #[server(default)] dir: String,
    #[server(default)] page: i64,
    #[server(default)] per_page: i64,
) -> Result<MinionPage, AppError> {
    use crate::model::list::{ListParams, ListQuery, MinionFilters, SortColumn, SortDir};
    use crate::server::minions::store;
    let (state, _, globs) =
        super::view_scope("minion", "You do not have permission to view minions.").await?;
    let lq: ListQuery<MinionFilters> = ListParams {
        q,
        sort,
        dir,
        page,
        per_page,
        filters: MinionFilters { status },
    }
    .try_into()?;
    let (page, per_page) = (lq.page, lq.per_page);
    let lq = store::ListQuery {
        search: lq.q,
        status: lq.filters,
        sort: lq.sort.map(|c| c.as_str().to_string()).unwrap_or_default(),
        descending: lq.dir == SortDir::Desc,
        page,
        per_page,
        allowed_globs: globs,
    };
    let (rows, total, counts) = store::list(&state.db, &lq).await?;
    Ok(MinionPage {
        list: Page::new(rows, total, page, per_page),
        counts,
    })
}

/// One minion with its full grains.
#[server(endpoint = "minions/get")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_minion(id: String) -> Result<MinionDetail, AppError> {
    use crate::server::auth::require;
    use crate::server::minions::store;
    let id = MinionId::new(id)?;
    let (state, _) = require("view", &format!("minion:{id}")).await?;
    store::get(&state.db, &id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("No minion named {id:?} is known to Halite.")))
}
