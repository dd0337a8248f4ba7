//! Run: dispatch a Salt command (`local_async`, or `local_batch` with a batch size), preview
//! which minions a target matches, and the function catalogue for autocomplete. The work is
//! done by `server::run`; these functions check the caller and hand over.
#![allow(clippy::too_many_arguments)] // server functions mirror the form fields

use crate::error::AppError;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::run::{
    validate_batch, validate_command, BatchProgress, Command, Dispatched, FunctionCatalogue,
    TargetPreview, FULL_SCOPE_TARGET_TYPES, RESPONSE_TIMEOUT_SECS, SCOPED_NOTE, TARGET_TYPES,
};

/// Execution functions known to the master's minions (`sys.list_functions` on `*`, merged),
/// cached for an hour; a stale copy is served while Salt is down (DECISIONS).
#[server(endpoint = "run/functions")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn salt_functions() -> Result<FunctionCatalogue, AppError> {
    use crate::server::auth::session;
    let (state, _) = session()?;
    crate::server::run::function_catalogue(&state).await
}

/// Resolve a target on the master (no minion is contacted) before dispatch. A user whose role
/// covers only some minions sees only those.
#[server(endpoint = "run/preview")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn preview_targets(
    target: String,
    #[server(default)] target_type: String,
) -> Result<TargetPreview, AppError> {
    use crate::server::auth::session;
    use crate::server::run;
    let (state, user) = session()?;
    run::require_some_execute(&state, &user).await?;
    let cmd = validate_command(&target, &target_type, "test.ping", "", "")?;
    run::preview(&state, &user, &cmd).await
}

/// Dispatch a command (`execute:salt:<fun>`, see [`crate::rbac::may_execute`] for functions
/// that run other functions); returns the JID at once. Audited with the full payload and the
/// JID. For a user whose role covers only some minions the target is resolved first and only
/// those minions are sent, as a `list`.
#[server(endpoint = "run/dispatch")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn dispatch(
    target: String,
    #[server(default)] target_type: String,
    fun: String,
    #[server(default)] args_json: String,
    #[server(default)] kwargs_json: String,
    #[server(default)] batch: String,
) -> Result<Dispatched, AppError> {
    use crate::server::auth::{client_info, request_parts, session};
    use crate::server::run;
    let cmd = validate_command(&target, &target_type, &fun, &args_json, &kwargs_json)?;
    let batch = validate_batch(&batch)?;
    let (state, user) = session()?;
    run::dispatch::require_execute(&state, &user, &cmd.fun).await?;
    let ip = client_info(&request_parts()?).ip;
    run::dispatch(&state, &user, &ip, cmd, batch).await
}

/// Follow a batch run started by the caller.
#[server(endpoint = "run/batch")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn batch_status(id: String) -> Result<BatchProgress, AppError> {
    use crate::server::auth::session;
    let (state, user) = session()?;
    crate::server::run::batch_progress(&state, &user, &id)
}
