//! One module per route.

pub mod about;
pub mod activity;
pub mod audit;
pub mod change_password;
pub mod jobs;
pub mod keys;
pub mod login;
pub mod minions;
pub mod overview;
pub mod run;
pub mod settings;
pub mod templates;
pub mod timeline;

use crate::app::components::icons::Icon;
use crate::app::nav::item_for;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

pub use crate::model::time::{short_time, short_utc};

/// Page title row.
#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(into, optional)] subtitle: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <Title text=title.clone() />
        <div class="page-header">
            <div>
                <h1>{title}</h1>
                {(!subtitle.is_empty()).then(|| view! { <p class="page-subtitle">{subtitle}</p> })}
            </div>
            <div class="page-actions">{children.map(|c| c())}</div>
        </div>
    }
}

/// Error panel for a failed load.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    // A load that failed while the server rendered the page never went over HTTP, so the one
    // error-to-log mapping has not seen it yet (a call from the browser is logged on its way out).
    #[cfg(feature = "ssr")]
    error.log();
    let (title, detail) = match &error {
        AppError::Forbidden(m) => ("Not allowed", m.clone()),
        AppError::Unauthorized(m) => ("Signed out", m.clone()),
        AppError::SaltUnavailable(m) => ("Salt API unavailable", m.to_string()),
        e => ("Something went wrong", e.to_string()),
    };
    view! {
        <div class="panel state-panel state-error" role="alert">
            <Icon name="alert" />
            <h2>{title}</h2>
            <p>{detail}</p>
        </div>
    }
}

/// Placeholder for a page that is not built yet (never a 404).
#[component]
pub fn ComingSoon() -> impl IntoView {
    let location = use_location();
    let item = item_for(&location.pathname.get_untracked());
    let (label, blurb, icon) =
        item.map(|i| (i.label, i.blurb, i.icon))
            .unwrap_or(("This page", "", "info"));
    view! {
        <PageHeader title=label />
        <div class="panel state-panel" data-test="coming-soon">
            <Icon name=icon />
            <h2>{format!("{label} is coming soon")}</h2>
            <p>{blurb}</p>
            <p class="muted">"This part of Halite is being built. Everything else in the sidebar works as it lands."</p>
        </div>
    }
}

/// 404 inside the app frame.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(ro) = use_context::<leptos_axum::ResponseOptions>() {
        ro.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <PageHeader title="Not found" />
        <div class="panel state-panel">
            <Icon name="info" />
            <h2>"There is no page here"</h2>
            <p><a href="/">"Back to the overview"</a></p>
        </div>
    }
}

/// Refetch list views every 30 s in the browser (SPEC 1: long-lived list views auto-refresh),
/// until the live event stream takes over.
pub fn auto_refresh(refetch: impl Fn() + Clone + Send + Sync + 'static) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let r = refetch.clone();
        if let Ok(h) = set_interval_with_handle(r, std::time::Duration::from_secs(30)) {
            on_cleanup(move || h.clear());
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = refetch;
}
