//! Run: dispatch a Salt command (`local_async`, or `local_batch` with a batch size), preview
//! which minions a target matches, and the function catalogue for autocomplete.
#![allow(clippy::too_many_arguments)] // server functions mirror the form fields

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Target types Salt accepts from the Run page (SPEC 6.7).
pub const TARGET_TYPES: &[&str] = &["glob", "list", "pcre", "grain", "nodegroup", "compound"];
/// How long the Run page waits for a minion before calling it "no response" (seconds).
pub const RESPONSE_TIMEOUT_SECS: i64 = 20;

/// A validated command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub target: String,
    pub target_type: String,
    pub fun: String,
    pub args: Vec<String>,
    pub kwargs: Vec<(String, String)>,
}

pub use crate::model::templates::{is_function_name, is_identifier};

/// Validate target, function and arguments (SPEC 6.7 limits) with messages a person understands.
pub fn validate_command(
    target: &str,
    target_type: &str,
    fun: &str,
    args_json: &str,
    kwargs_json: &str,
) -> Result<Command, AppError> {
    let target = target.trim();
    if target.is_empty() {
        return Err(AppError::invalid(
            "target",
            "Enter a target, e.g. * or web-*.",
        ));
    }
    if target.chars().count() > 1024 {
        return Err(AppError::invalid(
            "target",
            "The target is limited to 1024 characters.",
        ));
    }
    let target_type = if target_type.is_empty() {
        "glob"
    } else {
        target_type
    };
    if !TARGET_TYPES.contains(&target_type) {
        return Err(AppError::invalid(
            "target_type",
            format!("Target type must be one of {}.", TARGET_TYPES.join(", ")),
        ));
    }
    if target_type == "grain" && !target.contains(':') {
        return Err(AppError::invalid(
            "target",
            "A grain target is grain:value, e.g. os:Debian.",
        ));
    }
    let fun = fun.trim();
    if fun.is_empty() {
        return Err(AppError::invalid(
            "fun",
            "Enter a function, e.g. test.ping.",
        ));
    }
    if fun.len() > 128 || !is_function_name(fun) {
        return Err(AppError::invalid(
            "fun",
            "A function looks like module.function, e.g. test.ping or state.apply (at most 128 characters).",
        ));
    }
    let args: Vec<String> = if args_json.trim().is_empty() {
        vec![]
    } else {
        serde_json::from_str(args_json)
            .map_err(|_| AppError::invalid("args", "Arguments must be a list of strings."))?
    };
    if args.len() > 64 {
        return Err(AppError::invalid("args", "At most 64 arguments."));
    }
    if args.iter().any(|a| a.chars().count() > 4096) {
        return Err(AppError::invalid(
            "args",
            "Each argument is limited to 4096 characters.",
        ));
    }
    let kw: Vec<(String, String)> = if kwargs_json.trim().is_empty() {
        vec![]
    } else {
        let m: serde_json::Map<String, serde_json::Value> = serde_json::from_str(kwargs_json)
            .map_err(|_| {
                AppError::invalid("kwargs", "Keyword arguments must be an object of strings.")
            })?;
        let mut out = vec![];
        for (k, v) in m {
            let v = match v {
                serde_json::Value::String(s) => s,
                _ => {
                    return Err(AppError::invalid(
                        "kwargs",
                        format!("The value of {k} must be a string."),
                    ))
                }
            };
            out.push((k, v));
        }
        out
    };
    if kw.len() > 64 {
        return Err(AppError::invalid("kwargs", "At most 64 keyword arguments."));
    }
    for (k, v) in &kw {
        if k.len() > 64 || !is_identifier(k) {
            return Err(AppError::invalid(
                "kwargs",
                format!("{k:?} is not a valid keyword name (letters, digits and _)."),
            ));
        }
        if v.chars().count() > 4096 {
            return Err(AppError::invalid(
                "kwargs",
                format!("The value of {k} is limited to 4096 characters."),
            ));
        }
    }
    Ok(Command {
        target: target.to_string(),
        target_type: target_type.to_string(),
        fun: fun.to_string(),
        args,
        kwargs: kw,
    })
}

/// Validate a batch size: empty, a count (1-100000) or a percentage (1%-100%).
pub fn validate_batch(batch: &str) -> Result<Option<String>, AppError> {
    let b = batch.trim();
    if b.is_empty() {
        return Ok(None);
    }
    let bad = || {
        AppError::invalid(
            "batch",
            "Batch size is a number (e.g. 10) or a percentage (e.g. 25%).",
        )
    };
    if let Some(p) = b.strip_suffix('%') {
        let n: u32 = p.parse().map_err(|_| bad())?;
        if !(1..=100).contains(&n) {
            return Err(bad());
        }
    } else {
        let n: u32 = b.parse().map_err(|_| bad())?;
        if !(1..=100_000).contains(&n) {
            return Err(bad());
        }
    }
    Ok(Some(b.to_string()))
}

/// The function catalogue for autocomplete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCatalogue {
    pub functions: Vec<String>,
    pub cached_at: Option<String>,
    /// True when Salt could not be asked and this is an older copy.
    pub stale: bool,
}

/// Execution functions known to the master's minions (`sys.list_functions` on `*`, merged),
/// cached for an hour; a stale copy is served while Salt is down (DECISIONS).
#[server(endpoint = "run/functions")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn salt_functions() -> Result<FunctionCatalogue, AppError> {
    use crate::server::auth::session;
    let (state, _) = session()?;
    let cache = state.runtime.jobs();
    let mut guard = cache.catalogue.lock().await;
    let now = chrono::Utc::now();
    if let Some((f, at)) = guard.as_ref() {
        if now - *at < chrono::Duration::hours(1) {
            return Ok(FunctionCatalogue {
                functions: f.clone(),
                cached_at: Some(crate::server::to_text(*at)),
                stale: false,
            });
        }
    }
    let fetched = match state.runtime.client() {
        Ok(c) => c
            .sys_list_functions("*")
            .await
            .map_err(crate::server::runtime::salt_error),
        Err(e) => Err(e),
    };
    match fetched {
        Ok(returns) => {
            let mut set = std::collections::BTreeSet::new();
            for r in returns.values() {
                if let crate::salt::replies::MinionReturn::Returned { ret, .. } = r {
                    for f in ret.as_array().into_iter().flatten() {
                        if let Some(s) = f.as_str() {
                            set.insert(s.to_string());
                        }
                    }
                }
            }
            let functions: Vec<String> = set.into_iter().collect();
            *guard = Some((functions.clone(), now));
            Ok(FunctionCatalogue {
                functions,
                cached_at: Some(crate::server::to_text(now)),
                stale: false,
            })
        }
        Err(e) => match guard.as_ref() {
            Some((f, at)) => Ok(FunctionCatalogue {
                functions: f.clone(),
                cached_at: Some(crate::server::to_text(*at)),
                stale: true,
            }),
            None => Err(e),
        },
    }
}

/// Which minions a target matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetPreview {
    pub minions: Vec<String>,
}

#[cfg(feature = "ssr")]
fn may_execute_something(user: &crate::rbac::Permission) -> bool {
    crate::rbac::fnmatch(&user.verb, "execute")
        && (user.resource_glob == "*" || user.resource_glob.starts_with("salt:"))
}

/// Target types a user whose minion scope is not everything may not use: `compound` can probe
/// pillar (`I@`, `J@`) and `pcre` runs a caller's regex on the master.
pub const FULL_SCOPE_TARGET_TYPES: &[&str] = &["pcre", "compound"];

/// Shown on the Run page to a user whose role covers only some minions.
pub const SCOPED_NOTE: &str =
    "Your role limits you to some minions: the target is resolved first and only those are run.";

/// Audit a refusal (`permission.denied`) and return the 403 to send.
#[cfg(feature = "ssr")]
async fn denied(
    state: &crate::server::state::AppState,
    user: &crate::server::auth::CurrentUser,
    verb: &str,
    resource: &str,
    rule: &str,
    message: String,
) -> AppError {
    crate::server::auth::deny_by_rule(state, user, verb, resource, Some(rule), &message).await
}

/// The minions `cmd`'s target matches, resolved by the master from its grains cache (no minion
/// is contacted).
#[cfg(feature = "ssr")]
async fn resolve(client: &crate::salt::SaltClient, cmd: &Command) -> Result<Vec<String>, AppError> {
    let tgt = if cmd.target_type == "list" {
        // Salt's list matcher takes a comma-separated string too.
        cmd.target
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(",")
    } else {
        cmd.target.clone()
    };
    client
        .match_targets(&tgt, &cmd.target_type)
        .await
        .map_err(crate::server::runtime::salt_error)
}

/// For a user whose `view:minion` grants do not cover every minion: refuse `pcre`/`compound`,
/// resolve the target, and keep only the minions the user may view. `None` for a user who may
/// view every minion (the target goes to Salt as written).
#[cfg(feature = "ssr")]
async fn scoped_minions(
    state: &crate::server::state::AppState,
    user: &crate::server::auth::CurrentUser,
    client: &crate::salt::SaltClient,
    cmd: &Command,
) -> Result<Option<Vec<String>>, AppError> {
    if crate::rbac::covers_all(&user.permissions, "view", "minion") {
        return Ok(None);
    }
    if FULL_SCOPE_TARGET_TYPES.contains(&cmd.target_type.as_str()) {
        return Err(denied(
            state,
            user,
            "view",
            "minion:*",
            "target-scope",
            format!(
                "You do not have permission to use {} targets: your role limits you to some minions, \
                 and {} targets need view:minion:*. Use glob, list, grain or nodegroup.",
                cmd.target_type,
                FULL_SCOPE_TARGET_TYPES.join(" and ")
            ),
        )
        .await);
    }
    let ids: Vec<String> = resolve(client, cmd)
        .await?
        .into_iter()
        .filter(|id| user.can("view", &format!("minion:{id}")))
        .collect();
    Ok(Some(ids))
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
    let (state, user) = session()?;
    if !user.permissions.iter().any(may_execute_something) {
        return Err(denied(
            &state,
            &user,
            "execute",
            "salt:*",
            "grant",
            "You do not have permission to run commands.".into(),
        )
        .await);
    }
    let cmd = validate_command(&target, &target_type, "test.ping", "", "")?;
    let client = state.runtime.client()?;
    let minions = match scoped_minions(&state, &user, &client, &cmd).await? {
        Some(ids) => ids,
        None => resolve(&client, &cmd).await?,
    };
    Ok(TargetPreview { minions })
}

/// What a dispatch started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispatched {
    /// The Salt JID (`local_async`); `None` for a batch run.
    pub jid: Option<String>,
    /// The batch run id to follow (`local_batch`).
    pub batch_id: Option<String>,
    pub minions: Vec<String>,
    pub started_at: String,
}

#[cfg(feature = "ssr")]
fn to_request(cmd: &Command) -> crate::salt::LocalRequest {
    use serde_json::Value;
    let tgt = if cmd.target_type == "list" {
        Value::from(
            cmd.target
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>(),
        )
    } else {
        Value::from(cmd.target.clone())
    };
    crate::salt::LocalRequest {
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
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::{client_info, request_parts, session};
    let cmd = validate_command(&target, &target_type, &fun, &args_json, &kwargs_json)?;
    let batch = validate_batch(&batch)?;
    let (state, user) = session()?;
    let resource = format!("salt:{}", cmd.fun);
    if !crate::rbac::may_execute(&user.permissions, &cmd.fun) {
        let (rule, message) = if crate::rbac::is_indirect_function(&cmd.fun) {
            (
                "indirect-function",
                format!(
                    "You do not have permission to run {f}: it runs or forges other functions, \
                     so a grant with a wildcard (such as execute:salt:{m}.*) does not cover it. \
                     It needs execute:salt:* or a grant naming it exactly (execute:salt:{f}).",
                    f = cmd.fun,
                    m = cmd.fun.split('.').next().unwrap_or("")
                ),
            )
        } else {
            (
                "grant",
                format!("You do not have permission to execute salt {}.", cmd.fun),
            )
        };
        return Err(denied(&state, &user, "execute", &resource, rule, message).await);
    }
    let client = state.runtime.client()?;
    let ip = client_info(&request_parts()?).ip;
    let scoped = scoped_minions(&state, &user, &client, &cmd).await?;
    if scoped.as_ref().is_some_and(|ids| ids.is_empty()) {
        return Err(AppError::invalid(
            "target",
            "No minion you may act on matches this target.",
        ));
    }
    let mut req = to_request(&cmd);
    if let Some(ids) = &scoped {
        // Exactly the resolved, in-scope ids: no glob or list syntax reaches Salt.
        req.tgt = serde_json::Value::from(ids.clone());
        req.tgt_type = "list".into();
    }
    let payload = serde_json::json!({
        "target": cmd.target,
        "target_type": cmd.target_type,
        "fun": cmd.fun,
        "args": cmd.args,
        "kwargs": cmd.kwargs.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone()))).collect::<serde_json::Map<String, serde_json::Value>>(),
        "batch": batch,
        "scoped_minions": scoped,
    });
    let started = std::time::Instant::now();
    let now = crate::server::now_text();
    if let Some(batch) = batch {
        // local_batch blocks until the last batch returns: run it in the background and
        // let the page follow it by id.
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
        let id = uuid::Uuid::new_v4().to_string();
        let cache = state.runtime.jobs();
        let added = cache.add_batch(
            id.clone(),
            crate::server::jobs::BatchRun {
                owner_user_id: user.id.clone(),
                fun: cmd.fun.clone(),
                minions: minions.clone(),
                batch: batch.clone(),
                started_at: now.clone(),
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
        record(
            &state.db,
            AuditEntry::new("salt.run", &format!("salt:{}", cmd.fun))
                .user(&user.id, &user.username)
                .args(payload)
                .code(202)
                .duration_ms(started.elapsed().as_millis() as i64)
                .ip(&ip),
        )
        .await;
        let bid = id.clone();
        tokio::spawn(async move {
            let r = client.local_batch(&req, &batch).await;
            cache.finish_batch(&bid, r.map_err(|e| e.to_string()));
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
        Err(e) => (crate::server::runtime::salt_error(e.clone()).status(), None),
    };
    let mut entry = AuditEntry::new("salt.run", &format!("salt:{}", cmd.fun))
        .user(&user.id, &user.username)
        .args(payload)
        .code(code)
        .duration_ms(started.elapsed().as_millis() as i64)
        .ip(&ip);
    if let Some(j) = &jid {
        entry = entry.jid(j);
    }
    record(&state.db, entry).await;
    match r.map_err(crate::server::runtime::salt_error)? {
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

/// A batch run's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchProgress {
    pub minions: Vec<String>,
    pub batch: String,
    pub finished: bool,
    pub error: Option<String>,
    /// (minion, pretty JSON return) for every answer.
    pub results: Vec<(String, String)>,
}

/// Follow a batch run started by the caller.
#[server(endpoint = "run/batch")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn batch_status(id: String) -> Result<BatchProgress, AppError> {
    use crate::server::auth::session;
    let (state, user) = session()?;
    if id.len() > 64 {
        return Err(AppError::invalid("id", "Not a batch id."));
    }
    let cache = state.runtime.jobs();
    let map = cache.batches.lock().unwrap_or_else(|e| e.into_inner());
    let run = map
        .get(&id)
        .filter(|r| r.owner_user_id == user.id)
        .ok_or_else(|| AppError::NotFound("No such batch run (it ends with a restart).".into()))?;
    Ok(BatchProgress {
        minions: run.minions.clone(),
        batch: run.batch.clone(),
        finished: run.finished_at.is_some(),
        error: run.error.clone(),
        results: run
            .results
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    crate::app::api::jobs::clipped_json(v, 64 * 1024).0,
                )
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_validation() {
        let c = validate_command(" web-* ", "", "test.ping", "", "").unwrap();
        assert_eq!(c.target, "web-*");
        assert_eq!(c.target_type, "glob");
        assert!(validate_command("", "glob", "test.ping", "", "").is_err());
        assert!(validate_command(&"x".repeat(1025), "glob", "test.ping", "", "").is_err());
        assert!(validate_command("*", "regex", "test.ping", "", "").is_err());
        assert!(validate_command("os", "grain", "test.ping", "", "").is_err());
        assert!(validate_command("os:Debian", "grain", "test.ping", "", "").is_ok());
        for bad in [
            "ping",
            "test.",
            ".ping",
            "test.ping;rm",
            "test ping",
            "1a.b",
        ] {
            let e = validate_command("*", "glob", bad, "", "").unwrap_err();
            assert_eq!(e.field(), Some("fun"), "{bad}");
        }
        assert!(validate_command("*", "glob", "cloud.profile.x", "", "").is_ok());
        let c =
            validate_command("*", "glob", "cmd.run", r#"["uptime"]"#, r#"{"cwd":"/tmp"}"#).unwrap();
        assert_eq!(c.args, vec!["uptime"]);
        assert_eq!(c.kwargs, vec![("cwd".to_string(), "/tmp".to_string())]);
        assert_eq!(
            validate_command("*", "glob", "cmd.run", "[1]", "")
                .unwrap_err()
                .field(),
            Some("args")
        );
        assert_eq!(
            validate_command("*", "glob", "cmd.run", "", r#"{"bad key":"x"}"#)
                .unwrap_err()
                .field(),
            Some("kwargs")
        );
    }

    #[test]
    fn batch_validation() {
        assert_eq!(validate_batch("").unwrap(), None);
        assert_eq!(validate_batch("10").unwrap().as_deref(), Some("10"));
        assert_eq!(validate_batch("25%").unwrap().as_deref(), Some("25%"));
        for bad in ["0", "0%", "101%", "x", "-1", "1.5"] {
            assert!(validate_batch(bad).is_err(), "{bad}");
        }
    }
}
