//! Fleet health (`/fleet`, SPEC 6.10): freshness and poller notes, the health grid, the
//! compliance chart over the last state runs, the top failures, and the server-side paged table
//! of minions with their latest run (status chips, failing-state filter, search, sort, export),
//! all in the URL. The run detail (`/fleet/runs/:id`) is in [`run`].

pub mod chart;
pub mod run;

use crate::app::api::fleet::{
    get_fleet_summary, list_fleet, FleetFilters, FleetPage, FleetRow, FleetSort, FleetSummary,
    HealthStatus, TopFailure,
};
use crate::app::api::overview::url_path_escape;
use crate::app::components::health::HealthBadge;
use crate::app::components::icons::Icon;
use crate::app::components::list::{
    list_table, page_pager, sort_headers, use_list_params, EmptyState, ListSearch, NoMatch,
};
use crate::app::pages::{auto_refresh, load_view, short_utc, PageHeader};
use crate::model::activity::EventCategory;
use crate::model::list::ListParams;
use leptos::prelude::*;
use leptos_router::components::A;

/// The table's state, as in the URL.
pub type FleetQuery = ListParams<FleetFilters>;

/// The export of the table as the URL has it (search, filters and sort; every page), in `ext`.
pub fn export_href(s: &FleetQuery, ext: &str) -> String {
    s.export_href("/api/fleet/export", ext)
}

/// The table filtered to the minions whose latest run fails `state_id` (search kept).
pub fn failing_href(s: &FleetQuery, state_id: &str) -> String {
    s.with_filters(FleetFilters {
        status: String::new(),
        failing: state_id.to_string(),
    })
    .href()
}

pub use crate::model::time::duration_ms_text as duration_text;

/// `n minion` / `n minions`.
pub fn minions_text(n: i64) -> String {
    format!("{n} minion{}", if n == 1 { "" } else { "s" })
}

/// A counter the fleet's data depends on: the newest live event that can change it (a state
/// job's return is stored before it is published, a key change adds or removes a minion, a
/// stream gap means anything may have changed).
fn fleet_news() -> Memo<i64> {
    let live = crate::app::live::use_live();
    Memo::new(move |_| {
        live.newest_live(|e| match e.category {
            EventCategory::Job => {
                e.event_type == "job.ret"
                    && e.fun.as_deref().is_some_and(|f| f.starts_with("state."))
            }
            EventCategory::Key | EventCategory::System => true,
            EventCategory::Minion => false,
        })
    })
}

/// `/fleet`.
#[component]
pub fn FleetPage() -> impl IntoView {
    let state = use_list_params::<FleetFilters>();
    let news = fleet_news();
    let summary = Resource::new(move || news.get(), |_| get_fleet_summary(true, 0, 0));
    let list = Resource::new(
        move || (state.get(), news.get()),
        |(s, _)| {
            let f = s.filters;
            list_fleet(s.q, f.status, f.failing, s.sort, s.dir, s.page, s.per_page)
        },
    );
    auto_refresh(move || {
        summary.refetch();
        list.refetch();
    });
    let init = state.get_untracked();
    let filters = vec![
        ("status", init.filters.status.clone()),
        ("failing", init.filters.failing.clone()),
    ];
    view! {
        <PageHeader title="Fleet health" subtitle="Highstate compliance of every accepted minion, from the state runs the master ran">
            <a class="button" href=move || export_href(&state.get(), "csv") rel="external" download data-test="fleet-export"
                title="Download the table as CSV (search, filters and sort as shown; every page)">"Export CSV"</a>
            <a class="button" href=move || export_href(&state.get(), "json") rel="external" download data-test="fleet-export-json"
                title="Download the table as one JSON array (search, filters and sort as shown; every page)">"JSON"</a>
        </PageHeader>
        {load_view("Loading fleet health…", summary, state, move |sum, _| view! { <SummaryBody sum state /> })}
        <h2 class="fleet-table-title">"Minions"</h2>
        <ListSearch state placeholder="Search minion id" aria_label="Search minions" test="fleet-search" filters />
        {load_view("Loading minions…", list, state, |page, s| view! { <FleetTable page s /> })}
    }
}

/// Freshness and what keeps the data coming.
fn source_notes(sum: &FleetSummary) -> impl IntoView {
    let when = sum
        .last_ingest_at
        .as_ref()
        .map(short_utc)
        .unwrap_or_else(|| "never".into());
    let poller_off = (!sum.poller_enabled).then(|| {
        view! {
            <div class="notice notice-warn" data-test="fleet-poller-off">
                <Icon name="alert" />
                <span>"The fleet poller is off, so new state runs are only read from the live event stream (if it is on). Turn it on in "</span>
                <A href="/settings">"Settings → Pollers"</A>"."
            </div>
        }
    });
    let no_source = (!sum.jobs_source).then(|| {
        view! {
            <div class="notice notice-warn" data-test="fleet-no-source">
                <Icon name="alert" />
                <span>"Neither the jobs poller nor the event stream is on: the fleet poller finds state runs in the jobs index they fill. Turn one on in "</span>
                <A href="/settings">"Settings → Pollers"</A>"."
            </div>
        }
    });
    view! {
        <p class="muted small freshness" data-test="fleet-freshness">
            {format!("Last state run read {when} · status from each minion's latest run and its presence")}
        </p>
        {poller_off}
        {no_source}
    }
}

#[component]
fn SummaryBody(sum: FleetSummary, state: Memo<FleetQuery>) -> impl IntoView {
    let notes = source_notes(&sum);
    if sum.counts.all() == 0 {
        return view! {
            {notes}
            <EmptyState test="fleet-empty" icon="shield" title="No minions yet">
                <p>"Fleet health covers the accepted minions you may view. Once the keys poller has seen an accepted key, the minion shows here as unknown until its first state run is read."</p>
                <p><A href="/keys">"Open Keys"</A></p>
            </EmptyState>
        }
        .into_any();
    }
    let no_runs = sum.compliance.is_empty() && sum.last_ingest_at.is_none();
    let empty_runs = no_runs.then(|| {
        view! {
            <EmptyState test="fleet-empty" icon="shield" title="No state runs yet">
                <p>"Runs appear after the next state.apply or highstate: Halite reads them from the jobs the master ran (the fleet poller looks up state jobs in the jobs index, and the event stream delivers them as they return). Until then every online minion is unknown."</p>
                <p><A href="/run">"Run state.apply"</A></p>
            </EmptyState>
        }
    });
    let charts = (!no_runs).then(|| {
        view! {
            <div class="chart-grid fleet-charts">
                <ComplianceChart buckets=sum.compliance.clone() />
                <TopFailures failures=sum.top_failures.clone() state />
            </div>
        }
    });
    view! {
        {notes}
        {empty_runs}
        <HealthGrid sum=sum.clone() />
        {charts}
    }
    .into_any()
}

#[component]
fn HealthGrid(sum: FleetSummary) -> impl IntoView {
    let n = sum.tiles.len();
    let html = chart::grid_html(&sum.tiles);
    let legend = chart::WORST_FIRST
        .iter()
        .map(|s| {
            view! {
                <li title=s.meaning()>
                    <span class=format!("dot health-{s}")></span>{s.label()}
                    <span class="legend-n">{sum.counts.of(*s)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="panel fleet-grid-panel">
            <div class="section-head row">
                <h2>"Health grid"</h2>
                <span class="muted small">{format!("{} · problems first · click a tile for the minion", minions_text(n as i64))}</span>
            </div>
            <div class=format!("fleet-grid {}", chart::grid_size_class(n)) data-test="fleet-grid" role="group"
                aria-label="Minions by health" inner_html=html></div>
            <ul class="legend legend-row">{legend}</ul>
        </section>
    }
}

#[component]
fn ComplianceChart(buckets: Vec<crate::app::api::fleet::ComplianceBucket>) -> impl IntoView {
    let n = buckets.len();
    let svg = chart::compliance_svg(&buckets);
    let legend = [
        (HealthStatus::Healthy, "Passed"),
        (HealthStatus::Changed, "Changed"),
        (HealthStatus::Unhealthy, "Failed"),
        (HealthStatus::Blocked, "Blocked"),
    ]
    .into_iter()
    .map(|(s, label)| view! { <li><span class=format!("dot health-{s}")></span>{label}</li> })
    .collect_view();
    view! {
        <section class="panel" data-test="fleet-compliance">
            <div class="section-head row">
                <h2>"Compliance"</h2>
                <span class="muted small">{format!("last {n} state run{} · minions per run · oldest left · click a bar for the job", if n == 1 { "" } else { "s" })}</span>
            </div>
            {if n == 0 {
                view! { <p class="muted">"No state run has been read yet."</p> }.into_any()
            } else {
                view! { <div class="compliance-body" inner_html=svg></div> }.into_any()
            }}
            <ul class="legend legend-row">{legend}</ul>
        </section>
    }
}

#[component]
fn TopFailures(failures: Vec<TopFailure>, state: Memo<FleetQuery>) -> impl IntoView {
    let most = failures.iter().map(|f| f.minions).max().unwrap_or(1).max(1);
    let body = if failures.is_empty() {
        view! { <p class="muted" data-test="top-failures-none">"No state fails on any minion's latest run."</p> }
            .into_any()
    } else {
        let rows = failures
            .into_iter()
            .map(|f| {
                let id = f.state_id.clone();
                let href = move || failing_href(&state.get(), &id);
                let id = f.state_id.clone();
                let class = move || {
                    if state.get().filters.failing == id {
                        "top-failure top-failure-active"
                    } else {
                        "top-failure"
                    }
                };
                let width = format!("width:{:.1}%", f.minions as f64 * 100.0 / most as f64);
                let name = (f.name != f.state_id).then(|| format!(" · {}", f.name));
                let title = format!("Show the minions whose latest run fails {}", f.state_id);
                let data_state = f.state_id.clone();
                let id_text = f.state_id;
                let comment_title = f.comment.clone();
                view! {
                    <li>
                        <A href=href attr:class=class attr:data-test="top-failure" attr:data-state=data_state attr:title=title>
                            <div class="tf-head">
                                <span class="mono tf-id">{id_text}</span>
                                <span class="tf-count" data-test="top-failure-count">{minions_text(f.minions)}</span>
                            </div>
                            <div class="tf-bar"><span style=width></span></div>
                            <div class="muted small mono tf-fun">{f.fun}{name}</div>
                            <div class="tf-comment small" title=comment_title>{f.comment}</div>
                        </A>
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="tf-list">{rows}</ul> }.into_any()
    };
    view! {
        <section class="panel" data-test="top-failures">
            <div class="section-head row">
                <h2>"Top failures"</h2>
                <span class="muted small">"failing on the minions' latest run · click to list them"</span>
            </div>
            {body}
        </section>
    }
}

/// The status chips (with counts for the search and failing filter), the failing-state note,
/// the table and the pager.
#[component]
fn FleetTable(page: FleetPage, s: FleetQuery) -> impl IntoView {
    // An empty fleet is explained once, above (`fleet-empty`).
    if page.counts.all() == 0 && !s.filtered() {
        return ().into_any();
    }
    let chip = |value: &str, label: &'static str, count: i64, test: String| {
        let href = s
            .with_filters(FleetFilters {
                status: value.to_string(),
                failing: s.filters.failing.clone(),
            })
            .href();
        let class = if s.filters.status == value {
            "chip chip-active"
        } else {
            "chip"
        };
        let dot = (!value.is_empty())
            .then(|| view! { <span class=format!("dot health-{value}")></span> });
        let title = value
            .parse::<HealthStatus>()
            .map(HealthStatus::meaning)
            .unwrap_or("Every minion");
        view! {
            <A href=href attr:class=class attr:data-test=test attr:data-status=value.to_string() attr:title=title>
                {dot}{label}<span class="chip-count">{count}</span>
            </A>
        }
    };
    let mut chips = vec![chip("", "All", page.counts.all(), "fleet-chip-all".into()).into_any()];
    for st in HealthStatus::ALL {
        chips.push(
            chip(
                st.as_str(),
                st.label(),
                page.counts.of(*st),
                format!("fleet-chip-{st}"),
            )
            .into_any(),
        );
    }
    let failing = (!s.filters.failing.is_empty()).then(|| {
        let clear = s
            .with_filters(FleetFilters {
                status: s.filters.status.clone(),
                failing: String::new(),
            })
            .href();
        view! {
            <div class="notice notice-error fleet-failing" data-test="fleet-failing-filter">
                <span>"Minions whose latest run fails "<code>{s.filters.failing.clone()}</code></span>
                <A href=clear attr:class="button button-small">"Clear"</A>
            </div>
        }
    });
    let header = sort_headers(&s);
    let head = view! {
        {header(FleetSort::Minion, "Minion")}
        {header(FleetSort::Status, "Status")}
        {header(FleetSort::Completed, "Last run")}
        <th>"Function"</th>
        <th class="num">"Passed"</th>
        {header(FleetSort::Failures, "Failed")}
        {header(FleetSort::Changes, "Changes")}
        <th class="num">"Total"</th>
        <th class="num">"Duration"</th>
        <th>"Run"</th>
    };
    let empty = || {
        view! { <NoMatch path="/fleet" what="minions" icon="shield" test="fleet-no-match" /> }
            .into_any()
    };
    let pager = page_pager(&s, &page.list, "minion");
    let table = list_table(
        "table minions-table fleet-table",
        "fleet-table",
        "Minions and their latest state run",
        head,
        page.list.rows,
        |r| view! { <FleetTr r /> },
        empty,
    );
    view! {
        <div class="chips" role="group" aria-label="Filter by health">{chips}</div>
        {failing}
        {table}
        {pager}
    }
    .into_any()
}

#[component]
fn FleetTr(r: FleetRow) -> impl IntoView {
    let minion_href = format!("/minions/{}", url_path_escape(&r.minion_id));
    let ran = r.run_id.is_some();
    let dash = || "—".to_string();
    let n = |v: i64| if ran { v.to_string() } else { dash() };
    let run = match &r.run_id {
        Some(id) => view! {
            <A href=format!("/fleet/runs/{}", url_path_escape(id)) attr:data-test="fleet-run-link">"View run"</A>
        }
        .into_any(),
        None => view! { <span class="muted">"no run yet"</span> }.into_any(),
    };
    let fail_class = if r.fail_count > 0 {
        "num text-bad"
    } else {
        "num"
    };
    let change_class = if r.change_count > 0 {
        "num text-changed"
    } else {
        "num"
    };
    let data_minion = r.minion_id.clone();
    let id_text = r.minion_id.clone();
    view! {
        <tr data-test="fleet-row" data-minion=data_minion data-status=r.status.as_str()>
            <td class="cell-id">
                <A href=minion_href>{id_text}</A>
                {(!r.online).then(|| view! { <span class="badge badge-stale" title="Did not answer the latest presence check">"offline"</span> })}
            </td>
            <td><HealthBadge status=r.status /></td>
            <td class="nowrap">{r.completed_at.as_ref().map(short_utc).unwrap_or_else(|| "never".into())}</td>
            <td class="mono">{r.fun.clone().unwrap_or_else(dash)}</td>
            <td class="num">{n(r.pass_count)}</td>
            <td class=fail_class>{n(r.fail_count)}</td>
            <td class=change_class>{n(r.change_count)}</td>
            <td class="num">{n(r.total_count)}</td>
            <td class="num nowrap">{if ran { duration_text(r.duration_ms) } else { dash() }}</td>
            <td class="nowrap">{run}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_and_failing_links() {
        let s = FleetQuery {
            q: "web".into(),
            sort: "failures".into(),
            dir: "desc".into(),
            page: 3,
            per_page: 100,
            filters: FleetFilters {
                status: "unhealthy".into(),
                failing: String::new(),
            },
        };
        assert_eq!(
            export_href(&s, "csv"),
            "/api/fleet/export.csv?q=web&status=unhealthy&sort=failures&dir=desc"
        );
        assert_eq!(
            export_href(&FleetQuery::default(), "ndjson"),
            "/api/fleet/export.ndjson"
        );
        assert_eq!(
            failing_href(&s, "pkg vim&x"),
            "/fleet?q=web&failing=pkg%20vim%26x&sort=failures&dir=desc&per_page=100"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration_text(850.4), "850 ms");
        assert_eq!(duration_text(12_345.0), "12.3 s");
        assert_eq!(duration_text(125_000.0), "2m 05s");
        assert_eq!(duration_text(f64::NAN), "—");
        assert_eq!(minions_text(1), "1 minion");
        assert_eq!(minions_text(3), "3 minions");
    }
}
