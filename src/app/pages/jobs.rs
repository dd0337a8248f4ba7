//! Jobs: the indexed list (search, status, include-system, live mode, paging in the URL) and the
//! job detail with per-minion results, the highstate table, raw JSON and kill.

use crate::app::api::jobs::{
    get_job, list_jobs, JobDetailView, JobMinionRow, JobsPage as JobsData, KillJob, StateSummary,
};
use crate::app::components::icons::Icon;
use crate::app::components::list::{
    counted, export_bar, export_links, Chip, ChipKey, EmptyState, FilterChips, NoMatch, Pager,
    SearchBox,
};
use crate::app::pages::{live_list, load_view, short_utc, ErrorPanel, PageHeader};
use crate::model::activity::EventCategory;
use crate::model::jobs::{JobStatus, MinionJobState};
use crate::model::list::{JobFilters, ListParams};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// The list's state, as in the URL.
pub type JobsQuery = ListParams<JobFilters>;

/// Running/complete badge.
#[component]
pub fn JobStatusBadge(status: JobStatus) -> impl IntoView {
    let (class, label) = match status {
        JobStatus::Running => ("badge job-running", "Running"),
        JobStatus::Complete => ("badge job-complete", "Complete"),
    };
    view! { <span class=class>{label}</span> }
}

/// `/jobs`.
#[component]
pub fn JobsPage() -> impl IntoView {
    let (state, data) = live_list(
        |l| l.jobs,
        |s: JobsQuery| {
            let f = s.filters;
            list_jobs(s.q, f.status, f.system, f.live, s.page, s.per_page)
        },
    );
    let init = state.get_untracked();
    let go = Callback::new(move |q: String| state.get_untracked().with_q(&q).href());
    view! {
        <PageHeader title="Jobs" subtitle="Every job the master ran, indexed by Halite's jobs poller">
            <A href="/run" attr:class="button button-primary">"Run a command"</A>
        </PageHeader>
        <div class="toolbar">
            <SearchBox action="/jobs" q=init.q placeholder="Search function, target, user or JID" aria_label="Search jobs"
                test="job-search" hidden=vec![("status", init.filters.status.clone())] go />
            {move || {
                let s = state.get();
                let f = s.filters.clone();
                let chips = [("", "All"), ("running", "Running"), ("complete", "Complete")]
                    .into_iter()
                    .map(|(st, label)| Chip {
                        href: s.with_filters(JobFilters { status: st.to_string(), ..f.clone() }).href(),
                        label: label.to_string(),
                        active: f.status == st,
                        value: st.to_string(),
                        count: None,
                    })
                    .collect();
                let sys_href = s.with_filters(JobFilters { system: !f.system, ..f.clone() }).href();
                let live_href = s.with_filters(JobFilters { live: !f.live, ..f.clone() }).href();
                view! {
                    <FilterChips chips label="Filter by status" key=ChipKey::Status />
                    <A href=sys_href attr:class=if f.system { "toggle toggle-on" } else { "toggle" } attr:data-test="toggle-system"
                        attr:title="Show Halite's own runner/wheel calls and saltutil.find_job">
                        <span class="toggle-dot"></span>"Include system"
                    </A>
                    <A href=live_href attr:class=if f.live { "toggle toggle-on" } else { "toggle" } attr:data-test="toggle-live"
                        attr:title="Ask the master directly instead of Halite's index (at most 500 jobs)">
                        <span class="toggle-dot"></span>"Live"
                    </A>
                }
            }}
        </div>
        {load_view("Loading jobs…", data, state, |page, s| view! { <JobsBody page s /> })}
    }
}

#[component]
fn JobsBody(page: JobsData, s: JobsQuery) -> impl IntoView {
    let source = if page.live {
        view! { <div class="notice notice-live" data-test="live-notice"><Icon name="activity" />"Live from the master: the newest 500 jobs at most, not Halite's index."</div> }.into_any()
    } else if !page.poller_enabled {
        view! { <div class="notice notice-warn" data-test="poller-off"><Icon name="alert" />"The jobs poller is off, so this list is not updated. Turn it on in "<A href="/settings">"Settings → Pollers"</A>", or switch to Live."</div> }.into_any()
    } else {
        let when = page
            .last_polled_at
            .as_ref()
            .map(short_utc)
            .unwrap_or_else(|| "not yet".into());
        view! { <p class="muted small freshness">{format!("Indexed by the jobs poller · last poll {when}")}</p> }.into_any()
    };
    let pager = (!page.live).then(|| {
        view! {
            <Pager params=s.clone() total=page.list.total page=page.list.page per_page=page.list.per_page noun="job" capped=page.list.total_capped />
        }
    });
    let filtered = s.filtered();
    let exports = (!page.live && page.list.total > 0).then(|| {
        export_links(
            &s,
            "/api/jobs/export",
            page.list.total,
            "job",
            "jobs-export",
        )
    });
    view! {
        {source}
        {exports}
        {if page.list.rows.is_empty() {
            if filtered {
                view! { <NoMatch path="/jobs" what="jobs" icon="play" test="jobs-empty" /> }.into_any()
            } else {
                view! {
                    <EmptyState test="jobs-empty" icon="play" title="No jobs yet">
                        <p>"Jobs appear here once the jobs poller has indexed them. Run something from the "<A href="/run">"Run"</A>" page."</p>
                    </EmptyState>
                }.into_any()
            }
        } else {
            view! {
                <div class="table-wrap">
                    <table class="table jobs-table" data-test="jobs-table"><caption class="sr-only">"Jobs, newest first"</caption>
                        <thead>
                            <tr><th>"JID"</th><th>"Function"</th><th>"Target"</th><th>"Type"</th><th>"User"</th><th>"Started"</th><th>"Status"</th></tr>
                        </thead>
                        <tbody>
                            {page.list.rows.into_iter().map(|r| {
                                let href = format!("/jobs/{}", r.jid);
                                let jid_attr = r.jid.clone();
                                let jid_text = r.jid.clone();
                                let title = r.target.clone().unwrap_or_default();
                                view! {
                                    <tr data-jid=jid_attr>
                                        <td class="mono"><A href=href>{jid_text}</A></td>
                                        <td class="mono">{r.function}</td>
                                        <td class="mono clip" title=title>{r.target.unwrap_or_else(|| "—".into())}</td>
                                        <td>{r.target_type.unwrap_or_else(|| "—".into())}</td>
                                        <td>{r.user.unwrap_or_else(|| "—".into())}</td>
                                        <td class="nowrap">{r.started_at.as_ref().map(short_utc).unwrap_or_else(|| "—".into())}</td>
                                        <td><JobStatusBadge status=r.status /></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
        {pager}
    }
}

/// `/jobs/:jid`.
#[component]
pub fn JobDetailPage() -> impl IntoView {
    let params = use_params_map();
    let jid = Memo::new(move |_| params.get().get("jid").unwrap_or_default());
    let kill = ServerAction::<KillJob>::new();
    // Refetch when a live event for this job arrives (not on every job in the fleet: each
    // fetch asks the master).
    let live = crate::app::live::use_live();
    let changed = Memo::new(move |_| {
        let jid = jid.get();
        live.newest_live(|e| {
            e.category == EventCategory::System || e.jid.as_deref() == Some(jid.as_str())
        })
    });
    let data = Resource::new(
        move || (jid.get(), kill.version().get(), changed.get()),
        |(j, _, _)| get_job(j),
    );
    crate::app::pages::auto_refresh(move || data.refetch());
    view! {
        <Transition fallback=|| view! { <PageHeader title="Job" /><div class="panel skeleton" aria-busy="true">"Asking the master for this job…"</div> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! {
                        <PageHeader title=format!("Job {}", jid.get_untracked()) />
                        <ErrorPanel error=e />
                    }.into_any(),
                    Ok(job) => view! { <JobDetailBody job kill refresh=Callback::new(move |_| data.refetch()) /> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn minion_state_badge(r: &JobMinionRow) -> AnyView {
    let failed_states = r
        .highstate
        .as_ref()
        .is_some_and(|h| h.fail > 0 || !h.errors.is_empty());
    let (class, label) = match r.state {
        MinionJobState::Running => ("badge job-running", "Running"),
        MinionJobState::NoResponse => ("badge status-offline", "No response"),
        _ if r.success == Some(false) || failed_states => ("badge badge-fail", "Failed"),
        _ => ("badge badge-ok", "Succeeded"),
    };
    view! { <span class=class data-test="minion-state">{label}</span> }.into_any()
}

#[component]
fn JobDetailBody(
    job: JobDetailView,
    kill: ServerAction<KillJob>,
    refresh: Callback<()>,
) -> impl IntoView {
    let confirm = RwSignal::new(false);
    let raw = RwSignal::new(false);
    let jid = job.jid.clone();
    let kill_result = move || {
        kill.value().get().map(|r| match r {
            Ok(k) => {
                view! { <div class="notice notice-ok" data-test="kill-result">{k.message}</div> }
                    .into_any()
            }
            Err(e) => view! { <div class="notice notice-error" role="alert">{e.to_string()}</div> }
                .into_any(),
        })
    };
    let args = if job.arguments.is_empty() && job.kwargs.is_empty() {
        "—".to_string()
    } else {
        job.arguments
            .iter()
            .cloned()
            .chain(job.kwargs.iter().map(|(k, v)| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let status = if job.running {
        JobStatus::Running
    } else {
        JobStatus::Complete
    };
    let raw_json = job.raw_json.clone();
    let raw_truncated = job.raw_truncated;
    let is_state = job.is_state;
    let minions = job.minions.clone();
    let exports = (!minions.is_empty()).then(|| {
        let jid = job.jid.to_string();
        export_bar(
            format!(
                "Export the results of {} {}:",
                minions.len(),
                counted(minions.len() as i64, "minion")
            ),
            move |ext| {
                let parts = vec![format!("jid={}", crate::model::list::url_escape(&jid))];
                crate::model::list::href(&format!("/api/jobs/results/export.{ext}"), &parts)
            },
            "job-results-export",
        )
    });
    view! {
        <PageHeader title=format!("Job {}", job.jid) subtitle=job.function.clone()>
            <button type="button" class="button" on:click=move |_| refresh.run(())>"Refresh"</button>
            {job.can_kill.then(|| view! {
                <button type="button" class="button button-danger" data-test="kill-job" on:click=move |_| confirm.set(true)>"Kill job"</button>
            })}
        </PageHeader>
        {kill_result}
        <section class="panel job-summary" data-test="job-summary">
            <dl class="facts">
                <div><dt>"Function"</dt><dd class="mono">{job.function.clone()}</dd></div>
                <div><dt>"Target"</dt><dd class="mono">{job.target.clone().unwrap_or_else(|| "—".into())}<span class="muted">{job.target_type.clone().map(|t| format!("  ({t})")).unwrap_or_default()}</span></dd></div>
                <div><dt>"Arguments"</dt><dd class="mono">{args}</dd></div>
                <div><dt>"Salt user"</dt><dd>{job.user.clone().unwrap_or_else(|| "—".into())}</dd></div>
                <div><dt>"Started"</dt><dd>{job.started_at.as_ref().map(short_utc).unwrap_or_else(|| "—".into())}</dd></div>
                <div><dt>"Status"</dt><dd data-test="job-status"><JobStatusBadge status=status /></dd></div>
            </dl>
            <div class="job-counts">
                <span class="count-pill">{format!("{} targeted", job.minions.len())}</span>
                <span class="count-pill ok">{format!("{} returned", job.returned)}</span>
                <span class="count-pill fail">{format!("{} failed", job.failed)}</span>
                <span class="count-pill muted">{format!("{} no response", job.no_response)}</span>
            </div>
        </section>
        {exports}
        <div class="tabs" role="tablist">
            <button type="button" role="tab" class=move || if raw.get() { "tab" } else { "tab tab-active" } on:click=move |_| raw.set(false)>"Results"</button>
            <button type="button" role="tab" data-test="raw-tab" class=move || if raw.get() { "tab tab-active" } else { "tab" } on:click=move |_| raw.set(true)>"Raw JSON"</button>
        </div>
        <div class:hidden=move || raw.get()>
            {if minions.is_empty() {
                view! { <div class="panel state-panel"><h2>"No minion was targeted"</h2><p>"The target matched nothing when the job was published."</p></div> }.into_any()
            } else if is_state {
                view! { <div class="state-runs" data-test="state-runs">{minions.into_iter().map(|r| view! { <StateRunPanel r /> }).collect_view()}</div> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table results-table" data-test="results-table"><caption class="sr-only">"Each targeted minion and its return"</caption>
                            <thead><tr><th>"Minion"</th><th>"Result"</th><th>"Return code"</th><th>"Return"</th></tr></thead>
                            <tbody>
                                {minions.into_iter().map(|r| {
                                    let badge = minion_state_badge(&r);
                                    let href = format!("/minions/{}", crate::app::api::overview::url_path_escape(&r.minion));
                                    let id_attr = r.minion.clone();
                                    let id_text = r.minion.clone();
                                    view! {
                                        <tr data-minion=id_attr>
                                            <td class="mono"><A href=href>{id_text}</A></td>
                                            <td>{badge}</td>
                                            <td class="mono">{r.retcode.map(|c| c.to_string()).unwrap_or_else(|| "—".into())}</td>
                                            <td><pre class="return">{r.return_json.clone()}{r.truncated.then_some("\n… (truncated; see Raw JSON)")}</pre></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </div>
        <div class:hidden=move || !raw.get()>
            <pre class="panel raw-json" data-test="raw-json">{raw_json}{raw_truncated.then_some("\n… (truncated at 2 MiB)")}</pre>
        </div>
        {move || confirm.get().then(|| {
            let jid = jid.to_string();
            view! { <KillDialog jid kill confirm /> }
        })}
    }
}

/// "Kill job …?": Cancel has the focus (an emergency stop is never one stray Enter away).
#[component]
fn KillDialog(jid: String, kill: ServerAction<KillJob>, confirm: RwSignal<bool>) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Div>::new();
    crate::app::components::keyboard::trap_focus(
        dialog,
        Callback::new(move |_| confirm.set(false)),
    );
    view! {
        <div class="modal-backdrop" on:click=move |_| confirm.set(false)></div>
        <div class="modal" role="dialog" aria-modal="true" aria-labelledby="kill-title" data-test="confirm-dialog" node_ref=dialog>
            <h2 id="kill-title">{format!("Kill job {jid}?")}</h2>
            <p class="danger-text">"Halite sends saltutil.kill_job to the minions still running it. This is an emergency stop, not a rollback: work already done stays done."</p>
            <div class="form-actions">
                <button type="button" class="button button-danger" data-test="confirm" on:click=move |_| {
                    kill.dispatch(KillJob { jid: jid.clone() });
                    confirm.set(false);
                }>"Kill job"</button>
                <button type="button" class="button button-ghost" data-autofocus on:click=move |_| confirm.set(false)>"Cancel"</button>
            </div>
        </div>
    }
}

#[component]
fn StateRunPanel(r: JobMinionRow) -> impl IntoView {
    let badge = minion_state_badge(&r);
    let summary = r.highstate.clone().unwrap_or_default();
    let failing = summary.fail > 0 || !summary.errors.is_empty();
    let head = match r.state {
        MinionJobState::Returned => format!(
            "{} passed · {} failed · {} changed{} · {:.0} ms",
            summary.pass,
            summary.fail,
            summary.changed,
            if summary.would_change > 0 {
                format!(" · {} would change", summary.would_change)
            } else {
                String::new()
            },
            summary.duration_ms
        ),
        MinionJobState::Running => "still running".into(),
        MinionJobState::NoResponse => "did not answer".into(),
    };
    view! {
        <details class=if failing { "panel state-run failing" } else { "panel state-run" } open=failing data-minion=r.minion.clone()>
            <summary>
                <span class="mono state-run-minion">{r.minion.clone()}</span>
                {badge}
                <span class="muted small">{head}</span>
            </summary>
            <StateTable summary />
        </details>
    }
}

#[component]
fn StateTable(summary: StateSummary) -> impl IntoView {
    view! {
        {(!summary.errors.is_empty()).then(|| view! {
            <div class="notice notice-error" data-test="state-errors">
                <strong>{if summary.no_top { "No top file matches this minion" } else { "The state run did not start" }}</strong>
                <pre class="return">{summary.errors.join("\n")}</pre>
            </div>
        })}
        {(!summary.rows.is_empty()).then(|| view! {
            <table class="table state-table" data-test="state-table"><caption class="sr-only">"States of this run"</caption>
                <thead><tr><th>"State"</th><th>"SLS"</th><th>"Result"</th><th>"Duration"</th><th>"Comment"</th><th>"Changes"</th></tr></thead>
                <tbody>
                    {summary.rows.into_iter().map(|s| {
                        let (class, label) = match s.result.as_str() {
                            "fail" => ("badge badge-fail", "Failed"),
                            "would_change" => ("badge badge-warn", "Would change"),
                            _ => ("badge badge-ok", "Passed"),
                        };
                        view! {
                            <tr class=format!("state-{}", s.result) data-result=s.result.clone()>
                                <td><div class="mono">{s.state_id}</div><div class="muted small mono">{s.fun}</div></td>
                                <td class="mono">{s.sls.unwrap_or_else(|| "—".into())}</td>
                                <td><span class=class>{label}</span></td>
                                <td class="nowrap">{s.duration_ms.map(|d| format!("{d:.1} ms")).unwrap_or_else(|| "—".into())}</td>
                                <td class="comment">{s.comment}</td>
                                <td>{match s.changes_json {
                                    Some(c) => view! { <details><summary>"changes"</summary><pre class="return">{c}</pre></details> }.into_any(),
                                    None => view! { <span class="muted">"—"</span> }.into_any(),
                                }}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}
