//! The Overview's "Recent activity" widget (SPEC 6.1): a heartbeat ("12 events · last 60 min")
//! and the newest few events, configured by the admin's widget settings (SPEC 8.3), refetched
//! when the tab's live stream brings something new. Hidden while the event stream is off.

use crate::app::api::activity::{list_activity, widget_config, ActivityEvent, WidgetSettingsView};
use crate::app::api::overview::url_path_escape;
use crate::app::live::{use_live, LiveBus};
use crate::app::pages::activity::{date_and_time, event_badge};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

/// What the widget shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WidgetData {
    pub cfg: WidgetSettingsView,
    /// Events in the heartbeat window.
    pub heartbeat: i64,
    /// Newest first, at most `cfg.settings.event_count`.
    pub events: Vec<ActivityEvent>,
}

async fn recent(
    category: &str,
    cfg: &WidgetSettingsView,
    n: i64,
) -> Result<Vec<ActivityEvent>, AppError> {
    Ok(list_activity(
        category.to_string(),
        String::new(),
        String::new(),
        String::new(),
        cfg.settings.hide_routine,
        cfg.settings.hide_dispatch,
        String::new(),
        0,
        0,
        1,
        n,
    )
    .await?
    .list
    .rows)
}

/// The heartbeat query, then the list: one query when every category is shown, else one per
/// shown category, merged.
async fn load() -> Result<Option<WidgetData>, AppError> {
    let cfg = widget_config().await?;
    if !cfg.stream_enabled {
        return Ok(None);
    }
    let heartbeat = list_activity(
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        false,
        false,
        String::new(),
        cfg.settings.heartbeat_minutes.clamp(1, 525_600),
        0,
        1,
        1,
    )
    .await?
    .list
    .total;
    let n = cfg.settings.event_count.clamp(1, 50);
    let shown: Vec<&str> = [
        ("job", cfg.settings.show_jobs),
        ("key", cfg.settings.show_keys),
        ("minion", cfg.settings.show_minions),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(c, _)| c)
    .collect();
    let events = if shown.len() == 3 {
        recent("", &cfg, n).await?
    } else {
        let mut all = Vec::new();
        for c in shown {
            all.extend(recent(c, &cfg, n).await?);
        }
        all.sort_by_key(|e| std::cmp::Reverse(e.id));
        all.truncate(n as usize);
        all
    };
    Ok(Some(WidgetData {
        cfg,
        heartbeat,
        events,
    }))
}

/// `<ActivityWidget />`: mount it on the Overview.
#[component]
pub fn ActivityWidget() -> impl IntoView {
    let live = use_live();
    let data = Resource::new(move || live.activity.get(), |_| load());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Some(d)) => view! { <WidgetBody d live /> }.into_any(),
                    Ok(None) | Err(AppError::Forbidden(_)) | Err(AppError::Unauthorized(_)) => ().into_any(),
                    Err(e) => view! {
                        <section class="panel feed-widget" data-test="activity-widget">
                            <div class="section-head row"><h2>"Recent activity"</h2><A href="/activity" attr:class="feed-viewall">"View all →"</A></div>
                            <p class="muted">{e.to_string()}</p>
                        </section>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn WidgetBody(d: WidgetData, live: LiveBus) -> impl IntoView {
    let n = d.heartbeat;
    let heartbeat = format!(
        "{n} event{} · last {} min",
        if n == 1 { "" } else { "s" },
        d.cfg.settings.heartbeat_minutes
    );
    let rows = if d.events.is_empty() {
        view! { <p class="muted feed-widget-empty" data-test="widget-empty">"Quiet so far: jobs, key changes and minion starts appear here as Salt reports them."</p> }.into_any()
    } else {
        view! {
            <ul class="feed-mini" data-test="widget-events">
                {d.events.into_iter().map(|e| {
                    let (class, label) = event_badge(&e);
                    let (_, time) = date_and_time(&e.ts);
                    let href = match (&e.jid, &e.minion_id) {
                        (Some(j), _) => Some(format!("/jobs/{j}")),
                        (None, Some(m)) => Some(format!("/minions/{}", url_path_escape(m))),
                        _ => None,
                    };
                    let summary = e.summary.clone();
                    view! {
                        <li class="feed-mini-row" data-id=e.id data-event-type=e.event_type.clone()>
                            <span class="feed-time muted">{time}</span>
                            <span class=class>{label}</span>
                            <span class="feed-mini-summary">
                                {match href {
                                    Some(h) => view! { <A href=h>{summary}</A> }.into_any(),
                                    None => view! { <span>{summary}</span> }.into_any(),
                                }}
                            </span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <section class="panel feed-widget" data-test="activity-widget">
            <div class="section-head row">
                <h2>"Recent activity"</h2>
                <span class="feed-heartbeat" data-test="heartbeat">
                    <span class=move || if live.connected.get() { "pulse-dot" } else { "pulse-dot pulse-idle" }></span>
                    {heartbeat}
                </span>
                <span class="pager-spacer"></span>
                <A href="/activity" attr:class="feed-viewall" attr:data-test="view-all">"View all →"</A>
            </div>
            {rows}
        </section>
    }
}
