//! Timeline (job bars over a window, grouped by function or user) and the hourly job-activity
//! buckets the Overview charts; both read `jobs_index` and the active-JID cache, never salt-api.

use crate::error::AppError;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::timeline::{
    category, parse_flag, validate_timeline_args, window_seconds, ActivityBucket, JobActivityOut,
    TimelineArgs, TimelineBar, TimelineGroup, TimelineOut, CATEGORIES, DEFAULT_WINDOW, GROUP_BYS,
    MAX_BARS, MAX_FUNCTION_FILTER, MAX_USER, WINDOWS,
};

/// Jobs over a window as rows of bars (SPEC 6.6). Arguments are strings as in the page's URL.
#[server(endpoint = "timeline/get")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_timeline(
    #[server(default)] window: String,
    #[server(default)] group_by: String,
    #[server(default)] include_system: String,
    #[server(default)] function_filter: String,
    #[server(default)] user: String,
) -> Result<TimelineOut, AppError> {
    use crate::server::jobs::timeline;
    let (state, _, globs) = view_jobs_scope().await?;
    let args =
        validate_timeline_args(&window, &group_by, &include_system, &function_filter, &user)?;
    let poller_enabled = crate::server::settings::load_view(&state.db)
        .await?
        .pollers
        .jobs_poll_interval_seconds
        > 0;
    Ok(timeline::timeline(
        &state.db,
        &state.runtime.jobs(),
        &args,
        globs,
        chrono::Utc::now(),
        poller_enabled,
    )
    .await?)
}

/// Hourly counts of (non-system) jobs over the last `hours` hours, plus the running count.
#[server(endpoint = "jobs/activity")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn job_activity(#[server(default)] hours: String) -> Result<JobActivityOut, AppError> {
    use crate::server::jobs::timeline;
    let (state, user, globs) = view_jobs_scope().await?;
    let hours = match hours.trim() {
        "" => 24,
        h => h
            .parse::<i64>()
            .ok()
            .filter(|h| (1..=168).contains(h))
            .ok_or_else(|| {
                AppError::invalid("hours", "Hours must be a whole number from 1 to 168.")
            })?,
    };
    Ok(timeline::activity(
        &state.db,
        &state.runtime.jobs(),
        hours,
        &globs,
        &user.permissions,
        chrono::Utc::now(),
    )
    .await?)
}

/// The signed-in user's job scope: `None` = every job, else SQLite GLOBs over `job:<jid>`.
/// A user with no job view at all gets the audited 403 of `view:job:*`.
#[cfg(feature = "ssr")]
pub async fn view_jobs_scope() -> Result<
    (
        crate::server::state::AppState,
        crate::server::auth::CurrentUser,
        Option<Vec<String>>,
    ),
    AppError,
> {
    use crate::server::auth::{deny, session};
    use crate::server::minions::store::allowed_globs;
    let (state, user) = session()?;
    let globs = allowed_globs(&user.permissions, "view", "job");
    if globs.as_ref().is_some_and(|g| g.is_empty()) {
        return Err(deny(
            &state,
            &user,
            "view",
            "job:*",
            "You do not have permission to view jobs.",
        )
        .await);
    }
    Ok((state, user, globs))
}
