//! One job in detail, live from the master (`jobs.list_job` + the shared `jobs.active`): the
//! job page's view and its per-minion results export.

use super::JobsCache;
use crate::error::AppError;
use crate::model::jobs::{
    clipped_json, split_arguments, Jid, JobDetailView, JobMinionRow, MinionJobState,
};
use crate::server::auth::CurrentUser;
use crate::server::state::AppState;

/// Take one live call from the user's budget, or a 429 saying when to try again.
pub fn live_budget(cache: &JobsCache, user_id: &str) -> Result<(), AppError> {
    cache
        .live_limit
        .take(user_id)
        .map_err(|secs| AppError::TooManyRequests {
            message: format!(
                "Too many live job requests; try again in {secs} s (the Jobs page refreshes by itself)."
            ),
            retry_after_secs: secs,
        })
}

/// The job `jid` as `user` sees it (the caller checked `view:job:<jid>`); a live call from the
/// user's budget.
pub async fn load(
    state: &AppState,
    user: &CurrentUser,
    jid: Jid,
) -> Result<JobDetailView, AppError> {
    let cache = state.runtime.jobs();
    live_budget(&cache, &user.id)?;
    let client = state.runtime.client()?;
    let salt_err = crate::server::runtime::salt_error;
    // `jobs.active` asks every minion: one answer is shared by every viewer for a few
    // seconds (single flight).
    let (detail, active) = tokio::join!(
        client.list_job(&jid),
        cache
            .live_active
            .get(crate::server::jobs::LIVE_TTL, || client.jobs_active())
    );
    let detail = detail.map_err(salt_err)?;
    if detail.summary.function.is_empty() && detail.minions.is_empty() {
        return Err(AppError::NotFound(format!(
            "The master has no job {jid} (it may have expired from the job cache)."
        )));
    }
    let running_on: Vec<String> = match active {
        Ok(list) => list
            .into_iter()
            .find(|a| a.jid == jid)
            .map(|a| a.running)
            .unwrap_or_default(),
        Err(_) => vec![],
    };
    let running = !running_on.is_empty();
    if running {
        cache.mark_running(&jid);
    }
    let fun = detail.summary.function.clone();
    let is_state = crate::server::jobs::highstate::is_state_function(&fun);
    let mut minions: Vec<String> = detail.minions.clone();
    for id in detail.results.keys() {
        if !minions.contains(id) {
            minions.push(id.clone());
        }
    }
    minions.sort();
    let mut rows = vec![];
    for id in &minions {
        match detail.results.get(id) {
            Some(r) => {
                let (return_json, truncated) = clipped_json(&r.ret, 256 * 1024);
                let success = r.success.or(r.retcode.map(|c| c == 0));
                rows.push(JobMinionRow {
                    minion: id.clone(),
                    state: MinionJobState::Returned,
                    success,
                    retcode: r.retcode,
                    return_json,
                    truncated,
                    highstate: is_state
                        .then(|| crate::server::jobs::highstate::parse_state_return(&r.ret)),
                });
            }
            None => rows.push(JobMinionRow {
                minion: id.clone(),
                state: if running_on.contains(id) {
                    MinionJobState::Running
                } else {
                    MinionJobState::NoResponse
                },
                success: None,
                retcode: None,
                return_json: String::new(),
                truncated: false,
                highstate: None,
            }),
        }
    }
    // Minions with failures first, then by id.
    rows.sort_by(|a, b| {
        let bad = |r: &JobMinionRow| {
            !(r.success == Some(false)
                || r.highstate
                    .as_ref()
                    .is_some_and(|h| h.fail > 0 || !h.errors.is_empty()))
        };
        bad(a).cmp(&bad(b)).then(a.minion.cmp(&b.minion))
    });
    let raw = serde_json::json!({
        "jid": jid,
        "Function": fun,
        "Arguments": detail.summary.arguments,
        "Target": detail.summary.target,
        "Target-type": detail.summary.target_type,
        "User": detail.summary.user,
        "Minions": detail.minions,
        "Result": detail.results.iter().map(|(k, r)| (k.clone(), serde_json::json!({
            "return": r.ret, "retcode": r.retcode, "success": r.success, "out": r.out
        }))).collect::<serde_json::Map<String, serde_json::Value>>(),
    });
    let (raw_json, raw_truncated) = clipped_json(&raw, 2 * 1024 * 1024);
    let (arguments, kwargs) = split_arguments(&detail.summary.arguments);
    let failed = rows
        .iter()
        .filter(|r| {
            r.success == Some(false)
                || r.highstate
                    .as_ref()
                    .is_some_and(|h| h.fail > 0 || !h.errors.is_empty())
        })
        .count() as i64;
    Ok(JobDetailView {
        returned: rows
            .iter()
            .filter(|r| r.state == MinionJobState::Returned)
            .count() as i64,
        no_response: rows
            .iter()
            .filter(|r| r.state == MinionJobState::NoResponse)
            .count() as i64,
        failed,
        can_kill: running && user.can("kill", &format!("job:{jid}")),
        started_at: crate::server::jobs::ingest::parse_jid(&jid),
        jid,
        function: fun,
        arguments,
        kwargs,
        target: detail.summary.target,
        target_type: detail.summary.target_type,
        user: detail.summary.user,
        running,
        is_state,
        minions: rows,
        raw_json,
        raw_truncated,
    })
}
