//! Keys: the service behind the Keys page's server functions. The pending-key count, a key's
//! fingerprint, and accept / reject / delete, each id checked against the master's key lists
//! before and after.

use crate::error::AppError;
use crate::model::keys::KeyActionResult;
use crate::salt::{KeyAction, KeyLists, SaltError};
use crate::server::audit::{record, AuditEntry};
use crate::server::auth::CurrentUser;
use crate::server::db::Db;
use crate::server::runtime::salt_error;
use crate::server::state::AppState;
use std::time::{Duration, Instant};

/// At most this many keys in one request.
pub const MAX_IDS: usize = 1000;

/// The action named by the form (`accept`, `reject`, `delete`).
pub fn parse_action(action: &str) -> Result<KeyAction, AppError> {
    match action {
        "accept" => Ok(KeyAction::Accept),
        "reject" => Ok(KeyAction::Reject),
        "delete" => Ok(KeyAction::Delete),
        _ => Err(AppError::invalid(
            "action",
            "Action must be accept, reject or delete.",
        )),
    }
}

fn verb(action: KeyAction) -> &'static str {
    match action {
        KeyAction::Accept => "accept",
        KeyAction::Reject => "reject",
        KeyAction::Delete => "delete",
    }
}

fn past_tense(action: KeyAction) -> &'static str {
    match action {
        KeyAction::Accept => "accepted",
        KeyAction::Reject => "rejected",
        KeyAction::Delete => "deleted",
    }
}

/// The state a key is in on the master, from one `key.list_all` reply.
fn key_state<'a>(lists: &'a KeyLists, id: &str) -> Option<&'a str> {
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

/// How many pending keys `user` may see (the sidebar badge).
pub async fn pending_count(db: &Db, user: &CurrentUser) -> Result<i64, sqlx::Error> {
    if crate::rbac::covers_all(&user.permissions, "view", "key") {
        return crate::with_db!(db, p => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM minion_snapshots WHERE key_status = 'pending'",
            )
            .fetch_one(p)
            .await
        });
    }
    // A per-resource grant: count only the pending keys this user may see.
    let pending: Vec<String> = crate::with_db!(db, p => {
        sqlx::query_scalar("SELECT minion_id FROM minion_snapshots WHERE key_status = 'pending'")
            .fetch_all(p)
            .await?
    });
    Ok(pending
        .iter()
        .filter(|id| user.can("view", &format!("key:{id}")))
        .count() as i64)
}

/// A key's fingerprint, asked live from the master (`wheel key.finger`).
pub async fn fingerprint(state: &AppState, id: &str) -> Result<String, AppError> {
    let client = state.runtime.client()?;
    let fps = client.key_finger(id).await.map_err(salt_error)?;
    fps.into_iter()
        .find(|f| f.id == id)
        .map(|f| f.fingerprint)
        .ok_or_else(|| AppError::NotFound(format!("The master has no key for {id:?}.")))
}

/// Refuse the whole request (audited) unless `user` may `action` every key in `ids`.
pub async fn authorize_all(
    state: &AppState,
    user: &CurrentUser,
    action: KeyAction,
    ids: &[crate::model::ids::MinionId],
) -> Result<(), AppError> {
    let action = verb(action);
    for id in ids {
        if !user.can(action, &format!("key:{id}")) {
            let message = format!("You do not have permission to {action} the key of {id}.");
            return Err(crate::server::auth::deny(
                state,
                user,
                action,
                &format!("key:{id}"),
                &message,
            )
            .await);
        }
    }
    Ok(())
}

/// Accept, reject or delete the keys `ids` (validated, and authorised by [`authorize_all`]).
/// Each key is acted on by exact id and judged by the master's key lists afterwards rather than
/// by the wheel reply; each is audited, and keys are re-polled at once.
pub async fn act(
    state: &AppState,
    user: &CurrentUser,
    ip: &str,
    kind: KeyAction,
    ids: &[crate::model::ids::MinionId],
) -> Result<Vec<KeyActionResult>, AppError> {
    let action = verb(kind);
    let client = state.runtime.client()?;
    let before = client.key_list_all().await.map_err(salt_error)?;
    let target_state = match kind {
        KeyAction::Accept => Some("accepted"),
        KeyAction::Reject => Some("rejected"),
        KeyAction::Delete => None,
    };
    let audit = |id: &str| {
        AuditEntry::new(&format!("key.{action}"), &format!("key:{id}"))
            .user(&user.id, &user.username)
            .ip(ip)
    };
    let mut attempted: Vec<(crate::model::ids::MinionId, Duration, Option<SaltError>)> = vec![];
    let mut out = vec![];
    for id in ids {
        if key_state(&before, id).is_none() {
            record(&state.db, audit(id).code(404)).await;
            out.push(KeyActionResult {
                id: id.clone(),
                ok: false,
                message: "the master has no key with this id".into(),
            });
            continue;
        }
        let started = Instant::now();
        let r = client.key_action(kind, id).await;
        if let Err(e @ SaltError::Unavailable(_)) = &r {
            return Err(salt_error(e.clone()));
        }
        attempted.push((id.clone(), started.elapsed(), r.err()));
    }
    let after = if attempted.is_empty() {
        before.clone()
    } else {
        client.key_list_all().await.map_err(salt_error)?
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
            (_, true) => (true, past_tense(kind).to_string(), 200),
            // A running minion sends its key again as soon as it is deleted: a key that was
            // accepted, rejected or denied and is now pending was deleted.
            (None, false)
                if kind == KeyAction::Delete && now == Some("pending") && was != "pending" =>
            {
                (
                    true,
                    "deleted (the minion has already sent its key again; it is pending)".into(),
                    200,
                )
            }
            (Some(e), false) => (false, e.to_string(), salt_error(e.clone()).status()),
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
            audit(&id)
                .args(serde_json::json!({ "before": was, "after": now.unwrap_or("absent") }))
                .code(code)
                .duration_ms(took.as_millis() as i64),
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

/// One key in the Keys export.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyExportRow {
    pub minion_id: String,
    pub state: crate::model::keys::KeyState,
}

impl crate::server::export::ExportRow for KeyExportRow {
    const COLUMNS: &'static [&'static str] = &["minion_id", "state"];

    fn cells(&self) -> Vec<String> {
        vec![self.minion_id.clone(), self.state.as_str().to_string()]
    }
}

/// The Keys page's export (`GET /api/keys/export.csv|json|ndjson`): every key the caller may
/// view whose id contains the search (as the page filters), all states, ordered by minion id,
/// from the keys snapshot the page reads.
pub struct KeysExport {
    globs: Option<Vec<String>>,
    needle: String,
}

impl crate::server::export::Table for KeysExport {
    const PAGE: &'static str = "keys";
    const WHAT: &'static str = "keys";
    type Row = KeyExportRow;
    const GATE: crate::server::export::Gate =
        crate::server::export::Gate::Kind("key", "You do not have permission to view keys.");

    async fn check(
        crate::server::export::Ask { params, globs, .. }: crate::server::export::Ask<'_>,
    ) -> Result<Self, crate::server::export::Refusal> {
        let q = crate::model::list::validate_q(&params.get("q"))?;
        Ok(KeysExport {
            globs,
            needle: q.to_lowercase(),
        })
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({ "q": self.needle, "scoped": self.globs.is_some() })
    }

    async fn produce(
        self,
        state: AppState,
        mut sink: crate::server::export::Sink,
    ) -> Result<crate::server::export::Sink, crate::server::export::ExportError> {
        use crate::server::minions::store::{all_status, SnapshotKind};
        let all = all_status(&state.db, SnapshotKind::Key, &self.globs).await?;
        let rows = all
            .into_iter()
            .filter(|(id, _)| self.needle.is_empty() || id.to_lowercase().contains(&self.needle))
            .map(|(minion_id, status)| KeyExportRow {
                minion_id,
                state: status.key_state(),
            });
        sink.all(rows).await?;
        Ok(sink)
    }
}
