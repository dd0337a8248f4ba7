//! Fleet-health pieces shared by the Overview, the minion page and its heatmap panel: status
//! badges in the `health-<status>` colours (style/main.css) and small stacked bars (one per
//! state job or state run) for compliance trends.

use crate::model::fleet::{ComplianceBucket, HealthStatus, RunStatus, RunSummary};
use crate::model::time::short_utc;
use leptos::prelude::*;

/// A minion's health as a badge (`health-<status>` colours; `data-status` is the status word).
#[component]
pub fn HealthBadge(status: HealthStatus) -> impl IntoView {
    view! {
        <span class=format!("badge health-{status}") title=status.meaning() data-status=status.as_str()
            data-test="health-badge">{status.label()}</span>
    }
}

/// One state run's status as a badge.
#[component]
pub fn RunBadge(status: RunStatus) -> impl IntoView {
    let label = match status {
        RunStatus::Healthy => "Healthy",
        RunStatus::Changed => "Changed",
        RunStatus::Unhealthy => "Failed",
        RunStatus::Blocked => "Blocked",
    };
    view! {
        <span class=format!("badge health-{status}") data-status=status.as_str()
            data-test="run-status">{label}</span>
    }
}

/// One bar's segments, bottom to top: (health status word, count). Zero counts are left out.
pub type Segments = Vec<(&'static str, i64)>;

/// A state job's minions: passed, changed, failed, blocked.
pub fn bucket_segments(b: &ComplianceBucket) -> Segments {
    vec![
        ("healthy", b.passed),
        ("changed", b.changed),
        ("unhealthy", b.failed),
        ("blocked", b.blocked),
    ]
}

/// A run's states: unchanged passes, changes, failures (a blocked run is one blocked block).
/// Salt counts a changed state as passed too, so changes are taken out of the passes here.
pub fn run_segments(r: &RunSummary) -> Segments {
    if r.blocked {
        return vec![("blocked", 1)];
    }
    let fail = r.fail_count.max(0);
    let total = r.total_count.max(fail);
    let changed = r.change_count.clamp(0, total - fail);
    let ok = total - fail - changed;
    if total == 0 {
        // Nothing ran (an empty highstate): one neutral block.
        return vec![("unknown", 1)];
    }
    vec![("healthy", ok), ("changed", changed), ("unhealthy", fail)]
}

/// Share of a state job's minions that passed or only changed, in percent (None: no minions).
pub fn compliant_percent(b: &ComplianceBucket) -> Option<f64> {
    (b.minions > 0).then(|| (b.passed + b.changed) as f64 * 100.0 / b.minions as f64)
}

/// The hover text of a state job's bar.
pub fn bucket_title(b: &ComplianceBucket) -> String {
    format!(
        "{} · {} · {} minion{}: {} passed, {} changed, {} failed, {} blocked",
        short_utc(&b.completed_at),
        b.fun,
        b.minions,
        if b.minions == 1 { "" } else { "s" },
        b.passed,
        b.changed,
        b.failed,
        b.blocked
    )
}

/// The hover text of a run's bar.
pub fn run_title(r: &RunSummary) -> String {
    if r.blocked {
        return format!(
            "{} · {} · blocked (the minion did not return)",
            short_utc(&r.completed_at),
            r.fun
        );
    }
    format!(
        "{} · {} · {} states: {} passed, {} changed, {} failed",
        short_utc(&r.completed_at),
        r.fun,
        r.total_count,
        r.pass_count,
        r.change_count,
        r.fail_count
    )
}

/// The inside of one stacked bar (the caller wraps it in a link or a span of class `hbar`).
pub fn stack(segs: Segments) -> impl IntoView {
    segs.into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(status, n)| {
            view! { <span class=format!("hseg health-{status}") style=format!("flex-grow:{n}")></span> }
        })
        .collect_view()
}

/// The legend under a stacked-bar chart.
pub fn legend(items: &[(&'static str, &'static str)]) -> impl IntoView {
    view! {
        <ul class="legend legend-row hbars-legend">
            {items.iter().map(|(status, label)| view! {
                <li><span class=format!("dot hseg health-{status}")></span>{*label}</li>
            }).collect_view()}
        </ul>
    }
}

pub use crate::model::time::duration_ms_text;

#[cfg(test)]
mod tests {
    use super::*;

    fn run(blocked: bool, pass: i64, fail: i64, change: i64, total: i64) -> RunSummary {
        RunSummary {
            id: "0b7c2a0e-4a63-4a8e-9f59-1d2f3c4b5a69".into(),
            minion_id: "web-01".into(),
            jid: "20261130101010123456".into(),
            fun: "state.apply".into(),
            completed_at: "2026-11-30T10:10:10.000Z".parse().unwrap(),
            pass_count: pass,
            fail_count: fail,
            change_count: change,
            total_count: total,
            duration_ms: 1234.0,
            blocked,
            render_error: false,
            status: RunStatus::of(blocked, fail, change),
        }
    }

    #[test]
    fn run_bars_split_changes_out_of_passes() {
        // 40 states: 2 failed, 5 changed (counted as passed by Salt too), 33 unchanged.
        assert_eq!(
            run_segments(&run(false, 38, 2, 5, 40)),
            vec![("healthy", 33), ("changed", 5), ("unhealthy", 2)]
        );
        assert_eq!(run_segments(&run(true, 0, 0, 0, 0)), vec![("blocked", 1)]);
        assert_eq!(run_segments(&run(false, 0, 0, 0, 0)), vec![("unknown", 1)]);
        // Inconsistent counts never give a negative segment.
        let s = run_segments(&run(false, 0, 3, 9, 4));
        assert!(s.iter().all(|(_, n)| *n >= 0), "{s:?}");
        assert_eq!(s.iter().map(|(_, n)| n).sum::<i64>(), 4);
        assert!(run_title(&run(false, 38, 2, 5, 40))
            .contains("40 states: 38 passed, 5 changed, 2 failed"));
    }

    #[test]
    fn bucket_share_and_title() {
        let b = ComplianceBucket {
            jid: "20261130101010123456".into(),
            fun: "state.highstate".into(),
            completed_at: "2026-11-30T10:10:10.000Z".parse().unwrap(),
            minions: 8,
            passed: 5,
            changed: 1,
            failed: 1,
            blocked: 1,
        };
        assert_eq!(compliant_percent(&b), Some(75.0));
        assert_eq!(
            bucket_title(&b),
            "2026-11-30 10:10:10 UTC · state.highstate · 8 minions: 5 passed, 1 changed, 1 failed, 1 blocked"
        );
        assert_eq!(
            compliant_percent(&ComplianceBucket { minions: 0, ..b }),
            None
        );
        assert_eq!(duration_ms_text(12.4), "12 ms");
        assert_eq!(duration_ms_text(1234.0), "1.2 s");
        assert_eq!(duration_ms_text(125_000.0), "2m 05s");
    }
}
