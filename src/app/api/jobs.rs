//! Jobs: the indexed list (from `jobs_index`), the live list, job detail (live `jobs.list_job`)
//! and kill.

use crate::error::AppError;
use leptos::prelude::*;

pub use crate::model::page::Page;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::jobs::{
    clipped_json, split_arguments, Jid, JobDetailView, JobListRow, JobMinionRow, JobStatus,
    JobsPage, KillResult, MinionJobState, StateRow, StateSummary, LIVE_CAP,
};

/// The JID argument, checked, and the caller, who must hold `verb` on `job:<jid>`.
#[cfg(feature = "ssr")]
async fn job_scope(
    verb: &str,
    jid: String,
) -> Result<
    (
        Jid,
        crate::server::state::AppState,
        crate::server::auth::CurrentUser,
    ),
    AppError,
> {
    let jid = Jid::new(jid)?;
    let (state, user) = crate::server::auth::require(verb, &format!("job:{jid}")).await?;
    Ok((jid, state, user))
}

/// One page of jobs from `jobs_index` (or, with `live`, straight from the master).
#[server(endpoint = "jobs/list")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_jobs(
    #[server(default)] q: String,
    #[server(default)] status: String,
    #[server(default)] system: bool,
    #[server(default)] live: bool,
    #[server(default)] page: i64,
    #[server(default)] per_page: i64,
) -> Result<JobsPage, AppError> {
    use crate::model::list::{JobFilters, ListParams, ListQuery};
    use crate::server::jobs::store::{self, JobQuery};
    let (state, user, globs) =
        super::view_scope("job", "You do not have permission to view jobs.").await?;
    let lq: ListQuery<JobFilters> = ListParams {
        q,
        page,
        per_page,
        filters: JobFilters {
            status,
            system,
            live,
        },
        ..Default::default()
    }
    .try_into()?;
    let (page, per_page, status_filter) = (lq.page, lq.per_page, lq.filters.status);
    let q = lq.q.to_lowercase();
    let cache = state.runtime.jobs();
    let poller_enabled = crate::server::settings::load_view(&state.db)
        .await?
        .pollers
        .jobs_poll_interval_seconds
        > 0;
    let active = cache.active();
    let status_of = |jid: &str| {
        if active.contains(jid) {
            JobStatus::Running
        } else {
            JobStatus::Complete
        }
    };
    if live {
        // Straight from the master (SPEC 6.5 Live mode), filtered here, capped at 500.
        // One answer is shared by every viewer for a few seconds (single flight), and
        // each user's live calls are rate limited.
        crate::server::jobs::detail::live_budget(&cache, &user.id)?;
        let client = state.runtime.client()?;
        let jobs = cache
            .live_list
            .get(crate::server::jobs::LIVE_TTL, || client.list_jobs(None))
            .await
            .map_err(crate::server::runtime::salt_error)?;
        let visible = |jid: &str| user.can("view", &format!("job:{jid}"));
        let rows: Vec<JobListRow> = jobs
            .into_iter()
            .filter(|j| visible(&j.jid))
            .filter(|j| system || !crate::server::jobs::ingest::is_system_function(&j.function))
            .filter(|j| {
                q.is_empty()
                    || format!(
                        "{} {} {} {}",
                        j.jid,
                        j.function,
                        j.target.as_deref().unwrap_or(""),
                        j.user.as_deref().unwrap_or("")
                    )
                    .to_lowercase()
                    .contains(&q)
            })
            .map(|j| JobListRow {
                status: status_of(&j.jid),
                started_at: crate::server::jobs::ingest::parse_jid(&j.jid),
                jid: j.jid,
                function: j.function,
                target: j.target,
                target_type: j.target_type,
                user: j.user,
            })
            .filter(|r| status_filter.is_none_or(|s| r.status == s))
            .take(LIVE_CAP)
            .collect();
        return Ok(JobsPage {
            list: {
                let total = rows.len() as i64;
                Page::new(rows, total, 1, LIVE_CAP as i64)
            },
            live: true,
            last_polled_at: cache.last_polled_at(),
            active_known: cache.active_known(),
            poller_enabled,
        });
    }
    let mut active_list: Vec<String> = active.iter().cloned().collect();
    active_list.sort();
    let jq = JobQuery {
        search: (!q.is_empty()).then_some(q),
        function: None,
        status: status_filter,
        include_system: system,
        page,
        per_page,
        allowed_globs: globs,
    };
    let (rows, total, capped) = store::list(&state.db, &jq, &active_list).await?;
    Ok(JobsPage {
        list: Page::new(rows, total, page, per_page).capped(capped),
        live: false,
        last_polled_at: cache.last_polled_at(),
        active_known: cache.active_known(),
        poller_enabled,
    })
}

/// Job detail, live from the master (`jobs.list_job` + `jobs.active`).
#[server(endpoint = "jobs/get")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_job(jid: String) -> Result<JobDetailView, AppError> {
    let (jid, state, user) = job_scope("view", jid).await?;
    crate::server::jobs::detail::load(&state, &user, jid).await
}

/// Kill a running job: `saltutil.kill_job` on the minions still running it (DECISIONS).
#[server(endpoint = "jobs/kill")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn kill_job(jid: String) -> Result<KillResult, AppError> {
    use crate::server::audit::{record, AuditEntry};
    use crate::server::auth::{client_info, request_parts};
    let (jid, state, user) = job_scope("kill", jid).await?;
    let client = state.runtime.client()?;
    let salt_err = crate::server::runtime::salt_error;
    let started = std::time::Instant::now();
    let active = client.jobs_active().await.map_err(salt_err)?;
    let Some(job) = active.into_iter().find(|a| a.jid == jid) else {
        return Err(AppError::Conflict(format!(
            "Job {jid} is not running any more; there is nothing to kill."
        )));
    };
    let minions = job.running.clone();
    let ip = client_info(&request_parts()?).ip;
    let r = client.kill_job(&jid, &minions).await;
    let code = match &r {
        Ok(_) => 202,
        Err(e) => salt_err(e.clone()).status(),
    };
    record(
        &state.db,
        AuditEntry::new("job.kill", &format!("job:{jid}"))
            .user(&user.id, &user.username)
            .args(serde_json::json!({ "jid": jid, "minions": minions }))
            .jid(&jid)
            .code(code)
            .duration_ms(started.elapsed().as_millis() as i64)
            .ip(&ip),
    )
    .await;
    // What runs changed: the next job view asks the master again.
    state.runtime.jobs().live_active.invalidate();
    r.map_err(salt_err)?;
    Ok(KillResult {
        message: format!(
            "Kill signal sent to {} minion(s). Minions already executing may still finish; \
             the job shows complete on the next poll.",
            minions.len()
        ),
        jid,
        minions,
    })
}
