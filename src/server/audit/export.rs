//! Export of the filtered audit log as CSV or JSON, streamed: rows are read with a database
//! cursor (`fetch`) and sent in chunks of about [`CHUNK`] bytes through a small bounded channel,
//! so a million rows leave with flat memory and a slow client slows the reader down rather
//! than filling memory. Also the handlers of `GET /api/audit/export.csv|json`.

use super::query;
use super::{record, AuditEntry};
use crate::model::audit::{AuditFilters, AuditQuery, AuditRow};
use crate::model::list::ListFilters;
use crate::server::auth::{self, CurrentUser};
use crate::server::db::Db;
use crate::server::state::AppState;
use crate::with_db;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::{Stream, StreamExt, TryStreamExt};
use std::collections::HashMap;

/// Bytes gathered before a chunk is sent.
pub const CHUNK: usize = 64 * 1024;
/// Chunks waiting for the client at most (the stream's whole buffer: `CHUNKS_AHEAD × CHUNK`).
const CHUNKS_AHEAD: usize = 4;

/// The export's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
        }
    }
}

/// The CSV columns, in order.
pub const CSV_HEADER: [&str; 12] = [
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

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
/// leading `'`, so it is shown as text.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(CHUNK + 4096))
}

/// Turns rows into the bytes of one format, a chunk at a time.
enum Encoder {
    Csv(Box<csv::Writer<Vec<u8>>>),
    Json { buf: Vec<u8>, first: bool },
}

impl Encoder {
    fn new(format: ExportFormat) -> Result<Self, csv::Error> {
        Ok(match format {
            ExportFormat::Csv => {
                let mut w = csv_writer();
                w.write_record(CSV_HEADER)?;
                Encoder::Csv(Box::new(w))
            }
            ExportFormat::Json => Encoder::Json {
                buf: b"[".to_vec(),
                first: true,
            },
        })
    }

    fn row(&mut self, r: &AuditRow) -> Result<(), csv::Error> {
        match self {
            Encoder::Csv(w) => {
                let at = crate::model::time::rfc3339(&r.at);
                let (id, code, ms) = (
                    r.id.to_string(),
                    r.result_code.to_string(),
                    r.duration_ms.to_string(),
                );
                let cells = [
                    id.as_str(),
                    at.as_str(),
                    r.username.as_deref().unwrap_or(""),
                    r.user_id.as_deref().unwrap_or(""),
                    r.action.as_str(),
                    r.resource.as_str(),
                    r.decision.as_str(),
                    code.as_str(),
                    ms.as_str(),
                    r.ip.as_str(),
                    r.salt_jid.as_deref().unwrap_or(""),
                    r.args_json.as_deref().unwrap_or(""),
                ];
                w.write_record(cells.iter().map(|c| neutralise(c).into_owned()))
            }
            Encoder::Json { buf, first } => {
                buf.extend_from_slice(if *first { b"\n" } else { b",\n" });
                *first = false;
                serde_json::to_writer(&mut *buf, r)
                    .map_err(|e| csv::Error::from(std::io::Error::from(e)))
            }
        }
    }

    /// Bytes ready to send.
    fn len(&mut self) -> usize {
        match self {
            Encoder::Csv(w) => w.get_ref().len(),
            Encoder::Json { buf, .. } => buf.len(),
        }
    }

    /// What is buffered, leaving the encoder empty.
    fn take(&mut self) -> Result<Bytes, csv::Error> {
        Ok(Bytes::from(match self {
            Encoder::Csv(w) => std::mem::replace(&mut **w, csv_writer())
                .into_inner()
                .map_err(|e| csv::Error::from(e.into_error()))?,
            Encoder::Json { buf, .. } => std::mem::replace(buf, Vec::with_capacity(CHUNK + 4096)),
        }))
    }

    /// The last bytes (the JSON array's end).
    fn finish(mut self) -> Result<Bytes, csv::Error> {
        if let Encoder::Json { buf, .. } = &mut self {
            buf.extend_from_slice(b"\n]\n");
        }
        self.take()
    }
}

type Chunk = Result<Bytes, std::io::Error>;

/// Exports that may run at once (`AppState::exports`): each holds a database connection while
/// it runs, so a few stalled downloads must not take the whole pool (8 connections).
pub const MAX_EXPORTS: usize = 2;
/// How long a chunk may wait for a client that stopped reading before the export gives up.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Send one chunk; false when the client went away or stopped reading for [`SEND_TIMEOUT`].
async fn send(tx: &tokio::sync::mpsc::Sender<Chunk>, chunk: Chunk) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, tx.send(chunk)).await,
        Ok(Ok(()))
    )
}

/// The rows matching `f`, newest first, as a stream of file chunks (CSV with a header row, or
/// one JSON array). A database error midway ends the stream with an error (the client sees a
/// broken download, never a silently short file).
pub fn stream(
    db: Db,
    f: AuditQuery,
    format: ExportFormat,
) -> impl Stream<Item = Chunk> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(CHUNKS_AHEAD);
    tokio::spawn(async move {
        if let Err(e) = produce(&db, &f, format, &tx).await {
            tracing::error!(error = %e, "audit export failed");
            let _ = tx.send(Err(std::io::Error::other(e))).await;
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error("reading the audit log: {0}")]
    Db(#[from] sqlx::Error),
    #[error("encoding the export: {0}")]
    Encode(#[from] csv::Error),
}

async fn produce(
    db: &Db,
    f: &AuditQuery,
    format: ExportFormat,
    tx: &tokio::sync::mpsc::Sender<Chunk>,
) -> Result<(), ExportError> {
    let mut enc = Encoder::new(format)?;
    with_db!(db, p, DB => {
        let mut qb = query::select::<DB>(f, None, 0);
        let mut rows = qb.build_query_as::<AuditRow>().fetch(p);
        while let Some(row) = rows.try_next().await? {
            enc.row(&query::redacted(row))?;
            if enc.len() >= CHUNK && !send(tx, Ok(enc.take()?)).await {
                // The client went away or stopped reading: stop reading (and free the connection).
                return Ok(());
            }
        }
    });
    send(tx, Ok(enc.finish()?)).await;
    Ok(())
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
    let format = if req.uri().path().ends_with(".json") {
        ExportFormat::Json
    } else {
        ExportFormat::Csv
    };
    let Some(Extension(user)) = user else {
        return crate::error::AppError::Unauthorized("Sign in to export the audit log.".into())
            .into_response();
    };
    if user.must_change_pw {
        return crate::error::AppError::Forbidden(
            "You must change your password before doing anything else.".into(),
        )
        .into_response();
    }
    let ip = auth::client_info(&req.into_parts().0).ip;
    if !user.can("view", "audit:*") {
        record(
            &state.db,
            AuditEntry::new("permission.denied", "audit:*")
                .user(&user.id, &user.username)
                .args(serde_json::json!({ "verb": "view", "export": format.extension() }))
                .deny(403)
                .ip(&ip),
        )
        .await;
        return crate::error::AppError::Forbidden(
            "You do not have permission to view the audit log.".into(),
        )
        .into_response();
    }
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let f = match AuditFilters::from_query(&get).validate() {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let Ok(permit) = state.exports.clone().try_acquire_owned() else {
        return crate::error::AppError::TooManyRequests {
            message: format!(
                "{MAX_EXPORTS} audit exports are running already; try again when one has finished."
            ),
            retry_after_secs: 10,
        }
        .into_response();
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
    let name = format!(
        "halite-audit-{}.{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        format.extension()
    );
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        // The permit lives as long as the body: it is freed when the download ends or the
        // client goes away.
        Body::from_stream(stream(state.db.clone(), f, format).map(move |c| {
            let _held = &permit;
            c
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for cell in ["=1+1", "+x", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(cell), format!("'{cell}"));
        }
        assert_eq!(neutralise("user.create"), "user.create");
        assert_eq!(neutralise(""), "");
    }
}
