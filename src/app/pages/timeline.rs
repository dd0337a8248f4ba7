//! Placeholder; replaced by the feature work.
use leptos::prelude::*;

/// Placeholder page.
#[component]
pub fn TimelinePage() -> impl IntoView {
    view! { <super::ComingSoon /> }
}
