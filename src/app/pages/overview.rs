//! Overview (dashboard): KPI tiles, minion status donut, key status bar, 24 h job activity,
//! fleet compliance and top failures ([`compliance`]), fleet heatmap whose tiles open a minion
//! side panel ([`panel`]), first-run prompt and navigation tiles. Tiles the user may not view
//! show "—".

pub mod compliance;
pub mod panel;

use crate::app::api::auth::Me;
use crate::app::api::fleet::{get_fleet_summary, FleetSummary};
use crate::app::api::minions::StatusCounts;
use crate::app::api::overview::{overview_summary, xml_escape, KeyCounts, OverviewData};
use crate::app::api::settings::{settings_status, SaltSetupStatus};
use crate::app::api::timeline::{ActivityBucket, JobActivityOut};
use crate::app::components::icons::Icon;
use crate::app::nav::NAV;
use crate::app::pages::PageHeader;
use crate::app::{me_resource, me_value};
use crate::error::AppError;
use chrono::Timelike;
use leptos::prelude::*;

/// `/`.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let status = Resource::new(|| (), |_| settings_status());
    // Live: the tiles and charts refetch when the event stream reports job, key or minion news.
    let live = use_context::<crate::app::live::LiveBus>();
    let summary = Resource::new(
        move || live.map(|l| (l.jobs.get(), l.keys.get(), l.minions.get())),
        |_| overview_summary(),
    );
    crate::app::pages::auto_refresh(move || summary.refetch());
    // Compliance and top failures: again when a state run returns (its run is stored by then).
    let bus = crate::app::live::use_live();
    let state_news = Memo::new(move |_| bus.newest_live(crate::app::live::is_state_return));
    let fleet = Resource::new(
        move || state_news.get(),
        |_| {
            get_fleet_summary(
                false,
                compliance::OVERVIEW_RUNS,
                compliance::OVERVIEW_FAILURES,
            )
        },
    );
    crate::app::pages::auto_refresh(move || fleet.refetch());
    let me_res = me_resource();
    // The minion whose side panel is open (a heatmap tile was clicked; browser only).
    let selected = RwSignal::new(None::<String>);
    let close = Callback::new(move |_: ()| selected.set(None));
    let esc = window_event_listener(leptos::ev::keydown, move |e| {
        if e.key() == "Escape" && selected.get_untracked().is_some() {
            selected.set(None);
        }
    });
    on_cleanup(move || esc.remove());
    let panel = move || {
        selected.get().map(|id| {
            let may_run = me_res
                .and_then(|r| r.get_untracked())
                .and_then(|r| r.ok())
                .flatten()
                .map(|m| may_run_on(&m, &id));
            view! { <panel::MinionPanel id close may_run /> }
        })
    };
    view! {
        <PageHeader title="Overview" subtitle="Your Salt fleet at a glance" />
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading the fleet…"</div> }>
            {move || Suspend::new(async move {
                let me = me_value(me_res).await;
                let s = status.await;
                let d = summary.await;
                let f = fleet.await;
                overview_body(me, s, d, f, selected)
            })}
        </Transition>
        {panel}
        <crate::app::components::activity_widget::ActivityWidget />
    }
}

/// Whether `me`'s grants let them run some command on minion `id` (the Run page's gate, and
/// `view` on the minion: dispatch keeps only the minions a scoped role may view).
pub fn may_run_on(me: &Me, id: &str) -> bool {
    crate::app::nav::may_kind(&me.permissions, "execute", "salt")
        && me.can("view", &format!("minion:{id}"))
}

/// The minion named by the heatmap tile under a plain left click (`None` for a click beside
/// the tiles or one that asks the browser for a new tab or window: the tile's link does that).
#[cfg(feature = "hydrate")]
fn clicked_tile(ev: &leptos::ev::MouseEvent) -> Option<String> {
    use wasm_bindgen::JsCast;
    if ev.button() != 0 || ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key() {
        return None;
    }
    let el = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
    el.closest("[data-minion]")
        .ok()??
        .get_attribute("data-minion")
}

#[cfg(not(feature = "hydrate"))]
fn clicked_tile(_: &leptos::ev::MouseEvent) -> Option<String> {
    None
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
    fleet: Result<FleetSummary, AppError>,
    selected: RwSignal<Option<String>>,
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
    let jobs = data.as_ref().and_then(|d| d.jobs.clone());
    let jobs_poller_on = data.as_ref().is_some_and(|d| d.jobs_poller_enabled);
    let running = jobs.as_ref().map(|j| j.running.to_string());
    let running_foot = match &jobs {
        Some(_) if !jobs_poller_on => "Jobs poller is off".to_string(),
        Some(j) if !j.active_known => "Jobs poller has not run yet".to_string(),
        Some(_) => "As of the last jobs poll".to_string(),
        None => "Not permitted".into(),
    };
    let jobs24 = jobs.as_ref().map(|j| j.total.to_string());
    let jobs24_foot = match &jobs {
        Some(_) if !jobs_poller_on => "Jobs poller is off".to_string(),
        Some(_) => "System jobs hidden".to_string(),
        None => "Not permitted".into(),
    };
    let can_settings = me.as_ref().is_some_and(|m| m.can("edit", "settings:*"));
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
            {tile("Running jobs", running, running_foot, "/jobs", "kpi-running")}
            {tile("Jobs · 24h", jobs24, jobs24_foot, "/timeline", "kpi-jobs24")}
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
        {jobs.map(|j| job_activity_panel(j, jobs_poller_on, can_settings))}
        {compliance::fleet_panels(fleet, can_settings)}
        {heat.map(|(svg, n)| view! {
            <section class="panel heatmap" data-test="heatmap">
                <div class="section-head row">
                    <h2>"Fleet heatmap"</h2>
                    <span class="muted small">{format!("{n} minions · problems first · click a tile for details")}</span>
                </div>
                {if n == 0 {
                    view! { <p class="muted">"No minions yet."</p> }.into_any()
                } else {
                    // One handler for every tile (10,000 of them): it reads the tile's
                    // data-minion; without JS the tile is a plain link to the minion's page.
                    view! { <div class="heatmap-body" inner_html=svg on:click=move |ev| {
                        if let Some(id) = clicked_tile(&ev) {
                            ev.prevent_default();
                            selected.set(Some(id));
                        }
                    }></div> }.into_any()
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

fn job_activity_panel(j: JobActivityOut, poller_on: bool, can_settings: bool) -> impl IntoView {
    let svg = activity_svg(&j.buckets);
    let warn = if !poller_on {
        Some(
            view! {
                <p class="chart-warn" data-test="activity-warn">
                    <Icon name="alert" />
                    <span>"Jobs poller is off — enable it in Settings → Pollers."</span>
                    {can_settings.then(|| view! { <a href="/settings">"Open Settings"</a> })}
                </p>
            }
            .into_any(),
        )
    } else if !j.active_known {
        Some(view! {
            <p class="chart-warn" data-test="activity-warn">
                <Icon name="alert" />
                <span>"Jobs poller has not run yet — the figures fill in after its first cycle."</span>
            </p>
        }.into_any())
    } else {
        None
    };
    let peak = j.buckets.iter().map(|b| b.count).max().unwrap_or(0);
    view! {
        <section class="panel activity-panel" data-test="job-activity">
            <div class="section-head row">
                <h2>"Job activity · 24 h"</h2>
                <span class="muted small">
                    {format!("{} job{} · peak {peak}/h · system jobs hidden · ", j.total, if j.total == 1 { "" } else { "s" })}
                    <a href="/timeline">"Open the Timeline →"</a>
                </span>
            </div>
            {warn}
            <div class="activity-body" inner_html=svg></div>
        </section>
    }
}

/// Round a chart's top value up to 1, 2 or 5 times a power of ten.
pub fn nice_ceiling(max: i64) -> i64 {
    let max = max.max(1);
    let mut p = 1i64;
    loop {
        for m in [1, 2, 5] {
            if m * p >= max {
                return m * p;
            }
        }
        p *= 10;
    }
}

/// The job-activity chart as inline SVG: an area over the hourly buckets (oldest first), a
/// hover column per hour with its count, a y axis from 0 and hour labels every 3 h (UTC).
pub fn activity_svg(buckets: &[ActivityBucket]) -> String {
    const W: f64 = 960.0;
    const H: f64 = 200.0;
    const X0: f64 = 40.0;
    const X1: f64 = W - 10.0;
    const Y0: f64 = 12.0;
    const Y1: f64 = H - 26.0;
    let n = buckets.len().max(1);
    let top = nice_ceiling(buckets.iter().map(|b| b.count).max().unwrap_or(0));
    let col = (X1 - X0) / n as f64;
    let y_of = |c: i64| Y1 - (c as f64 / top as f64) * (Y1 - Y0);
    let mut out = String::with_capacity(4_000 + n * 300);
    out.push_str(&format!(
        r#"<svg class="activity-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="Jobs per hour, last 24 hours">"#
    ));
    for v in [0, top / 2, top] {
        if v == top / 2 && (top % 2 != 0 || top < 2) {
            continue;
        }
        let y = y_of(v);
        out.push_str(&format!(
            r#"<line class="act-grid" x1="{X0}" y1="{y:.1}" x2="{X1}" y2="{y:.1}"/><text class="act-tick" x="{}" y="{:.1}" text-anchor="end">{v}</text>"#,
            X0 - 8.0,
            y + 4.0
        ));
    }
    let pts: Vec<(f64, f64)> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| (X0 + col * (i as f64 + 0.5), y_of(b.count)))
        .collect();
    if let (Some(first), Some(last)) = (pts.first(), pts.last()) {
        let line: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        out.push_str(&format!(
            r#"<path class="act-area" d="M{:.1},{Y1} L{} L{:.1},{Y1} Z"/><polyline class="act-line" points="{}"/>"#,
            first.0,
            line.join(" L"),
            last.0,
            line.join(" ")
        ));
    }
    for (i, b) in buckets.iter().enumerate() {
        let x = X0 + col * i as f64;
        let hour = b.hour_start.hour();
        let label = format!(
            "{} · {} job{}",
            hour_range(&b.hour_start),
            b.count,
            if b.count == 1 { "" } else { "s" }
        );
        let (px, py) = pts[i];
        out.push_str(&format!(
            r#"<g class="act-hour"><rect class="act-hit" x="{x:.1}" y="{Y0}" width="{col:.1}" height="{}"/>"#,
            Y1 - Y0
        ));
        if b.count > 0 {
            out.push_str(&format!(
                r#"<circle class="act-dot" cx="{px:.1}" cy="{py:.1}" r="2.5"/>"#
            ));
        }
        out.push_str(&format!("<title>{}</title></g>", xml_escape(&label)));
        if hour % 3 == 0 {
            out.push_str(&format!(
                r#"<text class="act-tick" x="{:.1}" y="{}" text-anchor="middle">{hour:02}:00</text>"#,
                x + col / 2.0,
                H - 8.0
            ));
        }
    }
    out.push_str(&format!(
        r#"<line class="act-axis" x1="{X0}" y1="{Y1}" x2="{X1}" y2="{Y1}"/></svg>"#
    ));
    out
}

/// `2026-11-27T08:00:00.000Z` -> `27 Nov 08:00–09:00 UTC`.
fn hour_range(t: &chrono::DateTime<chrono::Utc>) -> String {
    let end = *t + chrono::Duration::hours(1);
    format!("{}–{} UTC", t.format("%d %b %H:%M"), end.format("%H:%M"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::Permission;

    #[test]
    fn the_panel_form_follows_the_run_grants() {
        let me = |grants: &[(&str, &str)]| Me {
            username: "u".into(),
            display_name: "U".into(),
            must_change_pw: false,
            theme: "dark".into(),
            permissions: grants.iter().map(|(v, r)| Permission::new(v, r)).collect(),
            build_hash: String::new(),
        };
        assert!(may_run_on(&me(&[("*", "*")]), "web-01"));
        let web_runner = me(&[("view", "minion:web-*"), ("execute", "salt:test.*")]);
        assert!(may_run_on(&web_runner, "web-01"));
        assert!(
            !may_run_on(&web_runner, "db-01"),
            "outside the minion scope"
        );
        assert!(
            !may_run_on(&me(&[("view", "minion:*")]), "web-01"),
            "no execute grant at all"
        );
    }

    #[test]
    fn timeline_activity_chart() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(480), 500);
        let buckets: Vec<ActivityBucket> = (0..25)
            .map(|i| ActivityBucket {
                hour_start: chrono::DateTime::parse_from_rfc3339(&format!(
                    "2026-11-2{}T{:02}:00:00.000Z",
                    6 + (12 + i) / 24,
                    (12 + i) % 24
                ))
                .unwrap()
                .to_utc(),
                count: if i == 3 { 7 } else { 0 },
            })
            .collect();
        let svg = activity_svg(&buckets);
        assert_eq!(svg.matches("<g class=\"act-hour\">").count(), 25);
        assert_eq!(
            svg.matches("act-dot").count(),
            1,
            "a dot only where jobs ran"
        );
        assert!(svg.contains("<title>26 Nov 15:00–16:00 UTC · 7 jobs</title>"));
        assert!(svg.contains(">15:00</text>") && svg.contains(">00:00</text>"));
        assert!(!svg.contains(">13:00</text>"), "hour labels every 3 h");
        assert!(svg.contains(">10</text>"), "y axis tops out at a round 10");
        assert!(activity_svg(&[]).starts_with("<svg"));
    }
}
