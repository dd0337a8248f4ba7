//! Timeline: job invocations over a window as rows of bars (by function or by Salt user), drawn
//! as one server-made SVG with a bar per job that links to the job; the filters live in the URL.

use crate::app::api::auth::Me;
use crate::app::api::overview::{url_path_escape, xml_escape};
use crate::app::api::timeline::{
    get_timeline, parse_flag, TimelineBar, TimelineOut, CATEGORIES, DEFAULT_WINDOW, GROUP_BYS,
    MAX_BARS, MAX_FUNCTION_FILTER, MAX_USER, WINDOWS,
};
use crate::app::components::icons::Icon;
use crate::app::components::list::{input_text, use_query_state, FilterInput, FilterSelect};
use crate::app::pages::{short_utc, ErrorPanel, PageHeader};
use crate::app::{me_resource, me_value};
use crate::model::list::{href, push_flag, push_str};
use chrono::{DateTime, Duration, DurationRound, Utc};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// The Timeline's filters as in the URL (raw strings: the server validates them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineQuery {
    pub window: String,
    pub group_by: String,
    pub function: String,
    pub user: String,
    pub include_system: String,
}

impl TimelineQuery {
    /// The URL for this state (defaults left out).
    pub fn href(&self) -> String {
        let mut parts = vec![];
        if self.window != DEFAULT_WINDOW {
            push_str(&mut parts, "window", &self.window);
        }
        if self.group_by != "function" {
            push_str(&mut parts, "group_by", &self.group_by);
        }
        push_str(&mut parts, "function", &self.function);
        push_str(&mut parts, "user", &self.user);
        push_flag(&mut parts, "include_system", self.system());
        href("/timeline", &parts)
    }

    fn system(&self) -> bool {
        parse_flag("include_system", &self.include_system).unwrap_or(false)
    }

    fn filtered(&self) -> bool {
        !self.function.is_empty() || !self.user.is_empty()
    }
}

/// `/timeline`.
#[component]
pub fn TimelinePage() -> impl IntoView {
    let state = use_query_state(|get| TimelineQuery {
        window: get("window"),
        group_by: get("group_by"),
        function: get("function"),
        user: get("user"),
        include_system: get("include_system"),
    });
    let data = Resource::new(
        move || state.get(),
        |s| get_timeline(s.window, s.group_by, s.include_system, s.function, s.user),
    );
    // SPEC 12: timeline data refreshes slowly.
    crate::app::pages::refresh_every(std::time::Duration::from_secs(300), move || data.refetch());
    let me_res = me_resource();
    let navigate = use_navigate();
    let window_ref = NodeRef::<leptos::html::Select>::new();
    let group_ref = NodeRef::<leptos::html::Select>::new();
    let function_ref = NodeRef::<leptos::html::Input>::new();
    let user_ref = NodeRef::<leptos::html::Input>::new();
    let system_ref = NodeRef::<leptos::html::Input>::new();
    // Read the form and go there (the same URL a plain GET of the form builds without WASM).
    let apply = move || {
        let q = TimelineQuery {
            window: window_ref.get().map(|e| e.value()).unwrap_or_default(),
            group_by: group_ref.get().map(|e| e.value()).unwrap_or_default(),
            function: input_text(function_ref),
            user: input_text(user_ref),
            include_system: if system_ref.get().is_some_and(|e| e.checked()) {
                "true".into()
            } else {
                String::new()
            },
        };
        navigate(&q.href(), Default::default());
    };
    let on_change = {
        let apply = apply.clone();
        move |_| apply()
    };
    let on_change2 = on_change.clone();
    let on_change3 = on_change.clone();
    let initial = state.get_untracked();
    let window_now = if initial.window.is_empty() {
        DEFAULT_WINDOW.to_string()
    } else {
        initial.window.clone()
    };
    let group_now = if initial.group_by.is_empty() {
        "function".to_string()
    } else {
        initial.group_by.clone()
    };
    view! {
        <PageHeader title="Timeline" subtitle="Job invocations over time, from Halite's jobs index" />
        <form method="get" action="/timeline" class="timeline-filters" role="search" aria-label="Timeline filters"
            on:submit=move |ev| {
                ev.prevent_default();
                apply();
            }>
            <FilterSelect class="tl-field" label="Window" name="window" test="timeline-window" node_ref=window_ref
                options=WINDOWS.to_vec() selected=window_now
                value=Signal::derive(move || { let w = state.get().window; if w.is_empty() { DEFAULT_WINDOW.to_string() } else { w } })
                on_change />
            <FilterSelect class="tl-field" label="Group by" name="group_by" test="timeline-group-by" node_ref=group_ref
                options=GROUP_BYS.to_vec() selected=group_now
                value=Signal::derive(move || { let g = state.get().group_by; if g.is_empty() { "function".to_string() } else { g } })
                on_change=on_change2 />
            <FilterInput class="tl-field tl-grow" label="Function" kind="search" name="function" placeholder="e.g. state.apply"
                maxlength=MAX_FUNCTION_FILTER test="timeline-function" node_ref=function_ref
                initial=initial.function.clone() value=Signal::derive(move || state.get().function) />
            <FilterInput class="tl-field tl-grow" label="Salt user" kind="text" name="user" placeholder="any"
                maxlength=MAX_USER test="timeline-user" node_ref=user_ref
                initial=initial.user.clone() value=Signal::derive(move || state.get().user) />
            <label class="field checkbox-field tl-system" title="Halite's own runner., wheel. and manage. calls and saltutil.find_job">
                <input type="checkbox" name="include_system" value="true" node_ref=system_ref on:change=on_change3
                    checked=initial.system() prop:checked=move || state.get().system() data-test="timeline-system" />
                <span>"Include system"</span>
            </label>
            <button type="submit" class="button">"Apply"</button>
        </form>
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading the timeline…"</div> }>
            {move || Suspend::new(async move {
                let s = state.get_untracked();
                let me = me_value(me_res).await;
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    Ok(t) => timeline_body(t, s, me).into_any(),
                }
            })}
        </Transition>
    }
}

fn window_label(w: &str) -> &'static str {
    WINDOWS
        .iter()
        .find(|x| x.0 == w)
        .map(|x| x.1)
        .unwrap_or("24 hours")
}

/// "2 min ago" for `t` measured against `now` (the server's clock for both, so the server
/// render and the hydrated page agree).
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - t).num_seconds().max(0);
    match s {
        0..=59 => "just now".to_string(),
        60..=3_599 => format!("{} min ago", s / 60),
        3_600..=86_399 => format!("{} h ago", s / 3_600),
        _ => format!("{} d ago", s / 86_400),
    }
}

#[cfg(test)]
fn parse(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn timeline_body(t: TimelineOut, s: TimelineQuery, me: Option<Me>) -> impl IntoView {
    let can_settings = me.as_ref().is_some_and(|m| m.can("edit", "settings:*"));
    let settings_link =
        move || can_settings.then(|| view! { " " <a href="/settings">"Open Settings"</a> });
    let freshness = match &t.last_polled_at {
        Some(p) => format!("Last poll {} ({})", ago(*p, t.window_end), short_utc(p)),
        None => "The jobs poller has not run yet".to_string(),
    };
    if t.total_bars == 0 {
        let wl = window_label(&t.window);
        let (title, text) = if !t.poller_enabled {
            (
                "Jobs scheduler not running — enable in Settings → Pollers".to_string(),
                "The Timeline is drawn from Halite's jobs index, which the jobs poller fills from salt-api.".to_string(),
            )
        } else if s.filtered() {
            (
                format!("No jobs match in the last {wl}"),
                "Nothing that started in this window matches the function or user filter."
                    .to_string(),
            )
        } else {
            (
                format!("No jobs in the last {wl}"),
                if s.system() {
                    "Salt ran nothing Halite saw in this window. Try a longer window.".to_string()
                } else {
                    "Nothing but system traffic ran in this window. Try a longer window, or include system jobs.".to_string()
                },
            )
        };
        let clear = s.filtered().then(|| {
            let href = TimelineQuery {
                function: String::new(),
                user: String::new(),
                ..s.clone()
            }
            .href();
            view! { <p><a href=href>"Clear the function and user filters"</a></p> }
        });
        let poller_off = !t.poller_enabled;
        return view! {
            <div class="panel state-panel" data-test=if poller_off { "timeline-poller-off" } else { "timeline-empty" }>
                <Icon name="clock" />
                <h2>{title}</h2>
                <p>{text}{poller_off.then(settings_link)}</p>
                {clear}
                <p class="muted small">{freshness}</p>
            </div>
        }
        .into_any();
    }
    let groups = t.groups.len();
    let summary = format!(
        "{} job{} in {} row{} · last {}",
        t.total_bars,
        if t.total_bars == 1 { "" } else { "s" },
        groups,
        if groups == 1 { "" } else { "s" },
        window_label(&t.window),
    );
    let svg = timeline_svg(&t, &s);
    let poller_off = !t.poller_enabled;
    let not_polled = t.poller_enabled && !t.active_known;
    let truncated = t.truncated;
    view! {
        {poller_off.then(|| view! {
            <div class="notice" data-test="timeline-poller-off">
                "Jobs scheduler not running — enable in Settings → Pollers. These are the jobs Halite saw before it stopped."
                {settings_link()}
            </div>
        })}
        {not_polled.then(|| view! {
            <div class="notice">"The jobs poller has not finished a cycle yet: which jobs are still running is not known."</div>
        })}
        <section class="panel timeline-panel" data-test="timeline">
            <div class="section-head row">
                <h2 data-test="timeline-count">{summary}</h2>
                <span class="muted small" data-test="timeline-freshness">{freshness}</span>
            </div>
            {truncated.then(|| view! {
                <p class="muted small">{format!("Showing the {MAX_BARS} most recent jobs of the window; narrow it or filter to see older ones.")}</p>
            })}
            <ul class="legend legend-row tl-legend" aria-label="Legend">
                {CATEGORIES.iter().map(|c| view! {
                    <li><span class=format!("dot tl-dot-{c}")></span>{*c}</li>
                }).collect_view()}
                <li class="tl-legend-sep"><span class="dot tl-dot-running"></span>"running"</li>
                <li><span class="dot tl-dot-unknown"></span>"status unknown"</li>
            </ul>
            <div class="timeline-body" inner_html=svg></div>
            <p class="muted small">"Times in UTC. Hover a bar for details; click it to open the job. Click a row label to filter by it."</p>
        </section>
    }
    .into_any()
}

// Chart geometry (viewBox units; the SVG scales to the panel's width).
const W: f64 = 1200.0;
const LABEL_X: f64 = 14.0;
const COUNT_X: f64 = 262.0;
const PLOT_X0: f64 = 276.0;
const PLOT_X1: f64 = W - 14.0;
const AXIS_H: f64 = 30.0;
const ROW_H: f64 = 26.0;
const BAR_W: f64 = 4.0;
const LABEL_CHARS: usize = 28;

/// Tick spacing and label format for a window.
fn tick_plan(window_secs: i64) -> (Duration, &'static str) {
    match window_secs {
        s if s <= 3_600 => (Duration::minutes(10), "%H:%M"),
        s if s <= 4 * 3_600 => (Duration::minutes(30), "%H:%M"),
        s if s <= 24 * 3_600 => (Duration::hours(2), "%H:%M"),
        _ => (Duration::days(1), "%a %d %b"),
    }
}

/// Tick times inside `[start, end]` on round multiples of the step (UTC).
pub fn ticks(start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<(DateTime<Utc>, String)> {
    let (step, fmt) = tick_plan((end - start).num_seconds());
    let mut t = start.duration_trunc(step).unwrap_or(start);
    if t < start {
        t += step;
    }
    let mut out = vec![];
    while t <= end && out.len() < 50 {
        let label = if fmt == "%H:%M" && t.format("%H:%M").to_string() == "00:00" {
            t.format("%d %b").to_string()
        } else {
            t.format(fmt).to_string()
        };
        out.push((t, label));
        t += step;
    }
    out
}

fn clip_label(s: &str) -> String {
    if s.chars().count() <= LABEL_CHARS {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(LABEL_CHARS - 1).collect();
        c.push('…');
        c
    }
}

/// What a status reads as in the hover text.
pub fn status_text(b: &TimelineBar) -> &'static str {
    match b.status.as_str() {
        "running" => "running",
        "complete" => "complete (no state summary yet)",
        "pass" => "complete",
        "changed" => "changed",
        "failed" => "failed",
        _ => "unknown (the jobs poller has not run yet)",
    }
}

fn bar_title(b: &TimelineBar) -> String {
    let mut lines = vec![
        b.function.clone(),
        format!("JID {}", b.jid),
        format!("Target: {}", b.target.as_deref().unwrap_or("—")),
        format!("User: {}", b.user.as_deref().unwrap_or("—")),
        format!("Started: {}", short_utc(&b.started_at)),
    ];
    if let Some(c) = &b.completed_at {
        lines.push(format!("Completed: {}", short_utc(c)));
    }
    lines.push(format!("Status: {}", status_text(b)));
    if let Some(n) = b.minion_count {
        lines.push(format!(
            "Minions: {n}, failed: {}",
            b.failed_minion_count.unwrap_or(0)
        ));
    }
    xml_escape(&lines.join("\n"))
}

/// The chart: one row per group (label, count), a UTC time axis with ticks and a bar per job at
/// its start time, coloured by category, outlined and pulsing while running, each linking to
/// `/jobs/<jid>` with the job's details as hover text.
pub fn timeline_svg(t: &TimelineOut, s: &TimelineQuery) -> String {
    let (start, end) = (t.window_start, t.window_end);
    let span = (end - start).num_milliseconds().max(1) as f64;
    let x_of = |at: DateTime<Utc>| {
        let f = ((at - start).num_milliseconds() as f64 / span).clamp(0.0, 1.0);
        PLOT_X0 + f * (PLOT_X1 - PLOT_X0)
    };
    let rows = t.groups.len();
    let height = AXIS_H + rows as f64 * ROW_H + 6.0;
    let bars: usize = t.groups.iter().map(|g| g.bars.len()).sum();
    let mut out = String::with_capacity(2_000 + rows * 400 + bars * 420);
    out.push_str(&format!(
        r#"<svg class="timeline-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="{W}" height="{height}" role="group" aria-label="{} jobs over the last {}, {} rows">"#,
        t.total_bars,
        window_label(&t.window),
        rows
    ));
    // Zebra rows first, so grid lines and bars sit on top.
    for i in (0..rows).step_by(2) {
        let y = AXIS_H + i as f64 * ROW_H;
        out.push_str(&format!(
            r#"<rect class="tl-zebra" x="0" y="{y}" width="{W}" height="{ROW_H}"/>"#
        ));
    }
    let bottom = height - 4.0;
    for (at, label) in ticks(start, end) {
        let x = x_of(at);
        // A label on the right edge would be cut in half: end it at its tick instead.
        let anchor = if x > PLOT_X1 - 30.0 { "end" } else { "middle" };
        out.push_str(&format!(
            r#"<line class="tl-grid" x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{bottom}"/><text class="tl-tick" x="{x:.1}" y="18" text-anchor="{anchor}">{}</text>"#,
            AXIS_H - 6.0,
            xml_escape(&label)
        ));
    }
    out.push_str(&format!(
        r#"<line class="tl-axis" x1="{PLOT_X0}" y1="{AXIS_H}" x2="{PLOT_X1}" y2="{AXIS_H}"/><line class="tl-now" x1="{PLOT_X1}" y1="{}" x2="{PLOT_X1}" y2="{bottom}"><title>now ({})</title></line>"#,
        AXIS_H - 6.0,
        xml_escape(&short_utc(&t.window_end))
    ));
    let by_user = t.group_by == "user";
    for (i, g) in t.groups.iter().enumerate() {
        let y = AXIS_H + i as f64 * ROW_H;
        let mid = y + ROW_H / 2.0;
        let filter = if by_user {
            TimelineQuery {
                user: g.key.clone(),
                ..s.clone()
            }
        } else {
            TimelineQuery {
                function: g.key.clone(),
                ..s.clone()
            }
        };
        // Filtering on an empty user means "any", so the no-user row gets no link.
        let link = !(by_user && g.key.is_empty());
        let label = format!(
            r#"<rect class="tl-swatch tl-cat-{cat}" x="4" y="{sy}" width="4" height="{sh}" rx="2"/><text class="tl-label" x="{LABEL_X}" y="{ty}">{text}<title>{full} · {n} job{plural}</title></text><text class="tl-count" x="{COUNT_X}" y="{ty}" text-anchor="end">{n}</text>"#,
            cat = xml_escape(&g.category),
            sy = y + 6.0,
            sh = ROW_H - 12.0,
            ty = mid + 4.5,
            text = xml_escape(&clip_label(&g.label)),
            full = xml_escape(&g.label),
            n = g.bar_count,
            plural = if g.bar_count == 1 { "" } else { "s" },
        );
        if link {
            out.push_str(&format!(
                r#"<a class="tl-row-link" href="{}">{label}</a>"#,
                xml_escape(&filter.href())
            ));
        } else {
            out.push_str(&label);
        }
        for b in &g.bars {
            let x = x_of(b.started_at);
            let w = match b.completed_at {
                Some(done) => (x_of(done) - x).max(BAR_W),
                None => BAR_W,
            };
            let x = x.min(PLOT_X1 - w);
            out.push_str(&format!(
                r#"<a href="/jobs/{jid}" aria-label="{title}"><rect class="tl-bar tl-cat-{cat} tl-{status}" x="{x:.1}" y="{by}" width="{w:.1}" height="{bh}" rx="1.5"><title>{title}</title></rect></a>"#,
                jid = url_path_escape(&b.jid),
                cat = xml_escape(&b.category),
                status = xml_escape(&b.status),
                by = y + 5.0,
                bh = ROW_H - 10.0,
                title = bar_title(b),
            ));
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::api::timeline::TimelineGroup;

    fn bar(jid: &str, function: &str, at: &str, status: &str) -> TimelineBar {
        TimelineBar {
            jid: jid.into(),
            function: function.into(),
            target: Some("web-<1>".into()),
            user: Some("root".into()),
            started_at: parse(at).unwrap(),
            completed_at: None,
            status: status.into(),
            category: crate::app::api::timeline::category(function).into(),
            minion_count: None,
            failed_minion_count: None,
        }
    }

    fn out() -> TimelineOut {
        TimelineOut {
            window: "24h".into(),
            window_start: parse("2026-11-26T12:00:00.000Z").unwrap(),
            window_end: parse("2026-11-27T12:00:00.000Z").unwrap(),
            group_by: "function".into(),
            groups: vec![
                TimelineGroup {
                    key: "test.ping".into(),
                    label: "test.ping".into(),
                    category: "test".into(),
                    bar_count: 2,
                    bars: vec![
                        bar(
                            "20261126120000000000",
                            "test.ping",
                            "2026-11-26T12:00:00.000Z",
                            "pass",
                        ),
                        bar(
                            "20261127115959000000",
                            "test.ping",
                            "2026-11-27T11:59:59.000Z",
                            "running",
                        ),
                    ],
                },
                TimelineGroup {
                    key: "state.apply".into(),
                    label: "state.apply".into(),
                    category: "state".into(),
                    bar_count: 1,
                    bars: vec![bar(
                        "20261127000000000000",
                        "state.apply",
                        "2026-11-27T00:00:00.000Z",
                        "complete",
                    )],
                },
            ],
            total_bars: 3,
            truncated: false,
            last_polled_at: Some("2026-11-27T11:58:00.000Z".parse().unwrap()),
            active_known: true,
            poller_enabled: true,
        }
    }

    #[test]
    fn timeline_svg_bars_links_and_escaping() {
        let svg = timeline_svg(&out(), &TimelineQuery::default());
        assert_eq!(svg.matches("<rect class=\"tl-bar").count(), 3);
        assert!(svg.contains(r#"<a href="/jobs/20261126120000000000" aria-label=""#));
        assert!(svg.contains("tl-running"));
        assert!(svg.contains("complete (no state summary yet)"));
        assert!(svg.contains("web-&lt;1&gt;"), "hover text is escaped");
        assert!(!svg.contains("web-<1>"));
        // The first job sits on the left edge, the last at the right edge (minus its width).
        assert!(svg.contains(&format!(r#"x="{PLOT_X0:.1}""#)));
        assert!(svg.contains(&format!(r#"x="{:.1}""#, PLOT_X1 - BAR_W)));
        // Row labels filter the Timeline by their function.
        assert!(svg.contains(r#"href="/timeline?function=state.apply""#));
        assert!(svg.contains(">state.apply<title>"));
    }

    #[test]
    fn timeline_ticks_per_window() {
        let end = parse("2026-11-27T12:34:00.000Z").unwrap();
        let t = ticks(end - Duration::hours(1), end);
        assert_eq!(t.first().unwrap().1, "11:40");
        assert_eq!(t.len(), 6);
        let t = ticks(end - Duration::hours(24), end);
        assert_eq!(t.first().unwrap().1, "14:00");
        assert!(t.iter().any(|x| x.1 == "27 Nov"), "midnight shows the date");
        assert_eq!(t.len(), 12);
        let t = ticks(end - Duration::days(7), end);
        assert_eq!(t.len(), 7);
        assert_eq!(t.last().unwrap().1, "Fri 27 Nov");
    }

    #[test]
    fn timeline_query_urls_and_freshness() {
        assert_eq!(TimelineQuery::default().href(), "/timeline");
        let q = TimelineQuery {
            window: "7d".into(),
            group_by: "user".into(),
            function: "state apply".into(),
            user: "root".into(),
            include_system: "on".into(),
        };
        assert_eq!(
            q.href(),
            "/timeline?window=7d&group_by=user&function=state%20apply&user=root&include_system=true"
        );
        let q = TimelineQuery {
            window: "24h".into(),
            group_by: "function".into(),
            include_system: "false".into(),
            ..Default::default()
        };
        assert_eq!(q.href(), "/timeline");
        let now = parse("2026-11-27T12:00:00.000Z").unwrap();
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(ago(at("2026-11-27T11:59:30.000Z"), now), "just now");
        assert_eq!(ago(at("2026-11-27T11:55:00.000Z"), now), "5 min ago");
        assert_eq!(ago(at("2026-11-27T09:00:00.000Z"), now), "3 h ago");
        assert_eq!(clip_label(&"x".repeat(40)).chars().count(), LABEL_CHARS);
    }
}
