//! Run: the service behind the Run page's server functions. Who may run what on which minions
//! (`scoped_minions`), target previews, the function catalogue, dispatch ([`dispatch`]) and
//! batch runs ([`batch`]).

pub mod batch;
pub mod dispatch;

use crate::error::AppError;
use crate::model::run::{
    BatchProgress, Command, FunctionCatalogue, TargetPreview, FULL_SCOPE_TARGET_TYPES,
};
use crate::rbac::Permission;
use crate::salt::replies::MinionReturn;
use crate::salt::SaltClient;
use crate::server::auth::CurrentUser;
use crate::server::runtime::salt_error;
use crate::server::state::AppState;

pub use dispatch::dispatch;

/// How long the function catalogue is served from the cache before Salt is asked again.
const CATALOGUE_TTL_HOURS: i64 = 1;

fn may_execute_something(grant: &Permission) -> bool {
    crate::rbac::fnmatch(&grant.verb, "execute")
        && (grant.resource_glob == "*" || grant.resource_glob.starts_with("salt:"))
}

/// Refuse (audited as `permission.denied`) a user who may run no command at all.
pub async fn require_some_execute(state: &AppState, user: &CurrentUser) -> Result<(), AppError> {
    if user.permissions.iter().any(may_execute_something) {
        return Ok(());
    }
    Err(denied(
        state,
        user,
        "execute",
        "salt:*",
        "grant",
        "You do not have permission to run commands.".into(),
    )
    .await)
}

/// Audit a refusal (`permission.denied`) and return the 403 to send.
async fn denied(
    state: &AppState,
    user: &CurrentUser,
    verb: &str,
    resource: &str,
    rule: &str,
    message: String,
) -> AppError {
    crate::server::auth::deny_by_rule(state, user, verb, resource, Some(rule), &message).await
}

/// The target as Salt's matchers take it: a `list` target is comma-separated ids.
fn list_ids(target: &str) -> Vec<String> {
    target
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The minions `cmd`'s target matches, resolved by the master from its grains cache (no minion
/// is contacted).
async fn resolve(client: &SaltClient, cmd: &Command) -> Result<Vec<String>, AppError> {
    let tgt = if cmd.target_type == "list" {
        // Salt's list matcher takes a comma-separated string too.
        list_ids(&cmd.target).join(",")
    } else {
        cmd.target.clone()
    };
    client
        .match_targets(&tgt, &cmd.target_type)
        .await
        .map_err(salt_error)
}

/// For a user whose `view:minion` grants do not cover every minion: refuse `pcre`/`compound`,
/// resolve the target, and keep only the minions the user may view. `None` for a user who may
/// view every minion (the target goes to Salt as written).
async fn scoped_minions(
    state: &AppState,
    user: &CurrentUser,
    client: &SaltClient,
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

/// The minions `cmd`'s target matches (on the master, no minion is contacted), only those the
/// user may view: what an action that sends Salt a `list` of ids (inventory refresh) targets.
pub async fn target_minions(
    state: &AppState,
    user: &CurrentUser,
    client: &SaltClient,
    cmd: &Command,
) -> Result<Vec<String>, AppError> {
    match scoped_minions(state, user, client, cmd).await? {
        Some(ids) => Ok(ids),
        None => resolve(client, cmd).await,
    }
}

/// The minions a target matches (on the master, no minion is contacted); a user whose role
/// covers only some minions sees only those.
pub async fn preview(
    state: &AppState,
    user: &CurrentUser,
    cmd: &Command,
) -> Result<TargetPreview, AppError> {
    let client = state.runtime.client()?;
    let minions = match scoped_minions(state, user, &client, cmd).await? {
        Some(ids) => ids,
        None => resolve(&client, cmd).await?,
    };
    Ok(TargetPreview { minions })
}

/// Execution functions known to the master's minions (`sys.list_functions` on `*`, merged),
/// cached for an hour; a stale copy is served while Salt is down (DECISIONS).
pub async fn function_catalogue(state: &AppState) -> Result<FunctionCatalogue, AppError> {
    let cache = state.runtime.jobs();
    let mut guard = cache.catalogue.lock().await;
    let now = chrono::Utc::now();
    if let Some((f, at)) = guard.as_ref() {
        if now - *at < chrono::Duration::hours(CATALOGUE_TTL_HOURS) {
            return Ok(FunctionCatalogue {
                functions: f.clone(),
                cached_at: Some(crate::server::to_text(*at)),
                stale: false,
            });
        }
    }
    let fetched = match state.runtime.client() {
        Ok(c) => c.sys_list_functions("*").await.map_err(salt_error),
        Err(e) => Err(e),
    };
    match fetched {
        Ok(returns) => {
            let mut set = std::collections::BTreeSet::new();
            for r in returns.values() {
                if let MinionReturn::Returned { ret, .. } = r {
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

/// Follow a batch run the caller started.
pub fn batch_progress(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
) -> Result<BatchProgress, AppError> {
    if id.len() > 64 {
        return Err(AppError::invalid("id", "Not a batch id."));
    }
    state
        .runtime
        .batches()
        .progress(id, &user.id)
        .ok_or_else(|| AppError::NotFound("No such batch run (it ends with a restart).".into()))
}
