//! The heatmap's side panel (SPEC 6.1): one minion's online status, health and latest state run,
//! and a "Run a command on this minion" form that dispatches to exactly that minion (a `list`
//! target, never a pattern) through the Run page's `dispatch`, with the same RBAC (the server
//! decides; the form is hidden when the signed-in user's grants already say no).
//! Opened only in the browser, by a click on a tile, so nothing here takes part in hydration.

use crate::app::api::fleet::{get_minion_runs, MinionRuns, RunSummary};
use crate::app::api::minions::{get_minion, MinionDetail};
use crate::app::api::overview::url_path_escape;
use crate::app::api::run::dispatch;
use crate::app::components::health::{duration_ms_text, RunBadge};
use crate::app::pages::minions::StatusBadge;
use crate::app::pages::run::Progress;
use crate::app::pages::short_utc;
use crate::error::AppError;
use crate::model::activity::EventCategory;
use crate::model::run::args_json_from_line;
use leptos::prelude::*;
use leptos_router::components::A;

type Loaded = (Result<MinionDetail, AppError>, Result<MinionRuns, AppError>);

/// Whether an event is news for `id`'s panel: a state run it returned, or a key or presence
/// change of it.
pub fn is_news_for(e: &crate::app::api::activity::ActivityEvent, id: &str) -> bool {
    if e.category == EventCategory::System {
        return true;
    }
    if e.minion_id.as_deref() != Some(id) {
        return false;
    }
    match e.category {
        EventCategory::Job => crate::app::live::is_state_return(e),
        _ => true,
    }
}

/// The side panel for minion `id`; `may_run`: the user's grants allow running some command on
/// it (`None`: not known, the form is shown and the server decides).
#[component]
pub fn MinionPanel(id: String, close: Callback<()>, may_run: Option<bool>) -> impl IntoView {
    let load = Action::new(|id: &String| {
        let id = id.clone();
        async move {
            let detail = get_minion(id.clone()).await;
            let runs = get_minion_runs(id, 1).await;
            (detail, runs)
        }
    });
    load.dispatch(id.clone());
    let live = crate::app::live::use_live();
    let news = {
        let id = id.clone();
        Memo::new(move |_| live.newest_live(|e| is_news_for(e, &id)))
    };
    {
        let id = id.clone();
        Effect::new(move |prev: Option<i64>| {
            let n = news.get();
            if prev.is_some_and(|p| p != n) {
                load.dispatch(id.clone());
            }
            n
        });
    }
    let close_button = NodeRef::<leptos::html::Button>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(b) = close_button.get() {
            let _ = b.focus();
        }
    });
    let href = format!("/minions/{}", url_path_escape(&id));
    let title = id.clone();
    let facts = move || match load.value().get() {
        None => view! { <p class="muted" aria-busy="true">"Loading the minion…"</p> }.into_any(),
        Some(l) => facts_view(l).into_any(),
    };
    view! {
        <aside class="feed-drawer minion-panel" role="dialog" aria-labelledby="minion-panel-title"
            data-test="minion-panel" data-minion=id.clone()>
            <div class="feed-drawer-head">
                <span class="muted small">"Minion"</span>
                <button type="button" class="icon-button" title="Close (Esc)" aria-label="Close" data-test="minion-panel-close"
                    node_ref=close_button on:click=move |_| close.run(())>"✕"</button>
            </div>
            <h2 id="minion-panel-title"><A href=href.clone()>{title}</A></h2>
            {facts}
            <RunOnMinion id=id.clone() may_run />
            <p class="small"><A href=href>"Open the minion's page →"</A></p>
        </aside>
    }
}

fn facts_view((detail, runs): Loaded) -> impl IntoView {
    let online = match &detail {
        Ok(d) => view! { <StatusBadge status=d.status /> }.into_any(),
        Err(AppError::NotFound(_)) => {
            view! { <span class="muted">"Not in Halite's minion list"</span> }.into_any()
        }
        Err(e) => view! { <span class="field-error">{e.to_string()}</span> }.into_any(),
    };
    let (health, latest) = match &runs {
        Ok(r) => (
            view! {
                <span class=format!("badge badge-word health-{}", r.status) data-test="minion-panel-status">{r.status.as_str()}</span>
            }
            .into_any(),
            latest_run(r.runs.first().cloned(), r.total).into_any(),
        ),
        Err(e) => (
            view! { <span class="field-error">{e.to_string()}</span> }.into_any(),
            ().into_any(),
        ),
    };
    let d = detail.ok();
    let text = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    view! {
        <dl class="facts feed-facts">
            <dt>"Status"</dt><dd>{online}</dd>
            <dt>"Health"</dt><dd>{health}</dd>
            <dt>"IP"</dt><dd class="mono">{text(d.as_ref().and_then(|d| d.ip.clone()))}</dd>
            <dt>"OS"</dt><dd>{text(d.as_ref().and_then(|d| d.os.clone().map(|o| format!("{o} {}", d.osrelease.clone().unwrap_or_default()))))}</dd>
        </dl>
        <h3 class="feed-raw-title">"Latest state run"</h3>
        {latest}
    }
}

fn latest_run(run: Option<RunSummary>, total: i64) -> impl IntoView {
    let Some(r) = run else {
        return view! {
            <p class="muted" data-test="minion-panel-run-none">"No state runs ingested for this minion yet."</p>
        }
        .into_any();
    };
    let href = format!("/fleet/runs/{}", r.id);
    view! {
        <div class="panel-run" data-test="minion-panel-latest" data-status=r.status.as_str()>
            <div class="panel-run-head">
                <RunBadge status=r.status />
                <span class="mono small">{r.fun.clone()}</span>
                <span class="muted small">{short_utc(&r.completed_at)}</span>
            </div>
            {if r.blocked {
                view! { <p class="small">"The minion did not return (blocked)."</p> }.into_any()
            } else {
                view! {
                    <p class="small run-counts">
                        <span>{format!("{} states", r.total_count)}</span>
                        <span class="health-text health-healthy">{format!("{} passed", r.pass_count)}</span>
                        <span class="health-text health-changed">{format!("{} changed", r.change_count)}</span>
                        <span class="health-text health-unhealthy">{format!("{} failed", r.fail_count)}</span>
                        <span class="muted">{duration_ms_text(r.duration_ms)}</span>
                    </p>
                }.into_any()
            }}
            <p class="small">
                <A href=href attr:data-test="minion-panel-run-link">"Open the run →"</A>
                <span class="muted">{format!(" · {total} state run{} ingested", if total == 1 { "" } else { "s" })}</span>
            </p>
        </div>
    }
    .into_any()
}

/// The "Run a command on this minion" form and its result.
#[component]
fn RunOnMinion(id: String, may_run: Option<bool>) -> impl IntoView {
    if may_run == Some(false) {
        return view! {
            <h3 class="feed-raw-title">"Run a command on this minion"</h3>
            <p class="muted small" data-test="minion-panel-no-run">
                "Your role does not let you run commands on this minion."
            </p>
        }
        .into_any();
    }
    let fun = RwSignal::new("test.ping".to_string());
    let args = RwSignal::new(String::new());
    let args_error = RwSignal::new(None::<String>);
    let run = Action::new(|(target, fun, args_json): &(String, String, String)| {
        // A list target of exactly this minion: a pattern would reach every minion it matches.
        dispatch(
            target.clone(),
            "list".into(),
            fun.clone(),
            args_json.clone(),
            String::new(),
            String::new(),
        )
    });
    let submit = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            match args_json_from_line(&args.get_untracked()) {
                Ok(json) => {
                    args_error.set(None);
                    run.dispatch((id.clone(), fun.get_untracked(), json));
                }
                Err(e) => args_error.set(Some(message(&e))),
            }
        }
    };
    let result = move || {
        run.value().get().map(|r| match r {
            Ok(d) => view! {
                <div class="minion-panel-result" data-test="minion-panel-result" data-state="dispatched"><Progress d /></div>
            }
            .into_any(),
            Err(e) => view! {
                <div class="notice notice-error" role="alert" data-test="minion-panel-result" data-state="error">{message(&e)}</div>
            }
            .into_any(),
        })
    };
    view! {
        <h3 class="feed-raw-title">"Run a command on this minion"</h3>
        <form class="form panel-run-form" data-test="minion-panel-run" on:submit=submit>
            <label class="field">
                <span>"Function"</span>
                <input type="text" name="fun" required maxlength="128" autocomplete="off" placeholder="test.ping"
                    prop:value=move || fun.get() on:input=move |ev| fun.set(event_target_value(&ev)) />
            </label>
            <label class="field">
                <span>"Arguments"</span>
                <input type="text" name="args" maxlength="8192" autocomplete="off" placeholder=r#"words separated by spaces, or ["a JSON", "list"]"#
                    prop:value=move || args.get() on:input=move |ev| args.set(event_target_value(&ev)) />
                {move || args_error.get().map(|m| view! { <span class="field-error" role="alert">{m}</span> })}
            </label>
            <div class="form-actions">
                <button type="submit" class="button button-primary" data-test="minion-panel-submit" disabled=move || run.pending().get()>
                    {move || if run.pending().get() { "Dispatching…" } else { "Run" }}
                </button>
                <span class="muted small">{format!("Target: {id} (list)")}</span>
            </div>
        </form>
        {result}
    }
    .into_any()
}

/// A refusal as the person reads it (field errors without the field name).
fn message(e: &AppError) -> String {
    match e {
        AppError::Invalid { message, .. } => message.clone(),
        o => o.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::api::activity::ActivityEvent;

    fn ev(
        category: EventCategory,
        event_type: &str,
        minion: &str,
        fun: Option<&str>,
    ) -> ActivityEvent {
        let mut e = ActivityEvent::new(category, event_type, String::new());
        e.minion_id = Some(minion.into());
        e.fun = fun.map(String::from);
        e
    }

    #[test]
    fn panel_news() {
        let state_ret = ev(EventCategory::Job, "job.ret", "web-01", Some("state.apply"));
        assert!(crate::app::live::is_state_return(&state_ret));
        assert!(is_news_for(&state_ret, "web-01"));
        assert!(!is_news_for(&state_ret, "web-02"), "another minion's run");
        let ping = ev(EventCategory::Job, "job.ret", "web-01", Some("test.ping"));
        assert!(!is_news_for(&ping, "web-01"), "not a state run");
        let new = ev(EventCategory::Job, "job.new", "web-01", Some("state.apply"));
        assert!(
            !crate::app::live::is_state_return(&new),
            "dispatched, not returned yet"
        );
        assert!(is_news_for(
            &ev(EventCategory::Minion, "minion.start", "web-01", None),
            "web-01"
        ));
        assert!(is_news_for(
            &ev(EventCategory::System, "stream.gap", "", None),
            "web-01"
        ));
    }
}
