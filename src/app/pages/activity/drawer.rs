//! The drawer with one event's facts and the raw Salt event behind it.

use super::{duration_text, event_badge, event_type_label};
use crate::app::api::activity::{ActivityEvent, RawEventView};
use crate::app::api::overview::url_path_escape;
use crate::app::pages::short_utc;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub(super) fn EventDrawer(
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
    let dialog = NodeRef::<leptos::html::Aside>::new();
    crate::app::components::keyboard::trap_focus(dialog, close);
    view! {
        <div class="modal-backdrop" on:click=move |_| close.run(())></div>
        <aside class="feed-drawer" role="dialog" aria-modal="true" aria-labelledby="event-drawer-title" data-test="event-drawer" node_ref=dialog>
            <div class="feed-drawer-head">
                <span class=badge_class>{badge_label}</span>
                <button type="button" class="icon-button" title="Close (Esc)" aria-label="Close" data-test="drawer-close"
                    on:click=move |_| close.run(())>"✕"</button>
            </div>
            <h2 id="event-drawer-title">{e.summary.clone()}</h2>
            <dl class="facts feed-facts">
                {fact("Time", text(Some(short_utc(&e.ts))))}
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
