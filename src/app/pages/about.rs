//! About: name, mineral card, brand marks, palette, credits.

use crate::app::components::icons::Logo;
use crate::app::pages::PageHeader;
use crate::app::{me_resource, me_value};
use leptos::prelude::*;

const PALETTE: &[(&str, &str)] = &[
    ("Amber", "#e5a00d"),
    ("Amber light", "#f5b938"),
    ("Amber dark", "#a77100"),
    ("Black", "#0e0e0e"),
    ("Graphite", "#141414"),
    ("Onyx", "#1f1f1f"),
    ("Slate", "#2a2a2a"),
    ("Fog", "#999999"),
    ("Bone", "#ebebeb"),
];

/// `/about`.
#[component]
pub fn AboutPage() -> impl IntoView {
    let me_res = me_resource();
    view! {
        <PageHeader title="About Halite" subtitle="A web console for SaltStack" />
        <div class="about-grid">
            <section class="panel">
                <h2>"The name"</h2>
                <p>"Halite is rock salt: sodium chloride, NaCl. Its ions sit in a cubic lattice where every node is bound to its neighbours, much as a Salt master is bound to its minions. The console is named for the crystal the protocol is named for."</p>
                <p class="muted">"Version " {env!("CARGO_PKG_VERSION")} " · build " <code><Suspense fallback=|| ()>{move || Suspend::new(async move { me_value(me_res).await.map(|m| m.build_hash).unwrap_or_default() })}</Suspense></code></p>
            </section>
            <section class="panel mineral-card">
                <h2>"Halite"</h2>
                <dl class="facts">
                    <dt>"Formula"</dt><dd>"NaCl"</dd>
                    <dt>"Crystal system"</dt><dd>"Isometric · cubic"</dd>
                    <dt>"Cleavage"</dt><dd>"Perfect, in three directions"</dd>
                    <dt>"Mohs hardness"</dt><dd>"2 – 2.5"</dd>
                    <dt>"Colour"</dt><dd>"Colourless to white; amber when impure"</dd>
                </dl>
            </section>
            <section class="panel">
                <h2>"Brand marks"</h2>
                <div class="marks">
                    <figure><Logo /><figcaption>"Lattice"</figcaption></figure>
                    <figure>
                        <svg viewBox="0 0 48 48" class="mark" aria-hidden="true">
                            <path d="M24 6 40 14 24 22 8 14z" fill="#f5b938" />
                            <path d="M40 14v20l-16 8V22z" fill="#e5a00d" />
                            <path d="M8 14l16 8v20L8 34z" fill="#a77100" />
                        </svg>
                        <figcaption>"Salt cube"</figcaption>
                    </figure>
                    <figure>
                        <svg viewBox="0 0 48 48" class="mark" aria-hidden="true">
                            <rect x="8" y="8" width="32" height="8" rx="2" fill="#f5b938" />
                            <rect x="8" y="20" width="32" height="8" rx="2" fill="#e5a00d" />
                            <rect x="8" y="32" width="32" height="8" rx="2" fill="#a77100" />
                        </svg>
                        <figcaption>"Triple stack"</figcaption>
                    </figure>
                </div>
            </section>
            <section class="panel">
                <h2>"Palette"</h2>
                <div class="swatches">
                    {PALETTE
                        .iter()
                        .map(|(name, hex)| view! {
                            <div class="swatch">
                                <span class="swatch-chip" style=format!("background:{hex}")></span>
                                <span>{*name}</span>
                                <code>{*hex}</code>
                            </div>
                        })
                        .collect_view()}
                </div>
            </section>
            <section class="panel">
                <h2>"Built with"</h2>
                <ul class="credits">
                    <li>"SaltStack and salt-api (rest_cherrypy)"</li>
                    <li>"Rust, Leptos (SSR + hydration), axum and tokio"</li>
                    <li>"sqlx with SQLite"</li>
                    <li>"argon2, AES-GCM and HMAC from RustCrypto"</li>
                    <li>"Inter typeface where installed, system UI otherwise"</li>
                </ul>
            </section>
        </div>
    }
}
