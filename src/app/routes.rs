//! The route table: which page answers which path. Pages render with `SsrMode::Async` (the whole
//! page once its database reads are done): out-of-order streaming of nested Suspense chunks broke
//! hydration in leptos 0.8.23 for pages with several resources. The server also builds its
//! whole HTTP application here (`router`), since only this layer knows the pages.

use crate::app::pages;
use leptos::prelude::*;
use leptos_router::components::{Route, Routes};
use leptos_router::path;
use leptos_router::SsrMode;

/// Every page route. It sits outside any `Suspense` so that the server's route list sees it.
#[component]
pub fn AppRoutes() -> impl IntoView {
    view! {
        <Routes fallback=|| view! { <pages::NotFound /> }>
            <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async />
            <Route path=path!("/change-password") view=pages::change_password::ChangePasswordPage ssr=SsrMode::Async />
            <Route path=path!("/") view=pages::overview::OverviewPage ssr=SsrMode::Async />
            <Route path=path!("/about") view=pages::about::AboutPage ssr=SsrMode::Async />
            <Route path=path!("/settings") view=pages::settings::SettingsPage ssr=SsrMode::Async />
            <Route path=path!("/activity") view=pages::activity::ActivityPage ssr=SsrMode::Async />
            <Route path=path!("/minions") view=pages::minions::MinionsPage ssr=SsrMode::Async />
            <Route path=path!("/minions/:id") view=pages::minions::MinionDetailPage ssr=SsrMode::Async />
            <Route path=path!("/keys") view=pages::keys::KeysPage ssr=SsrMode::Async />
            <Route path=path!("/jobs") view=pages::jobs::JobsPage ssr=SsrMode::Async />
            <Route path=path!("/jobs/:jid") view=pages::jobs::JobDetailPage ssr=SsrMode::Async />
            <Route path=path!("/timeline") view=pages::timeline::TimelinePage ssr=SsrMode::Async />
            <Route path=path!("/run") view=pages::run::RunPage ssr=SsrMode::Async />
            <Route path=path!("/templates") view=pages::templates::TemplatesPage ssr=SsrMode::Async />
            <Route path=path!("/inventory") view=pages::inventory::InventoryPage ssr=SsrMode::Async />
            // Before `/inventory/:name`: the router takes the first route that matches.
            <Route path=path!("/inventory/search") view=pages::inventory::search::PackageSearchPage ssr=SsrMode::Async />
            <Route path=path!("/inventory/:name") view=pages::inventory::drift::PackageDriftPage ssr=SsrMode::Async />
            <Route path=path!("/fleet") view=pages::fleet::FleetPage ssr=SsrMode::Async />
            <Route path=path!("/fleet/runs/:id") view=pages::fleet::run::RunDetailPage ssr=SsrMode::Async />
            <Route path=path!("/users") view=pages::users::UsersPage ssr=SsrMode::Async />
            <Route path=path!("/users/:id") view=pages::users::UserDetailPage ssr=SsrMode::Async />
            <Route path=path!("/roles") view=pages::roles::RolesPage ssr=SsrMode::Async />
            <Route path=path!("/roles/:id") view=pages::roles::RoleDetailPage ssr=SsrMode::Async />
            <Route path=path!("/audit") view=pages::audit::AuditPage ssr=SsrMode::Async />
            <Route path=path!("/diagnostics") view=pages::diagnostics::DiagnosticsPage ssr=SsrMode::Async />
        </Routes>
    }
}

/// The whole HTTP application for a state: the page routes and server functions, inside the
/// server's middleware, health endpoints and live stream (tests build one per temp database).
#[cfg(feature = "ssr")]
pub fn router(state: crate::server::state::AppState) -> axum::Router {
    use crate::app::{shell, App};
    use leptos_axum::{generate_route_list, LeptosRoutes};
    let routes = generate_route_list(App);
    let ctx_state = state.clone();
    let shell_opts = state.leptos_options.clone();
    let pages = axum::Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(ctx_state.clone()),
            move || shell(shell_opts.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<
            crate::server::state::AppState,
            _,
        >(shell));
    crate::server::http::router_with_pages(state, pages)
}
