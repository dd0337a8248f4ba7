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
    if crate::rbac::covers_all(&user.permissions, "view", "key") {
        return Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM minion_snapshots WHERE key_status = 'pending'",
        )
        .fetch_one(&state.db)
        .await?);
    }
    // A per-resource grant: count only the pending keys this user may see.
    let pending: Vec<String> =
        sqlx::query_scalar("SELECT minion_id FROM minion_snapshots WHERE key_status = 'pending'")
            .fetch_all(&state.db)
            .await?;
    Ok(pending
        .iter()
        .filter(|id| user.can("view", &format!("key:{id}")))
        .count() as i64)
}

/// A key's fingerprint, asked live from the master (`wheel key.finger`).
#[server(endpoint = "keys/finger")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn key_fingerprint(id: String) -> Result<String, AppError> {
    use crate::server::auth::require;
    validate_id(&id)?;
    let (state, _) = require("view", &format!("key:{id}")).await?;
    let client = state.runtime.client()?;
    let fps = client
        .key_finger(&id)
        .await
        .map_err(crate::server::runtime::salt_error)?;
    fps.into_iter()
        .find(|f| f.id == id)
        .map(|f| f.fingerprint)
        .ok_or_else(|| AppError::NotFound(format!("The master has no key for {id:?}.")))
}

#[cfg(feature = "ssr")]
fn past_tense(action: &str) -> &'static str {
    match action {
        "accept" => "accepted",
        "reject" => "rejected",
        _ => "deleted",
    }
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

/// The state a key is in on the master, from one `key.list_all` reply.
#[cfg(feature = "ssr")]
fn key_state<'a>(lists: &'a crate::salt::KeyLists, id: &str) -> Option<&'a str> {
    let has = |v: &Vec<String>| v.iter().any(|k| k == id);
    if has(&lists.accepted) {
        Some("accepted")
    } else if has(&lists.pending) {
        Some("pending")
    } else if has(&lists.rejected) {
        Some("rejected")
    } else if has(&lists.denied) {
        Some("denied")
    } else {
        None
    }
}

/// Accept, reject or delete keys. `ids` is newline-separated (minion ids never contain one).
/// Each id is checked against `<action>:key:<id>`, audited, and keys are re-polled at once.
#[server(endpoint = "keys/action")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn key_action(action: String, ids: String) -> Result<Vec<KeyActionResult>, AppError> {
    use crate::salt::KeyAction;
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::{client_info, request_parts, session};
    let (state, user) = session()?;
    let kind = match action.as_str() {
        "accept" => KeyAction::Accept,
        "reject" => KeyAction::Reject,
        "delete" => KeyAction::Delete,
        _ => {
            return Err(AppError::invalid(
                "action",
                "Action must be accept, reject or delete.",
            ))
        }
    };
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
    if ids.len() > 1000 {
        return Err(AppError::invalid("ids", "At most 1000 keys per request."));
    }
    for id in &ids {
        validate_id(id)?;
    }
    let ip = client_info(&request_parts()?).ip;
    // Authorise every key first: one denial refuses the whole request.
    for id in &ids {
        if !user.can(&action, &format!("key:{id}")) {
            let message = format!("You do not have permission to {action} the key of {id}.");
            return Err(crate::server::auth::deny(
                &state,
                &user,
                &action,
                &format!("key:{id}"),
                &message,
            )
            .await);
        }
    }
    let client = state.runtime.client()?;
    let salt_err = crate::server::runtime::salt_error;
    // Act on keys the master really has, one exact id at a time, and judge each by the
    // master's key lists afterwards rather than by the wheel reply.
    let before = client.key_list_all().await.map_err(salt_err)?;
    let target_state = match kind {
        KeyAction::Accept => Some("accepted"),
        KeyAction::Reject => Some("rejected"),
        KeyAction::Delete => None,
    };
    let mut attempted: Vec<(String, std::time::Duration, Option<crate::salt::SaltError>)> = vec![];
    let mut out = vec![];
    for id in &ids {
        if key_state(&before, id).is_none() {
            record(
                &state.db,
                AuditEntry::new(&format!("key.{action}"), &format!("key:{id}"))
                    .user(&user.id, &user.username)
                    .code(404)
                    .ip(&ip),
            )
            .await;
            out.push(KeyActionResult {
                id: id.clone(),
                ok: false,
                message: "the master has no key with this id".into(),
            });
            continue;
        }
        let started = std::time::Instant::now();
        let r = client.key_action(kind, id).await;
        if let Err(e @ crate::salt::SaltError::Unavailable(_)) = &r {
            return Err(salt_err(e.clone()));
        }
        attempted.push((id.clone(), started.elapsed(), r.err()));
    }
    let after = if attempted.is_empty() {
        before.clone()
    } else {
        client.key_list_all().await.map_err(salt_err)?
    };
    for (id, took, err) in attempted {
        let now = key_state(&after, &id);
        let was = key_state(&before, &id).unwrap_or("absent");
        let (ok, message, code) = match (&err, now == target_state) {
            (_, true) if Some(was) == target_state => (
                false,
                format!("the master changed nothing: the key was {was} already"),
                409,
            ),
            (_, true) => (true, past_tense(&action).to_string(), 200),
            (Some(e), false) => (false, e.to_string(), salt_err(e.clone()).status()),
            (None, false) => (
                false,
                format!(
                    "the master changed nothing: the key is {}{}",
                    now.unwrap_or("gone"),
                    if now == Some(was) { " (as before)" } else { "" }
                ),
                409,
            ),
        };
        record(
            &state.db,
            AuditEntry::new(&format!("key.{action}"), &format!("key:{id}"))
                .user(&user.id, &user.username)
                .args(serde_json::json!({ "before": was, "after": now.unwrap_or("absent") }))
                .code(code)
                .duration_ms(took.as_millis() as i64)
                .ip(&ip),
        )
        .await;
        out.push(KeyActionResult { id, ok, message });
    }
    out.sort_by_key(|r| ids.iter().position(|i| *i == r.id));
    // Re-poll keys now so the page shows the new state without waiting for the poller.
    if let Err(e) = crate::server::minions::poller::poll_keys(&client, &state.db).await {
        tracing::warn!(error = %e, "immediate key re-poll failed");
    }
    Ok(out)
}
