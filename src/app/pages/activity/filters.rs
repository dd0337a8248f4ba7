//! The Activity filter bar and the category chips.

use super::{event_type_label, ActivityQuery};
use crate::app::api::activity::{EVENT_TYPES, RANGES};
use crate::app::components::list::{input_text, Chip, FilterInput, FilterSelect};
use crate::model::list::ActivityFilters;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// The filter bar: a plain GET form (works before hydration), applied with client-side
/// navigation; selects and checkboxes apply at once.
#[component]
pub(super) fn Filters(state: Memo<ActivityQuery>, cats: Vec<String>) -> impl IntoView {
    let navigate = use_navigate();
    let q_ref = NodeRef::<leptos::html::Input>::new();
    let minion_ref = NodeRef::<leptos::html::Input>::new();
    let type_ref = NodeRef::<leptos::html::Select>::new();
    let range_ref = NodeRef::<leptos::html::Select>::new();
    let routine_ref = NodeRef::<leptos::html::Input>::new();
    let dispatch_ref = NodeRef::<leptos::html::Input>::new();
    let apply = move || {
        let cur = state.get_untracked();
        let filters = ActivityFilters {
            minion: input_text(minion_ref),
            event_type: type_ref.get().map(|e| e.value()).unwrap_or_default(),
            range: range_ref.get().map(|e| e.value()).unwrap_or_default(),
            hide_routine: routine_ref.get().is_some_and(|e| e.checked()),
            hide_dispatch: dispatch_ref.get().is_some_and(|e| e.checked()),
            ..cur.filters.clone()
        };
        let next = cur.with_q(&input_text(q_ref)).with_filters(filters);
        navigate(&next.href(), Default::default());
    };
    let on_change = {
        let apply = apply.clone();
        move |_| apply()
    };
    let (c1, c2, c3) = (on_change.clone(), on_change.clone(), on_change.clone());
    let init = state.get_untracked();
    let types: Vec<(&'static str, &'static str)> = std::iter::once(("", "All events"))
        .chain(
            EVENT_TYPES
                .iter()
                .copied()
                .filter(|t| {
                    let kind = t.split('.').next().unwrap_or("");
                    kind == "stream" || cats.iter().any(|c| c == kind)
                })
                .map(|t| (t, event_type_label(t))),
        )
        .collect();
    let ranges: Vec<(&'static str, &'static str)> = std::iter::once(("", "Any time"))
        .chain(RANGES.iter().map(|(r, _)| {
            let label = match *r {
                "1h" => "Last hour",
                "24h" => "Last 24 h",
                "7d" => "Last 7 days",
                _ => "Last 30 days",
            };
            (*r, label)
        }))
        .collect();
    view! {
        <form method="get" action="/activity" class="feed-filters" role="search" aria-label="Activity filters"
            on:submit=move |ev| {
                ev.prevent_default();
                apply();
            }>
            <FilterInput class="feed-field feed-grow" label="Search" kind="search" name="q" placeholder="Summary, function, user, JID…"
                title="Matches the summary, minion, function, initiator, target and JID" maxlength=200
                test="activity-search" node_ref=q_ref initial=init.q.clone() value=Signal::derive(move || state.get().q) />
            <FilterInput class="feed-field feed-minion" label="Minion" kind="text" name="minion" placeholder="any"
                maxlength=255 test="activity-minion" node_ref=minion_ref
                initial=init.filters.minion.clone() value=Signal::derive(move || state.get().filters.minion) />
            <FilterSelect class="feed-field" label="Event" name="event_type" test="activity-type" node_ref=type_ref
                options=types selected=init.filters.event_type.clone()
                value=Signal::derive(move || state.get().filters.event_type) on_change />
            <FilterSelect class="feed-field" label="Time" name="range" test="activity-range" node_ref=range_ref
                options=ranges selected=init.filters.range.clone()
                value=Signal::derive(move || state.get().filters.range) on_change=c1 />
            <label class="field checkbox-field feed-check" title="Hide job returns that succeeded without changes">
                <input type="checkbox" name="hide_routine" value="true" node_ref=routine_ref on:change=c2
                    checked=init.filters.hide_routine prop:checked=move || state.get().filters.hide_routine data-test="hide-routine" />
                <span>"Hide routine"</span>
            </label>
            <label class="field checkbox-field feed-check" title="Hide job.new (dispatch) rows">
                <input type="checkbox" name="hide_dispatch" value="true" node_ref=dispatch_ref on:change=c3
                    checked=init.filters.hide_dispatch prop:checked=move || state.get().filters.hide_dispatch data-test="hide-dispatch" />
                <span>"Hide dispatch"</span>
            </label>
            <input type="hidden" name="category" value=init.filters.category.clone() prop:value=move || state.get().filters.category />
            <input type="hidden" name="per_page" value=init.per_page.to_string() prop:value=move || state.get().per_page.to_string() />
            {move || state.get().filters.paused.then(|| view! { <input type="hidden" name="live" value="off" /> })}
            <button type="submit" class="button">"Apply"</button>
        </form>
    }
}

/// One chip per category this user may see, and "All"; a category change drops an event type of
/// another category.
pub(super) fn category_chips(s: &ActivityQuery, categories: &[impl ToString]) -> Vec<Chip> {
    std::iter::once(String::new())
        .chain(categories.iter().map(|c| c.to_string()))
        .map(|c| {
            let f = &s.filters;
            let keep_type = f.event_type.is_empty()
                || c.is_empty()
                || f.event_type.starts_with(&format!("{c}."));
            let filters = ActivityFilters {
                category: c.clone(),
                event_type: if keep_type {
                    f.event_type.clone()
                } else {
                    String::new()
                },
                ..f.clone()
            };
            Chip {
                href: s.with_filters(filters).href(),
                label: category_label(&c).to_string(),
                active: f.category == c,
                value: c,
                count: None,
            }
        })
        .collect()
}

fn category_label(c: &str) -> &'static str {
    match c {
        "job" => "Jobs",
        "key" => "Keys",
        "minion" => "Minions",
        _ => "All",
    }
}
