//! The Activity table: its toolbar (category chips, live tail, stream state), notices, rows
//! and pager.

use super::filters::category_chips;
use super::{date_and_time, duration_text, event_badge, ActivityQuery};
use crate::app::api::activity::{ActivityEvent, ActivityPage as ActivityData};
use crate::app::api::overview::url_path_escape;
use crate::app::components::icons::Icon;
use crate::app::components::list::{
    export_links, ChipKey, EmptyState, FilterChips, NoMatch, Pager,
};
use crate::app::live::LiveBus;
use crate::app::pages::short_utc;
use crate::model::list::ActivityFilters;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub(super) fn ActivityBody(
    page: ActivityData,
    s: ActivityQuery,
    live: LiveBus,
    holding: RwSignal<bool>,
    fresh_after: i64,
    open: Callback<ActivityEvent>,
    refetch: Callback<()>,
) -> impl IntoView {
    let chips = category_chips(&s, &page.categories);
    let paused = s.filters.paused;
    let tailing = !paused && s.page <= 1;
    let live_href = s
        .with_filters(ActivityFilters {
            paused: !paused,
            ..s.filters.clone()
        })
        .href();
    let enabled = page.stream_enabled;
    // "N new events" while paused on page 1: what the stream brought that these filters show.
    let newest = page.list.rows.first().map(|e| e.id).unwrap_or(0);
    let pill = (paused && s.page <= 1).then(|| {
        let s2 = s.clone();
        let count = Memo::new(move |_| {
            live.latest.with(|l| l.iter().filter(|e| e.id > newest && s2.matches(e)).count())
        });
        move || {
            let n = count.get();
            (n > 0).then(|| view! {
                <button type="button" class="feed-pill" data-test="new-events" on:click=move |_| refetch.run(())>
                    {format!("{n} new event{}", if n == 1 { "" } else { "s" })} " ↑"
                </button>
            })
        }
    });
    let status = move || {
        if !enabled {
            view! { <span class="feed-status feed-status-off" data-test="live-status">"Stream off"</span> }.into_any()
        } else if !live.connected.get() {
            view! { <span class="feed-status" data-test="live-status" data-state="connecting">"Connecting…"</span> }.into_any()
        } else if tailing && holding.get() {
            view! { <span class="feed-status" data-test="live-status" data-state="held" title="New events wait while the pointer is on the list"><span class="pulse-dot pulse-idle"></span>"Live · held"</span> }.into_any()
        } else if tailing {
            view! { <span class="feed-status feed-status-live" data-test="live-status" data-state="live"><span class="pulse-dot"></span>"Live"</span> }.into_any()
        } else {
            view! { <span class="feed-status" data-test="live-status" data-state="paused">"Paused"</span> }.into_any()
        }
    };
    let notice = if !enabled {
        (!page.list.rows.is_empty()).then(|| view! {
            <div class="notice" data-test="stream-off-notice"><Icon name="alert" />
                "The event stream is off: this is the history recorded while it was on. An administrator can turn it on in "
                <A href="/settings">"Settings → Pollers"</A>"."
            </div>
        }.into_any())
    } else if page.stream_state.as_str() != "connected" {
        let since = page
            .stream_since
            .as_ref()
            .map(short_utc)
            .map(|t| format!(" since {t}"))
            .unwrap_or_default();
        let what = match page.stream_state.as_str() {
            "connecting" => "is connecting to",
            _ => "has lost",
        };
        Some(view! {
            <div class="notice notice-error" data-test="stream-down" data-state=page.stream_state.to_string()><Icon name="plug" />
                {format!("Halite {what} the Salt event bus{since}. New events appear once it reconnects; keys and jobs are re-synced by polling meanwhile.")}
            </div>
        }.into_any())
    } else {
        None
    };
    let dropped = move || {
        let d = live.dropped.get();
        (d > 0).then(|| view! {
            <div class="notice" data-test="dropped"><Icon name="alert" />
                {format!("This browser fell behind the event stream and skipped {d} event{}; the list below is read from the database and complete.", if d == 1 { "" } else { "s" })}
            </div>
        })
    };
    let exports = (page.list.total > 0).then(|| {
        export_links(
            &s,
            "/api/activity/export",
            page.list.total,
            "event",
            "activity-export",
        )
    });
    let pager = view! {
        <Pager params=s.clone() total=page.list.total page=page.list.page per_page=page.list.per_page noun="event"
            prev_label="← Newer" next_label="Older →" total_test="activity-total" />
    };
    let body = if page.list.rows.is_empty() {
        if !enabled && !s.filtered() {
            view! {
                <EmptyState test="stream-off" icon="pulse" title="The event stream is off">
                    <p>"The event stream is off. An administrator can turn it on in "<A href="/settings">"Settings → Pollers"</A>"."</p>
                    <p class="muted small">"Once it is on, every job, return, key change and minion start shows up here as it happens."</p>
                </EmptyState>
            }.into_any()
        } else if s.filtered() {
            view! { <NoMatch path="/activity" what="events" icon="pulse" test="activity-no-match" /> }.into_any()
        } else {
            view! {
                <EmptyState test="activity-empty" icon="pulse" title="No events yet">
                    <p>"The stream is listening. Run a job, accept a key or start a minion and it shows up here within a second."</p>
                </EmptyState>
            }.into_any()
        }
    } else {
        view! {
            <div class="table-wrap" on:mouseenter=move |_| holding.set(true) on:mouseleave=move |_| holding.set(false)>
                <table class="table feed-table" data-test="activity-table"><caption class="sr-only">"Salt events, newest first"</caption>
                    <thead>
                        <tr>
                            <th>"Time (UTC)"</th><th>"Event"</th><th>"Minion"</th><th>"Function / job"</th>
                            <th>"Initiator"</th><th>"Target"</th><th class="num">"Duration"</th><th>"Summary"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {page.list.rows.into_iter().map(|e| { let fresh = e.id > fresh_after; view! { <EventRow fresh e open /> } }).collect_view()}
                    </tbody>
                </table>
            </div>
        }.into_any()
    };
    view! {
        <div class="toolbar feed-toolbar">
            <FilterChips chips label="Filter by category" key=ChipKey::Category />
            <A href=live_href attr:class=if paused { "toggle" } else { "toggle toggle-on" } attr:data-test="toggle-live"
                attr:title="Show new events as they arrive (page 1)">
                <span class="toggle-dot"></span>"Live tail"
            </A>
            {status}
            {pill}
        </div>
        {notice}
        {dropped}
        {exports}
        {body}
        {pager}
    }
}

/// Did the click land on a link or button inside the row (those do their own thing)?
pub(crate) fn on_control(ev: &leptos::ev::MouseEvent) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        ev.target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("a, button").ok().flatten())
            .is_some()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        false
    }
}

#[component]
fn EventRow(e: ActivityEvent, fresh: bool, open: Callback<ActivityEvent>) -> impl IntoView {
    let (badge_class, badge_label) = event_badge(&e);
    let (date, time) = date_and_time(&e.ts);
    let full_time = short_utc(&e.ts);
    let minion = e.minion_id.clone().map(|m| {
        let href = format!("/minions/{}", url_path_escape(&m));
        view! { <A href=href>{m}</A> }
    });
    let job = match (e.jid.clone(), e.fun.clone()) {
        (Some(jid), fun) => {
            let href = format!("/jobs/{jid}");
            let label = fun.unwrap_or_else(|| jid.clone());
            Some(view! { <A href=href attr:class="mono">{label}</A><div class="muted small mono">{jid}</div> }.into_any())
        }
        (None, Some(fun)) => Some(view! { <span class="mono">{fun}</span> }.into_any()),
        (None, None) => None,
    };
    let dash = || view! { <span class="muted">"—"</span> };
    let target = e.target.clone();
    let target_title = target.clone().unwrap_or_default();
    let row = e.clone();
    let detail = e.clone();
    view! {
        <tr class="feed-row" class:feed-fresh=fresh data-id=e.id data-category=e.category.to_string()
            data-event-type=e.event_type.clone() data-outcome=e.outcome().unwrap_or("")
            on:click=move |ev| { if !on_control(&ev) { open.run(row.clone()) } }>
            <td class="nowrap" title=full_time><span class="feed-time">{time}</span><div class="muted small">{date}</div></td>
            <td><span class=badge_class data-test="event-badge">{badge_label}</span></td>
            <td class="mono feed-minion-cell">{minion.map(|m| m.into_any()).unwrap_or_else(|| dash().into_any())}</td>
            <td>{job.unwrap_or_else(|| dash().into_any())}</td>
            <td>{e.initiator.clone().map(|i| view! { <span>{i}</span> }.into_any()).unwrap_or_else(|| dash().into_any())}</td>
            <td class="mono feed-clip" title=target_title>{target.map(|t| view! { <span>{t}</span> }.into_any()).unwrap_or_else(|| dash().into_any())}</td>
            <td class="num nowrap">{e.duration_ms.map(duration_text).unwrap_or_else(|| "—".into())}</td>
            <td class="feed-summary">
                <span>{e.summary.clone()}</span>
                <button type="button" class="feed-raw-button" title="Show the raw Salt event" aria-label="Show the raw Salt event"
                    on:click=move |_| open.run(detail.clone())>"{ }"</button>
            </td>
        </tr>
    }
}
