//! The Activity filter bar and the category chips.

use super::{event_type_label, ActivityQuery};
use crate::app::api::activity::{EVENT_TYPES, RANGES};
use crate::app::components::list::{input_text, Chip};
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
                    node_ref=minion_ref value=init.filters.minion.clone() prop:value=move || state.get().filters.minion data-test="activity-minion" />
            </label>
            <label class="field feed-field">
                <span class="field-label">"Event"</span>
                <select name="event_type" node_ref=type_ref on:change=on_change data-test="activity-type"
                    prop:value=move || state.get().filters.event_type>
                    <option value="" selected=init.filters.event_type.is_empty()>"All events"</option>
                    {types.into_iter().map(|t| view! {
                        <option value=t selected=init.filters.event_type == t>{event_type_label(t)}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="field feed-field">
                <span class="field-label">"Time"</span>
                <select name="range" node_ref=range_ref on:change=c1 data-test="activity-range"
                    prop:value=move || state.get().filters.range>
                    <option value="" selected=init.filters.range.is_empty()>"Any time"</option>
                    {RANGES.iter().map(|(r, _)| {
                        let label = match *r { "1h" => "Last hour", "24h" => "Last 24 h", "7d" => "Last 7 days", _ => "Last 30 days" };
                        view! { <option value=*r selected=init.filters.range == *r>{label}</option> }
                    }).collect_view()}
                </select>
            </label>
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
