//! Everything the user sees: the HTML shell, the router, the layout, pages and server functions.

pub mod api;
pub mod components;
pub mod context;
pub mod live;
pub mod nav;
pub mod pages;
pub mod routes;

pub use context::{me_resource, me_value, MeResource};

use crate::app::api::auth::get_me;
use crate::app::components::layout::Layout;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::Router;

/// The HTML document around the app (server only; the browser hydrates `<body>`).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_csp();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme="dark">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="dark light" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <HashedStylesheet id="leptos" options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// A per-response nonce for the hydration scripts and a CSP header that allows only them.
#[cfg(feature = "ssr")]
fn set_page_csp() {
    leptos::nonce::provide_nonce();
    let nonce = leptos::nonce::use_nonce()
        .map(|n| n.to_string())
        .unwrap_or_default();
    if let Some(ro) = use_context::<leptos_axum::ResponseOptions>() {
        let csp = format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
             frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&csp) {
            ro.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, v);
        }
    }
}

/// The application root.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let me: MeResource = Resource::new_blocking(|| (), |_| get_me());
    provide_context(me);
    view! {
        <Title formatter=|t: String| if t.is_empty() { "Halite".to_string() } else { format!("{t} · Halite") } />
        <Router>
            <Layout />
        </Router>
    }
}

/// Full page load to `path` (used after sign-in/out so the whole shell is rendered fresh).
pub fn navigate_hard(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(w) = web_sys::window() {
        let _ = w.location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}
