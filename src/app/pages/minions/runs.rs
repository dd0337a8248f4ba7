//! The minion page's Runs section (SPEC 6.3 "recent run history and compliance trend"): the
//! minion's health, a stacked bar per state run (oldest left) and the run history table, from
//! `highstate_runs`.

use crate::app::api::fleet::{MinionRuns, RunSummary};
use crate::app::components::health::{
    duration_ms_text, legend, run_segments, run_title, stack, HealthBadge, RunBadge,
};
use crate::app::pages::short_utc;
use leptos::prelude::*;
use leptos_router::components::A;

/// The Runs section (anchor `#runs`).
#[component]
pub fn MinionRunsSection(runs: MinionRuns) -> impl IntoView {
    let shown = runs.runs.len() as i64;
    let count = match runs.total {
        0 => String::new(),
        1 => "1 state run".to_string(),
        n if n > shown => format!("newest {shown} of {n} state runs"),
        n => format!("{n} state runs"),
    };
    let body = if runs.runs.is_empty() {
        view! {
            <div class="runs-empty" data-test="minion-runs-empty">
                <p>"No state runs ingested for this minion yet"</p>
                <p class="muted small">
                    "Runs appear here once the fleet poller has read a state.apply or state.highstate job that targeted this minion. "
                    <A href="/fleet">"Fleet health"</A>" says whether the poller is on."
                </p>
            </div>
        }
        .into_any()
    } else {
        let trend = runs
            .runs
            .iter()
            .rev()
            .map(|r| {
                let href = format!("/fleet/runs/{}", r.id);
                view! {
                    <a class="hbar" href=href title=run_title(r) aria-label=run_title(r)
                        data-test="minion-trend-point" data-run=r.id.clone()>
                        {stack(run_segments(r))}
                    </a>
                }
            })
            .collect_view();
        let rows = runs
            .runs
            .into_iter()
            .map(|r| view! { <RunRow r /> })
            .collect_view();
        view! {
            <div class="hbars hbars-runs" role="group" aria-label="States per run, oldest first">{trend}</div>
            {legend(&[("healthy", "Passed"), ("changed", "Changed"), ("unhealthy", "Failed"), ("blocked", "Blocked")])}
            <div class="scroll-x">
                <table class="table minion-runs-table" data-test="minion-runs"><caption class="sr-only">"This minion's state runs"</caption>
                    <thead>
                        <tr>
                            <th>"Completed"</th>
                            <th>"Function"</th>
                            <th>"JID"</th>
                            <th>"Status"</th>
                            <th class="num">"Pass"</th>
                            <th class="num">"Fail"</th>
                            <th class="num">"Changes"</th>
                            <th class="num">"Total"</th>
                            <th class="num">"Duration"</th>
                            <th><span class="visually-hidden">"Details"</span></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="panel minion-runs" id="runs" data-test="tab-runs">
            <div class="section-head row">
                <div class="runs-title">
                    <h2>"Runs"</h2>
                    <span data-test="minion-health"><HealthBadge status=runs.status /></span>
                </div>
                <span class="muted small">
                    {(!count.is_empty()).then(|| format!("{count} · "))}
                    <A href="/fleet">"Fleet health →"</A>
                </span>
            </div>
            {body}
        </section>
    }
}

#[component]
fn RunRow(r: RunSummary) -> impl IntoView {
    let run_href = format!("/fleet/runs/{}", r.id);
    let job_href = format!("/jobs/{}", r.jid);
    let blocked = r.blocked;
    let fail_class = if r.fail_count > 0 {
        "num health-text health-unhealthy"
    } else {
        "num"
    };
    let change_class = if r.change_count > 0 && !blocked {
        "num health-text health-changed"
    } else {
        "num"
    };
    let n = move |v: i64| {
        if blocked {
            "—".to_string()
        } else {
            v.to_string()
        }
    };
    view! {
        <tr data-test="minion-run" data-status=r.status.as_str() data-run=r.id.clone()>
            <td class="nowrap">{short_utc(&r.completed_at)}</td>
            <td class="mono">{r.fun.clone()}</td>
            <td class="mono"><A href=job_href>{r.jid.clone()}</A></td>
            <td>
                <RunBadge status=r.status />
                {r.render_error.then(|| view! { <span class="muted small">" render error"</span> })}
            </td>
            <td class="num">{n(r.pass_count)}</td>
            <td class=fail_class>{n(r.fail_count)}</td>
            <td class=change_class>{n(r.change_count)}</td>
            <td class="num">{n(r.total_count)}</td>
            <td class="num nowrap">{if blocked { "—".to_string() } else { duration_ms_text(r.duration_ms) }}</td>
            <td class="nowrap"><A href=run_href attr:data-test="minion-run-link">"Details →"</A></td>
        </tr>
    }
}
