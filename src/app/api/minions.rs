//! Minions list and detail, served from `minion_snapshots` (never a live salt-api call).

use crate::error::AppError;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::minions::{MinionDetail, MinionPage, MinionRow, StatusCounts, STALE_MINUTES};

/// Is a minion's data stale? Oldest of keys/presence (and grains for online minions) > 10 min.
#[cfg(feature = "ssr")]
pub fn is_stale(
    status: &str,
    keys: Option<&str>,
    presence: Option<&str>,
    grains: Option<&str>,
) -> bool {
    use crate::server::from_text;
    let now = chrono::Utc::now();
    let old = |t: Option<&str>| match t.and_then(from_text) {
        Some(t) => (now - t).num_minutes() >= STALE_MINUTES,
        None => true,
    };
    old(keys) || old(presence) || (status == "online" && old(grains))
}

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
        status: lq.filters.status,
        sort: lq.sort.map(|c| c.as_str().to_string()).unwrap_or_default(),
        descending: lq.dir == SortDir::Desc,
        page,
        per_page,
        allowed_globs: globs,
    };
    let (rows, total, counts) = store::list(&state.db, &lq).await?;
    let c = |s: &str| counts.get(s).copied().unwrap_or(0);
    Ok(MinionPage {
        rows: rows
            .into_iter()
            .map(|r| MinionRow {
                stale: is_stale(
                    &r.status,
                    r.keys_refreshed_at.as_deref(),
                    r.presence_refreshed_at.as_deref(),
                    r.grains_refreshed_at.as_deref(),
                ),
                id: r.minion_id,
                status: r.status,
                ip: r.primary_ip,
                os: r.os.map(|os| match r.osrelease {
                    Some(rel) => format!("{os} {rel}"),
                    None => os,
                }),
                salt: r.saltversion,
                cpus: r.num_cpus,
                mem_mb: r.mem_total_mb,
                virtual_type: r.virtual_type,
            })
            .collect(),
        total,
        page,
        per_page,
        counts: StatusCounts {
            online: c("online"),
            offline: c("offline"),
            pending: c("pending"),
            rejected: c("rejected"),
            denied: c("denied"),
        },
    })
}

/// One minion with its full grains.
#[server(endpoint = "minions/get")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_minion(id: String) -> Result<MinionDetail, AppError> {
    use crate::server::auth::require;
    use crate::server::minions::store;
    crate::app::api::keys::validate_id(&id)?;
    let (state, _) = require("view", &format!("minion:{id}")).await?;
    let r = store::get(&state.db, &id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("No minion named {id:?} is known to Halite.")))?;
    Ok(MinionDetail {
        stale: is_stale(
            &r.status,
            r.keys_refreshed_at.as_deref(),
            r.presence_refreshed_at.as_deref(),
            r.grains_refreshed_at.as_deref(),
        ),
        id: r.minion_id,
        status: r.status,
        key_status: r.key_status,
        ip: r.primary_ip,
        os: r.os,
        os_family: r.os_family,
        osrelease: r.osrelease,
        kernel: r.kernel,
        kernelrelease: r.kernelrelease,
        virtual_type: r.virtual_type,
        cpus: r.num_cpus,
        cpu_model: r.cpu_model,
        mem_mb: r.mem_total_mb,
        salt: r.saltversion,
        grains_json: r.grains,
        keys_refreshed_at: r.keys_refreshed_at,
        presence_refreshed_at: r.presence_refreshed_at,
        grains_refreshed_at: r.grains_refreshed_at,
    })
}
