//! Overview (dashboard): KPI tiles, minion status donut, key status bar, fleet heatmap,
//! first-run prompt and navigation tiles. Tiles the user may not view show "—".

use crate::app::api::auth::Me;
use crate::app::api::minions::StatusCounts;
use crate::app::api::overview::{overview_summary, KeyCounts, OverviewData};
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
    let summary = Resource::new(|| (), |_| overview_summary());
    crate::app::pages::auto_refresh(move || summary.refetch());
    let me_res = me_resource();
    view! {
        <PageHeader title="Overview" subtitle="Your Salt fleet at a glance" />
        <Suspense fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading the fleet…"</div> }>
            {move || Suspend::new(async move {
                let me = me_value(me_res).await;
                let s = status.await;
                let d = summary.await;
                overview_body(me, s, d)
            })}
        </Suspense>
    }
}

const STATUS_ORDER: &[(&str, &str)] = &[
    ("online", "Online"),
    ("offline", "Offline"),
    ("pending", "Pending"),
    ("rejected", "Rejected"),
    ("denied", "Denied"),
];

fn donut(c: &StatusCounts) -> impl IntoView {
    let total = c.all();
    let r = 54.0_f64;
    let circ = 2.0 * std::f64::consts::PI * r;
    let mut offset = 0.0;
    let segments: Vec<_> = STATUS_ORDER
        .iter()
        .filter(|(k, _)| c.get(k) > 0)
        .map(|(k, _)| {
            let frac = c.get(k) as f64 / total.max(1) as f64;
            let len = frac * circ;
            let seg = view! {
                <circle class=format!("donut-seg seg-{k}") cx="70" cy="70" r=r.to_string() fill="none" stroke-width="18"
                    stroke-dasharray=format!("{len:.2} {:.2}", circ - len) stroke-dashoffset=format!("{:.2}", -offset) />
            };
            offset += len;
            seg
        })
        .collect();
    view! {
        <div class="donut-wrap">
            <svg viewBox="0 0 140 140" class="donut" role="img" aria-label="Minions by status">
                <circle cx="70" cy="70" r=r.to_string() fill="none" class="donut-track" stroke-width="18" />
                <g transform="rotate(-90 70 70)">{segments}</g>
                <text x="70" y="68" text-anchor="middle" class="donut-total">{total.to_string()}</text>
                <text x="70" y="86" text-anchor="middle" class="donut-label">"minions"</text>
            </svg>
            <ul class="legend">
                {STATUS_ORDER.iter().map(|(k, label)| view! {
                    <li><span class=format!("dot seg-{k}")></span>{*label}<span class="legend-n">{c.get(k)}</span></li>
                }).collect_view()}
            </ul>
        </div>
    }
}

fn key_bar(k: &KeyCounts) -> impl IntoView {
    let total = (k.accepted + k.pending + k.rejected + k.denied).max(1);
    let parts = [
        ("accepted", "Accepted", k.accepted),
        ("pending", "Pending", k.pending),
        ("rejected", "Rejected", k.rejected),
        ("denied", "Denied", k.denied),
    ];
    view! {
        <div class="keybar" role="img" aria-label="Keys by state">
            {parts.iter().filter(|p| p.2 > 0).map(|(key, _, n)| view! {
                <span class=format!("keybar-seg kb-{key}") style=format!("flex-grow:{n}") title=format!("{key}: {n}")></span>
            }).collect_view()}
        </div>
        <ul class="legend legend-row">
            {parts.iter().map(|(key, label, n)| view! {
                <li><span class=format!("dot kb-{key}")></span>{*label}<span class="legend-n">{*n}</span><span class="muted small">{format!(" {:.0}%", *n as f64 * 100.0 / total as f64)}</span></li>
            }).collect_view()}
        </ul>
    }
}

fn overview_body(
    me: Option<Me>,
    status: Result<SaltSetupStatus, AppError>,
    data: Result<OverviewData, AppError>,
) -> impl IntoView {
    let data = data.ok();
    let minions = data.as_ref().and_then(|d| d.minions.clone());
    let keys = data.as_ref().and_then(|d| d.keys.clone());
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
    let tile = |label: &'static str,
                value: Option<String>,
                foot: String,
                href: &'static str,
                test: &'static str| {
        view! {
            <a class="kpi" href=href data-test=test>
                <div class="kpi-label">{label}</div>
                <div class="kpi-value">{value.unwrap_or_else(|| "—".into())}</div>
                <div class="kpi-foot">{foot}</div>
            </a>
        }
    };
    let online = minions
        .as_ref()
        .map(|c| format!("{} / {}", c.online, c.online + c.offline));
    let online_foot = match &minions {
        Some(c) if c.all() == 0 => "No minions polled yet".to_string(),
        Some(c) => format!("{} offline", c.offline),
        None => "Not permitted".into(),
    };
    let pending = keys.as_ref().map(|k| k.pending.to_string());
    let pending_foot = match &keys {
        Some(k) if k.pending > 0 => "Waiting for a decision".to_string(),
        Some(_) => "Nothing to decide".to_string(),
        None => "Not permitted".into(),
    };
    let can_jobs = me
        .as_ref()
        .is_some_and(|m| crate::app::nav::may_view_kind(&m.permissions, "job"));
    let jobs_foot = if can_jobs {
        "Job tracking arrives with the Jobs page".to_string()
    } else {
        "Not permitted".into()
    };
    let nav_tiles: Vec<_> = NAV
        .iter()
        .filter(|i| i.path != "/" && i.path != "/about")
        .filter(|i| me.as_ref().is_some_and(|m| i.gate.allows(m)))
        .collect();
    let heat = data
        .as_ref()
        .and_then(|d| d.heatmap_svg.clone().map(|svg| (svg, d.heatmap_count)));
    view! {
        {prompt}
        <section class="kpi-grid" aria-label="Key figures">
            {tile("Online minions", online, online_foot, "/minions?status=online", "kpi-online")}
            {tile("Pending keys", pending, pending_foot, "/keys", "kpi-pending")}
            {tile("Running jobs", None, jobs_foot.clone(), "/jobs", "kpi-running")}
            {tile("Jobs · 24h", None, jobs_foot, "/jobs", "kpi-jobs24")}
        </section>
        <section class="chart-grid">
            <div class="panel">
                <h2>"Minion status"</h2>
                {match &minions {
                    Some(c) if c.all() > 0 => donut(c).into_any(),
                    Some(_) => view! { <p class="muted">"No minions yet."</p> }.into_any(),
                    None => view! { <p class="muted">"—"</p> }.into_any(),
                }}
            </div>
            <div class="panel">
                <h2>"Key status"</h2>
                {match &keys {
                    Some(k) if k.accepted + k.pending + k.rejected + k.denied > 0 => key_bar(k).into_any(),
                    Some(_) => view! { <p class="muted">"No keys yet."</p> }.into_any(),
                    None => view! { <p class="muted">"—"</p> }.into_any(),
                }}
            </div>
        </section>
        {heat.map(|(svg, n)| view! {
            <section class="panel heatmap" data-test="heatmap">
                <div class="section-head row">
                    <h2>"Fleet heatmap"</h2>
                    <span class="muted small">{format!("{n} minions · problems first · click a tile for details")}</span>
                </div>
                {if n == 0 {
                    view! { <p class="muted">"No minions yet."</p> }.into_any()
                } else {
                    view! { <div class="heatmap-body" inner_html=svg></div> }.into_any()
                }}
            </section>
        })}
        <section class="nav-tiles" aria-label="Sections">
            {nav_tiles.into_iter().map(|i| view! {
                <a class="nav-tile" href=i.path>
                    <Icon name=i.icon />
                    <div>
                        <div class="nav-tile-title">{i.label}</div>
                        <div class="nav-tile-blurb">{i.blurb}</div>
                    </div>
                </a>
            }).collect_view()}
        </section>
    }
}
