//! Overview (dashboard): KPI tiles, first-run prompt, navigation tiles.

use crate::app::api::auth::Me;
use crate::app::api::settings::{settings_status, SaltSetupStatus};
use crate::app::components::icons::Icon;
use crate::app::nav::NAV;
use crate::app::pages::PageHeader;
use crate::app::{me_resource, me_value};
use crate::error::AppError;
use leptos::prelude::*;

/// `/`.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let status = Resource::new(|| (), |_| settings_status());
    let me_res = me_resource();
    view! {
        <PageHeader title="Overview" subtitle="Your Salt fleet at a glance" />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let me = me_value(me_res).await;
                let s = status.await;
                overview_body(me, s)
            })}
        </Suspense>
    }
}

fn overview_body(me: Option<Me>, status: Result<SaltSetupStatus, AppError>) -> impl IntoView {
    let tiles = me
        .as_ref()
        .map(|m| {
            vec![
                (
                    "Online minions",
                    m.can("view", "minion:*"),
                    "minions",
                    "/minions",
                ),
                ("Pending keys", m.can("view", "key:*"), "keys", "/keys"),
                ("Running jobs", m.can("view", "job:*"), "jobs", "/jobs"),
                ("Jobs · 24h", m.can("view", "job:*"), "jobs", "/jobs"),
            ]
        })
        .unwrap_or_default();
    let nav_tiles: Vec<_> = NAV
        .iter()
        .filter(|i| i.path != "/" && i.path != "/about")
        .filter(|i| me.as_ref().is_some_and(|m| i.gate.allows(m)))
        .collect();
    let prompt = match status {
        Ok(s) if !s.configured && s.can_edit => Some(view! {
            <div class="panel connect-prompt" data-test="connect-prompt">
                <div class="connect-icon"><Icon name="plug" /></div>
                <div class="connect-body">
                    <h2>"Connect your Salt master"</h2>
                    <p>"Halite reads your fleet through salt-api (rest_cherrypy). Give it the API URL and a service account, test the connection, and the minion, key and job pages fill in within one poll cycle."</p>
                    <a class="button button-primary" href="/settings">"Open Settings"</a>
                </div>
            </div>
        }),
        _ => None,
    };
    view! {
        {prompt}
        <section class="kpi-grid" aria-label="Key figures">
            {tiles
                .into_iter()
                .map(|(label, allowed, what, href)| {
                    view! {
                        <a class="kpi" href=href data-test="kpi">
                            <div class="kpi-label">{label}</div>
                            <div class="kpi-value">"—"</div>
                            <div class="kpi-foot">
                                {if allowed { format!("No {what} data yet") } else { "Not permitted".to_string() }}
                            </div>
                        </a>
                    }
                })
                .collect_view()}
        </section>
        <section class="nav-tiles" aria-label="Sections">
            {nav_tiles
                .into_iter()
                .map(|i| {
                    view! {
                        <a class="nav-tile" href=i.path>
                            <Icon name=i.icon />
                            <div>
                                <div class="nav-tile-title">{i.label}</div>
                                <div class="nav-tile-blurb">{i.blurb}</div>
                            </div>
                        </a>
                    }
                })
                .collect_view()}
        </section>
    }
}
