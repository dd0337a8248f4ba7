//! Package inventory (SPEC 6.9), read from Halite's own tables: the packages list, a package's
//! version drift and a version's minions, the package search, and the manual refresh (the one
//! call that asks Salt). Reads need `view:inventory:*`; lists of minions show only the minions the
//! caller may `view` (`minion:<id>`). Package and version counts are fleet-wide.
#![allow(clippy::too_many_arguments)] // server functions mirror the URL query

use crate::error::AppError;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::inventory::{
    InventoryStatus, NameOp, PackageFilters, PackageHit, PackageRow, PackageSearch, PackageSort,
    PackageSource, PackageVersions, PackagesPage, RefreshProgress, RefreshSummary, SearchFilters,
    SearchPage, VersionMinion, VersionMinions, VersionOp, VersionRow,
};

/// `view:inventory:*`, audited when refused.
#[cfg(feature = "ssr")]
async fn require_view() -> Result<
    (
        crate::server::state::AppState,
        crate::server::auth::CurrentUser,
    ),
    AppError,
> {
    crate::server::auth::require("view", "inventory:*").await
}

/// One page of the packages list: name search (`q`, case-insensitive substring), source filter,
/// sort by name, minions or versions.
#[server(endpoint = "inventory/packages")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_packages(
    #[server(default)] q: String,
    #[server(default)] source: String,
    #[server(default)] sort: String,
    #[server(default)] dir: String,
    #[server(default)] page: i64,
    #[server(default)] per_page: i64,
) -> Result<PackagesPage, AppError> {
    use crate::model::list::{ListParams, ListQuery};
    let (state, user) = require_view().await?;
    let lq: ListQuery<PackageFilters> = ListParams {
        q,
        sort,
        dir,
        page,
        per_page,
        filters: PackageFilters { source },
    }
    .try_into()?;
    crate::server::inventory::packages_page(&state, &user, &lq).await
}

/// A package's versions (one row per version, arch and source), newest first.
#[server(endpoint = "inventory/versions")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_package_versions(
    name: String,
    #[server(default)] source: String,
) -> Result<PackageVersions, AppError> {
    use crate::model::list::ListFilters;
    let (state, _) = require_view().await?;
    let name = crate::model::inventory::validate_package_name(&name)?;
    let source = PackageFilters { source }.validate()?;
    crate::server::inventory::store::versions(&state.db, &name, source)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("No minion has a package named {name}.")))
}

/// The minions that have one version (by its id from [`get_package_versions`]), a page at a time.
#[server(endpoint = "inventory/version-minions")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_version_minions(
    id: i64,
    #[server(default)] page: i64,
    #[server(default)] per_page: i64,
) -> Result<VersionMinions, AppError> {
    use crate::model::list::{validate_page, DEFAULT_PER_PAGE, PAGE_SIZES};
    let (state, user) = require_view().await?;
    if id < 1 {
        return Err(AppError::invalid("id", "That is not a version id."));
    }
    let per_page = if per_page == 0 {
        DEFAULT_PER_PAGE
    } else {
        per_page
    };
    if !PAGE_SIZES.contains(&per_page) {
        return Err(AppError::invalid(
            "per_page",
            "Rows per page must be 50, 100 or 500.",
        ));
    }
    let page = validate_page(page, per_page)?;
    let globs = crate::server::minions::store::allowed_globs(&user.permissions, "view", "minion");
    crate::server::inventory::store::version_minions(&state.db, id, &globs, page, per_page)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(
                "No such package version (it is no longer installed anywhere).".into(),
            )
        })
}

/// Search installed packages (SPEC 6.9 row search): name (eq / prefix / contains), version
/// (eq / ne / lt / lte / gt / gte by the package source's rules), source, minion.
#[server(endpoint = "inventory/search")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn search_packages(
    #[server(default)] name: String,
    #[server(default)] name_op: String,
    #[server(default)] version: String,
    #[server(default)] version_op: String,
    #[server(default)] source: String,
    #[server(default)] minion: String,
    #[server(default)] page: i64,
    #[server(default)] per_page: i64,
) -> Result<SearchPage, AppError> {
    use crate::model::list::{ListParams, ListQuery};
    let (state, user) = require_view().await?;
    let lq: ListQuery<SearchFilters> = ListParams {
        q: String::new(),
        sort: String::new(),
        dir: String::new(),
        page,
        per_page,
        filters: SearchFilters {
            name,
            name_op,
            version,
            version_op,
            source,
            minion,
        },
    }
    .try_into()?;
    crate::server::inventory::search_page(&state, &user, &lq).await
}

/// Collect the packages of the minions a target matches now (`collect:inventory:*`): the target
/// is resolved on the master and only the resolved ids are sent to Salt, as a list. Answers
/// when every minion answered or timed out; `progress` (from the page) lets the page follow it
/// with [`get_refresh_progress`]. 502 when no minion returned a package list. Audited.
#[server(endpoint = "inventory/refresh")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn refresh_inventory(
    target: String,
    #[server(default)] target_type: String,
    #[server(default)] progress: String,
) -> Result<RefreshSummary, AppError> {
    use crate::server::auth::{request_ip, session};
    let (state, user) = session()?;
    if !user.can("collect", "inventory:*") {
        return Err(crate::server::auth::deny(
            &state,
            &user,
            "collect",
            "inventory:*",
            "You do not have permission to refresh the package inventory.",
        )
        .await);
    }
    let cmd = crate::model::run::validate_command(&target, &target_type, "pkg.list_pkgs", "", "")?;
    let progress = if progress.is_empty() {
        None
    } else {
        Some(crate::model::inventory::validate_progress_id(&progress)?)
    };
    crate::server::inventory::refresh(&state, &user, &request_ip(), &cmd, progress).await
}

/// How far the caller's refresh with this id has got (`None`: unknown or forgotten).
#[server(endpoint = "inventory/refresh-progress")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_refresh_progress(progress: String) -> Result<Option<RefreshProgress>, AppError> {
    let (_, user) = crate::server::auth::session()?;
    let id = crate::model::inventory::validate_progress_id(&progress)?;
    Ok(crate::server::inventory::progress().get(&id, &user.id))
}
