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

/// The server (and every test and benchmark binary that links it) allocates with jemalloc:
/// under glibc's malloc a rendered page spent ~30 % of its CPU in the allocator
/// (`_int_malloc`, `malloc_consolidate`, with many threads sharing arenas), and the process
/// kept the peak of its largest ingest for good. Measured in BENCHMARKS.md (issue 17). Built
/// unprefixed (Cargo.toml), it is also the `malloc` SQLite's C code calls.
#[cfg(feature = "ssr")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
