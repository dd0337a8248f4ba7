//! Roles administration: the list (`/roles`), one role (`/roles/:id`) with its permission
//! editor and live preview, and the effective-access panel the user page hosts.

pub mod access;
pub mod detail;
pub mod list;

pub use access::EffectiveAccess;
pub use detail::RoleDetailPage;
pub use list::RolesPage;

use leptos::prelude::*;

/// A browser-side debounce: `run` is called once input has been quiet for 300 ms. Every call of
/// the returned function restarts the wait.
pub(crate) fn debounced(run: impl Fn() + Clone + Send + Sync + 'static) -> impl Fn() + Copy {
    use std::sync::atomic::{AtomicBool, Ordering};
    let timer = StoredValue::new(None::<TimeoutHandle>);
    // A timer still pending when the component goes (the page was left, the row removed)
    // must not run: its closure reads signals that are disposed by then.
    let alive = std::sync::Arc::new(AtomicBool::new(true));
    {
        let alive = alive.clone();
        on_cleanup(move || {
            alive.store(false, Ordering::SeqCst);
            if let Some(Some(h)) = timer.try_get_value() {
                h.clear();
            }
        });
    }
    let run = StoredValue::new(move || {
        if alive.load(Ordering::SeqCst) {
            run()
        }
    });
    move || {
        if let Some(h) = timer.get_value() {
            h.clear();
        }
        let h =
            set_timeout_with_handle(run.get_value(), std::time::Duration::from_millis(300)).ok();
        timer.set_value(h);
    }
}

/// The `Built-in` badge.
#[component]
pub fn BuiltinBadge() -> impl IntoView {
    view! { <span class="badge badge-private" title="Shipped with Halite; read-only">"Built-in"</span> }
}
