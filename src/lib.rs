//! Halite: a web console for SaltStack. One crate, two builds: the server (`ssr`) and the
//! browser bundle (`hydrate`).
#![recursion_limit = "256"]

pub mod app;
pub mod error;
pub mod model;
pub mod rbac;
#[cfg(feature = "ssr")]
pub mod salt;
#[cfg(feature = "ssr")]
pub mod server;

/// Browser entry point: hydrate the server-rendered page and mark the body for tests.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
