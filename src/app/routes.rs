//! The route table: which page answers which path. Pages render with `SsrMode::Async` (the whole
//! page once its database reads are done): out-of-order streaming of nested Suspense chunks broke
//! hydration in leptos 0.8.23 for pages with several resources. The server also builds its
//! whole HTTP application here (`router`), since only this layer knows the pages.

use crate::app::pages;
use leptos::prelude::*;
use leptos_router::components::{Route, Routes};
use leptos_router::SsrMode;
use leptos_router::{lazy_route, path, Lazy, LazyRoute};

/// A page as a lazy route: with `cargo leptos build --split` its code (and whatever only it
/// uses) goes into a WASM chunk of its own that the browser fetches when the page is first
/// shown, so a first load carries the shared code and that one page, not every page. The
/// pages create their resources themselves, so there is no route data to start early.
macro_rules! lazy_page {
    ($route:ident, $($page:ident)::+) => {
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(this: Self) -> AnyView {
                let _ = this;
                view! { {$($page)::+()} <Hydrated /> }.into_any()
            }
        }
    };
}

lazy_page!(LoginRoute, pages::login::LoginPage);
lazy_page!(
    ChangePasswordRoute,
    pages::change_password::ChangePasswordPage
);
lazy_page!(OverviewRoute, pages::overview::OverviewPage);
lazy_page!(AboutRoute, pages::about::AboutPage);
lazy_page!(SettingsRoute, pages::settings::SettingsPage);
lazy_page!(ActivityRoute, pages::activity::ActivityPage);
lazy_page!(MinionsRoute, pages::minions::MinionsPage);
lazy_page!(MinionDetailRoute, pages::minions::MinionDetailPage);
lazy_page!(KeysRoute, pages::keys::KeysPage);
lazy_page!(JobsRoute, pages::jobs::JobsPage);
lazy_page!(JobDetailRoute, pages::jobs::JobDetailPage);
lazy_page!(TimelineRoute, pages::timeline::TimelinePage);
lazy_page!(RunRoute, pages::run::RunPage);
lazy_page!(TemplatesRoute, pages::templates::TemplatesPage);
lazy_page!(InventoryRoute, pages::inventory::InventoryPage);
lazy_page!(
    PackageSearchRoute,
    pages::inventory::search::PackageSearchPage
);
lazy_page!(PackageDriftRoute, pages::inventory::drift::PackageDriftPage);
lazy_page!(FleetRoute, pages::fleet::FleetPage);
lazy_page!(RunDetailRoute, pages::fleet::run::RunDetailPage);
lazy_page!(UsersRoute, pages::users::UsersPage);
lazy_page!(UserDetailRoute, pages::users::UserDetailPage);
lazy_page!(RolesRoute, pages::roles::RolesPage);
lazy_page!(RoleDetailRoute, pages::roles::RoleDetailPage);
lazy_page!(AuditRoute, pages::audit::AuditPage);
lazy_page!(DiagnosticsRoute, pages::diagnostics::DiagnosticsPage);

/// Marks `<body data-hydrated>` once the page's own view is live in the browser (an effect runs
/// after its view is hydrated), for the end-to-end tests and anyone scripting the UI. With lazy
/// routes, `hydrate_body` returns before a page's chunk has loaded, so the entry point cannot
/// tell; on the server it renders nothing.
/// It also lets the frame's live stream start (`PageHydrated`).
#[component]
pub fn Hydrated() -> impl IntoView {
    let page = use_context::<crate::app::live::PageHydrated>();
    Effect::new(move |_| {
        if let Some(p) = page {
            p.0.set(true);
        }
        #[cfg(feature = "hydrate")]
        if let Some(body) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.body())
        {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

/// Every page route. It sits outside any `Suspense` so that the server's route list sees it.
#[component]
pub fn AppRoutes() -> impl IntoView {
    view! {
        <Routes fallback=|| view! { <pages::NotFound /> <Hydrated /> }>
            <Route path=path!("/login") view={Lazy::<LoginRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/change-password") view={Lazy::<ChangePasswordRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/") view={Lazy::<OverviewRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/about") view={Lazy::<AboutRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/settings") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/activity") view={Lazy::<ActivityRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/minions") view={Lazy::<MinionsRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/minions/:id") view={Lazy::<MinionDetailRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/keys") view={Lazy::<KeysRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/jobs") view={Lazy::<JobsRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/jobs/:jid") view={Lazy::<JobDetailRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/timeline") view={Lazy::<TimelineRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/run") view={Lazy::<RunRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/templates") view={Lazy::<TemplatesRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/inventory") view={Lazy::<InventoryRoute>::new()} ssr=SsrMode::Async />
            // Before `/inventory/:name`: the router takes the first route that matches.
            <Route path=path!("/inventory/search") view={Lazy::<PackageSearchRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/inventory/:name") view={Lazy::<PackageDriftRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/fleet") view={Lazy::<FleetRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/fleet/runs/:id") view={Lazy::<RunDetailRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/users") view={Lazy::<UsersRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/users/:id") view={Lazy::<UserDetailRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/roles") view={Lazy::<RolesRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/roles/:id") view={Lazy::<RoleDetailRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async />
            <Route path=path!("/diagnostics") view={Lazy::<DiagnosticsRoute>::new()} ssr=SsrMode::Async />
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
