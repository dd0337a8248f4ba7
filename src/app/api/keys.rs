//! Keys: grouped by state from the snapshots; fingerprint and accept/reject/delete live.

use crate::error::AppError;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::keys::{KeyActionResult, KeyRow, KeyState, KeysView, MinionId};

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
    AppError::check_max_chars("q", "Search text", &q, crate::model::list::MAX_Q)?;
    let per_page = 100;
    let page = crate::app::api::validate_page(page, per_page)?;
    let all = store::all_status(&state.db, store::SnapshotKind::Key, &globs).await?;
    let needle = q.trim().to_lowercase();
    let row = |id: &str, state: KeyState| KeyRow {
        id: id.to_string(),
        state,
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
        match status.key_state() {
            KeyState::Pending => v.pending.push(row(id, KeyState::Pending)),
            KeyState::Rejected => v.rejected.push(row(id, KeyState::Rejected)),
            KeyState::Denied => v.denied.push(row(id, KeyState::Denied)),
            KeyState::Accepted => {
                if accepted_index >= (page - 1) * per_page && accepted_index < page * per_page {
                    v.accepted.push(row(id, KeyState::Accepted));
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
    let id = MinionId::new(id)?;
    let (state, _) = require("view", &format!("key:{id}")).await?;
    crate::server::keys::fingerprint(&state, &id).await
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
    let ids: Vec<&str> = ids
        .lines()
        .map(str::trim)
        .filter(|s| !s.is_empty() && seen.insert(s.to_string()))
        .collect();
    if ids.is_empty() {
        return Err(AppError::invalid("ids", "Select at least one key."));
    }
    if ids.len() > keys::MAX_IDS {
        return Err(AppError::invalid("ids", "At most 1000 keys per request."));
    }
    let ids: Vec<MinionId> = ids
        .into_iter()
        .map(MinionId::new)
        .collect::<Result<_, _>>()?;
    let ip = client_info(&request_parts()?).ip;
    // Authorise every key first: one denial refuses the whole request.
    keys::authorize_all(&state, &user, kind, &ids).await?;
    keys::act(&state, &user, &ip, kind, &ids).await
}
