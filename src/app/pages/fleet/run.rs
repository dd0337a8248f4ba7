//! One state run (`/fleet/runs/:id`): its minion, job, function, time, duration, counts and
//! status, then its states with the failing ones first and open (Salt's comment and changes
//! visible), render errors as a red block, and what a blocked or pruned run means.

use super::duration_text;
use crate::app::api::fleet::{get_run, RunDetail};
use crate::app::api::overview::url_path_escape;
use crate::app::components::health::{HealthBadge, RunBadge};
use crate::app::pages::{route_record, short_utc, ErrorPanel, PageHeader};
use crate::model::jobs::{StateRow, StateSummary};
use leptos::prelude::*;
use leptos_router::components::A;

/// `/fleet/runs/:id`.
#[component]
pub fn RunDetailPage() -> impl IntoView {
    let data = route_record(vec![], get_run);
    view! {
        <Transition fallback=|| view! { <PageHeader title="State run" /><div class="panel skeleton" aria-busy="true">"Loading the run…"</div> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! {
                        <PageHeader title="State run">
                            <A href="/fleet" attr:class="button">"← Fleet health"</A>
                        </PageHeader>
                        <ErrorPanel error=e />
                    }.into_any(),
                    Ok(d) => view! { <RunBody d /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// `Passed`, `Failed` or `Would change` for a state's result.
fn result_badge(result: &str) -> (&'static str, &'static str) {
    match result {
        "fail" => ("badge health-unhealthy", "Failed"),
        "would_change" => ("badge badge-warn", "Would change"),
        _ => ("badge health-healthy", "Passed"),
    }
}

#[component]
fn RunBody(d: RunDetail) -> impl IntoView {
    let r = d.run;
    let minion_href = format!("/minions/{}", url_path_escape(&r.minion_id));
    let job_href = format!("/jobs/{}", url_path_escape(&r.jid));
    let now = d.minion_status.map(|status| {
        view! { <span class="muted small">"now"</span><HealthBadge status /> }
    });
    let blocked = r.blocked.then(|| {
        view! {
            <div class="notice notice-blocked" data-test="run-blocked">
                <strong>"The minion did not return."</strong>
                <span>"Salt answered “Minion did not return” (or the request timed out) for this job, so no state ran on it and nothing is counted. Check that the minion is up and connected to the master, then apply the states again."</span>
            </div>
        }
    });
    let errors: Vec<String> = d
        .states
        .as_ref()
        .map(|s| s.errors.clone())
        .unwrap_or_default();
    let no_top = d.states.as_ref().is_some_and(|s| s.no_top);
    let render_error = (r.render_error || !errors.is_empty()).then(|| {
        let heading = if no_top {
            "No top file matches this minion"
        } else {
            "The state run did not start: Salt could not render the states"
        };
        let text = if errors.is_empty() {
            "Salt answered with render errors (the messages are no longer kept).".to_string()
        } else {
            errors.join("\n")
        };
        view! {
            <div class="notice notice-error run-errors" data-test="run-render-error" role="alert">
                <strong>{heading}</strong>
                <pre class="return">{text}</pre>
            </div>
        }
    });
    let states = match d.states {
        // A blocked run has nothing more to show than the note above.
        None if r.blocked => ().into_any(),
        None => view! {
            <div class="panel state-panel" data-test="run-pruned">
                <h2>"Details of this run are no longer kept"</h2>
                <p>"Older runs keep only their counts. The master may still have the job: "
                    <A href=job_href.clone()>{format!("job {}", r.jid)}</A>"."</p>
            </div>
        }
        .into_any(),
        Some(s) => view! { <StateList s blocked=r.blocked /> }.into_any(),
    };
    view! {
        <div class="run-detail" data-test="run-detail">
            <PageHeader title=format!("{} on {}", r.fun, r.minion_id) subtitle=format!("State run completed {}", short_utc(&r.completed_at))>
                <A href="/fleet" attr:class="button">"← Fleet health"</A>
            </PageHeader>
            <section class="panel job-summary" data-test="run-summary">
                <dl class="facts">
                    <div><dt>"Minion"</dt><dd class="run-minion">
                        <A href=minion_href attr:data-test="run-minion-link" attr:class="mono">{r.minion_id.clone()}</A>
                        {now}
                    </dd></div>
                    <div><dt>"Job"</dt><dd><A href=job_href.clone() attr:data-test="run-job-link" attr:class="mono">{r.jid.clone()}</A></dd></div>
                    <div><dt>"Function"</dt><dd class="mono">{r.fun.clone()}</dd></div>
                    <div><dt>"Completed"</dt><dd>{short_utc(&r.completed_at)}</dd></div>
                    <div><dt>"Duration"</dt><dd>{if r.blocked { "—".to_string() } else { duration_text(r.duration_ms) }}</dd></div>
                    <div><dt>"Status"</dt><dd><RunBadge status=r.status /></dd></div>
                </dl>
                <div class="job-counts" data-test="run-counts">
                    <span class="count-pill ok">{format!("{} passed", r.pass_count)}</span>
                    <span class="count-pill fail">{format!("{} failed", r.fail_count)}</span>
                    <span class="count-pill changed">{format!("{} changed", r.change_count)}</span>
                    <span class="count-pill">{format!("{} states", r.total_count)}</span>
                </div>
            </section>
            {blocked}
            {render_error}
            {states}
        </div>
    }
}

#[component]
fn StateList(s: StateSummary, blocked: bool) -> impl IntoView {
    if s.rows.is_empty() {
        // Render errors are the whole story, shown above.
        if !s.errors.is_empty() && !blocked {
            return ().into_any();
        }
        let text = if blocked {
            "No state ran: the minion did not return."
        } else {
            "This run returned no states."
        };
        return view! { <div class="panel"><p class="muted">{text}</p></div> }.into_any();
    }
    let head = format!(
        "{} states · {} failed · {} with changes{}",
        s.rows.len(),
        s.fail,
        s.changed,
        if s.would_change > 0 {
            format!(" · {} would change", s.would_change)
        } else {
            String::new()
        }
    );
    let rows = s
        .rows
        .into_iter()
        .map(|row| view! { <StateItem row /> })
        .collect_view();
    view! {
        <section class="panel run-states" data-test="run-states">
            <div class="section-head row">
                <h2>"States"</h2>
                <span class="muted small">{head}" · failing first"</span>
            </div>
            <div class="run-state-list">{rows}</div>
        </section>
    }
    .into_any()
}

#[component]
fn StateItem(row: StateRow) -> impl IntoView {
    let failing = row.result == "fail";
    let (badge_class, badge) = result_badge(&row.result);
    let changed = row.changes_json.is_some();
    let name = (row.name != row.state_id).then(|| row.name.clone());
    let changes = match row.changes_json.clone() {
        Some(c) => view! { <div class="run-state-changes"><div class="field-label">"Changes"</div><pre class="return">{c}</pre></div> }
            .into_any(),
        None => view! { <p class="muted small">"No changes."</p> }.into_any(),
    };
    let comment = if row.comment.is_empty() {
        "(no comment)".to_string()
    } else {
        row.comment.clone()
    };
    view! {
        <details class=format!("run-state run-state-{}", row.result) open=failing
            data-test="run-state" data-state=row.state_id.clone() data-result=row.result.clone()>
            <summary>
                <span class=badge_class>{badge}</span>
                <span class="mono run-state-id">{row.state_id.clone()}</span>
                <span class="muted small mono">{row.fun.clone()}</span>
                {changed.then(|| view! { <span class="badge health-changed">"changed"</span> })}
                <span class="run-state-spacer"></span>
                <span class="muted small mono">{row.sls.clone().unwrap_or_default()}</span>
                <span class="muted small nowrap">{row.duration_ms.map(duration_text).unwrap_or_default()}</span>
            </summary>
            <div class="run-state-body">
                {name.map(|n| view! { <div class="muted small">"Name: "<span class="mono">{n}</span></div> })}
                <div class="run-state-comment" data-test="run-state-comment">{comment}</div>
                {changes}
            </div>
        </details>
    }
}
