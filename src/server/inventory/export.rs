//! `GET /api/inventory/search.csv` and `GET /api/inventory/search.json`: the package search as
//! the `/inventory/search` page's query states it (name, version, source, minion), every hit up
//! to [`EXPORT_MAX`] rows. Session auth like the other exports (`view:inventory:*`); only the
//! minions the caller may view. A cut export says so in `X-Halite-Truncated: true`.

use crate::error::AppError;
use crate::model::inventory::{PackageHit, SearchFilters};
use crate::model::list::ListFilters;
use crate::server::auth::CurrentUser;
use crate::server::export::{self, neutralise, ExportFormat};
use crate::server::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderName, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use std::collections::HashMap;

/// Most rows one export carries.
pub const EXPORT_MAX: i64 = 200_000;

/// The CSV columns, in order.
pub const CSV_HEADER: [&str; 6] = [
    "minion_id",
    "name",
    "version",
    "arch",
    "source",
    "collected_at",
];

/// The hits as CSV (header first; formula-like cells neutralised).
pub fn to_csv(rows: &[PackageHit]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 80 + 128));
    w.write_record(CSV_HEADER)?;
    for r in rows {
        let cells = [
            r.minion_id.clone(),
            r.name.clone(),
            r.version.clone(),
            r.arch.clone(),
            r.source.clone(),
            crate::model::time::rfc3339(&r.collected_at),
        ];
        w.write_record(cells.iter().map(|c| neutralise(c).into_owned()))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The handler of both formats (by the path's extension).
pub async fn export(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    uri: Uri,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let user = match export::signed_in(user, "the inventory") {
        Ok(u) => u,
        Err(r) => return r,
    };
    if !user.can("view", "inventory:*") {
        return crate::server::auth::deny(
            &state,
            &user,
            "view",
            "inventory:*",
            "You do not have permission to view the package inventory.",
        )
        .await
        .into_response();
    }
    let format = ExportFormat::from_path(uri.path());
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let search = match SearchFilters::from_query(&get).validate() {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    // Shares the other exports' limit: each holds a database connection while it runs.
    let slot = match export::slot(&state) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let globs = crate::server::minions::store::allowed_globs(&user.permissions, "view", "minion");
    let page = match super::store::search(&state.db, &search, &globs, 1, EXPORT_MAX).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let truncated = page.truncated || page.list.total > page.list.rows.len() as i64;
    let body = match format {
        ExportFormat::Csv => to_csv(&page.list.rows).map_err(|e| e.to_string()),
        // The route names no `.ndjson` here: the rows are one array.
        ExportFormat::Json | ExportFormat::Ndjson => {
            serde_json::to_vec(&page.list.rows).map_err(|e| e.to_string())
        }
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "inventory export failed");
            return AppError::Internal("The export could not be written.".into()).into_response();
        }
    };
    let mut response = export::download("packages", format, slot, export::whole(body));
    response.headers_mut().insert(
        HeaderName::from_static("x-halite-truncated"),
        HeaderValue::from_static(if truncated { "true" } else { "false" }),
    );
    response
}
