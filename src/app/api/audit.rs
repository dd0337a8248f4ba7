//! The audit log: one filtered page (`audit/list`) and one row (`audit/get`), perm
//! `view:audit:*`. The export is a plain streamed GET (`/api/audit/export.csv|json`, see
//! `crate::server::audit::export`).
#![allow(clippy::too_many_arguments)] // server functions mirror the URL query

use crate::error::AppError;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::audit::{AuditFilters, AuditPage, AuditRow, Decision};

/// One page of the audit log, newest first, filtered as in the page URL; with the actions
/// that exist (the filter's picker).
#[server(endpoint = "audit/list")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_audit(
    #[server(default)] user: String,
    #[server(default)] action: String,
    #[server(default)] decision: String,
    #[server(default)] resource: String,
    #[server(default)] since: String,
    #[server(default)] until: String,
    #[server(default)] page: i64,
    #[server(default)] per_page: i64,
) -> Result<AuditPage, AppError> {
    use crate::model::list::{ListParams, ListQuery};
    use crate::model::page::Page;
    use crate::server::audit::query;
    let (state, _) = crate::server::auth::require("view", "audit:*").await?;
    let lq: ListQuery<AuditFilters> = ListParams {
        page,
        per_page,
        filters: AuditFilters {
            user,
            action,
            decision,
            resource,
            since,
            until,
        },
        ..Default::default()
    }
    .try_into()?;
    let offset = (lq.page - 1) * lq.per_page;
    let rows = query::page(&state.db, &lq.filters, lq.per_page, offset).await?;
    let total = query::count(&state.db, &lq.filters).await?;
    let actions = query::actions(&state.db).await?;
    Ok(AuditPage {
        list: Page::new(rows, total, lq.page, lq.per_page),
        actions,
    })
}

/// One audit row (the details drawer), its arguments redacted.
#[server(endpoint = "audit/get")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_audit(id: i64) -> Result<AuditRow, AppError> {
    let (state, _) = crate::server::auth::require("view", "audit:*").await?;
    if id < 1 {
        return Err(AppError::invalid(
            "id",
            "The entry id must be a positive number.",
        ));
    }
    crate::server::audit::query::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no audit entry {id}.")))
}
