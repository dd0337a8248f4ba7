//! Activity (SPEC 6.2): the fleet's Salt events from `activity_events`, newest first, with the
//! filters and paging in the URL, a live tail fed by the tab's event stream
//! ([`crate::app::live`]), and a drawer with the raw Salt event behind a row.
//!
//! The page and the row formats are here; the filter bar in [`filters`], the table with its
//! toolbar and pager in [`table`], the raw-event drawer in [`drawer`].

mod drawer;
mod filters;
mod table;

use crate::app::api::activity::{list_activity, raw_event, ActivityEvent};
use crate::app::components::list::use_list_params;
use crate::app::live::use_live;
use crate::app::nav::may_view_kind;
use crate::app::pages::{load_view, short_utc, PageHeader};
use crate::app::{me_resource, me_value};
use crate::model::list::{ActivityFilters, ListParams};
use chrono::{DateTime, Utc};
use drawer::EventDrawer;
use filters::Filters;
use leptos::prelude::*;
pub(crate) use table::on_control;
use table::ActivityBody;

/// The page's state, as in the URL.
pub type ActivityQuery = ListParams<ActivityFilters>;

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

/// `1234` → `1.2 s`.
pub fn duration_text(ms: i64) -> String {
    crate::model::time::duration_ms_text(ms as f64)
}

/// `2026-11-27T08:53:05.123Z` → (`2026-11-27`, `08:53:05`).
pub fn date_and_time(ts: &DateTime<Utc>) -> (String, String) {
    let t = short_utc(ts);
    let t = t.trim_end_matches(" UTC");
    match t.split_once(' ') {
        Some((d, tm)) => (d.to_string(), tm.to_string()),
        None => (String::new(), t.to_string()),
    }
}

/// `/activity`.
#[component]
pub fn ActivityPage() -> impl IntoView {
    let state = use_list_params::<ActivityFilters>();
    let live = use_live();
    // Live tail: on page 1 and not paused, every (debounced) activity bump refetches.
    // While the pointer rests on the list the tail holds still (rows must not move under a
    // click) and catches up when it leaves.
    let holding = RwSignal::new(false);
    let tail = Memo::new(move |prev: Option<&u64>| {
        let s = state.get();
        if s.filters.paused || s.page > 1 {
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
            let f = s.filters;
            list_activity(
                f.category,
                f.event_type,
                f.minion,
                s.q,
                f.hide_routine,
                f.hide_dispatch,
                f.range,
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
        {load_view("Loading activity…", data, state, move |page, s| {
            let top = page.list.rows.first().map(|e| e.id).unwrap_or(0);
            let (prev_s, prev_top) = last_top.get_value();
            let fresh_after = if prev_s == s && prev_top > 0 { prev_top } else { i64::MAX };
            last_top.set_value((s.clone(), top));
            // A new table under a resting pointer gets no mouseleave: start unheld.
            if holding.get_untracked() {
                holding.set(false);
            }
            view! { <ActivityBody page s live holding fresh_after open refetch /> }
        })}
        {move || selected.get().map(|e| view! { <EventDrawer e raw close /> })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event_type: &str) -> ActivityEvent {
        ActivityEvent {
            id: 1,
            ts: "2026-11-27T08:53:05.123Z".parse().unwrap(),
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

    /// The list with these filters (and no search).
    fn with(f: ActivityFilters) -> ActivityQuery {
        ListParams {
            filters: f,
            ..Default::default()
        }
    }

    #[test]
    fn client_side_filters_follow_the_server() {
        let ok = ev("job.ret");
        let none = ActivityFilters::default();
        assert!(with(none.clone()).matches(&ok));
        let routine = with(ActivityFilters {
            hide_routine: true,
            ..none.clone()
        });
        assert!(!routine.matches(&ok));
        let mut changed = ok.clone();
        changed.changed = Some(true);
        assert!(routine.matches(&changed));
        assert!(!with(ActivityFilters {
            hide_dispatch: true,
            ..none.clone()
        })
        .matches(&ev("job.new")));
        assert!(!with(ActivityFilters {
            category: "key".into(),
            ..none.clone()
        })
        .matches(&ok));
        assert!(with(none.clone()).with_q("PING").matches(&ok));
        assert!(!with(none.clone()).with_q("pong").matches(&ok));
        assert!(with(ActivityFilters {
            minion: "web-01".into(),
            ..none.clone()
        })
        .matches(&ok));
        assert!(!with(ActivityFilters {
            minion: "web-0".into(),
            ..none
        })
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
            date_and_time(&"2026-11-27T08:53:05.123Z".parse().unwrap()),
            ("2026-11-27".into(), "08:53:05".into())
        );
    }
}
