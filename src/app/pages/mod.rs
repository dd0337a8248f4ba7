//! One module per route.

pub mod about;
pub mod activity;
pub mod audit;
pub mod change_password;
pub mod diagnostics;
pub mod fleet;
pub mod inventory;
pub mod jobs;
pub mod keys;
pub mod login;
pub mod minions;
pub mod overview;
pub mod roles;
pub mod run;
pub mod settings;
pub mod templates;
pub mod timeline;
pub mod users;

use crate::app::components::icons::Icon;
use crate::app::components::list::use_list_params;
use crate::error::AppError;
use crate::model::list::{ListFilters, ListParams};
use leptos::prelude::*;
use leptos_meta::Title;

pub use crate::model::time::{short_time, short_utc};

/// Put `text` on the clipboard (in the browser; nothing on the server).
pub fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(w) = web_sys::window() {
        let _ = w.navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// What a page loads from a server function (sent along from the server to the hydrating
/// browser).
pub trait Loaded:
    Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static
{
}

impl<T> Loaded for T where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static
{
}

/// How a list page loads one page of its list: its server function called with the state.
pub trait ListFetch<F, T>: Fn(ListParams<F>) -> Self::Fut + Send + Sync + 'static {
    type Fut: std::future::Future<Output = Result<T, AppError>> + Send + 'static;
}

impl<F, T, G, Fut> ListFetch<F, T> for G
where
    G: Fn(ListParams<F>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, AppError>> + Send + 'static,
{
    type Fut = Fut;
}

/// A list page's state (as in its URL) and its data.
pub type ListData<F, T> = (Memo<ListParams<F>>, Resource<Result<T, AppError>>);

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

/// A page's loaded part: a skeleton saying `loading` while `data` loads, [`ErrorPanel`] when it
/// fails, else `body` of the value and of the (URL) state it was asked for.
pub fn load_view<T, S, V>(
    loading: &'static str,
    data: Resource<Result<T, AppError>>,
    state: Memo<S>,
    body: impl Fn(T, S) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Loaded,
    S: Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=move || view! { <div class="panel skeleton" aria-busy="true">{loading}</div> }>
            {move || {
                let body = body.clone();
                Suspend::new(async move {
                    let s = state.get_untracked();
                    match data.await {
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                        Ok(v) => body(v, s).into_any(),
                    }
                })
            }}
        </Transition>
    }
}

/// A detail page's record: `fetch` of the route's `:id`, again whenever one of `changes` (the
/// versions of the page's actions that change the record) moves on.
pub fn route_record<T, Fut>(
    changes: Vec<RwSignal<usize>>,
    fetch: impl Fn(String) -> Fut + Send + Sync + 'static,
) -> Resource<Result<T, AppError>>
where
    T: Loaded,
    Fut: std::future::Future<Output = Result<T, AppError>> + Send + 'static,
{
    let params = leptos_router::hooks::use_params_map();
    let id = Memo::new(move |_| params.get().get("id").unwrap_or_default());
    Resource::new(
        move || {
            (
                id.get(),
                changes.iter().map(|v| v.get()).collect::<Vec<_>>(),
            )
        },
        move |(id, _)| fetch(id),
    )
}

/// Go to the page `to` names for the value of `action` once it has succeeded (the new record's
/// page after a create, the list after a delete).
pub fn go_after<S>(action: ServerAction<S>, to: impl Fn(&S::Output) -> String + 'static)
where
    S: leptos::server_fn::ServerFn + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        let href = action.value().with(|v| match v {
            Some(Ok(out)) => Some(to(out)),
            _ => None,
        });
        if let Some(href) = href {
            navigate(&href, Default::default());
        }
    });
}

/// A list page's state (as in its URL) and its data: `fetch` of the state, again when the state
/// changes or `changed` moves on (the version of an action that adds rows, a live-bus counter).
pub fn action_list<F: ListFilters, T: Loaded, C>(
    changed: RwSignal<C>,
    fetch: impl ListFetch<F, T>,
) -> ListData<F, T>
where
    C: Clone + PartialEq + Send + Sync + 'static,
{
    let state = use_list_params::<F>();
    let data = Resource::new(move || (state.get(), changed.get()), move |(s, _)| fetch(s));
    (state, data)
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
    refresh_every(std::time::Duration::from_secs(30), refetch);
}

/// A list page's state (as in its URL) and its data: `fetch` of the state, again when the state
/// or the live-bus counter `bump` picks changes (news from the event stream), and every 30 s
/// ([`auto_refresh`]).
pub fn live_list<F: ListFilters, T: Loaded>(
    bump: fn(&crate::app::live::LiveBus) -> RwSignal<u64>,
    fetch: impl ListFetch<F, T>,
) -> ListData<F, T> {
    let (state, data) = action_list(bump(&crate::app::live::use_live()), fetch);
    auto_refresh(move || data.refetch());
    (state, data)
}

/// Call `refetch` every `period` in the browser while the page is mounted (nothing on the server).
pub fn refresh_every(
    period: std::time::Duration,
    refetch: impl Fn() + Clone + Send + Sync + 'static,
) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let r = refetch.clone();
        if let Ok(h) = set_interval_with_handle(r, period) {
            on_cleanup(move || h.clear());
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (period, refetch);
}
