//! The Overview's fleet-health panels (SPEC 6.1): the compliance of the last state jobs as small
//! stacked bars (passed / changed / failed / blocked minions, oldest left) and the states that
//! fail most, each linking to the Fleet page filtered on it.

use crate::app::api::fleet::FleetSummary;
use crate::app::api::overview::url_path_escape;
use crate::app::components::health::{
    bucket_segments, bucket_title, compliant_percent, legend, stack,
};
use crate::app::components::icons::Icon;
use crate::error::AppError;
use leptos::prelude::*;

/// How many state jobs the Overview's compliance chart shows.
pub const OVERVIEW_RUNS: i64 = 30;
/// How many failing states the Overview lists.
pub const OVERVIEW_FAILURES: i64 = 5;

/// The Fleet page filtered on minions failing `state_id`.
pub fn failing_href(state_id: &str) -> String {
    format!("/fleet?failing={}", url_path_escape(state_id))
}

fn head(title: &'static str, extra: Option<String>) -> impl IntoView {
    view! {
        <div class="section-head row">
            <h2>{title}</h2>
            <span class="muted small">
                {extra.map(|e| format!("{e} · "))}
                <a href="/fleet">"Fleet health →"</a>
            </span>
        </div>
    }
}

/// The two panels (or one designed empty state); nothing for a user who may view no minion.
pub fn fleet_panels(summary: Result<FleetSummary, AppError>, can_settings: bool) -> AnyView {
    let s = match summary {
        Ok(s) => s,
        Err(AppError::Forbidden(_)) | Err(AppError::Unauthorized(_)) => return ().into_any(),
        Err(e) => {
            return view! {
                <section class="panel" data-test="overview-compliance">
                    {head("Compliance", None)}
                    <div class="notice notice-error" role="alert"><Icon name="alert" /><span>{e.to_string()}</span></div>
                </section>
            }
            .into_any()
        }
    };
    if s.compliance.is_empty() && s.top_failures.is_empty() {
        return empty_panel(&s, can_settings).into_any();
    }
    view! {
        <section class="chart-grid fleet-overview">
            {compliance_panel(&s)}
            {top_failures_panel(&s)}
        </section>
    }
    .into_any()
}

fn empty_panel(s: &FleetSummary, can_settings: bool) -> impl IntoView {
    let why = if !s.poller_enabled {
        "The fleet poller is off: turn it on in Settings → Pollers and Halite reads the state.apply and state.highstate jobs your master runs."
    } else if !s.jobs_source {
        "The fleet poller reads the jobs index, which the jobs poller or the event stream fills: turn one of them on in Settings → Pollers."
    } else {
        "Compliance comes from the state.apply and state.highstate jobs your master runs; none has been ingested yet. Run a highstate and it shows up here."
    };
    let settings = (can_settings && (!s.poller_enabled || !s.jobs_source))
        .then(|| view! { <a class="button" href="/settings">"Open Settings"</a> });
    view! {
        <section class="panel" data-test="overview-compliance">
            {head("Compliance", None)}
            <div class="compliance-empty" data-test="compliance-empty">
                <Icon name="shield" />
                <h3>"No state runs yet"</h3>
                <p class="muted">{why}</p>
                <div class="row-actions">
                    <a class="button button-primary" href="/fleet">"Open Fleet health"</a>
                    {settings}
                </div>
            </div>
        </section>
    }
}

fn compliance_panel(s: &FleetSummary) -> impl IntoView {
    let n = s.compliance.len();
    let latest = s.compliance.last().and_then(compliant_percent);
    let previous = s
        .compliance
        .len()
        .checked_sub(2)
        .and_then(|i| s.compliance.get(i))
        .and_then(compliant_percent);
    let trend = match (latest, previous) {
        (Some(l), Some(p)) if (l - p).abs() >= 0.5 => Some(if l > p {
            ("trend-up", format!("▲ {:.0} pts", l - p))
        } else {
            ("trend-down", format!("▼ {:.0} pts", p - l))
        }),
        _ => None,
    };
    let bars = s
        .compliance
        .iter()
        .map(|b| {
            let href = format!("/jobs/{}", url_path_escape(&b.jid));
            view! {
                <a class="hbar" href=href data-test="compliance-point" data-jid=b.jid.clone()
                    title=bucket_title(b) aria-label=bucket_title(b)>
                    {stack(bucket_segments(b))}
                </a>
            }
        })
        .collect_view();
    view! {
        <div class="panel" data-test="overview-compliance">
            {head("Compliance", Some(format!("last {n} state job{}", if n == 1 { "" } else { "s" })))}
            <div class="compliance-figure">
                <span class="kpi-value" data-test="compliance-latest">
                    {latest.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "—".into())}
                </span>
                <span class="muted small">"of the minions in the latest state job passed or only changed"</span>
                {trend.map(|(class, text)| view! { <span class=format!("trend {class}")>{text}</span> })}
            </div>
            <div class="hbars" role="group" aria-label="Minions per state job, oldest first">{bars}</div>
            {legend(&[("healthy", "Passed"), ("changed", "Changed"), ("unhealthy", "Failed"), ("blocked", "Blocked")])}
        </div>
    }
}

fn top_failures_panel(s: &FleetSummary) -> impl IntoView {
    let max = s
        .top_failures
        .iter()
        .map(|f| f.minions)
        .max()
        .unwrap_or(1)
        .max(1);
    let rows = s
        .top_failures
        .iter()
        .map(|f| {
            let width = format!("width:{:.1}%", f.minions as f64 * 100.0 / max as f64);
            let title = if f.comment.is_empty() {
                f.name.clone()
            } else {
                format!("{}: {}", f.name, f.comment)
            };
            view! {
                <li data-test="overview-top-failure" data-state=f.state_id.clone()>
                    <a href=failing_href(&f.state_id) title=title>
                        <span class="topfail-id mono">{f.state_id.clone()}</span>
                        <span class="topfail-fun muted small">{f.fun.clone()}</span>
                        <span class="topfail-n">{format!("{} minion{}", f.minions, if f.minions == 1 { "" } else { "s" })}</span>
                        <span class="topfail-bar"><span class="hseg health-unhealthy" style=width></span></span>
                    </a>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="panel" data-test="overview-top-failures">
            {head("Top failures", Some("latest run of each minion".into()))}
            {if s.top_failures.is_empty() {
                view! {
                    <p class="muted topfail-none" data-test="top-failures-none">
                        "No state fails on any minion's latest run."
                    </p>
                }.into_any()
            } else {
                view! { <ol class="topfail-list">{rows}</ol> }.into_any()
            }}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::api::fleet::{ComplianceBucket, HealthCounts, TopFailure};

    fn summary(buckets: usize, failures: usize) -> FleetSummary {
        FleetSummary {
            counts: HealthCounts::default(),
            tiles: vec![],
            compliance: (0..buckets)
                .map(|i| ComplianceBucket {
                    jid: format!("2026113010{i:02}00123456"),
                    fun: "state.apply".into(),
                    completed_at: "2026-11-30T10:00:00.000Z".parse().unwrap(),
                    minions: 10,
                    passed: 5 + i as i64,
                    changed: 2,
                    failed: 1,
                    blocked: 2 - i as i64,
                })
                .collect(),
            top_failures: (0..failures)
                .map(|i| TopFailure {
                    state_id: format!("/etc/app-{i}.conf"),
                    fun: "file.managed".into(),
                    name: format!("/etc/app-{i}.conf"),
                    minions: 5 - i as i64,
                    comment: "Source file not found".into(),
                })
                .collect(),
            poller_enabled: true,
            jobs_source: true,
            last_ingest_at: None,
        }
    }

    #[cfg(feature = "ssr")]
    fn html(s: Result<FleetSummary, AppError>, can_settings: bool) -> String {
        Owner::new().with(|| fleet_panels(s, can_settings).to_html())
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn panels_carry_the_contracted_hooks() {
        let h = html(Ok(summary(3, 2)), false);
        assert_eq!(h.matches(r#"data-test="compliance-point""#).count(), 3);
        assert!(h.contains(r#"data-jid="20261130100200123456""#), "{h}");
        assert!(h.contains(r#"data-test="overview-compliance""#));
        assert!(h.contains(r#"data-test="overview-top-failures""#));
        assert_eq!(h.matches(r#"data-test="overview-top-failure""#).count(), 2);
        assert!(h.contains(r#"data-state="/etc/app-0.conf""#));
        assert!(h.contains(r#"href="/fleet?failing=%2Fetc%2Fapp-0.conf""#));
        assert!(h.contains(r#"href="/fleet""#), "links to the Fleet page");
        // The latest job: 7 + 2 of 10 minions passed or only changed; 10 points up on the one before.
        assert!(h.contains(">90%<"), "{h}");
        assert!(h.contains("▲ 10 pts"), "{h}");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn empty_and_refused_states() {
        let h = html(Ok(summary(0, 0)), true);
        assert!(h.contains("No state runs yet"));
        assert!(h.contains(r#"data-test="compliance-empty""#));
        assert!(!h.contains("compliance-point"));
        assert!(!h.contains("Open Settings"), "the pollers are on");
        let off = FleetSummary {
            poller_enabled: false,
            ..summary(0, 0)
        };
        let h = html(Ok(off.clone()), true);
        assert!(h.contains("fleet poller is off") && h.contains("Open Settings"));
        assert!(
            !html(Ok(off), false).contains("Open Settings"),
            "not an admin"
        );
        // Runs but nothing failing: the panel says so instead of vanishing.
        let h = html(Ok(summary(2, 0)), false);
        assert!(h.contains(r#"data-test="top-failures-none""#));
        // A user who may view no minion sees no panel at all.
        assert!(!html(Err(AppError::Forbidden("no".into())), false).contains("Compliance"));
    }

    #[test]
    fn failing_links_escape_the_state_id() {
        assert_eq!(failing_href("nginx"), "/fleet?failing=nginx");
        assert_eq!(
            failing_href("/etc/motd & co"),
            "/fleet?failing=%2Fetc%2Fmotd%20%26%20co"
        );
    }
}
