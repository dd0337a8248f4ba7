//! Keys: grouped by state from the snapshots; fingerprint and accept/reject/delete live.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One key row with what this user may do to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRow {
    pub id: String,
    pub state: String,
    pub can_accept: bool,
    pub can_reject: bool,
    pub can_delete: bool,
}

/// Keys grouped by state; accepted keys are paged (they can be thousands).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeysView {
    pub pending: Vec<KeyRow>,
    pub rejected: Vec<KeyRow>,
    pub denied: Vec<KeyRow>,
    pub accepted: Vec<KeyRow>,
    pub accepted_total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Result of a key action on one minion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyActionResult {
    pub id: String,
    pub ok: bool,
    pub message: String,
}

/// Keys by state.
#[server(endpoint = "keys/list")]
pub async fn list_keys(
    #[server(default)] q: String,
    #[server(default)] page: i64,
) -> Result<KeysView, AppError> {
    use crate::server::auth::{respond, session};
    use crate::server::minions::store;
    respond(
        async {
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
            let page = page.max(1);
            if page > 1_000_000 {
                return Err(AppError::invalid("page", "Page must be a positive number."));
            }
            let per_page = 100;
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
                        if accepted_index >= (page - 1) * per_page
                            && accepted_index < page * per_page
                        {
                            v.accepted.push(row(id, "accepted"));
                        }
                        accepted_index += 1;
                    }
                }
            }
            v.accepted_total = accepted_index;
            Ok(v)
        }
        .await,
    )
}

/// Number of pending keys the user may see (sidebar badge).
#[server(endpoint = "keys/pending-count")]
pub async fn pending_key_count() -> Result<i64, AppError> {
    use crate::server::auth::{respond, session};
    respond(
        async {
            let (state, user) = session()?;
            if !crate::app::nav::may_view_kind(&user.permissions, "key") {
                return Ok(0);
            }
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM minion_snapshots WHERE key_status = 'pending'",
            )
            .fetch_one(&state.db)
            .await?)
        }
        .await,
    )
}

/// A key's fingerprint, asked live from the master (`wheel key.finger`).
#[server(endpoint = "keys/finger")]
pub async fn key_fingerprint(id: String) -> Result<String, AppError> {
    use crate::server::auth::{require, respond};
    respond(
        async {
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
        .await,
    )
}

#[cfg(feature = "ssr")]
fn past_tense(action: &str) -> &'static str {
    match action {
        "accept" => "accepted",
        "reject" => "rejected",
        _ => "deleted",
    }
}

/// A minion id as the API accepts it: 1 to 255 printable characters.
#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
pub(crate) fn validate_id(id: &str) -> Result<(), AppError> {
    if id.is_empty() || id.chars().count() > 255 || id.chars().any(|c| c.is_control()) {
        return Err(AppError::invalid(
            "id",
            "A minion id is 1 to 255 printable characters.",
        ));
    }
    Ok(())
}

/// Accept, reject or delete keys. `ids` is newline-separated (minion ids never contain one).
/// Each id is checked against `<action>:key:<id>`, audited, and keys are re-polled at once.
#[server(endpoint = "keys/action")]
pub async fn key_action(action: String, ids: String) -> Result<Vec<KeyActionResult>, AppError> {
    use crate::salt::KeyAction;
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::{client_info, request_parts, respond, session};
    respond(
        async {
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
            let ids: Vec<String> = ids
                .lines()
                .map(str::trim)
                .filter(|s| !s.is_empty())
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
                    record(
                        &state.db,
                        AuditEntry::new("permission.denied", &format!("key:{id}"))
                            .user(&user.id, &user.username)
                            .args(serde_json::json!({ "verb": action }))
                            .deny(403)
                            .ip(&ip),
                    )
                    .await;
                    return Err(AppError::Forbidden(format!(
                        "You do not have permission to {action} the key of {id}."
                    )));
                }
            }
            let client = state.runtime.client()?;
            let mut out = vec![];
            for id in &ids {
                let started = std::time::Instant::now();
                let r = client.key_action(kind, id).await;
                let (ok, message, code) = match &r {
                    // key.delete answers `{}` on success; accept and reject name the keys they moved.
                    Ok(changed) if changed.contains(id) || kind == KeyAction::Delete => {
                        (true, past_tense(&action).to_string(), 200)
                    }
                    Ok(_) => (
                        false,
                        "the master changed nothing (is the key in that state already?)"
                            .to_string(),
                        409,
                    ),
                    Err(e) => (
                        false,
                        e.to_string(),
                        crate::server::runtime::salt_error(e.clone()).status(),
                    ),
                };
                record(
                    &state.db,
                    AuditEntry::new(&format!("key.{action}"), &format!("key:{id}"))
                        .user(&user.id, &user.username)
                        .code(code)
                        .duration_ms(started.elapsed().as_millis() as i64)
                        .ip(&ip),
                )
                .await;
                if let Err(e) = r {
                    if matches!(e, crate::salt::SaltError::Unavailable(_)) {
                        return Err(crate::server::runtime::salt_error(e));
                    }
                }
                out.push(KeyActionResult {
                    id: id.clone(),
                    ok,
                    message,
                });
            }
            // Re-poll keys now so the page shows the new state without waiting for the poller.
            if let Err(e) = crate::server::minions::poller::poll_keys(&client, &state.db).await {
                tracing::warn!(error = %e, "immediate key re-poll failed");
            }
            Ok(out)
        }
        .await,
    )
}
