//! `GET /api/fleet/export.csv`: the fleet table as the `/fleet` page's query filters it (search,
//! status, failing state, sort), every row, as CSV. Session auth like the other exports; only the
//! minions the caller may view. At most one fleet (10k rows, ~1 MB) is built in memory.

use crate::model::fleet::{FleetFilters, FleetRow};
use crate::model::list::{ListParams, ListQuery};
use crate::server::auth::CurrentUser;
use crate::server::export::{self, neutralise, ExportFormat};
use crate::server::state::AppState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use std::collections::HashMap;

/// The CSV columns, in order.
pub const CSV_HEADER: [&str; 12] = [
    "minion_id",
    "online",
    "status",
    "run_id",
    "jid",
    "fun",
    "completed_at",
    "pass_count",
    "fail_count",
    "change_count",
    "total_count",
    "duration_ms",
];

/// The rows as CSV (header first; formula-like cells neutralised).
pub fn to_csv(rows: &[FleetRow]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 120 + 256));
    w.write_record(CSV_HEADER)?;
    for r in rows {
        let cells = [
            r.minion_id.clone(),
            r.online.to_string(),
            r.status.to_string(),
            r.run_id.clone().unwrap_or_default(),
            r.jid.clone().unwrap_or_default(),
            r.fun.clone().unwrap_or_default(),
            r.completed_at
                .as_ref()
                .map(crate::model::time::rfc3339)
                .unwrap_or_default(),
            r.pass_count.to_string(),
            r.fail_count.to_string(),
            r.change_count.to_string(),
            r.total_count.to_string(),
            format!("{:.0}", r.duration_ms),
        ];
        w.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The handler.
pub async fn export(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    use crate::error::AppError;
    let user = match export::signed_in(user, "the fleet") {
        Ok(u) => u,
        Err(r) => return r,
    };
    let globs = crate::server::minions::store::allowed_globs(&user.permissions, "view", "minion");
    if globs.as_ref().is_some_and(|g| g.is_empty()) {
        let e = crate::server::auth::deny(
            &state,
            &user,
            "view",
            "minion:*",
            "You do not have permission to view minions.",
        )
        .await;
        return e.into_response();
    }
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    // Shares the audit exports' limit: each holds a database connection while it runs.
    let slot = match export::slot(&state) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut p: ListParams<FleetFilters> = ListParams::from_query(get);
    // Every row, whatever page the table showed.
    p.page = 0;
    p.per_page = 0;
    let lq: ListQuery<FleetFilters> = match p.try_into() {
        Ok(lq) => lq,
        Err(e) => return e.into_response(),
    };
    let lq = ListQuery {
        page: 1,
        per_page: i64::MAX / 2,
        ..lq
    };
    let rows =
        match crate::server::fleet::store::list(&state.db, &lq, &globs, chrono::Utc::now()).await {
            Ok((rows, _, _)) => rows,
            Err(e) => return AppError::from(e).into_response(),
        };
    let body = match to_csv(&rows) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "fleet export failed");
            return AppError::Internal("The export could not be written.".into()).into_response();
        }
    };
    export::download("fleet", ExportFormat::Csv, slot, export::whole(body))
}
