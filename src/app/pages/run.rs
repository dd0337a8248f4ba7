//! Run: target + type, function with autocomplete, args and kwargs editors, target preview,
//! dispatch with live per-minion progress, optional batch size, save as template, and
//! pre-fill from a template (`/run?template=<id>`) or a target (`/run?target=web-01`).

#[cfg(feature = "hydrate")]
use crate::app::api::jobs::get_job;
use crate::app::api::jobs::JobDetailView;
#[cfg(feature = "hydrate")]
use crate::app::api::run::batch_status;
use crate::app::api::run::{
    dispatch, preview_targets, salt_functions, BatchProgress, Dispatched, FULL_SCOPE_TARGET_TYPES,
    RESPONSE_TIMEOUT_SECS, SCOPED_NOTE, TARGET_TYPES,
};
use crate::app::api::templates::{create_template, get_template};
use crate::app::components::icons::Icon;
use crate::app::pages::PageHeader;
use crate::error::AppError;
use crate::model::jobs::MinionJobState;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

const TICK_MS: u64 = 1500;

#[derive(Clone, Debug, PartialEq)]
struct Form {
    target: String,
    target_type: String,
    fun: String,
    args: Vec<String>,
    kwargs: Vec<(String, String)>,
    batch: String,
}

impl Form {
    fn args_json(&self) -> String {
        let a: Vec<&String> = self.args.iter().filter(|a| !a.trim().is_empty()).collect();
        serde_json::to_string(&a).unwrap_or_else(|_| "[]".into())
    }
    fn kwargs_json(&self) -> String {
        let m: serde_json::Map<String, serde_json::Value> = self
            .kwargs
            .iter()
            .filter(|(k, _)| !k.trim().is_empty())
            .map(|(k, v)| (k.trim().to_string(), serde_json::Value::from(v.clone())))
            .collect();
        serde_json::to_string(&m).unwrap_or_else(|_| "{}".into())
    }
}

fn field_error(e: &Option<AppError>, field: &str) -> Option<String> {
    e.as_ref()
        .filter(|e| e.field() == Some(field))
        .map(|e| match e {
            AppError::Invalid { message, .. } => message.clone(),
            o => o.to_string(),
        })
}

/// `/run`: the form for users holding any `execute:salt:*` grant, else a clear refusal.
#[component]
pub fn RunPage() -> impl IntoView {
    let me = crate::app::me_resource();
    view! {
        <Suspense fallback=|| view! { <PageHeader title="Run" /> }>
            {move || Suspend::new(async move {
                let me = crate::app::me_value(me).await;
                let allowed = me
                    .as_ref()
                    .is_some_and(|m| crate::app::nav::may_kind(&m.permissions, "execute", "salt"));
                // A role that covers only some minions: the server resolves the target first.
                let scoped = me
                    .as_ref()
                    .is_some_and(|m| !crate::rbac::covers_all(&m.permissions, "view", "minion"));
                if allowed {
                    view! { <RunForm scoped /> }.into_any()
                } else {
                    view! {
                        <PageHeader title="Run" />
                        <crate::app::pages::ErrorPanel error=AppError::Forbidden("You do not have permission to run commands. Ask an administrator for an execute:salt:<function> grant.".into()) />
                    }.into_any()
                }
            })}
        </Suspense>
    }
}

#[component]
fn RunForm(scoped: bool) -> impl IntoView {
    let query = use_query_map();
    let q = query.get_untracked();
    let target = RwSignal::new(q.get("target").unwrap_or_default());
    let target_type = RwSignal::new(q.get("target_type").unwrap_or_else(|| "glob".into()));
    let fun = RwSignal::new(q.get("fun").unwrap_or_default());
    let args = RwSignal::new(Vec::<String>::new());
    let kwargs = RwSignal::new(Vec::<(String, String)>::new());
    let batch = RwSignal::new(String::new());
    let functions = RwSignal::new(Vec::<String>::new());
    let catalogue_note = RwSignal::new(String::new());
    let template_note = RwSignal::new(None::<Result<String, String>>);
    // Arriving filled in (the command palette's "run test.ping on web-*"): the target has the
    // focus, so Enter runs it.
    let target_ref = NodeRef::<leptos::html::Input>::new();
    let filled = q.get("fun").is_some();
    Effect::new(move |_| {
        if let (true, Some(el)) = (filled, target_ref.get()) {
            let _ = el.focus();
        }
    });
    let form = move || Form {
        target: target.get_untracked(),
        target_type: target_type.get_untracked(),
        fun: fun.get_untracked(),
        args: args.get_untracked(),
        kwargs: kwargs.get_untracked(),
        batch: batch.get_untracked(),
    };

    let preview = Action::new(|f: &Form| preview_targets(f.target.clone(), f.target_type.clone()));
    let run = Action::new(|f: &Form| {
        dispatch(
            f.target.clone(),
            f.target_type.clone(),
            f.fun.clone(),
            f.args_json(),
            f.kwargs_json(),
            f.batch.clone(),
        )
    });
    let save_open = RwSignal::new(false);
    let save = Action::new(|(f, name, desc, shared): &(Form, String, String, bool)| {
        create_template(
            name.clone(),
            desc.clone(),
            f.target.clone(),
            f.target_type.clone(),
            f.fun.clone(),
            f.args_json(),
            f.kwargs_json(),
            shared.then(|| "on".to_string()),
        )
    });

    // Browser only: the function catalogue and a template to pre-fill (neither blocks the page).
    let template_id = q.get("template");
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            match salt_functions().await {
                Ok(c) => {
                    catalogue_note.set(if c.stale {
                        format!(
                            "{} functions (Salt unreachable: cached list)",
                            c.functions.len()
                        )
                    } else {
                        format!("{} functions", c.functions.len())
                    });
                    functions.set(c.functions);
                }
                Err(e) => catalogue_note.set(format!("No autocomplete: {e}")),
            }
        });
    });
    Effect::new(move |_| {
        if let Some(id) = template_id.clone() {
            leptos::task::spawn_local(async move {
                match get_template(id).await {
                    Ok(t) => {
                        target.set(t.target);
                        target_type.set(t.target_type);
                        fun.set(t.fun);
                        args.set(t.args);
                        kwargs.set(t.kwargs.into_iter().collect());
                        template_note.set(Some(Ok(t.name)));
                    }
                    Err(e) => template_note.set(Some(Err(e.to_string()))),
                }
            });
        }
    });

    let run_error = move || run.value().get().and_then(|r| r.err());
    let err_for = move |field: &'static str| {
        move || {
            field_error(&run_error(), field)
                .or_else(|| field_error(&preview.value().get().and_then(|r| r.err()), field))
                .map(|m| view! { <span class="field-error" role="alert">{m}</span> })
        }
    };

    view! {
        <PageHeader title="Run" subtitle="Send a command to your minions; results stream in as they return">
            <A href="/templates" attr:class="button">"Templates"</A>
        </PageHeader>
        {move || template_note.get().map(|r| match r {
            Ok(name) => view! { <div class="notice notice-ok" data-test="template-loaded">{format!("Loaded template “{name}”. Check the target, then run.")}</div> }.into_any(),
            Err(e) => view! { <div class="notice notice-error" role="alert">{e}</div> }.into_any(),
        })}
        <section class="panel run-form" data-test="run-form">
            <form class="form form-grid" on:submit=move |ev| {
                ev.prevent_default();
                run.dispatch(form());
            }>
                <label class="field span-2">
                    <span>"Target"</span>
                    <input type="text" name="target" required maxlength="1024" placeholder="* or web-* or web-01,db-01"
                        prop:value=move || target.get() on:input=move |ev| target.set(event_target_value(&ev)) data-test="run-target" node_ref=target_ref />
                    {scoped.then(|| view! { <span class="muted small" data-test="run-scope-note">{SCOPED_NOTE}</span> })}
                    {err_for("target")}
                </label>
                <label class="field">
                    <span>"Target type"</span>
                    <select name="target_type" on:change=move |ev| target_type.set(event_target_value(&ev)) data-test="run-target-type">
                        {TARGET_TYPES.iter().filter(|t| !(scoped && FULL_SCOPE_TARGET_TYPES.contains(t))).map(|t| view! { <option value=*t selected=move || target_type.get() == *t>{*t}</option> }).collect_view()}
                    </select>
                    {err_for("target_type")}
                </label>
                <label class="field">
                    <span>"Function"</span>
                    <input type="text" name="fun" required maxlength="128" list="salt-functions" placeholder="test.ping" autocomplete="off"
                        prop:value=move || fun.get() on:input=move |ev| fun.set(event_target_value(&ev)) data-test="run-fun" />
                    <datalist id="salt-functions">
                        <For each=move || functions.get() key=|f| f.clone() let:f>
                            <option value=f></option>
                        </For>
                    </datalist>
                    <span class="muted small">{move || catalogue_note.get()}</span>
                    {err_for("fun")}
                </label>
                <div class="field span-2">
                    <span>"Arguments"</span>
                    <div class="kv-list" data-test="run-args">
                        {move || args.get().into_iter().enumerate().map(|(i, a)| view! {
                            <div class="kv-row">
                                <input type="text" prop:value=a aria-label=format!("Argument {}", i + 1) data-test="run-arg"
                                    on:input=move |ev| { let v = event_target_value(&ev); args.update(|l| if let Some(x) = l.get_mut(i) { *x = v; }); } />
                                <button type="button" class="button button-ghost" aria-label="Remove argument" on:click=move |_| args.update(|l| { if i < l.len() { l.remove(i); } })>"✕"</button>
                            </div>
                        }).collect_view()}
                        <button type="button" class="button button-ghost small" data-test="add-arg" on:click=move |_| args.update(|l| l.push(String::new()))>"+ Add argument"</button>
                    </div>
                    {err_for("args")}
                </div>
                <div class="field span-2">
                    <span>"Keyword arguments"</span>
                    <div class="kv-list" data-test="run-kwargs">
                        {move || kwargs.get().into_iter().enumerate().map(|(i, (k, v))| view! {
                            <div class="kv-row">
                                <input type="text" prop:value=k placeholder="key" aria-label=format!("Keyword {}", i + 1) data-test="run-kwarg-key"
                                    on:input=move |ev| { let x = event_target_value(&ev); kwargs.update(|l| if let Some(p) = l.get_mut(i) { p.0 = x; }); } />
                                <span class="muted">"="</span>
                                <input type="text" prop:value=v placeholder="value" aria-label=format!("Value {}", i + 1) data-test="run-kwarg-value"
                                    on:input=move |ev| { let x = event_target_value(&ev); kwargs.update(|l| if let Some(p) = l.get_mut(i) { p.1 = x; }); } />
                                <button type="button" class="button button-ghost" aria-label="Remove keyword" on:click=move |_| kwargs.update(|l| { if i < l.len() { l.remove(i); } })>"✕"</button>
                            </div>
                        }).collect_view()}
                        <button type="button" class="button button-ghost small" data-test="add-kwarg" on:click=move |_| kwargs.update(|l| l.push((String::new(), String::new())))>"+ Add keyword"</button>
                    </div>
                    {err_for("kwargs")}
                </div>
                <label class="field">
                    <span>"Batch size (optional)"</span>
                    <input type="text" name="batch" maxlength="8" placeholder="e.g. 10 or 25%" prop:value=move || batch.get()
                        on:input=move |ev| batch.set(event_target_value(&ev)) data-test="run-batch" />
                    {err_for("batch")}
                </label>
                <div class="form-actions span-2">
                    <button type="submit" class="button button-primary" data-test="run-submit" disabled=move || run.pending().get()>
                        {move || if run.pending().get() { "Dispatching…" } else { "Run" }}
                    </button>
                    <button type="button" class="button" data-test="preview" disabled=move || preview.pending().get()
                        on:click=move |_| { preview.dispatch(form()); }>
                        {move || if preview.pending().get() { "Resolving…" } else { "Preview targets" }}
                    </button>
                    <button type="button" class="button button-ghost" data-test="save-template" on:click=move |_| save_open.update(|o| *o = !*o)>"Save as template"</button>
                </div>
            </form>
            {move || run_error().filter(|e| e.field().is_none()).map(|e| view! { <div class="notice notice-error" role="alert" data-test="run-error">{e.to_string()}</div> })}
            {move || save_open.get().then(|| view! { <SaveTemplate form save /> })}
            {move || save.value().get().map(|r| match r {
                Ok(t) => view! { <div class="notice notice-ok" data-test="template-saved">{format!("Saved as template “{}”.", t.name)}" "<A href="/templates">"See templates"</A></div> }.into_any(),
                Err(e) => view! { <div class="notice notice-error" role="alert" data-test="template-error">{e.to_string()}</div> }.into_any(),
            })}
        </section>
        {move || preview.value().get().and_then(|r| r.ok()).map(|p| view! {
            <section class="panel preview" data-test="preview-result">
                <h2>{if p.minions.len() == 1 { "1 minion matches".to_string() } else { format!("{} minions match", p.minions.len()) }}</h2>
                {if p.minions.is_empty() {
                    view! { <p class="muted">"Nothing matches this target on the master. Check the target type."</p> }.into_any()
                } else {
                    view! { <ul class="chip-list">{p.minions.into_iter().map(|m| view! { <li class="chip">{m}</li> }).collect_view()}</ul> }.into_any()
                }}
            </section>
        })}
        {move || preview.value().get().and_then(|r| r.err()).filter(|e| e.field().is_none()).map(|e| view! { <div class="notice notice-error" role="alert">{e.to_string()}</div> })}
        {move || run.value().get().and_then(|r| r.ok()).map(|d| view! { <Progress d /> })}
    }
}

#[component]
fn SaveTemplate(
    form: impl Fn() -> Form + Send + Sync + Copy + 'static,
    save: Action<
        (Form, String, String, bool),
        Result<crate::app::api::templates::TemplateOut, AppError>,
    >,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let desc = RwSignal::new(String::new());
    let shared = RwSignal::new(false);
    view! {
        <div class="save-template" data-test="save-template-form">
            <input type="text" placeholder="Template name" maxlength="100" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) data-test="template-name" />
            <input type="text" placeholder="Description (optional)" maxlength="500" prop:value=move || desc.get() on:input=move |ev| desc.set(event_target_value(&ev)) />
            <label class="checkbox-field"><input type="checkbox" prop:checked=move || shared.get() on:change=move |ev| shared.set(event_target_checked(&ev)) />" Share with everyone"</label>
            <button type="button" class="button button-primary" data-test="template-save" disabled=move || save.pending().get()
                on:click=move |_| { save.dispatch((form(), name.get_untracked(), desc.get_untracked(), shared.get_untracked())); }>"Save"</button>
        </div>
    }
}

/// Per-minion progress of a dispatched job (or batch run), polled until every minion answered
/// or timed out.
#[component]
pub fn Progress(d: Dispatched) -> impl IntoView {
    let ticks = RwSignal::new(0u64);
    let job = RwSignal::new(None::<JobDetailView>);
    let batch = RwSignal::new(None::<BatchProgress>);
    let error = RwSignal::new(None::<String>);
    let minions = d.minions.clone();
    let jid = d.jid.clone();
    let batch_id = d.batch_id.clone();
    let timeout_ticks = (RESPONSE_TIMEOUT_SECS as u64 * 1000) / TICK_MS;
    let finished = {
        let minions = minions.clone();
        move || {
            if let Some(b) = batch.get() {
                return b.finished;
            }
            match job.get() {
                Some(j) => {
                    let answered = j
                        .minions
                        .iter()
                        .filter(|m| m.state == MinionJobState::Returned)
                        .count();
                    answered >= minions.len() || (!j.running && ticks.get() >= timeout_ticks)
                }
                None => false,
            }
        }
    };
    let finished = Memo::new(move |_| finished());
    #[cfg(feature = "hydrate")]
    {
        let followed = jid.clone();
        let jid = jid.clone();
        let batch_id = batch_id.clone();
        let busy = StoredValue::new(false);
        let tick = move || {
            if finished.get_untracked() || busy.get_value() {
                return;
            }
            busy.set_value(true);
            ticks.update(|t| *t += 1);
            let jid = jid.clone();
            let batch_id = batch_id.clone();
            leptos::task::spawn_local(async move {
                if let Some(j) = jid {
                    match get_job(j).await {
                        Ok(v) => {
                            job.set(Some(v));
                            error.set(None);
                        }
                        Err(e) => error.set(Some(e.to_string())),
                    }
                } else if let Some(b) = batch_id {
                    match batch_status(b).await {
                        Ok(v) => batch.set(Some(v)),
                        Err(e) => error.set(Some(e.to_string())),
                    }
                }
                busy.set_value(false);
            });
        };
        // Polling is the fallback; with the event stream on, every job.ret of this job on the
        // hub (SPEC 7.5: one EventSource per tab) refreshes the rows at once.
        let t2 = tick.clone();
        Effect::new(move |_| {
            let t = t2.clone();
            t();
            if let Ok(h) = set_interval_with_handle(t, std::time::Duration::from_millis(TICK_MS)) {
                on_cleanup(move || h.clear());
            }
        });
        if let (Some(live), Some(j)) = (use_context::<crate::app::live::LiveBus>(), followed) {
            let newest = Memo::new(move |_| {
                live.newest_live(|e| {
                    e.jid.as_deref() == Some(j.as_str()) && e.event_type == "job.ret"
                })
            });
            Effect::new(move |prev: Option<i64>| {
                let n = newest.get();
                if prev.is_some_and(|p| p != n) && n > 0 {
                    tick();
                }
                n
            });
        }
    }
    let total = minions.len();
    let rows = {
        let minions = minions.clone();
        move || {
            let j = job.get();
            let b = batch.get();
            let t = ticks.get();
            minions
                .iter()
                .map(|m| {
                    let (state, detail) = if let Some(b) = &b {
                        match b.results.iter().find(|(id, _)| id == m) {
                            Some((_, ret)) => ("ok", ret.clone()),
                            None if b.finished => ("no_response", String::new()),
                            None => ("pending", String::new()),
                        }
                    } else {
                        match j
                            .as_ref()
                            .and_then(|j| j.minions.iter().find(|r| &r.minion == m))
                        {
                            Some(r) if r.state == MinionJobState::Returned => {
                                let failed = r.success == Some(false)
                                    || r.highstate
                                        .as_ref()
                                        .is_some_and(|h| h.fail > 0 || !h.errors.is_empty());
                                (if failed { "failed" } else { "ok" }, r.return_json.clone())
                            }
                            Some(r) if r.state == MinionJobState::Running => {
                                ("running", String::new())
                            }
                            _ if t < timeout_ticks || j.as_ref().is_some_and(|j| j.running) => {
                                ("pending", String::new())
                            }
                            _ => ("no_response", String::new()),
                        }
                    };
                    let (class, label) = match state {
                        "ok" => ("badge badge-ok", "Succeeded"),
                        "failed" => ("badge badge-fail", "Failed"),
                        "running" => ("badge job-running", "Running"),
                        "pending" => ("badge badge-pending", "Pending"),
                        _ => ("badge status-offline", "No response"),
                    };
                    let short: String = detail.chars().take(400).collect();
                    view! {
                        <tr data-minion=m.clone() data-state=state>
                            <td class="mono">{m.clone()}</td>
                            <td><span class=class data-test="progress-state">{label}</span></td>
                            <td><pre class="return small">{short}</pre></td>
                        </tr>
                    }
                })
                .collect_view()
        }
    };
    let answered = move || {
        if let Some(b) = batch.get() {
            return b.results.len();
        }
        job.get()
            .map(|j| {
                j.minions
                    .iter()
                    .filter(|m| m.state == MinionJobState::Returned)
                    .count()
            })
            .unwrap_or(0)
    };
    let _ = &batch_id;
    let title = match jid.clone() {
        Some(j) => view! { <span>"Job "<A href=format!("/jobs/{j}") attr:data-test="progress-jid">{j.clone()}</A></span> }.into_any(),
        _ => view! { <span>{format!("Batch run ({} minions)", total)}</span> }.into_any(),
    };
    view! {
        <section class="panel progress" data-test="progress">
            <div class="progress-head">
                <h2>{title}</h2>
                <span class="count-pill" data-test="progress-count">{move || format!("{} of {} returned", answered(), total)}</span>
                {move || if finished.get() {
                    view! { <span class="badge job-complete" data-test="progress-done">"Finished"</span> }.into_any()
                } else {
                    view! { <span class="badge job-running"><span class="pulse"></span>"Following"</span> }.into_any()
                }}
            </div>
            <div class="progress-bar"><div class="progress-fill" style=move || format!("width: {}%", (answered() * 100).checked_div(total).unwrap_or(100))></div></div>
            {move || error.get().map(|e| view! { <div class="notice notice-error" role="alert"><Icon name="alert" />{e}</div> })}
            <table class="table progress-table" data-test="progress-table"><caption class="sr-only">"Each targeted minion and its result"</caption>
                <thead><tr><th>"Minion"</th><th>"State"</th><th>"Return"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}
