//! Keys: grouped by state from the snapshots; fingerprint and accept/reject/delete live.

use crate::error::AppError;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::keys::{KeyActionResult, KeyRow, KeysView};

/// Keys by state.
#[server(endpoint = "keys/list")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_keys(
    #[server(default)] q: String,
    #[server(default)] page: i64,
) -> Result<KeysView, AppError> {
    use crate::server::auth::session;
    use crate::server::minions::store;
    let (state, user) = session()?;
    let globs = store::allowed_globs(&user.permissions, "view", "key");
    if globs.as_ref().is_some_and(|g| g.is_empty()) {
        return Err(crate::server::auth::deny(
            &state,
            &user,
            "view",
            "key:*",
            "You do not have permission to view keys.",
        )
        .await);
    }
    if q.chars().count() > 200 {
        return Err(AppError::invalid(
            "q",
            "Search text is limited to 200 characters.",
        ));
    }
    let per_page = 100;
    let page = crate::app::api::validate_page(page, per_page)?;
    let all = store::all_status(&state.db, store::SnapshotKind::Key, &globs).await?;
    let needle = q.trim().to_lowercase();
    let row = |id: &str, st: &str| KeyRow {
        id: id.to_string(),
        state: st.to_string(),
        can_accept: user.can("accept", &format!("key:{id}")),
        can_reject: user.can("reject", &format!("key:{id}")),
        can_delete: user.can("delete", &format!("key:{id}")),
    };
    let mut v = KeysView {
        pending: vec![],
        rejected: vec![],
        denied: vec![],
        accepted: vec![],
        accepted_total: 0,
        page,
        per_page,
    };
    let mut accepted_index = 0i64;
    for (id, status) in &all {
        if !needle.is_empty() && !id.to_lowercase().contains(&needle) {
            continue;
        }
        match status.as_str() {
            "pending" => v.pending.push(row(id, "pending")),
            "rejected" => v.rejected.push(row(id, "rejected")),
            "denied" => v.denied.push(row(id, "denied")),
            _ => {
                if accepted_index >= (page - 1) * per_page && accepted_index < page * per_page {
                    v.accepted.push(row(id, "accepted"));
                }
                accepted_index += 1;
            }
        }
    }
    v.accepted_total = accepted_index;
    Ok(v)
}

/// Number of pending keys the user may see (sidebar badge).
#[server(endpoint = "keys/pending-count")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn pending_key_count() -> Result<i64, AppError> {
    use crate::server::auth::session;
    let (state, user) = session()?;
    if !crate::app::nav::may_view_kind(&user.permissions, "key") {
        return Ok(0);
    }
    Ok(crate::server::keys::pending_count(&state.db, &user).await?)
}

/// A key's fingerprint, asked live from the master (`wheel key.finger`).
#[server(endpoint = "keys/finger")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn key_fingerprint(id: String) -> Result<String, AppError> {
    use crate::server::auth::require;
    validate_id(&id)?;
    let (state, _) = require("view", &format!("key:{id}")).await?;
    crate::server::keys::fingerprint(&state, &id).await
}

/// Characters Salt reads as glob or list syntax in a key `match` (or as a path), never in an id.
pub const FORBIDDEN_ID_CHARS: &[char] = &['*', '?', '[', ']', ',', '/', '\\'];

/// An exact minion id as the API accepts it: 1 to 255 printable characters, no whitespace, and
/// none of `* ? [ ] , / \` (Salt would read them as a glob, a list or a path).
#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
pub(crate) fn validate_id(id: &str) -> Result<(), AppError> {
    if id.is_empty()
        || id.chars().count() > 255
        || id.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(AppError::invalid(
            "id",
            "A minion id is 1 to 255 printable characters without spaces.",
        ));
    }
    if let Some(c) = id.chars().find(|c| FORBIDDEN_ID_CHARS.contains(c)) {
        return Err(AppError::invalid(
            "id",
            format!(
                "{id:?} is not a minion id: {c:?} is glob or list syntax. Name each minion exactly."
            ),
        ));
    }
    Ok(())
}

/// Accept, reject or delete keys. `ids` is newline-separated (minion ids never contain one).
/// Each id is checked against `<action>:key:<id>`, audited, and keys are re-polled at once.
#[server(endpoint = "keys/action")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn key_action(action: String, ids: String) -> Result<Vec<KeyActionResult>, AppError> {
    use crate::server::auth::{client_info, request_parts, session};
    use crate::server::keys;
    let (state, user) = session()?;
    let kind = keys::parse_action(&action)?;
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<String> = ids
        .lines()
        .map(str::trim)
        .filter(|s| !s.is_empty() && seen.insert(s.to_string()))
        .map(String::from)
        .collect();
    if ids.is_empty() {
        return Err(AppError::invalid("ids", "Select at least one key."));
    }
    if ids.len() > keys::MAX_IDS {
        return Err(AppError::invalid("ids", "At most 1000 keys per request."));
    }
    for id in &ids {
        validate_id(id)?;
    }
    let ip = client_info(&request_parts()?).ip;
    // Authorise every key first: one denial refuses the whole request.
    keys::authorize_all(&state, &user, kind, &ids).await?;
    keys::act(&state, &user, &ip, kind, &ids).await
}
