//! Overview figures: minion status counts, key counts, the fleet heatmap and job activity.

use crate::error::AppError;
use crate::model::minions::MinionStatus;
#[cfg(feature = "ssr")]
use crate::model::minions::StatusCounts;
use leptos::prelude::*;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::overview::{KeyCounts, OverviewData};

/// Overview figures for the signed-in user.
#[server(endpoint = "overview/summary")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn overview_summary() -> Result<OverviewData, AppError> {
    use crate::server::auth::session;
    use crate::server::minions::store;
    let (state, user) = session()?;
    let minion_globs = store::allowed_globs(&user.permissions, "view", "minion");
    let can_minions = !minion_globs.as_ref().is_some_and(|g| g.is_empty());
    let key_globs = store::allowed_globs(&user.permissions, "view", "key");
    let can_keys = !key_globs.as_ref().is_some_and(|g| g.is_empty());
    let job_globs = store::allowed_globs(&user.permissions, "view", "job");
    let can_jobs = !job_globs.as_ref().is_some_and(|g| g.is_empty());
    let mut data = OverviewData {
        minions: None,
        keys: None,
        heatmap_svg: None,
        heatmap_count: 0,
        jobs: None,
        jobs_poller_enabled: false,
    };
    if can_minions {
        let all = store::all_status(&state.db, store::SnapshotKind::Minion, &minion_globs).await?;
        let mut c = StatusCounts::default();
        for (_, s) in &all {
            c.add(*s, 1);
        }
        data.heatmap_count = all.len() as i64;
        data.heatmap_svg = Some(heatmap_svg(&all));
        data.minions = Some(c);
    }
    if can_keys {
        let all = store::all_status(&state.db, store::SnapshotKind::Key, &key_globs).await?;
        let mut k = KeyCounts::default();
        for (_, s) in &all {
            k.add(s.key_state());
        }
        data.keys = Some(k);
    }
    if can_jobs {
        data.jobs = Some(
            crate::server::jobs::timeline::activity(
                &state.db,
                &state.runtime.jobs(),
                24,
                &job_globs,
                &user.permissions,
                chrono::Utc::now(),
            )
            .await?,
        );
        data.jobs_poller_enabled = crate::server::settings::load_view(&state.db)
            .await?
            .pollers
            .jobs_poll_interval_seconds
            > 0;
    }
    Ok(data)
}

/// XML-escape text for the SVG.
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The heatmap: tiles ordered problem-first (offline, pending, rejected, denied, online), then by id.
/// Each tile links to its minion's page (without JS) and names it in `data-minion` (the
/// Overview's one click handler on the container opens the minion panel from it).
pub fn heatmap_svg(all: &[(String, MinionStatus)]) -> String {
    let rank = |s: MinionStatus| match s {
        MinionStatus::Offline => 0,
        MinionStatus::Pending => 1,
        MinionStatus::Rejected => 2,
        MinionStatus::Denied => 3,
        MinionStatus::Online => 4,
    };
    let mut v: Vec<&(String, MinionStatus)> = all.iter().collect();
    v.sort_by(|a, b| rank(a.1).cmp(&rank(b.1)).then_with(|| a.0.cmp(&b.0)));
    let n = v.len().max(1);
    // Bigger tiles for small fleets, 6 px tiles at 10k.
    let (tile, cols) = match n {
        0..=100 => (22, 40),
        101..=1000 => (12, 80),
        _ => (6, 160),
    };
    let gap = if tile > 10 { 3 } else { 1 };
    let step = tile + gap;
    let rows = n.div_ceil(cols);
    let width = cols.min(n) * step;
    let height = rows * step;
    let mut out = String::with_capacity(n * 110 + 200);
    out.push_str(&format!(
        r#"<svg class="heatmap-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="group" aria-label="{n} minions by status">"#
    ));
    for (i, (id, status)) in v.iter().enumerate() {
        let x = (i % cols) * step;
        let y = (i / cols) * step;
        let id_x = xml_escape(id);
        let href = format!("/minions/{}", url_path_escape(id));
        out.push_str(&format!(
            r#"<a href="{href}" aria-label="{id_x} · {status}"><rect class="hm hm-{status}" data-minion="{id_x}" x="{x}" y="{y}" width="{tile}" height="{tile}" rx="2"><title>{id_x} · {status}</title></rect></a>"#
        ));
    }
    out.push_str("</svg>");
    out
}

/// Percent-encode a minion id for a path segment.
pub use crate::model::list::url_escape as url_path_escape;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heatmap_escapes_and_orders() {
        let all = vec![
            ("web<1>".to_string(), MinionStatus::Online),
            ("db-1".to_string(), MinionStatus::Offline),
        ];
        let svg = heatmap_svg(&all);
        assert!(svg.contains("web&lt;1&gt;"));
        assert!(svg.contains("/minions/web%3C1%3E"));
        assert!(svg.contains(r#"data-minion="web&lt;1&gt;""#));
        assert!(
            svg.find("db-1").unwrap() < svg.find("web&lt;1").unwrap(),
            "offline first"
        );
        let big: Vec<(String, MinionStatus)> = (0..10_000)
            .map(|i| (format!("m{i:05}"), MinionStatus::Online))
            .collect();
        let svg = heatmap_svg(&big);
        assert_eq!(svg.matches("<rect").count(), 10_000);
    }
}
