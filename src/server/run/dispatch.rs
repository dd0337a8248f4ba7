//! Dispatch a validated command: `local_async` (returns the JID at once), or a batch run
//! (`local_batch`, which blocks until the last batch returns, so it runs as a runtime task and
//! the page follows it by id).

use super::{denied, list_ids, resolve, scoped_minions};
use crate::error::AppError;
use crate::model::run::{Command, Dispatched};
use crate::salt::LocalRequest;
use crate::server::audit::{record, AuditEntry};
use crate::server::auth::CurrentUser;
use crate::server::run::batch::BatchRun;
use crate::server::runtime::salt_error;
use crate::server::state::AppState;
use serde_json::{Map, Value};

/// Refuse (audited) a user who may not run `fun` (`execute:salt:<fun>`; see
/// [`crate::rbac::may_execute`] for functions that run other functions).
pub async fn require_execute(
    state: &AppState,
    user: &CurrentUser,
    fun: &str,
) -> Result<(), AppError> {
    if crate::rbac::may_execute(&user.permissions, fun) {
        return Ok(());
    }
    let (rule, message) = if crate::rbac::is_indirect_function(fun) {
        (
            "indirect-function",
            format!(
                "You do not have permission to run {fun}: it runs or forges other functions, \
                 so a grant with a wildcard (such as execute:salt:{m}.*) does not cover it. \
                 It needs execute:salt:* or a grant naming it exactly (execute:salt:{fun}).",
                m = fun.split('.').next().unwrap_or("")
            ),
        )
    } else {
        (
            "grant",
            format!("You do not have permission to execute salt {fun}."),
        )
    };
    Err(denied(
        state,
        user,
        "execute",
        &format!("salt:{fun}"),
        rule,
        message,
    )
    .await)
}

fn to_request(cmd: &Command) -> LocalRequest {
    let tgt = if cmd.target_type == "list" {
        Value::from(list_ids(&cmd.target))
    } else {
        Value::from(cmd.target.clone())
    };
    LocalRequest {
        tgt,
        tgt_type: cmd.target_type.clone(),
        fun: cmd.fun.clone(),
        arg: cmd.args.iter().map(|a| Value::from(a.clone())).collect(),
        kwarg: cmd
            .kwargs
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect(),
        timeout_secs: None,
    }
}

/// Dispatch `cmd` for `user` (already allowed to run its function, see [`require_execute`]),
/// audited as `salt.run` with the full payload and the JID. For a user whose role covers only
/// some minions the target is resolved first and only those minions are sent, as a `list`.
pub async fn dispatch(
    state: &AppState,
    user: &CurrentUser,
    ip: &str,
    cmd: Command,
    batch: Option<String>,
) -> Result<Dispatched, AppError> {
    let client = state.runtime.client()?;
    let scoped = scoped_minions(state, user, &client, &cmd).await?;
    if scoped.as_ref().is_some_and(|ids| ids.is_empty()) {
        return Err(AppError::invalid(
            "target",
            "No minion you may act on matches this target.",
        ));
    }
    let mut req = to_request(&cmd);
    if let Some(ids) = &scoped {
        // Exactly the resolved, in-scope ids: no glob or list syntax reaches Salt.
        req.tgt = Value::from(ids.clone());
        req.tgt_type = "list".into();
    }
    let payload = serde_json::json!({
        "target": cmd.target,
        "target_type": cmd.target_type,
        "fun": cmd.fun,
        "args": cmd.args,
        "kwargs": cmd.kwargs.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect::<Map<String, Value>>(),
        "batch": batch,
        "scoped_minions": scoped,
    });
    let started = std::time::Instant::now();
    let now = crate::server::now_text();
    let audit = |code: u16| {
        AuditEntry::new("salt.run", &format!("salt:{}", cmd.fun))
            .user(&user.id, &user.username)
            .args(payload.clone())
            .code(code)
            .duration_ms(started.elapsed().as_millis() as i64)
            .ip(ip)
    };
    if let Some(batch) = batch {
        let minions = match &scoped {
            Some(ids) => ids.clone(),
            None => resolve(&client, &cmd).await?,
        };
        if minions.is_empty() {
            return Err(AppError::invalid(
                "target",
                "No minion matches this target.",
            ));
        }
        let runs = state.runtime.batches();
        let id = uuid::Uuid::new_v4().to_string();
        let added = runs.add(
            id.clone(),
            BatchRun {
                owner_user_id: user.id.clone(),
                minions: minions.clone(),
                batch: batch.clone(),
                ..Default::default()
            },
        );
        if !added {
            return Err(AppError::TooManyRequests {
                message: "Too many batch runs are in progress; try again when some have finished."
                    .into(),
                retry_after_secs: 60,
            });
        }
        record(&state.db, audit(202)).await;
        let bid = id.clone();
        state.runtime.spawn_task(async move {
            let r = client.local_batch(&req, &batch).await;
            runs.finish(&bid, r.map_err(|e| e.to_string()));
        });
        return Ok(Dispatched {
            jid: None,
            batch_id: Some(id),
            minions,
            started_at: now,
        });
    }
    let r = client.local_async(&req).await;
    let (code, jid) = match &r {
        Ok(Some(j)) => (202, Some(j.jid.clone())),
        Ok(None) => (422, None),
        Err(e) => (salt_error(e.clone()).status(), None),
    };
    let mut entry = audit(code);
    if let Some(j) = &jid {
        entry = entry.jid(j);
    }
    record(&state.db, entry).await;
    match r.map_err(salt_error)? {
        Some(job) => {
            let cache = state.runtime.jobs();
            cache.mark_running(&job.jid);
            // Something new runs: the next job view asks the master again.
            cache.live_active.invalidate();
            Ok(Dispatched {
                jid: Some(job.jid),
                batch_id: None,
                minions: job.minions,
                started_at: now,
            })
        }
        None => Err(AppError::invalid(
            "target",
            "No minion matches this target; nothing was run.",
        )),
    }
}
