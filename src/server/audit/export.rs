//! Export of the filtered audit log as CSV, JSON or NDJSON, streamed with a database cursor
//! (`crate::server::export`): a million rows leave with flat memory. Also the handler of
//! `GET /api/audit/export.csv|json|ndjson` ([`AuditExport`]).

use super::query;
use crate::model::audit::{AuditFilters, AuditQuery, AuditRow};
use crate::model::list::ListFilters;
use crate::server::db::Db;
use crate::server::export::{
    self, Ask, ExportError, ExportFormat, ExportRow, Gate, Refusal, Sink, Table,
};
use crate::server::state::AppState;
use crate::with_db;
use axum::body::Bytes;
use futures::Stream;

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
        sink.cursor(qb.build_query_as::<AuditRow>().fetch(p), |r| Ok(query::redacted(r))).await?;
    });
    Ok(sink)
}

/// The Audit page's export (`GET /api/audit/export.csv|json|ndjson`): the filtered log, newest
/// first, secrets redacted. Needs `view:audit:*`.
pub struct AuditExport(AuditQuery);

impl Table for AuditExport {
    const PAGE: &'static str = "audit";
    const WHAT: &'static str = "the audit log";
    type Row = AuditRow;
    const GATE: Gate = Gate::Grant(
        "audit:*",
        "You do not have permission to view the audit log.",
    );

    async fn check(Ask { params, .. }: Ask<'_>) -> Result<Self, Refusal> {
        Ok(AuditExport(
            AuditFilters::from_query(&|k| params.get(k)).validate()?,
        ))
    }

    fn describe(&self) -> serde_json::Value {
        self.0.describe()
    }

    async fn produce(self, state: AppState, sink: Sink) -> Result<Sink, ExportError> {
        produce(state.db, self.0, sink).await
    }
}
