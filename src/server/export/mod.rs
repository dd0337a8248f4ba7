//! Streamed exports of a list's rows as CSV, JSON (one array) or NDJSON (one object a line).
//!
//! A page's handler checks the caller ([`signed_in`]), its permission and filters, takes an
//! export slot ([`slot`]), then answers [`download`] with [`stream`]: the page's producer reads
//! rows with a database cursor and hands each to a [`Sink`], which encodes them and sends chunks
//! of about [`CHUNK`] bytes through a small bounded channel. A million rows leave with flat
//! memory, and a slow client slows the reader down rather than filling memory.

mod table;

pub use table::{
    all_pages, every_row, handle, routes, view_globs, write_to, Ask, Gate, Params, Refusal, Scope,
    Table,
};

use crate::error::AppError;
use crate::server::auth::CurrentUser;
use crate::server::state::AppState;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::{Stream, StreamExt};
use serde::Serialize;
use std::future::Future;

/// Bytes gathered before a chunk is sent.
pub const CHUNK: usize = 64 * 1024;
/// Chunks waiting for the client at most (the stream's whole buffer: `CHUNKS_AHEAD × CHUNK`).
const CHUNKS_AHEAD: usize = 4;
/// Exports that may run at once (`AppState::exports`): each holds a database connection while
/// it runs, so a few stalled downloads must not take the whole pool (8 connections).
pub const MAX_EXPORTS: usize = 2;
/// How long a chunk may wait for a client that stopped reading before the export gives up.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The export's file format, from the request path's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    /// One JSON array.
    Json,
    /// One JSON object a line (for tools that read a large export a row at a time).
    Ndjson,
}

impl ExportFormat {
    /// `….csv`, `….json`, `….ndjson`; CSV for anything else (the routes name only these).
    pub fn from_path(path: &str) -> Self {
        if path.ends_with(".ndjson") {
            ExportFormat::Ndjson
        } else if path.ends_with(".json") {
            ExportFormat::Json
        } else {
            ExportFormat::Csv
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
            ExportFormat::Ndjson => "ndjson",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
            ExportFormat::Ndjson => "application/x-ndjson",
        }
    }
}

/// A row an export can carry: JSON through `Serialize`, CSV through [`ExportRow::cells`].
pub trait ExportRow: Serialize {
    /// The CSV header, in the order of [`ExportRow::cells`].
    const COLUMNS: &'static [&'static str];
    /// The CSV cells (raw: [`Sink`] neutralises formula-like ones).
    fn cells(&self) -> Vec<String>;
}

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

/// Why an export stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the rows: {0}")]
    Db(#[from] sqlx::Error),
    #[error("encoding the export: {0}")]
    Encode(#[from] csv::Error),
    #[error("encoding the export: {0}")]
    Json(#[from] serde_json::Error),
}

type Chunk = Result<Bytes, std::io::Error>;

/// Turns rows into the bytes of one format, a chunk at a time.
enum Encoder {
    Csv(Box<csv::Writer<Vec<u8>>>),
    Json { buf: Vec<u8>, first: bool },
    Ndjson(Vec<u8>),
}

impl Encoder {
    fn new(format: ExportFormat, columns: &[&str]) -> Result<Self, ExportError> {
        Ok(match format {
            ExportFormat::Csv => {
                let mut w = csv_writer();
                w.write_record(columns)?;
                Encoder::Csv(Box::new(w))
            }
            ExportFormat::Json => Encoder::Json {
                buf: b"[".to_vec(),
                first: true,
            },
            ExportFormat::Ndjson => Encoder::Ndjson(Vec::with_capacity(CHUNK + 4096)),
        })
    }

    fn row<R: ExportRow>(&mut self, r: &R) -> Result<(), ExportError> {
        match self {
            Encoder::Csv(w) => {
                w.write_record(r.cells().iter().map(|c| neutralise(c).into_owned()))?
            }
            Encoder::Json { buf, first } => {
                buf.extend_from_slice(if *first { b"\n" } else { b",\n" });
                *first = false;
                serde_json::to_writer(&mut *buf, r)?;
            }
            Encoder::Ndjson(buf) => {
                serde_json::to_writer(&mut *buf, r)?;
                buf.push(b'\n');
            }
        }
        Ok(())
    }

    /// Bytes ready to send.
    fn len(&mut self) -> usize {
        match self {
            Encoder::Csv(w) => w.get_ref().len(),
            Encoder::Json { buf, .. } | Encoder::Ndjson(buf) => buf.len(),
        }
    }

    /// What is buffered, leaving the encoder empty.
    fn take(&mut self) -> Result<Bytes, ExportError> {
        Ok(Bytes::from(match self {
            Encoder::Csv(w) => std::mem::replace(&mut **w, csv_writer())
                .into_inner()
                .map_err(|e| csv::Error::from(e.into_error()))?,
            Encoder::Json { buf, .. } | Encoder::Ndjson(buf) => {
                std::mem::replace(buf, Vec::with_capacity(CHUNK + 4096))
            }
        }))
    }

    /// The last bytes (the JSON array's end).
    fn finish(mut self) -> Result<Bytes, ExportError> {
        if let Encoder::Json { buf, .. } = &mut self {
            buf.extend_from_slice(b"\n]\n");
        }
        self.take()
    }
}

/// Where a producer puts its rows (see [`stream`]).
pub struct Sink {
    enc: Encoder,
    tx: tokio::sync::mpsc::Sender<Chunk>,
    /// The client went away (or stopped reading): nothing more is sent.
    gone: bool,
}

impl Sink {
    /// Add one row. `Ok(false)`: the client went away or stopped reading for 30 s, so the
    /// producer should stop reading (and free its connection).
    pub async fn row<R: ExportRow>(&mut self, r: &R) -> Result<bool, ExportError> {
        if self.gone {
            return Ok(false);
        }
        self.enc.row(r)?;
        if self.enc.len() >= CHUNK {
            let chunk = self.enc.take()?;
            self.gone = !send(&self.tx, Ok(chunk)).await;
        }
        Ok(!self.gone)
    }

    /// Every row of a database cursor, made an export row by `f`, until the client goes away
    /// (then `false`).
    pub async fn cursor<T, R, S, F>(&mut self, mut rows: S, mut f: F) -> Result<bool, ExportError>
    where
        S: Stream<Item = Result<T, sqlx::Error>> + Unpin,
        F: FnMut(T) -> Result<R, ExportError>,
        R: ExportRow,
    {
        while let Some(r) = futures::TryStreamExt::try_next(&mut rows).await? {
            if !self.row(&f(r)?).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Every row of a list already in memory (a table bounded by the fleet's size), until the
    /// client goes away (then `false`).
    pub async fn all<R: ExportRow>(
        &mut self,
        rows: impl IntoIterator<Item = R>,
    ) -> Result<bool, ExportError> {
        for r in rows {
            if !self.row(&r).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Send the last bytes; true when the whole file went out.
    async fn finish(self) -> Result<bool, ExportError> {
        if self.gone {
            return Ok(false);
        }
        Ok(send(&self.tx, Ok(self.enc.finish()?)).await)
    }
}

/// Send one chunk; false when the client went away or stopped reading for [`SEND_TIMEOUT`].
async fn send(tx: &tokio::sync::mpsc::Sender<Chunk>, chunk: Chunk) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, tx.send(chunk)).await,
        Ok(Ok(()))
    )
}

/// The file's chunks: `produce` runs on its own task, feeds its rows to the [`Sink`] it is
/// given and hands it back; the header (CSV) and the array's brackets (JSON) are added around them. An error
/// midway ends the stream with an error: the client sees a broken download, never a silently
/// short file. `what` names the export in the error log line.
pub fn stream<P, F>(
    format: ExportFormat,
    columns: &'static [&'static str],
    what: &'static str,
    produce: P,
) -> impl Stream<Item = Chunk> + Send + 'static
where
    P: FnOnce(Sink) -> F + Send + 'static,
    F: Future<Output = Result<Sink, ExportError>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(CHUNKS_AHEAD);
    // Set once the last chunk is sent: a stream that ends without it was cut short (the client
    // stopped reading for 30 s), and says so with an error rather than ending like a whole file.
    let complete = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = complete.clone();
    tokio::spawn(async move {
        let run = async {
            let sink = Sink {
                enc: Encoder::new(format, columns)?,
                tx: tx.clone(),
                gone: false,
            };
            produce(sink).await?.finish().await
        };
        match run.await {
            Ok(true) => done.store(true, std::sync::atomic::Ordering::Release),
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, export = what, "export failed");
                let _ = tx.send(Err(std::io::Error::other(e))).await;
            }
        }
    });
    // `poll_recv` keeps answering `None` once the channel is done: the compression layer polls
    // the body again after its end, and a `stream::unfold` panics there (a browser's download,
    // which asks for gzip, was cut off).
    let mut rx = rx;
    let mut reported = false;
    futures::stream::poll_fn(move |cx| match rx.poll_recv(cx) {
        std::task::Poll::Ready(None)
            if !reported && !complete.load(std::sync::atomic::Ordering::Acquire) =>
        {
            reported = true;
            std::task::Poll::Ready(Some(Err(std::io::Error::other(
                "the export stopped before its end (the reader stopped reading)",
            ))))
        }
        other => other,
    })
}

/// The signed-in caller of an export, or the answer to give: 401 without a session, 403 while
/// the password must be changed. `what` completes "Sign in to export …".
#[allow(clippy::result_large_err)]
pub fn signed_in(
    user: Option<Extension<CurrentUser>>,
    what: &str,
) -> Result<CurrentUser, Response> {
    let Some(Extension(user)) = user else {
        return Err(AppError::Unauthorized(format!("Sign in to export {what}.")).into_response());
    };
    if user.must_change_pw {
        return Err(AppError::Forbidden(
            "You must change your password before doing anything else.".into(),
        )
        .into_response());
    }
    Ok(user)
}

/// The answer to a caller without `view` on `resource`: a `permission.denied` audit row naming
/// the export's format, and a 403 saying `message`.
pub async fn denied(
    state: &AppState,
    user: &CurrentUser,
    ip: &str,
    resource: &str,
    format: ExportFormat,
    message: &str,
) -> Response {
    crate::server::audit::record(
        &state.db,
        crate::server::audit::AuditEntry::new("permission.denied", resource)
            .user(&user.id, &user.username)
            .args(serde_json::json!({ "verb": "view", "export": format.extension() }))
            .deny(403)
            .ip(ip),
    )
    .await;
    AppError::Forbidden(message.to_string()).into_response()
}

/// One of the [`MAX_EXPORTS`] export slots, or a 429 saying to try again. Hold it as long as
/// the body: pass it to [`download`].
#[allow(clippy::result_large_err)]
pub fn slot(state: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, Response> {
    state.exports.clone().try_acquire_owned().map_err(|_| {
        AppError::TooManyRequests {
            message: format!(
                "{MAX_EXPORTS} exports are running already; try again when one has finished."
            ),
            retry_after_secs: 10,
        }
        .into_response()
    })
}

/// A file built in memory, as the one chunk of a [`download`].
pub fn whole(body: Vec<u8>) -> impl Stream<Item = Chunk> + Send + 'static {
    futures::stream::once(async move { Ok(Bytes::from(body)) })
}

/// The file name: `halite-<page>-<UTC time>.<extension>`.
pub fn file_name(page: &str, format: ExportFormat) -> String {
    format!(
        "halite-{page}-{}.{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        format.extension()
    )
}

/// The download: a `200` with the format's type, `attachment` named by [`file_name`], never
/// cached, and `body` as it comes. `slot` is freed when the download ends or the client goes
/// away.
pub fn download(
    page: &str,
    format: ExportFormat,
    slot: tokio::sync::OwnedSemaphorePermit,
    body: impl Stream<Item = Chunk> + Send + 'static,
) -> Response {
    let name = file_name(page, format);
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
        Body::from_stream(body.map(move |c| {
            let _held = &slot;
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

    #[derive(Serialize)]
    struct R {
        a: String,
        n: i64,
    }

    impl ExportRow for R {
        const COLUMNS: &'static [&'static str] = &["a", "n"];
        fn cells(&self) -> Vec<String> {
            vec![self.a.clone(), self.n.to_string()]
        }
    }

    fn encode(format: ExportFormat, rows: &[R]) -> String {
        let mut enc = Encoder::new(format, R::COLUMNS).unwrap();
        let mut out = Vec::new();
        for r in rows {
            enc.row(r).unwrap();
            out.extend_from_slice(&enc.take().unwrap());
        }
        out.extend_from_slice(&enc.finish().unwrap());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_format_encodes_the_rows() {
        let rows = [
            R {
                a: "=cmd".into(),
                n: 1,
            },
            R {
                a: "x,\"y\"".into(),
                n: -2,
            },
        ];
        assert_eq!(
            encode(ExportFormat::Csv, &rows),
            "a,n\n'=cmd,1\n\"x,\"\"y\"\"\",'-2\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&encode(ExportFormat::Json, &rows)).unwrap();
        assert_eq!(json[0]["a"], "=cmd");
        assert_eq!(json[1]["n"], -2);
        let nd = encode(ExportFormat::Ndjson, &rows);
        let lines: Vec<serde_json::Value> = nd
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["a"], "x,\"y\"");
        assert_eq!(encode(ExportFormat::Json, &[]).trim(), "[\n]");
        assert_eq!(encode(ExportFormat::Ndjson, &[]), "");
    }

    #[test]
    fn the_format_comes_from_the_path() {
        assert_eq!(ExportFormat::from_path("/a/export.csv"), ExportFormat::Csv);
        assert_eq!(
            ExportFormat::from_path("/a/export.json"),
            ExportFormat::Json
        );
        assert_eq!(
            ExportFormat::from_path("/a/export.ndjson"),
            ExportFormat::Ndjson
        );
        assert!(file_name("minions", ExportFormat::Ndjson).starts_with("halite-minions-"));
        assert!(file_name("minions", ExportFormat::Ndjson).ends_with(".ndjson"));
    }
}
