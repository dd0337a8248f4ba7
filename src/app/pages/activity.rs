//! Activity (SPEC 6.2): the fleet's Salt events from `activity_events`, newest first, with the
//! filters and paging in the URL, a live tail fed by the tab's event stream
//! ([`crate::app::live`]), and a drawer with the raw Salt event behind a row.

use crate::app::api::activity::{
    list_activity, raw_event, ActivityEvent, ActivityPage as ActivityData, RawEventView,
    EVENT_TYPES, RANGES,
};
use crate::app::api::overview::url_path_escape;
use crate::app::components::icons::Icon;
use crate::app::live::{use_live, LiveBus};
use crate::app::nav::may_view_kind;
use crate::app::pages::{short_time, ErrorPanel, PageHeader};
use crate::app::{me_resource, me_value};
use crate::error::AppError;
use crate::model::activity::StreamStatus;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

/// Page sizes offered.
pub const PAGE_SIZES: &[i64] = &[50, 100, 500];

/// The page's state, as in the URL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivityQuery {
    pub category: String,
    pub event_type: String,
    pub minion: String,
    pub q: String,
    pub hide_routine: bool,
    pub hide_dispatch: bool,
    pub range: String,
    pub page: i64,
    pub per_page: i64,
    /// Live tail paused (`live=off`).
    pub paused: bool,
}

impl ActivityQuery {
    /// From the URL query.
    pub fn from_query(get: impl Fn(&str) -> String) -> Self {
        ActivityQuery {
            category: get("category"),
            event_type: get("event_type"),
            minion: get("minion").trim().to_string(),
            q: get("q").trim().to_string(),
            hide_routine: get("hide_routine") == "true",
            hide_dispatch: get("hide_dispatch") == "true",
            range: get("range"),
            page: get("page").parse().unwrap_or(1).max(1),
            per_page: get("per_page").parse().unwrap_or(50),
            paused: get("live") == "off",
        }
    }

    /// The URL for this state (defaults left out).
    pub fn href(&self) -> String {
        let mut parts = vec![];
        if !self.category.is_empty() {
            parts.push(format!("category={}", url_path_escape(&self.category)));
        }
        if !self.event_type.is_empty() {
            parts.push(format!("event_type={}", url_path_escape(&self.event_type)));
        }
        if !self.minion.is_empty() {
            parts.push(format!("minion={}", url_path_escape(&self.minion)));
        }
        if !self.q.is_empty() {
            parts.push(format!("q={}", url_path_escape(&self.q)));
        }
        if self.hide_routine {
            parts.push("hide_routine=true".into());
        }
        if self.hide_dispatch {
            parts.push("hide_dispatch=true".into());
        }
        if !self.range.is_empty() {
            parts.push(format!("range={}", url_path_escape(&self.range)));
        }
        if self.page > 1 {
            parts.push(format!("page={}", self.page));
        }
        if self.per_page != 0 && self.per_page != 50 {
            parts.push(format!("per_page={}", self.per_page));
        }
        if self.paused {
            parts.push("live=off".into());
        }
        if parts.is_empty() {
            "/activity".into()
        } else {
            format!("/activity?{}", parts.join("&"))
        }
    }

    /// Any filter that hides events.
    pub fn filtered(&self) -> bool {
        !self.category.is_empty()
            || !self.event_type.is_empty()
            || !self.minion.is_empty()
            || !self.q.is_empty()
            || self.hide_routine
            || self.hide_dispatch
            || !self.range.is_empty()
    }

    /// Whether a (new) event passes the filters, as the server's query would decide. The time
    /// range is not checked: a new event is inside any range.
    pub fn matches(&self, e: &ActivityEvent) -> bool {
        if !self.category.is_empty() && e.category.as_str() != self.category {
            return false;
        }
        if !self.event_type.is_empty() && e.event_type != self.event_type {
            return false;
        }
        if !self.minion.is_empty() && e.minion_id.as_deref() != Some(self.minion.as_str()) {
            return false;
        }
        if self.hide_dispatch && e.event_type == "job.new" {
            return false;
        }
        if self.hide_routine && e.outcome() == Some("ok") {
            return false;
        }
        if !self.q.is_empty() {
            let hay = [
                Some(e.summary.as_str()),
                e.minion_id.as_deref(),
                e.fun.as_deref(),
                e.initiator.as_deref(),
                e.target.as_deref(),
                e.jid.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
            if !hay.contains(&self.q.to_lowercase()) {
                return false;
            }
        }
        true
    }
}

/// Badge class and label for a row: the outcome for job returns, else the event type.
pub fn event_badge(e: &ActivityEvent) -> (&'static str, String) {
    if let Some(o) = e.outcome() {
        return match o {
            "failed" => ("badge badge-bad", "Failed".into()),
            "changes" => ("badge badge-warn", "Changes".into()),
            _ => ("badge badge-ok", "OK".into()),
        };
    }
    let (class, label) = match e.event_type.as_str() {
        "job.new" => ("badge ev-dispatch", "Dispatched"),
        "key.accept" => ("badge ev-key", "Key accepted"),
        "key.reject" => ("badge ev-key-bad", "Key rejected"),
        "key.delete" => ("badge ev-key-bad", "Key deleted"),
        "key.pend" => ("badge ev-key-pend", "Key pending"),
        "minion.start" => ("badge ev-minion", "Minion started"),
        "stream.gap" => ("badge ev-gap", "Stream gap"),
        other => return ("badge ev-other", other.to_string()),
    };
    (class, label.into())
}

/// Human label of an event type (the filter select).
pub fn event_type_label(t: &str) -> &'static str {
    match t {
        "job.new" => "Job dispatched",
        "job.ret" => "Job returned",
        "key.accept" => "Key accepted",
        "key.reject" => "Key rejected",
        "key.delete" => "Key deleted",
        "key.pend" => "Key pending",
        "minion.start" => "Minion started",
        "stream.gap" => "Stream gap",
        _ => "Other",
    }
}

fn category_label(c: &str) -> &'static str {
    match c {
        "job" => "Jobs",
        "key" => "Keys",
        "minion" => "Minions",
        _ => "All",
    }
}

/// `1234` → `1.2 s`.
pub fn duration_text(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{}m {:02}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// `2026-11-27T08:53:05.123Z` → (`2026-11-27`, `08:53:05`).
pub fn date_and_time(ts: &str) -> (String, String) {
    let t = short_time(ts);
    let t = t.trim_end_matches(" UTC");
    match t.split_once(' ') {
        Some((d, tm)) => (d.to_string(), tm.to_string()),
        None => (String::new(), t.to_string()),
    }
}

/// `/activity`.
#[component]
pub fn ActivityPage() -> impl IntoView {
    let query = use_query_map();
    let state = Memo::new(move |_| {
        let m = query.get();
        ActivityQuery::from_query(|k| m.get(k).unwrap_or_default())
    });
    let live = use_live();
    // Live tail: on page 1 and not paused, every (debounced) activity bump refetches.
    // While the pointer rests on the list the tail holds still (rows must not move under a
    // click) and catches up when it leaves.
    let holding = RwSignal::new(false);
    let tail = Memo::new(move |prev: Option<&u64>| {
        let s = state.get();
        if s.paused || s.page > 1 {
            0
        } else if holding.get() {
            prev.copied().unwrap_or(0)
        } else {
            live.activity.get()
        }
    });
    let data = Resource::new(
        move || (state.get(), tail.get()),
        |(s, _)| {
            list_activity(
                s.category,
                s.event_type,
                s.minion,
                s.q,
                s.hide_routine,
                s.hide_dispatch,
                s.range,
                0,
                0,
                s.page,
                s.per_page,
            )
        },
    );
    let me_res = me_resource();
    let raw = Action::new(|id: &i64| raw_event(*id));
    let selected = RwSignal::new(None::<ActivityEvent>);
    let open = Callback::new(move |e: ActivityEvent| {
        raw.dispatch(e.id);
        selected.set(Some(e));
    });
    let close = Callback::new(move |_: ()| selected.set(None));
    let esc = window_event_listener(leptos::ev::keydown, move |e| {
        if e.key() == "Escape" {
            selected.set(None);
        }
    });
    on_cleanup(move || esc.remove());
    // The newest row shown last time for these filters: rows above it flash as new.
    let last_top = StoredValue::new((ActivityQuery::default(), 0i64));
    let refetch = Callback::new(move |_: ()| data.refetch());
    view! {
        <PageHeader title="Activity" subtitle="Jobs, returns, key changes and minion starts from the Salt event bus, newest first" />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let me = me_value(me_res).await;
                let cats: Vec<String> = ["job", "key", "minion"]
                    .into_iter()
                    .filter(|k| me.as_ref().is_some_and(|m| may_view_kind(&m.permissions, k)))
                    .map(String::from)
                    .collect();
                view! { <Filters state cats /> }
            })}
        </Suspense>
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading activity…"</div> }>
            {move || Suspend::new(async move {
                let s = state.get_untracked();
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    Ok(page) => {
                        let top = page.events.first().map(|e| e.id).unwrap_or(0);
                        let (prev_s, prev_top) = last_top.get_value();
                        let fresh_after = if prev_s == s && prev_top > 0 { prev_top } else { i64::MAX };
                        last_top.set_value((s.clone(), top));
                        // A new table under a resting pointer gets no mouseleave: start unheld.
                        if holding.get_untracked() {
                            holding.set(false);
                        }
                        view! { <ActivityBody page s live holding fresh_after open refetch /> }.into_any()
                    }
                }
            })}
        </Transition>
        {move || selected.get().map(|e| view! { <EventDrawer e raw close /> })}
    }
}

/// The filter bar: a plain GET form (works before hydration), applied with client-side
/// navigation; selects and checkboxes apply at once.
#[component]
fn Filters(state: Memo<ActivityQuery>, cats: Vec<String>) -> impl IntoView {
    let navigate = use_navigate();
    let q_ref = NodeRef::<leptos::html::Input>::new();
    let minion_ref = NodeRef::<leptos::html::Input>::new();
    let type_ref = NodeRef::<leptos::html::Select>::new();
    let range_ref = NodeRef::<leptos::html::Select>::new();
    let routine_ref = NodeRef::<leptos::html::Input>::new();
    let dispatch_ref = NodeRef::<leptos::html::Input>::new();
    let apply = move || {
        let cur = state.get_untracked();
        let next = ActivityQuery {
            q: q_ref
                .get()
                .map(|e| e.value().trim().to_string())
                .unwrap_or_default(),
            minion: minion_ref
                .get()
                .map(|e| e.value().trim().to_string())
                .unwrap_or_default(),
            event_type: type_ref.get().map(|e| e.value()).unwrap_or_default(),
            range: range_ref.get().map(|e| e.value()).unwrap_or_default(),
            hide_routine: routine_ref.get().is_some_and(|e| e.checked()),
            hide_dispatch: dispatch_ref.get().is_some_and(|e| e.checked()),
            page: 1,
            ..cur
        };
        navigate(&next.href(), Default::default());
    };
    let on_change = {
        let apply = apply.clone();
        move |_| apply()
    };
    let (c1, c2, c3) = (on_change.clone(), on_change.clone(), on_change.clone());
    let init = state.get_untracked();
    let types: Vec<&'static str> = EVENT_TYPES
        .iter()
        .copied()
        .filter(|t| {
            let kind = t.split('.').next().unwrap_or("");
            kind == "stream" || cats.iter().any(|c| c == kind)
        })
        .collect();
    view! {
        <form method="get" action="/activity" class="feed-filters" role="search" aria-label="Activity filters"
            on:submit=move |ev| {
                ev.prevent_default();
                apply();
            }>
            <label class="field feed-field feed-grow">
                <span class="field-label">"Search"</span>
                <input type="search" name="q" placeholder="Summary, function, user, JID…" title="Matches the summary, minion, function, initiator, target and JID" maxlength="200"
                    node_ref=q_ref value=init.q.clone() prop:value=move || state.get().q data-test="activity-search" />
            </label>
            <label class="field feed-field feed-minion">
                <span class="field-label">"Minion"</span>
                <input type="text" name="minion" placeholder="any" maxlength="255"
                    node_ref=minion_ref value=init.minion.clone() prop:value=move || state.get().minion data-test="activity-minion" />
            </label>
            <label class="field feed-field">
                <span class="field-label">"Event"</span>
                <select name="event_type" node_ref=type_ref on:change=on_change data-test="activity-type"
                    prop:value=move || state.get().event_type>
                    <option value="" selected=init.event_type.is_empty()>"All events"</option>
                    {types.into_iter().map(|t| view! {
                        <option value=t selected=init.event_type == t>{event_type_label(t)}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="field feed-field">
                <span class="field-label">"Time"</span>
                <select name="range" node_ref=range_ref on:change=c1 data-test="activity-range"
                    prop:value=move || state.get().range>
                    <option value="" selected=init.range.is_empty()>"Any time"</option>
                    {RANGES.iter().map(|(r, _)| {
                        let label = match *r { "1h" => "Last hour", "24h" => "Last 24 h", "7d" => "Last 7 days", _ => "Last 30 days" };
                        view! { <option value=*r selected=init.range == *r>{label}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="field checkbox-field feed-check" title="Hide job returns that succeeded without changes">
                <input type="checkbox" name="hide_routine" value="true" node_ref=routine_ref on:change=c2
                    checked=init.hide_routine prop:checked=move || state.get().hide_routine data-test="hide-routine" />
                <span>"Hide routine"</span>
            </label>
            <label class="field checkbox-field feed-check" title="Hide job.new (dispatch) rows">
                <input type="checkbox" name="hide_dispatch" value="true" node_ref=dispatch_ref on:change=c3
                    checked=init.hide_dispatch prop:checked=move || state.get().hide_dispatch data-test="hide-dispatch" />
                <span>"Hide dispatch"</span>
            </label>
            <input type="hidden" name="category" value=init.category.clone() prop:value=move || state.get().category />
            <input type="hidden" name="per_page" value=init.per_page.to_string() prop:value=move || state.get().per_page.to_string() />
            {move || state.get().paused.then(|| view! { <input type="hidden" name="live" value="off" /> })}
            <button type="submit" class="button">"Apply"</button>
        </form>
    }
}

#[component]
fn ActivityBody(
    page: ActivityData,
    s: ActivityQuery,
    live: LiveBus,
    holding: RwSignal<bool>,
    fresh_after: i64,
    open: Callback<ActivityEvent>,
    refetch: Callback<()>,
) -> impl IntoView {
    let chips = std::iter::once(String::new())
        .chain(page.categories.iter().map(|c| c.to_string()))
        .map(|c| {
            let active = s.category == c;
            // A category change drops an event type of another category.
            let keep_type = s.event_type.is_empty() || c.is_empty() || s.event_type.starts_with(&format!("{c}."));
            let href = ActivityQuery {
                category: c.clone(),
                event_type: if keep_type { s.event_type.clone() } else { String::new() },
                page: 1,
                ..s.clone()
            }
            .href();
            let label = category_label(&c);
            view! { <A href=href attr:class=if active { "chip chip-active" } else { "chip" } attr:data-category=c>{label}</A> }
        })
        .collect_view();
    let tailing = !s.paused && s.page <= 1;
    let live_href = ActivityQuery {
        paused: !s.paused,
        page: 1,
        ..s.clone()
    }
    .href();
    let enabled = page.stream_enabled;
    // "N new events" while paused on page 1: what the stream brought that these filters show.
    let newest = page.events.first().map(|e| e.id).unwrap_or(0);
    let pill = (s.paused && s.page <= 1).then(|| {
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
        (!page.events.is_empty()).then(|| view! {
            <div class="notice" data-test="stream-off-notice"><Icon name="alert" />
                "The event stream is off: this is the history recorded while it was on. An administrator can turn it on in "
                <A href="/settings">"Settings → Pollers"</A>"."
            </div>
        }.into_any())
    } else if page.stream_state != StreamStatus::Connected {
        let since = page
            .stream_since
            .as_deref()
            .map(short_time)
            .map(|t| format!(" since {t}"))
            .unwrap_or_default();
        let what = match page.stream_state {
            StreamStatus::Connecting => "is connecting to",
            _ => "has lost",
        };
        Some(view! {
            <div class="notice notice-error" data-test="stream-down" data-state=page.stream_state.as_str()><Icon name="plug" />
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
    let pages = ((page.total + page.per_page - 1) / page.per_page.max(1)).max(1);
    let prev = (page.page > 1).then(|| {
        ActivityQuery {
            page: page.page - 1,
            ..s.clone()
        }
        .href()
    });
    let next = (page.page < pages).then(|| {
        ActivityQuery {
            page: page.page + 1,
            ..s.clone()
        }
        .href()
    });
    let sizes = PAGE_SIZES
        .iter()
        .map(|n| {
            let href = ActivityQuery { per_page: *n, page: 1, ..s.clone() }.href();
            let active = page.per_page == *n;
            view! { <A href=href attr:class=if active { "page-size active" } else { "page-size" }>{n.to_string()}</A> }
        })
        .collect_view();
    let body = if page.events.is_empty() {
        if !enabled && !s.filtered() {
            view! {
                <div class="panel state-panel" data-test="stream-off">
                    <Icon name="pulse" />
                    <h2>"The event stream is off"</h2>
                    <p>"The event stream is off. An administrator can turn it on in "<A href="/settings">"Settings → Pollers"</A>"."</p>
                    <p class="muted small">"Once it is on, every job, return, key change and minion start shows up here as it happens."</p>
                </div>
            }.into_any()
        } else if s.filtered() {
            view! {
                <div class="panel state-panel" data-test="activity-no-match">
                    <Icon name="pulse" />
                    <h2>"No events match"</h2>
                    <p><A href="/activity">"Clear the search and filters"</A></p>
                </div>
            }
            .into_any()
        } else {
            view! {
                <div class="panel state-panel" data-test="activity-empty">
                    <Icon name="pulse" />
                    <h2>"No events yet"</h2>
                    <p>"The stream is listening. Run a job, accept a key or start a minion and it shows up here within a second."</p>
                </div>
            }.into_any()
        }
    } else {
        view! {
            <div class="table-wrap" on:mouseenter=move |_| holding.set(true) on:mouseleave=move |_| holding.set(false)>
                <table class="table feed-table" data-test="activity-table">
                    <thead>
                        <tr>
                            <th>"Time (UTC)"</th><th>"Event"</th><th>"Minion"</th><th>"Function / job"</th>
                            <th>"Initiator"</th><th>"Target"</th><th class="num">"Duration"</th><th>"Summary"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {page.events.into_iter().map(|e| { let fresh = e.id > fresh_after; view! { <EventRow fresh e open /> } }).collect_view()}
                    </tbody>
                </table>
            </div>
        }.into_any()
    };
    view! {
        <div class="toolbar feed-toolbar">
            <div class="chips" role="group" aria-label="Filter by category">{chips}</div>
            <A href=live_href attr:class=if s.paused { "toggle" } else { "toggle toggle-on" } attr:data-test="toggle-live"
                attr:title="Show new events as they arrive (page 1)">
                <span class="toggle-dot"></span>"Live tail"
            </A>
            {status}
            {pill}
        </div>
        {notice}
        {dropped}
        {body}
        <div class="pager">
            <span class="muted" data-test="activity-total">{format!("{} event{} · page {} of {}", page.total, if page.total == 1 { "" } else { "s" }, page.page, pages)}</span>
            <span class="pager-spacer"></span>
            <span class="muted small">"Per page"</span>
            {sizes}
            {match prev { Some(h) => view! { <A href=h attr:class="button" attr:rel="prev">"← Newer"</A> }.into_any(), None => view! { <span class="button disabled">"← Newer"</span> }.into_any() }}
            {match next { Some(h) => view! { <A href=h attr:class="button" attr:rel="next">"Older →"</A> }.into_any(), None => view! { <span class="button disabled">"Older →"</span> }.into_any() }}
        </div>
    }
}

/// Did the click land on a link or button inside the row (those do their own thing)?
fn on_control(ev: &leptos::ev::MouseEvent) -> bool {
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
    let full_time = short_time(&e.ts);
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
        <tr class="feed-row" class:feed-fresh=fresh data-id=e.id data-category=e.category.as_str()
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

#[component]
fn EventDrawer(
    e: ActivityEvent,
    raw: Action<i64, Result<RawEventView, AppError>>,
    close: Callback<()>,
) -> impl IntoView {
    let (badge_class, badge_label) = event_badge(&e);
    let id = e.id;
    let fact = |label: &'static str, v: Option<AnyView>| {
        view! { <dt>{label}</dt><dd>{v.unwrap_or_else(|| view! { <span class="muted">"—"</span> }.into_any())}</dd> }
    };
    let text = |s: Option<String>| s.map(|s| view! { <span>{s}</span> }.into_any());
    let job = e.jid.clone().map(|j| {
        let href = format!("/jobs/{j}");
        view! { <A href=href attr:class="mono">{j}</A> }.into_any()
    });
    let minion = e.minion_id.clone().map(|m| {
        let href = format!("/minions/{}", url_path_escape(&m));
        view! { <A href=href>{m}</A> }.into_any()
    });
    let body = move || match raw.value().get() {
        Some(Ok(v)) if v.id == id => {
            view! { <pre class="raw-json feed-raw" data-test="raw-event">{v.raw_json}</pre> }
                .into_any()
        }
        Some(Err(err)) if !raw.pending().get() => {
            view! { <div class="notice notice-error" role="alert">{err.to_string()}</div> }
                .into_any()
        }
        _ => view! { <p class="muted">"Loading the raw event…"</p> }.into_any(),
    };
    view! {
        <div class="modal-backdrop" on:click=move |_| close.run(())></div>
        <aside class="feed-drawer" role="dialog" aria-modal="true" aria-labelledby="event-drawer-title" data-test="event-drawer">
            <div class="feed-drawer-head">
                <span class=badge_class>{badge_label}</span>
                <button type="button" class="icon-button" title="Close (Esc)" aria-label="Close" data-test="drawer-close"
                    on:click=move |_| close.run(())>"✕"</button>
            </div>
            <h2 id="event-drawer-title">{e.summary.clone()}</h2>
            <dl class="facts feed-facts">
                {fact("Time", text(Some(short_time(&e.ts))))}
                {fact("Event", text(Some(format!("{} ({})", event_type_label(&e.event_type), e.event_type))))}
                {fact("Minion", minion)}
                {fact("Job", job)}
                {fact("Function", text(e.fun.clone()))}
                {fact("Initiator", text(e.initiator.clone()))}
                {fact("Target", text(e.target.clone()))}
                {fact("Duration", text(e.duration_ms.map(duration_text)))}
            </dl>
            <h3 class="feed-raw-title">"Raw Salt event"</h3>
            {body}
        </aside>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event_type: &str) -> ActivityEvent {
        ActivityEvent {
            id: 1,
            ts: "2026-11-27T08:53:05.123Z".into(),
            category: event_type.split('.').next().unwrap().parse().unwrap(),
            event_type: event_type.into(),
            minion_id: Some("web-01".into()),
            jid: None,
            fun: Some("test.ping".into()),
            success: Some(true),
            changed: Some(false),
            initiator: Some("halite".into()),
            target: None,
            duration_ms: None,
            summary: "web-01 returned test.ping".into(),
        }
    }

    #[test]
    fn url_round_trip() {
        let q = ActivityQuery {
            category: "job".into(),
            event_type: "job.ret".into(),
            minion: "web 01".into(),
            q: "ping".into(),
            hide_routine: true,
            hide_dispatch: true,
            range: "24h".into(),
            page: 2,
            per_page: 100,
            paused: true,
        };
        let href = q.href();
        assert_eq!(href, "/activity?category=job&event_type=job.ret&minion=web%2001&q=ping&hide_routine=true&hide_dispatch=true&range=24h&page=2&per_page=100&live=off");
        let pairs: Vec<(String, String)> = href
            .split_once('?')
            .unwrap()
            .1
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_string(), v.replace("%20", " "))
            })
            .collect();
        let back = ActivityQuery::from_query(|k| {
            pairs
                .iter()
                .find(|(a, _)| a == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        });
        assert_eq!(back, q);
        assert_eq!(
            ActivityQuery {
                page: 1,
                per_page: 50,
                ..Default::default()
            }
            .href(),
            "/activity"
        );
    }

    #[test]
    fn client_side_filters_follow_the_server() {
        let ok = ev("job.ret");
        let all = ActivityQuery::default();
        assert!(all.matches(&ok));
        assert!(!ActivityQuery {
            hide_routine: true,
            ..all.clone()
        }
        .matches(&ok));
        let mut changed = ok.clone();
        changed.changed = Some(true);
        assert!(ActivityQuery {
            hide_routine: true,
            ..all.clone()
        }
        .matches(&changed));
        assert!(!ActivityQuery {
            hide_dispatch: true,
            ..all.clone()
        }
        .matches(&ev("job.new")));
        assert!(!ActivityQuery {
            category: "key".into(),
            ..all.clone()
        }
        .matches(&ok));
        assert!(ActivityQuery {
            q: "PING".into(),
            ..all.clone()
        }
        .matches(&ok));
        assert!(!ActivityQuery {
            q: "pong".into(),
            ..all.clone()
        }
        .matches(&ok));
        assert!(ActivityQuery {
            minion: "web-01".into(),
            ..all.clone()
        }
        .matches(&ok));
        assert!(!ActivityQuery {
            minion: "web-0".into(),
            ..all
        }
        .matches(&ok));
    }

    #[test]
    fn badges_and_formats() {
        let mut e = ev("job.ret");
        assert_eq!(event_badge(&e).1, "OK");
        e.changed = Some(true);
        assert_eq!(event_badge(&e).1, "Changes");
        e.success = Some(false);
        assert_eq!(event_badge(&e), ("badge badge-bad", "Failed".to_string()));
        assert_eq!(event_badge(&ev("key.accept")).1, "Key accepted");
        assert_eq!(duration_text(15), "15 ms");
        assert_eq!(duration_text(1500), "1.5 s");
        assert_eq!(duration_text(125_000), "2m 05s");
        assert_eq!(
            date_and_time("2026-11-27T08:53:05.123Z"),
            ("2026-11-27".into(), "08:53:05".into())
        );
    }
}
