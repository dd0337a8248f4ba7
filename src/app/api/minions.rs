//! Minions list and detail, served from `minion_snapshots` (never a live salt-api call).

use crate::error::AppError;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::minions::{
    MinionDetail, MinionId, MinionPage, MinionRow, MinionStatus, StatusCounts, PAGE_SIZES, SORTS,
    STALE_MINUTES, STATUSES,
};

/// One page of minions: search (id, OS, IP), status filter, sort, paging.
#[server(endpoint = "minions/list")]
pub async fn list_minions(
    #[server(default)] q: String,
    #[server(default)] status: String,
    #[server(default)] sort: String,
    #[server(default)] dir: String,
    #[server(default)] page: i64,
    #[server(default)] per_page: i64,
) -> Result<MinionPage, AppError> {
    use crate::server::auth::{respond, session};
    use crate::server::minions::store;
    respond(
        async {
            let (state, user) = session()?;
            let globs = store::allowed_globs(&user.permissions, "view", "minion");
            if globs.as_ref().is_some_and(|g| g.is_empty()) {
                return Err(crate::server::auth::deny(
                    &state,
                    &user,
                    "view",
                    "minion:*",
                    "You do not have permission to view minions.",
                )
                .await);
            }
            let q = q.trim().to_string();
            if q.chars().count() > 200 {
                return Err(AppError::invalid(
                    "q",
                    "Search text is limited to 200 characters.",
                ));
            }
            let status: Option<MinionStatus> = match status.as_str() {
                "" => None,
                s => Some(s.parse().map_err(|_| {
                    AppError::invalid(
                        "status",
                        format!("Status must be one of {}.", STATUSES.join(", ")),
                    )
                })?),
            };
            if !sort.is_empty() && !SORTS.contains(&sort.as_str()) {
                return Err(AppError::invalid(
                    "sort",
                    format!("Sort by one of {}.", SORTS.join(", ")),
                ));
            }
            if !matches!(dir.as_str(), "" | "asc" | "desc") {
                return Err(AppError::invalid("dir", "Direction must be asc or desc."));
            }
            let per_page = if per_page == 0 { 50 } else { per_page };
            if !PAGE_SIZES.contains(&per_page) {
                return Err(AppError::invalid(
                    "per_page",
                    "Page size must be 50, 100 or 500.",
                ));
            }
            let page = crate::app::api::validate_page(page, per_page)?;
            let lq = store::ListQuery {
                search: q,
                status,
                sort,
                descending: dir == "desc",
                page,
                per_page,
                allowed_globs: globs,
            };
            let (rows, total, counts) = store::list(&state.db, &lq).await?;
            Ok(MinionPage {
                rows,
                total,
                page,
                per_page,
                counts,
            })
        }
        .await,
    )
}

/// One minion with its full grains.
#[server(endpoint = "minions/get")]
pub async fn get_minion(id: String) -> Result<MinionDetail, AppError> {
    use crate::server::auth::{require, respond};
    use crate::server::minions::store;
    respond(
        async {
            let id = MinionId::new(id)?;
            let (state, _) = require("view", &format!("minion:{id}")).await?;
            store::get(&state.db, &id).await?.ok_or_else(|| {
                AppError::NotFound(format!("No minion named {id:?} is known to Halite."))
            })
        }
        .await,
    )
}
