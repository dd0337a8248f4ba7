//! Placeholder; replaced by the feature work.
use leptos::prelude::*;

/// Placeholder page.
#[component]
pub fn RunPage() -> impl IntoView {
    view! { <super::ComingSoon /> }
}
