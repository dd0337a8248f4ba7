//! The command palette's server half: minion ids and JIDs that start with what was typed, only
//! those the caller may view (prefix search: a range or an index scan, well under 50 ms at
//! 10,000 minions; see BENCHMARKS.md).

use crate::error::AppError;
use leptos::prelude::*;

pub use crate::model::palette::{PaletteAction, PaletteHits, PaletteJob};

/// Suggestions for `q` (trimmed, at most 200 characters): minions whose id starts with it and,
/// for four digits or more, jobs whose JID does.
#[server(endpoint = "palette/search")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn palette_search(q: String) -> Result<PaletteHits, AppError> {
    use crate::model::palette::{MAX_JOBS, MAX_MINIONS, MIN_JID_PREFIX};
    use crate::server::minions::store::{allowed_globs, id_prefix};
    let (state, user) = crate::server::auth::session()?;
    let q = crate::model::list::validate_q(&q)?;
    let mut hits = PaletteHits::default();
    if q.is_empty() {
        return Ok(hits);
    }
    let minions = allowed_globs(&user.permissions, "view", "minion");
    if minions.as_ref().is_none_or(|g| !g.is_empty()) {
        hits.minions = id_prefix(&state.db, &q, &minions, MAX_MINIONS).await?;
    }
    let jobs = allowed_globs(&user.permissions, "view", "job");
    if q.len() >= MIN_JID_PREFIX
        && q.bytes().all(|b| b.is_ascii_digit())
        && jobs.as_ref().is_none_or(|g| !g.is_empty())
    {
        hits.jobs = crate::server::jobs::store::jid_prefix(&state.db, &q, &jobs, MAX_JOBS).await?;
    }
    Ok(hits)
}
