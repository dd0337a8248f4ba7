//! Activity: the persisted Salt event feed (`activity_events`), the widget config, and the
#![allow(clippy::too_many_arguments)] // server functions mirror the URL query
//! event shape the live stream (`GET /api/activity/stream`, SSE) sends.

use crate::error::AppError;
use leptos::prelude::*;

pub use crate::model::page::Page;

// The types live in `crate::model` (below app and server); re-exported for the pages.
pub use crate::model::activity::{
    ActivityEvent, ActivityPage, EventCategory, RawEventView, WidgetSettingsView, EVENT_TYPES,
    RANGES,
};

/// One page of activity, newest first. Filters as in the page URL; `since_minutes` for the
/// widget's heartbeat; `after_id` for the live tail's "N new events".
#[server(endpoint = "activity/list")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
#[allow(clippy::too_many_arguments)]
pub async fn list_activity(
    #[server(default)] category: String,
    #[server(default)] event_type: String,
    #[server(default)] minion: String,
    #[server(default)] q: String,
    #[server(default)] hide_routine: bool,
    #[server(default)] hide_dispatch: bool,
    #[server(default)] range: String,
    #[server(default)] since_minutes: i64,
    #[server(default)] after_id: i64,
    #[server(default)] page: i64,
    #[server(default)] per_page: i64,
) -> Result<ActivityPage, AppError> {
    use crate::model::list::{ActivityFilters, ListParams, ListQuery};
    use crate::server::activity::store::{self, ActivityQuery, Visibility};
    use crate::server::auth::session;
    let (state, user) = session()?;
    let vis = Visibility::of(&user.permissions);
    let categories = vis.categories();
    if categories.is_empty() {
        return Err(crate::server::auth::deny(
            &state,
            &user,
            "view",
            "event:*",
            "You may not view jobs, keys or minions, so there is no activity to show.",
        )
        .await);
    }
    let lq: ListQuery<ActivityFilters> = ListParams {
        q,
        page,
        per_page,
        filters: ActivityFilters {
            category,
            event_type,
            minion,
            hide_routine,
            hide_dispatch,
            range,
            paused: false,
        },
        ..Default::default()
    }
    .try_into()?;
    if !(0..=525_600).contains(&since_minutes) {
        return Err(AppError::invalid(
            "since_minutes",
            "since_minutes must be 0 to 525600.",
        ));
    }
    if after_id < 0 {
        return Err(AppError::invalid(
            "after_id",
            "after_id must not be negative.",
        ));
    }
    let (page, per_page) = (lq.page, lq.per_page);
    let mut aq = ActivityQuery::of_list(lq, since_minutes);
    aq.after_id = (after_id > 0).then_some(after_id);
    let (events, total) = store::list(&state.db, &aq, &vis).await?;
    let enabled = crate::server::settings::load_view(&state.db)
        .await?
        .pollers
        .event_stream_enabled;
    let st = state.runtime.hub().state();
    Ok(ActivityPage {
        list: Page::new(events, total, page, per_page),
        stream_enabled: enabled,
        stream_state: st.state,
        stream_since: st.since,
        categories,
    })
}

/// The raw Salt event behind one row (the detail drawer).
#[server(endpoint = "activity/raw")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn raw_event(id: i64) -> Result<RawEventView, AppError> {
    use crate::server::auth::session;
    let (state, user) = session()?;
    let (category, minion, jid, raw) = crate::server::activity::store::raw(&state.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such activity event.".into()))?;
    let res = category.resource(minion.as_deref(), jid.as_deref());
    if res.is_some_and(|r| !user.can("view", &r)) {
        return Err(AppError::NotFound("No such activity event.".into()));
    }
    let pretty = raw
        .as_deref()
        .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
        .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
        .unwrap_or_else(|| "(no raw event: this row was written by Halite)".into());
    Ok(RawEventView {
        id,
        raw_json: pretty,
    })
}

/// The Overview widget settings (any session; SPEC 8.3).
#[server(endpoint = "activity/widget-config")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn widget_config() -> Result<WidgetSettingsView, AppError> {
    use crate::server::auth::session;
    let (state, _) = session()?;
    let v = crate::server::settings::load_view(&state.db).await?;
    Ok(WidgetSettingsView {
        settings: v.widget,
        // On in Settings *and* running: with Salt not connected yet there is no stream to open
        // (the browser would only collect 503s).
        stream_enabled: v.pollers.event_stream_enabled && state.runtime.hub_if_enabled().is_some(),
    })
}
