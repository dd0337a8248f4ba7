//! Placeholder; replaced by the feature work.
use leptos::prelude::*;

/// Placeholder page.
#[component]
pub fn JobsPage() -> impl IntoView {
    view! { <super::ComingSoon /> }
}

/// Placeholder page.
#[component]
pub fn JobDetailPage() -> impl IntoView {
    view! { <super::ComingSoon /> }
}
