//! Diagnostics (`/diagnostics`, `edit:settings:*`): every check with its verdict, what was
//! measured and the fix; run again, copy the whole report.

use crate::app::api::diagnostics::{run_diagnostics, Check, Report, Verdict};
use crate::app::components::icons::Icon;
use crate::app::pages::{copy_text, ErrorPanel, PageHeader};
use leptos::prelude::*;

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "badge badge-ok",
        Verdict::Warn => "badge badge-warn",
        Verdict::Fail => "badge badge-bad",
        Verdict::Skip => "badge badge-pending",
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "Pass",
        Verdict::Warn => "Warn",
        Verdict::Fail => "Fail",
        Verdict::Skip => "Skipped",
    }
}

/// `/diagnostics`.
#[component]
pub fn DiagnosticsPage() -> impl IntoView {
    // The first run comes with the page; "Run again" runs them afresh (the newest run shows).
    let first = Resource::new(|| (), |_| run_diagnostics());
    let again = Action::new(|_: &()| run_diagnostics());
    let latest = move || {
        again
            .value()
            .get_untracked()
            .or_else(|| first.get_untracked())
    };
    let copied = RwSignal::new(false);
    let running = move || again.pending().get();
    view! {
        <PageHeader title="Diagnostics"
            subtitle="salt-api, login, clock, Salt version, netapi clients, eauth rights, the event stream, pollers and the database, each with the fix for what fails.">
            <button type="button" class="button" data-test="diag-copy"
                on:click=move |_| {
                    if let Some(Ok(r)) = latest() {
                        copy_text(&r.to_text());
                        copied.set(true);
                    }
                }>
                {move || if copied.get() { "Copied" } else { "Copy report" }}
            </button>
            <button type="button" class="button button-primary" data-test="diag-rerun"
                disabled=running
                on:click=move |_| {
                    copied.set(false);
                    again.dispatch(());
                }>
                {move || if running() { "Running…" } else { "Run again" }}
            </button>
        </PageHeader>
        <Transition fallback=|| view! {
            <div class="panel skeleton" aria-busy="true" data-test="diag-loading">"Running the checks…"</div>
        }>
            {move || Suspend::new(async move {
                let newest = again.value().get();
                let r = match newest {
                    Some(r) => r,
                    None => first.await,
                };
                match r {
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    Ok(r) => view! { <ReportView r /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ReportView(r: Report) -> impl IntoView {
    let worst = r.worst();
    let (headline, icon) = match worst {
        Verdict::Fail => ("Something needs fixing", "alert"),
        Verdict::Warn => ("Working, with warnings", "alert"),
        _ => ("Everything checks out", "check"),
    };
    let counts = [Verdict::Pass, Verdict::Warn, Verdict::Fail, Verdict::Skip]
        .into_iter()
        .filter(|v| r.count(*v) > 0)
        .map(|v| {
            view! {
                <span class=verdict_class(v) data-test=format!("diag-count-{}", v.as_str())>
                    {format!("{} {}", r.count(v), verdict_word(v).to_lowercase())}
                </span>
            }
        })
        .collect_view();
    let at = crate::model::time::rfc3339(&r.at);
    view! {
        <section class=format!("panel diag-summary diag-{}", worst.as_str()) data-test="diag-summary">
            <Icon name=icon />
            <div>
                <h2>{headline}</h2>
                <p class="muted">{format!("{} · checked ", r.halite)}<time datetime=at.clone()>{crate::model::time::short_time(&at)}</time></p>
            </div>
            <div class="diag-counts">{counts}</div>
        </section>
        <ol class="diag-list" data-test="diag-list">
            {r.checks.into_iter().map(|c| view! { <CheckRow c /> }).collect_view()}
        </ol>
    }
}

#[component]
fn CheckRow(c: Check) -> impl IntoView {
    let fix = c.fix.clone();
    view! {
        <li class=format!("panel diag-check diag-{}", c.verdict.as_str())
            data-test="diag-check" data-check=c.id.clone() data-verdict=c.verdict.as_str()>
            <div class="diag-head">
                <span class=verdict_class(c.verdict)>{verdict_word(c.verdict)}</span>
                <h3>{c.title.clone()}</h3>
                <code class="muted diag-id">{c.id.clone()}</code>
            </div>
            <p class="diag-measured">{c.measured.clone()}</p>
            {fix.map(|f| {
                let copy = f.clone();
                view! {
                    <div class="diag-fix">
                        <div class="diag-fix-head">
                            <span>"How to fix"</span>
                            <button type="button" class="button button-small button-ghost"
                                on:click=move |_| copy_text(&copy)>"Copy"</button>
                        </div>
                        <pre>{f}</pre>
                    </div>
                }
            })}
        </li>
    }
}
