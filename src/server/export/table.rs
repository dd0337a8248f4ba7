//! One export handler for every table. A page's table says, through [`Table`], how its URL
//! query is checked for a caller (permission first), what its audit row says and how its rows
//! are read; [`handle`] does the rest the same way for all of them (session, 401/403/422/429,
//! the `export.<page>` audit row, the streamed download), and [`routes`] mounts
//! `<base>.csv|json|ndjson`. `halite admin export` runs the same [`Table`] through [`write_to`].

use super::{download, signed_in, slot, stream, ExportError, ExportFormat, ExportRow, Sink};
use crate::error::AppError;
use crate::server::audit::{record, AuditEntry};
use crate::server::auth::{self, CurrentUser};
use crate::server::state::AppState;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use futures::StreamExt;
use std::collections::HashMap;
use std::future::Future;

/// An export's URL query.
#[derive(Debug, Clone, Default)]
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// The value of `key`, `""` when missing.
    pub fn get(&self, key: &str) -> String {
        self.0.get(key).cloned().unwrap_or_default()
    }
}

/// Why an export is refused before it starts.
#[derive(Debug)]
pub enum Refusal {
    /// The caller may view none of the table: an audited 403 naming `resource`.
    Denied { resource: String, message: String },
    /// A filter that does not check (422), or a thing that is not there (404).
    Invalid(AppError),
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        Refusal::Invalid(e)
    }
}

impl Refusal {
    pub fn denied(resource: &str, message: &str) -> Self {
        Refusal::Denied {
            resource: resource.to_string(),
            message: message.to_string(),
        }
    }
}

/// The page's list query from an export's URL, checked as the page checks it, every page (the
/// page and page size the table showed are not the export's business).
pub fn all_pages<F: crate::model::list::ListFilters>(
    params: &Params,
) -> Result<crate::model::list::ListQuery<F>, AppError> {
    let mut p = crate::model::list::ListParams::<F>::from_query(|k| params.get(k));
    p.page = 0;
    p.per_page = 0;
    p.try_into()
}

/// The caller's `view` grants on `kind` as SQL globs (`None`: every one), or a refusal saying
/// `message` when they may view none.
pub fn view_globs(
    user: &CurrentUser,
    kind: &str,
    message: &str,
) -> Result<Option<Vec<String>>, Refusal> {
    let globs = crate::server::minions::store::allowed_globs(&user.permissions, "view", kind);
    if globs.as_ref().is_some_and(|g| g.is_empty()) {
        return Err(Refusal::denied(&format!("{kind}:*"), message));
    }
    Ok(globs)
}

/// What a caller must hold to export any of a table, checked before [`Table::check`]; a caller
/// without it gets an audited 403 saying the message.
#[derive(Debug, Clone, Copy)]
pub enum Gate {
    /// `view` on this resource (`audit:*`).
    Grant(&'static str, &'static str),
    /// `view` on some resource of this kind (`minion`): `check` gets the caller's grants on it
    /// as SQL globs (`None`: every one) and reads only those.
    Kind(&'static str, &'static str),
    /// A session: `check` decides (templates by owner, a job by its id, activity by category);
    /// the audit row names this resource.
    Session(&'static str),
}

/// A caller's grants on a [`Gate::Kind`] as SQL globs; `None`: every one (or no kind).
pub type Scope = Option<Vec<String>>;

/// The caller's scope under `gate`: their globs for [`Gate::Kind`] (else `None`), or the
/// refusal.
fn pass_gate(gate: Gate, user: &CurrentUser) -> Result<Scope, Refusal> {
    match gate {
        Gate::Grant(resource, message) if !user.can("view", resource) => {
            Err(Refusal::denied(resource, message))
        }
        Gate::Kind(kind, message) => view_globs(user, kind, message),
        Gate::Grant(..) | Gate::Session(_) => Ok(None),
    }
}

/// What a table's [`Table::check`] is given: the caller, their URL query, and their scope under
/// the table's [`Gate`] (globs for [`Gate::Kind`], else `None`).
pub struct Ask<'a> {
    pub state: &'a AppState,
    pub user: &'a CurrentUser,
    pub params: &'a Params,
    pub globs: Scope,
}

/// The table's gate, then its own check, for `user`.
async fn checked<T: Table>(
    state: &AppState,
    user: &CurrentUser,
    params: &Params,
) -> Result<T, Refusal> {
    let globs = pass_gate(T::GATE, user)?;
    T::check(Ask {
        state,
        user,
        params,
        globs,
    })
    .await
}

/// A table view that can be exported: its checked query is `Self`.
pub trait Table: Sized + Send + 'static {
    /// The page's name: the file (`halite-<PAGE>-<time>.csv`), the audit action
    /// (`export.<PAGE>`) and `halite admin export <PAGE>`.
    const PAGE: &'static str;
    /// Completes "Sign in to export …".
    const WHAT: &'static str;
    type Row: ExportRow + Send + Sync + 'static;
    /// What the caller must hold to export any of it.
    const GATE: Gate;

    /// The caller's query, checked: what they may see and which rows the filters select.
    fn check(ask: Ask<'_>) -> impl Future<Output = Result<Self, Refusal>> + Send;

    /// The audit row's resource (`minion:*`, `job:<jid>`): by default the gate's.
    fn resource(&self) -> String {
        match Self::GATE {
            Gate::Grant(resource, _) | Gate::Session(resource) => resource.to_string(),
            Gate::Kind(kind, _) => format!("{kind}:*"),
        }
    }

    /// The audit row's arguments: the filters (the format is added).
    fn describe(&self) -> serde_json::Value;

    /// Headers the download carries besides the usual ones (`X-Halite-Truncated`).
    fn headers(&self) -> Vec<(&'static str, &'static str)> {
        vec![]
    }

    /// Read the rows, in the page's order, into `sink` until it answers `false`.
    fn produce(
        self,
        state: AppState,
        sink: Sink,
    ) -> impl Future<Output = Result<Sink, ExportError>> + Send;
}

/// The audit row of one export.
fn audit_entry<T: Table>(t: &T, format: ExportFormat, cli: bool) -> AuditEntry {
    let mut args = t.describe();
    if !args.is_object() {
        args = serde_json::json!({});
    }
    args["format"] = format.extension().into();
    if cli {
        args["via"] = "cli".into();
    }
    AuditEntry::new(&format!("export.{}", T::PAGE), &t.resource()).args(args)
}

/// `GET <base>.csv|json|ndjson` for table `T`: 401 without a session, an audited 403 for a
/// caller who may view none of it, a 4xx naming a filter that does not check, a 429 when the
/// export slots are taken; else the file, streamed, and an `export.<page>` audit row.
pub async fn handle<T: Table>(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Query(params): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let format = ExportFormat::from_path(req.uri().path());
    let user = match signed_in(user, T::WHAT) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let ip = auth::client_info(&req.into_parts().0).ip;
    // The slot first: a check may do real work (the inventory search, a job read live from the
    // master), and at most `MAX_EXPORTS` of those run at once. A refusal frees it.
    let slot = match slot(&state) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let table = match checked::<T>(&state, &user, &Params(params)).await {
        Ok(t) => t,
        Err(Refusal::Denied { resource, message }) => {
            return super::denied(&state, &user, &ip, &resource, format, &message).await
        }
        Err(Refusal::Invalid(e)) => return e.into_response(),
    };
    record(
        &state.db,
        audit_entry(&table, format, false)
            .user(&user.id, &user.username)
            .ip(&ip),
    )
    .await;
    let extra = table.headers();
    let st = state.clone();
    let body = stream(format, T::Row::COLUMNS, T::PAGE, move |sink| {
        table.produce(st, sink)
    });
    let mut response = download(T::PAGE, format, slot, body);
    for (name, value) in extra {
        response.headers_mut().insert(
            axum::http::HeaderName::from_static(name),
            axum::http::HeaderValue::from_static(value),
        );
    }
    response
}

/// Mount `<base>.csv`, `<base>.json` and `<base>.ndjson` for `T`.
pub fn routes<T: Table>(router: Router<AppState>, base: &str) -> Router<AppState> {
    ["csv", "json", "ndjson"].iter().fold(router, |r, ext| {
        r.route(&format!("{base}.{ext}"), get(handle::<T>))
    })
}

/// `halite admin export`: the table's rows as `user` (the command line's full-rights user)
/// would download them, written to `out`; audited as `export.<page>` `via cli`.
pub async fn write_to<T: Table>(
    state: &AppState,
    user: &CurrentUser,
    params: Params,
    format: ExportFormat,
    out: &mut (dyn std::io::Write + Send),
) -> Result<(), String> {
    let table = match checked::<T>(state, user, &params).await {
        Ok(t) => t,
        Err(Refusal::Denied { message, .. }) => return Err(message),
        Err(Refusal::Invalid(e)) => return Err(e.to_string()),
    };
    record(&state.db, audit_entry(&table, format, true)).await;
    let st = state.clone();
    let mut body = Box::pin(stream(format, T::Row::COLUMNS, T::PAGE, move |sink| {
        table.produce(st, sink)
    }));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        out.write_all(&chunk)
            .map_err(|e| format!("writing the export: {e}"))?;
    }
    out.flush().map_err(|e| format!("writing the export: {e}"))
}

/// `query` as one page that holds every row: for a table bounded by the fleet or the user base
/// (Users, Roles, Packages, Fleet), read in one statement, so a poller's write between two
/// pages cannot move a row across them (repeated or lost in the file).
pub fn every_row<F: crate::model::list::ListFilters>(
    query: crate::model::list::ListQuery<F>,
) -> crate::model::list::ListQuery<F> {
    crate::model::list::ListQuery {
        page: 1,
        per_page: i64::MAX / 2,
        ..query
    }
}
