//! Export of the filtered audit log as CSV, JSON or NDJSON, streamed with a database cursor
//! (`crate::server::export`): a million rows leave with flat memory. Also the handler of
//! `GET /api/audit/export.csv|json|ndjson`.

use super::query;
use super::{record, AuditEntry};
use crate::model::audit::{AuditFilters, AuditQuery, AuditRow};
use crate::model::list::ListFilters;
use crate::server::auth::{self, CurrentUser};
use crate::server::db::Db;
use crate::server::export::{self, ExportFormat, ExportRow, Sink};
use crate::server::state::AppState;
use crate::with_db;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::{Stream, TryStreamExt};
use std::collections::HashMap;

impl ExportRow for AuditRow {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "at",
        "username",
        "user_id",
        "action",
        "resource",
        "decision",
        "result_code",
        "duration_ms",
        "ip",
        "salt_jid",
        "args_json",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            crate::model::time::rfc3339(&self.at),
            self.username.clone().unwrap_or_default(),
            self.user_id.clone().unwrap_or_default(),
            self.action.clone(),
            self.resource.clone(),
            self.decision.as_str().to_string(),
            self.result_code.to_string(),
            self.duration_ms.to_string(),
            self.ip.clone(),
            self.salt_jid.clone().unwrap_or_default(),
            self.args_json.clone().unwrap_or_default(),
        ]
    }
}

/// The CSV columns, in order.
pub const CSV_HEADER: &[&str] = <AuditRow as ExportRow>::COLUMNS;

/// The rows matching `f`, newest first, redacted, as a stream of file chunks.
pub fn stream(
    db: Db,
    f: AuditQuery,
    format: ExportFormat,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    export::stream(format, CSV_HEADER, "audit", move |sink| {
        produce(db, f, sink)
    })
}

async fn produce(db: Db, f: AuditQuery, mut sink: Sink) -> Result<Sink, export::ExportError> {
    with_db!(&db, p, DB => {
        let mut qb = query::select::<DB>(&f, None, 0);
        let mut rows = qb.build_query_as::<AuditRow>().fetch(p);
        while let Some(row) = rows.try_next().await? {
            if !sink.row(&query::redacted(row)).await? {
                break;
            }
        }
    });
    Ok(sink)
}

/// `GET /api/audit/export.csv` and `GET /api/audit/export.json` (the format is the path's
/// extension). Session auth as the activity stream: 401 without a session, an audited 403
/// without `view:audit:*`, a 422 naming the filter that does not parse; else the file, and an
/// `audit.export` row with the filters.
pub async fn export(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Query(params): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let format = ExportFormat::from_path(req.uri().path());
    let user = match export::signed_in(user, "the audit log") {
        Ok(u) => u,
        Err(r) => return r,
    };
    let ip = auth::client_info(&req.into_parts().0).ip;
    if !user.can("view", "audit:*") {
        let message = "You do not have permission to view the audit log.";
        return export::denied(&state, &user, &ip, "audit:*", format, message).await;
    }
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let f = match AuditFilters::from_query(&get).validate() {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let slot = match export::slot(&state) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut args = f.describe();
    args["format"] = format.extension().into();
    record(
        &state.db,
        AuditEntry::new("audit.export", "audit:*")
            .user(&user.id, &user.username)
            .args(args)
            .ip(&ip),
    )
    .await;
    export::download("audit", format, slot, stream(state.db.clone(), f, format))
}
