//! Settings (admin): the Salt API connection, pollers and the activity widget.

use crate::app::api::settings::get_settings;
use crate::app::pages::{ErrorPanel, PageHeader};
use leptos::prelude::*;

/// `/settings`.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let settings = Resource::new(|| (), |_| get_settings());
    view! {
        <PageHeader title="Settings" subtitle="Runtime configuration, stored in the database and applied without a restart" />
        <Suspense fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading settings…"</div> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    Ok(s) => view! {
                        <section class="panel settings-section" data-test="settings-salt">
                            <h2>"Salt API"</h2>
                            <dl class="facts">
                                <dt>"URL"</dt><dd>{if s.salt.url.is_empty() { "not set".to_string() } else { s.salt.url.clone() }}</dd>
                                <dt>"Username"</dt><dd>{if s.salt.username.is_empty() { "not set".to_string() } else { s.salt.username.clone() }}</dd>
                                <dt>"Password"</dt><dd>{if s.salt.password_set { "(set)" } else { "not set" }}</dd>
                                <dt>"eauth"</dt><dd>{s.salt.eauth.clone()}</dd>
                                <dt>"Verify TLS"</dt><dd>{if s.salt.verify { "yes" } else { "no" }}</dd>
                            </dl>
                        </section>
                        <section class="panel settings-section">
                            <h2>"Pollers"</h2>
                            <dl class="facts">
                                <dt>"Keys"</dt><dd>{format!("every {} s", s.pollers.minion_state_keys_interval_seconds)}</dd>
                                <dt>"Presence"</dt><dd>{format!("every {} s", s.pollers.minion_state_presence_interval_seconds)}</dd>
                                <dt>"Grains"</dt><dd>{format!("every {} s", s.pollers.minion_state_grains_interval_seconds)}</dd>
                                <dt>"Jobs"</dt><dd>{if s.pollers.jobs_poll_interval_seconds == 0 { "off".to_string() } else { format!("every {} s", s.pollers.jobs_poll_interval_seconds) }}</dd>
                                <dt>"Event stream"</dt><dd>{if s.pollers.event_stream_enabled { "on" } else { "off" }}</dd>
                            </dl>
                        </section>
                        <p class="muted">"Last changed " {s.updated_at.clone()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
