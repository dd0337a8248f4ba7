//! Diagnostics (admin: `edit:settings:*`).

use crate::error::AppError;
use leptos::prelude::*;

pub use crate::model::diagnostics::{Check, Report, Verdict};

/// Run every check now (a few salt-api calls; nothing is changed).
#[server(endpoint = "diagnostics/run")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn run_diagnostics() -> Result<Report, AppError> {
    use crate::server::auth::require;
    let (state, _user) = require("edit", "settings:*").await?;
    Ok(crate::server::diagnostics::run(
        &state.db,
        &state.secrets,
        Some(state.runtime.as_ref()),
        &state.config.build_hash,
    )
    .await)
}
