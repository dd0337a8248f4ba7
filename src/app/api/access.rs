//! Effective access (issue 12, on the user page): "may this user do X on Y?" with the role and
//! grant that decided, every grant the user holds, and the minion picker. Needs `view` on the
//! user (`user:<username>`) and on `role:*`.

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::{roles::access::Subject, state::AppState};
use leptos::prelude::*;

pub use crate::model::roles::{AccessCheck, UserGrant, KNOWN_VERBS};

/// The user `user_id` (404 when unknown) once the caller may view them and the roles.
#[cfg(feature = "ssr")]
async fn authorised_subject(user_id: &str) -> Result<(AppState, Subject), AppError> {
    use crate::server::auth::{require, require_on};
    let load = async |db: &_| {
        let id = user_id.trim();
        let found = if id.is_empty() || id.len() > 64 {
            None
        } else {
            crate::server::roles::access::subject(db, id).await?
        };
        found.ok_or_else(|| AppError::NotFound("There is no such user.".into()))
    };
    let (state, _, subject) = require_on("view", load, |s| format!("user:{}", s.username)).await?;
    require("view", "role:*").await?;
    Ok((state, subject))
}

/// May the user do `verb` on the concrete `resource`, and which grant decided?
#[server(endpoint = "access/check")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn check_access(
    user_id: String,
    verb: String,
    resource: String,
) -> Result<AccessCheck, AppError> {
    use crate::model::roles::{validate_known_verb, validate_resource};
    use crate::server::roles::access;
    let (state, subject) = authorised_subject(&user_id).await?;
    let verb = validate_known_verb(&verb)?;
    let resource = validate_resource(&resource)?;
    let grants = access::user_grants(&state.db, &subject.id).await?;
    Ok(access::decide(&subject, &grants, &verb, &resource))
}

/// Every grant the user holds, with the role it comes from.
#[server(endpoint = "access/grants")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn user_grants(user_id: String) -> Result<Vec<UserGrant>, AppError> {
    let (state, subject) = authorised_subject(&user_id).await?;
    Ok(crate::server::roles::access::user_grants(&state.db, &subject.id).await?)
}

/// Minion ids starting with `prefix` that the caller may view (at most 50), for the picker.
#[server(endpoint = "access/minion-ids")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn picker_minion_ids(#[server(default)] prefix: String) -> Result<Vec<String>, AppError> {
    let prefix = prefix.trim();
    if prefix.chars().count() > crate::model::list::MAX_MINION_FILTER {
        return Err(AppError::invalid(
            "prefix",
            "A minion id is at most 255 characters.",
        ));
    }
    let (state, _, globs) =
        super::view_scope("minion", "You do not have permission to view minions.").await?;
    Ok(crate::server::roles::access::minion_ids(&state.db, prefix, &globs).await?)
}
