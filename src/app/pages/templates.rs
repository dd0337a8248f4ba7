//! Placeholder; replaced by the feature work.
use leptos::prelude::*;

/// Placeholder page.
#[component]
pub fn TemplatesPage() -> impl IntoView {
    view! { <super::ComingSoon /> }
}
