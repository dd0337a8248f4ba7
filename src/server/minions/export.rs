//! `GET /api/minions/export.csv|json|ndjson`: the Minions table as the `/minions` page's query
//! filters and sorts it (search, status, sort, direction), every page, streamed from the
//! database (`crate::server::export`). Only the minions the caller may view; an
//! `export.minions` audit row names the filters and the format.

use crate::model::list::{ListParams, ListQuery, MinionFilters, SortColumn, SortDir};
use crate::model::minions::MinionRow;
use crate::server::audit::{record, AuditEntry};
use crate::server::auth::{self, CurrentUser};
use crate::server::export::{self, ExportFormat, ExportRow};
use crate::server::minions::store;
use crate::server::state::AppState;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use std::collections::HashMap;

impl ExportRow for MinionRow {
    const COLUMNS: &'static [&'static str] = &[
        "minion_id",
        "status",
        "ip",
        "os",
        "salt_version",
        "cpus",
        "mem_mb",
        "virtual",
        "stale",
    ];

    fn cells(&self) -> Vec<String> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        vec![
            self.id.clone(),
            self.status.as_str().to_string(),
            opt(&self.ip),
            opt(&self.os),
            opt(&self.salt),
            num(self.cpus),
            num(self.mem_mb),
            opt(&self.virtual_type),
            self.stale.to_string(),
        ]
    }
}

/// The handler: 401 without a session, an audited 403 for a caller who may view no minion, a
/// 422 naming a filter that does not check, a 429 when the export slots are taken; else the
/// file.
pub async fn export(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Query(params): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let format = ExportFormat::from_path(req.uri().path());
    let user = match export::signed_in(user, "minions") {
        Ok(u) => u,
        Err(r) => return r,
    };
    let ip = auth::client_info(&req.into_parts().0).ip;
    let globs = store::allowed_globs(&user.permissions, "view", "minion");
    if globs.as_ref().is_some_and(|g| g.is_empty()) {
        let message = "You do not have permission to view minions.";
        return export::denied(&state, &user, &ip, "minion:*", format, message).await;
    }
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let mut p: ListParams<MinionFilters> = ListParams::from_query(get);
    // Every page, whatever page the table showed: paging is not the export's business.
    p.page = 0;
    p.per_page = 0;
    let lq: ListQuery<MinionFilters> = match p.try_into() {
        Ok(lq) => lq,
        Err(e) => return e.into_response(),
    };
    let slot = match export::slot(&state) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let sort = lq.sort.map(|c| c.as_str().to_string()).unwrap_or_default();
    record(
        &state.db,
        AuditEntry::new("export.minions", "minion:*")
            .user(&user.id, &user.username)
            .args(serde_json::json!({
                "format": format.extension(),
                "q": lq.q,
                "status": lq.filters.map(|s| s.as_str()),
                "sort": sort,
                "dir": lq.dir.as_str(),
                "scoped": globs.is_some(),
            }))
            .ip(&ip),
    )
    .await;
    let sq = store::ListQuery {
        search: lq.q,
        status: lq.filters,
        sort,
        descending: lq.dir == SortDir::Desc,
        page: 1,
        per_page: 0,
        allowed_globs: globs,
    };
    let db = state.db.clone();
    let body = export::stream(
        format,
        MinionRow::COLUMNS,
        "minions",
        move |sink| async move { store::export(&db, &sq, sink).await },
    );
    export::download("minions", format, slot, body)
}
