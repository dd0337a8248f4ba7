//! `GET /api/inventory/search.csv` and `GET /api/inventory/search.json`: the package search as
//! the `/inventory/search` page's query states it (name, version, source, minion), every hit up
//! to [`EXPORT_MAX`] rows. Session auth like the other exports (`view:inventory:*`); only the
//! minions the caller may view. A cut export says so in `X-Halite-Truncated: true`.

use crate::error::AppError;
use crate::model::inventory::{PackageHit, SearchFilters};
use crate::model::list::ListFilters;
use crate::server::audit::export::neutralise;
use crate::server::auth::CurrentUser;
use crate::server::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
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
    let Some(Extension(user)) = user else {
        return AppError::Unauthorized("Sign in to export the inventory.".into()).into_response();
    };
    if user.must_change_pw {
        return AppError::Forbidden(
            "You must change your password before doing anything else.".into(),
        )
        .into_response();
    }
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
    let json = uri.path().ends_with(".json");
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let search = match SearchFilters::from_query(&get).validate() {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    // Shares the other exports' limit: each holds a database connection while it runs.
    let Ok(_permit) = state.exports.clone().try_acquire_owned() else {
        return AppError::TooManyRequests {
            message: "Other exports are running; try again when one has finished.".into(),
            retry_after_secs: 10,
        }
        .into_response();
    };
    let globs = crate::server::minions::store::allowed_globs(&user.permissions, "view", "minion");
    let page = match super::store::search(&state.db, &search, &globs, 1, EXPORT_MAX).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let truncated = page.truncated || page.list.total > page.list.rows.len() as i64;
    let (body, kind, ext) = if json {
        match serde_json::to_vec(&page.list.rows) {
            Ok(b) => (b, "application/json", "json"),
            Err(e) => {
                tracing::error!(error = %e, "inventory export failed");
                return AppError::Internal("The export could not be written.".into())
                    .into_response();
            }
        }
    } else {
        match to_csv(&page.list.rows) {
            Ok(b) => (b, "text/csv; charset=utf-8", "csv"),
            Err(e) => {
                tracing::error!(error = %e, "inventory export failed");
                return AppError::Internal("The export could not be written.".into())
                    .into_response();
            }
        }
    };
    let name = format!(
        "halite-packages-{}.{ext}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::HeaderName::from_static("x-halite-truncated"),
                HeaderValue::from_static(if truncated { "true" } else { "false" }),
            ),
        ],
        body,
    )
        .into_response()
}
