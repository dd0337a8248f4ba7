//! Small stroke icons (24x24, currentColor), drawn for Halite.

use leptos::prelude::*;

fn path_for(name: &str) -> &'static str {
    match name {
        "grid" => "M4 4h6v6H4zM14 4h6v6h-6zM4 14h6v6H4zM14 14h6v6h-6z",
        "pulse" => "M3 12h4l3-8 4 16 3-8h4",
        "server" => "M4 4h16v6H4zM4 14h16v6H4zM8 7h.01M8 17h.01",
        "key" => "M14 10a4 4 0 1 0-3.5 4L7 17.5V20h3v-2h2v-2l1.5-1.5A4 4 0 0 0 14 10zM16 8h.01",
        "list" => "M8 6h13M8 12h13M8 18h13M3 6h.01M3 12h.01M3 18h.01",
        "clock" => "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 7v5l3 3",
        "play" => "M6 4l14 8-14 8z",
        "bookmark" => "M6 3h12v18l-6-4-6 4z",
        "box" => "M3 7l9-4 9 4v10l-9 4-9-4zM3 7l9 4 9-4M12 11v10",
        "shield" => "M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6zM9 12l2 2 4-4",
        "users" => "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21v-1a6 6 0 0 1 12 0v1M16 3.5a4 4 0 0 1 0 7.5M22 21v-1a6 6 0 0 0-4-5.6",
        "lock" => "M5 11h14v10H5zM8 11V7a4 4 0 0 1 8 0v4",
        "scroll" => "M8 3h11v14a4 4 0 0 1-4 4H6a3 3 0 0 1-3-3v-1h12M8 3a3 3 0 0 0-3 3v11M11 8h5M11 12h5",
        "gear" => "M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z",
        "stethoscope" => "M5 3v6a5 5 0 0 0 10 0V3M10 14v2a5 5 0 0 0 10 0v-3M20 11a2 2 0 1 0 0 .01",
        "info" => "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 11v6M12 7h.01",
        "sun" => "M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8zM12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M2 12h2M20 12h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4",
        "moon" => "M21 12.8A9 9 0 1 1 11.2 3a7 7 0 0 0 9.8 9.8z",
        "menu" => "M3 6h18M3 12h18M3 18h18",
        "alert" => "M12 3l10 18H2zM12 10v5M12 18h.01",
        "check" => "M20 6 9 17l-5-5",
        "logout" => "M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9",
        "user" => "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21v-1a7 7 0 0 1 16 0v1",
        "plug" => "M9 2v6M15 2v6M6 8h12v4a6 6 0 0 1-12 0zM12 18v4",
        "search" => "M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14zM21 21l-5-5",
        _ => "M12 12h.01",
    }
}

/// An icon by name.
#[component]
pub fn Icon(#[prop(into)] name: String) -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d=path_for(&name) />
        </svg>
    }
}

/// The Halite lattice mark (3x3 node grid).
#[component]
pub fn Logo() -> impl IntoView {
    view! {
        <svg class="logo" viewBox="0 0 32 32" aria-hidden="true">
            <rect x="1" y="1" width="30" height="30" rx="7" class="logo-bg" />
            <g class="logo-lines">
                <path d="M9 9h14M9 16h14M9 23h14M9 9v14M16 9v14M23 9v14" />
            </g>
            <g class="logo-nodes">
                <circle cx="9" cy="9" r="2.4" /><circle cx="16" cy="9" r="2.4" /><circle cx="23" cy="9" r="2.4" />
                <circle cx="9" cy="16" r="2.4" /><circle cx="16" cy="16" r="3.2" /><circle cx="23" cy="16" r="2.4" />
                <circle cx="9" cy="23" r="2.4" /><circle cx="16" cy="23" r="2.4" /><circle cx="23" cy="23" r="2.4" />
            </g>
        </svg>
    }
}
