//! Package inventory (`/inventory`, SPEC 6.9): what the inventory holds and how fresh it is, the
//! server-side paged packages table (name search, source chips, sortable columns, all in the
//! URL) and, for `collect:inventory:*`, the manual refresh with its progress and summary. A
//! package's version drift is in [`drift`], the package search in [`search`].

pub mod drift;
pub mod search;

use crate::app::api::inventory::{
    get_refresh_progress, list_packages, refresh_inventory, InventoryStatus, PackageFilters,
    PackageRow, PackageSort, PackagesPage, RefreshProgress, RefreshSummary,
};
use crate::app::components::icons::Icon;
use crate::app::components::list::{
    counted, export_links, list_table, page_pager, sort_headers, use_list_params, Chip, ChipKey,
    EmptyState, FilterChips, ListSearch, NoMatch,
};
use crate::app::pages::{auto_refresh, load_view, short_utc, PageHeader};
use crate::app::{me_resource, me_value};
use crate::error::AppError;
use crate::model::list::{url_escape, ListParams};
use crate::model::run::TARGET_TYPES;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::components::A;

/// The table's state, as in the URL.
pub type PackagesQuery = ListParams<PackageFilters>;

/// The sources a package can come from, as the filters offer them.
pub const SOURCES: &[&str] = &["apt", "rpm", "pacman"];

/// A collection older than this is called old (the minion has not answered since).
pub const OLD_AFTER_HOURS: i64 = 24;

/// A source's label for the chips and selects (`""`: every source).
pub fn source_label(s: &str) -> &'static str {
    match s {
        "apt" => "apt",
        "rpm" => "rpm",
        "pacman" => "pacman",
        _ => "All sources",
    }
}

/// A package's drift page (`/inventory/<name>`), its name escaped.
pub fn package_href(name: &str) -> String {
    format!("/inventory/{}", url_escape(name))
}

/// A minion's page.
pub fn minion_href(id: &str) -> String {
    format!("/minions/{}", url_escape(id))
}

/// The time now: the server's while it renders, the browser's afterwards. A page keeps it with
/// the data it loaded, so the server render and the hydrated page show the same ages.
pub fn now_utc() -> DateTime<Utc> {
    #[cfg(feature = "hydrate")]
    {
        DateTime::from_timestamp_millis(web_sys::js_sys::Date::now() as i64).unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        Utc::now()
    }
}

/// "5 min ago" for `t` at `now`.
pub fn age_text(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    crate::app::pages::timeline::ago(t, now)
}

/// Is a collection at `t` old at `now` ([`OLD_AFTER_HOURS`])?
pub fn is_old(t: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    (now - t).num_hours() >= OLD_AFTER_HOURS
}

/// A package's arch (monospace) or a muted dash when the package manager named none.
pub fn arch_cell(arch: &str) -> AnyView {
    if arch.is_empty() {
        view! { <span class="muted">"—"</span> }.into_any()
    } else {
        view! { <span class="mono">{arch.to_string()}</span> }.into_any()
    }
}

/// A package's source as a badge, or a muted dash when it has none.
pub fn source_cell(source: &str) -> AnyView {
    if source.is_empty() {
        view! { <span class="muted">"—"</span> }.into_any()
    } else {
        view! { <span class="badge badge-source">{source.to_string()}</span> }.into_any()
    }
}

/// A collection time with its age, flagged when it is old.
pub fn collected_cell(t: DateTime<Utc>, now: DateTime<Utc>) -> impl IntoView {
    let old = is_old(t, now).then(|| {
        view! {
            <span class="badge badge-stale" data-test="collected-old"
                title="This minion's package list was not collected again since: it did not answer">"old"</span>
        }
    });
    view! {
        <span class="nowrap">{short_utc(&t)}</span>
        <span class="muted small inv-age">{format!(" · {}", age_text(t, now))}</span>
        {old}
    }
}

/// `/inventory`.
#[component]
pub fn InventoryPage() -> impl IntoView {
    let state = use_list_params::<PackageFilters>();
    let refreshed = RwSignal::new(0u32);
    let list = Resource::new(
        move || (state.get(), refreshed.get()),
        |(s, _)| list_packages(s.q, s.filters.source, s.sort, s.dir, s.page, s.per_page),
    );
    auto_refresh(move || list.refetch());
    let refresh = RefreshControl::new(refreshed);
    let me = me_resource();
    let init = state.get_untracked();
    let filters = vec![("source", init.filters.source.clone())];
    view! {
        <PageHeader title="Inventory" subtitle="Every package on every minion, as pkg.list_pkgs reported it">
            <A href="/inventory/search" attr:class="button" attr:data-test="inventory-search-link">"Search packages"</A>
        </PageHeader>
        {load_view("Loading the inventory…", list, state, |page: PackagesPage, _| view! { <StatusStrip status=page.status /> })}
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let me = me_value(me).await;
                me.is_some_and(|m| m.can("collect", "inventory:*"))
                    .then(|| view! { <RefreshPanel refresh /> })
            })}
        </Suspense>
        <h2 class="fleet-table-title">"Packages"</h2>
        <ListSearch state placeholder="Package name contains…" aria_label="Search packages" test="inventory-q" filters />
        {load_view("Loading packages…", list, state, |page, s| view! { <PackagesTable page s /> })}
    }
}

/// What the inventory holds, how fresh it is, and what keeps it coming; the empty state when
/// nothing has been collected yet.
#[component]
fn StatusStrip(status: InventoryStatus) -> impl IntoView {
    let when = |t: &Option<DateTime<Utc>>| t.as_ref().map(short_utc).unwrap_or_else(|| "—".into());
    let schedule = if status.refresh_minutes > 0 {
        view! {
            <p class="muted small freshness" data-test="inventory-schedule">
                {format!("Collected every {} by the inventory poller", minutes_text(status.refresh_minutes))}
            </p>
        }
        .into_any()
    } else {
        view! {
            <div class="notice notice-warn" data-test="inventory-poller-off">
                <Icon name="alert" />
                <span>"Inventory poller off: package lists are only collected by a manual refresh. Turn it on in "</span>
                <A href="/settings">"Settings → Pollers"</A>"."
            </div>
        }
        .into_any()
    };
    let stat = |label: &'static str, value: String, test: &'static str| {
        view! {
            <div class="inv-stat">
                <div class="kpi-label">{label}</div>
                <div class="inv-stat-value" data-test=test>{value}</div>
            </div>
        }
    };
    let empty = (status.minions == 0).then(|| {
        let refresh = if status.can_refresh {
            "Or collect them now with the Refresh panel below (target * for every minion)."
        } else {
            "A user allowed to collect the inventory can also refresh it by hand."
        };
        view! {
            <EmptyState test="inventory-empty" icon="box" title="No package lists collected yet">
                <p>"The inventory poller asks every accepted minion for pkg.list_pkgs on its schedule (Settings → Pollers), and stores each minion's packages with the time it answered."</p>
                <p>{refresh}</p>
            </EmptyState>
        }
    });
    view! {
        <section class="panel inv-strip" data-test="inventory-status">
            {stat("Minions collected", status.minions.to_string(), "inventory-minions")}
            {stat("Distinct packages", status.packages.to_string(), "inventory-packages")}
            {stat("Installed", status.installed.to_string(), "inventory-installed")}
            {stat("Newest collection", when(&status.newest_collected_at), "inventory-newest")}
            {stat("Oldest collection", when(&status.oldest_collected_at), "inventory-oldest")}
        </section>
        {schedule}
        {empty}
    }
}

/// `90` -> `1 h 30 min`, `360` -> `6 h`, `5` -> `5 min`.
pub fn minutes_text(m: i64) -> String {
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The source chips, the table and the pager.
#[component]
fn PackagesTable(page: PackagesPage, s: PackagesQuery) -> impl IntoView {
    // An empty inventory is explained once, above (`inventory-empty`).
    if page.status.minions == 0 && !s.filtered() {
        return ().into_any();
    }
    let chips: Vec<Chip> = std::iter::once("")
        .chain(SOURCES.iter().copied())
        .map(|v| Chip {
            href: s
                .with_filters(PackageFilters {
                    source: v.to_string(),
                })
                .href(),
            label: source_label(v).to_string(),
            active: s.filters.source == v,
            value: v.to_string(),
            count: None,
        })
        .collect();
    let header = sort_headers(&s);
    let head = view! {
        {header(PackageSort::Name, "Package")}
        {header(PackageSort::Minions, "Minions")}
        {header(PackageSort::Versions, "Versions")}
        <th>"Sources"</th>
    };
    let empty = || {
        view! { <NoMatch path="/inventory" what="packages" icon="box" test="inventory-no-match" /> }
            .into_any()
    };
    let pager = page_pager(&s, &page.list, "package");
    let exports = (page.list.total > 0).then(|| {
        export_links(
            &s,
            "/api/inventory/export",
            page.list.total,
            "package",
            "inventory-export",
        )
    });
    let table = list_table(
        "table minions-table inv-table",
        "inventory-table",
        "Packages",
        head,
        page.list.rows,
        |r| view! { <PackageTr r /> },
        empty,
    );
    view! {
        <FilterChips chips label="Filter by source" key=ChipKey::Status />
        {exports}
        {table}
        {pager}
    }
    .into_any()
}

#[component]
fn PackageTr(r: PackageRow) -> impl IntoView {
    let href = package_href(&r.name);
    let sources = if r.sources.is_empty() {
        view! { <span class="muted">"—"</span> }.into_any()
    } else {
        r.sources
            .split(',')
            .map(|s| view! { <span class="badge badge-source">{s.to_string()}</span> })
            .collect_view()
            .into_any()
    };
    let drift = (r.version_count > 1).then(|| {
        view! { <span class="badge badge-stale" title="More than one version is installed">"drift"</span> }
    });
    let name_text = r.name.clone();
    view! {
        <tr data-test="inventory-row" data-package=r.name.clone()>
            <td class="cell-id"><A href=href>{name_text}</A></td>
            <td class="num">{r.minion_count}</td>
            <td class="num">{r.version_count}{drift}</td>
            <td class="inv-sources">{sources}</td>
        </tr>
    }
}

/// The manual refresh's state, made once by the page (so that a refetch of the list keeps it).
#[derive(Clone, Copy)]
pub struct RefreshControl {
    pub target: RwSignal<String>,
    pub target_type: RwSignal<String>,
    /// The progress id of the refresh running now.
    pub progress_id: RwSignal<Option<String>>,
    pub progress: RwSignal<Option<RefreshProgress>>,
    pub action: Action<(String, String, String), Result<RefreshSummary, AppError>>,
}

impl RefreshControl {
    /// The refresh action and its progress polling; `refreshed` moves on after a success.
    pub fn new(refreshed: RwSignal<u32>) -> Self {
        let action = Action::new(
            |(target, target_type, progress): &(String, String, String)| {
                refresh_inventory(target.clone(), target_type.clone(), progress.clone())
            },
        );
        let c = RefreshControl {
            target: RwSignal::new("*".to_string()),
            target_type: RwSignal::new("glob".to_string()),
            progress_id: RwSignal::new(None),
            progress: RwSignal::new(None),
            action,
        };
        Effect::new(move |_| {
            if matches!(action.value().get(), Some(Ok(_))) {
                refreshed.update(|n| *n += 1);
            }
        });
        c.poll_progress();
        c
    }

    /// While the action runs, ask how far it has got every second (browser only).
    fn poll_progress(self) {
        #[cfg(feature = "hydrate")]
        Effect::new(move |_| {
            if !self.action.pending().get() {
                return;
            }
            let Some(id) = self.progress_id.get_untracked() else {
                return;
            };
            let tick = move || {
                let id = id.clone();
                leptos::task::spawn_local(async move {
                    if let Ok(Some(p)) = get_refresh_progress(id).await {
                        if self.action.pending().get_untracked() {
                            self.progress.set(Some(p));
                        }
                    }
                });
            };
            if let Ok(h) = set_interval_with_handle(tick, std::time::Duration::from_secs(1)) {
                on_cleanup(move || h.clear());
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (self, get_refresh_progress);
    }

    fn start(self) {
        let id = new_progress_id();
        self.progress_id.set(Some(id.clone()));
        self.progress.set(None);
        self.action.dispatch((
            self.target.get_untracked().trim().to_string(),
            self.target_type.get_untracked(),
            id,
        ));
    }
}

/// A progress id for one refresh: `r-` and 16 random hex digits.
fn new_progress_id() -> String {
    #[cfg(feature = "hydrate")]
    {
        let mut s = String::from("r-");
        for _ in 0..16 {
            let d = (web_sys::js_sys::Math::random() * 16.0) as u32 % 16;
            s.push(char::from_digit(d, 16).unwrap_or('0'));
        }
        s
    }
    #[cfg(not(feature = "hydrate"))]
    {
        format!("r-{:016x}", Utc::now().timestamp_nanos_opt().unwrap_or(0))
    }
}

/// The Refresh panel: a target, its type and the button; the progress while it runs, then the
/// summary or the error.
#[component]
fn RefreshPanel(refresh: RefreshControl) -> impl IntoView {
    let RefreshControl {
        target,
        target_type,
        progress,
        action,
        ..
    } = refresh;
    let pending = action.pending();
    // The last answer's error, until the next refresh starts.
    let error = move || {
        (!pending.get())
            .then(|| action.value().get().and_then(|r| r.err()))
            .flatten()
    };
    let field_error = move |field: &'static str| {
        move || {
            error()
                .filter(|e| e.field() == Some(field))
                .map(|e| view! { <span class="field-error" data-test="field-error">{e.to_string()}</span> })
        }
    };
    let running = move || {
        pending.get().then(|| {
            let p = progress.get();
            let text = match &p {
                Some(p) => format!(
                    "answered {} of {}, stored {}",
                    p.answered, p.targeted, p.refreshed
                ),
                None => "resolving the target…".to_string(),
            };
            let width = p
                .as_ref()
                .filter(|p| p.targeted > 0)
                .map(|p| p.answered as f64 * 100.0 / p.targeted as f64)
                .unwrap_or(0.0);
            view! {
                <div class="inv-progress" data-test="inventory-refresh-progress" aria-live="polite">
                    <span class="muted">"Collecting package lists: "</span><span>{text}</span>
                    <div class="tf-bar inv-progress-bar"><span style=format!("width:{width:.1}%")></span></div>
                </div>
            }
        })
    };
    let outcome = move || {
        if pending.get() {
            return None;
        }
        match action.value().get()? {
            Ok(s) => Some(view! { <RefreshResult s /> }.into_any()),
            Err(e) if e.field().is_some() => None,
            Err(e) => Some(
                view! { <div class="notice notice-error" role="alert" data-test="inventory-refresh-error"><Icon name="alert" /><span>{e.to_string()}</span></div> }
                    .into_any(),
            ),
        }
    };
    view! {
        <section class="panel inv-refresh" data-test="inventory-refresh">
            <div class="section-head row">
                <h2>"Refresh now"</h2>
                <span class="muted small">"Ask the minions a target matches for their packages (pkg.list_pkgs); minions that do not answer keep their last list"</span>
            </div>
            <form class="inv-refresh-form" method="post" action="/api/inventory/refresh" on:submit=move |ev| {
                ev.prevent_default();
                if !pending.get_untracked() {
                    refresh.start();
                }
            }>
                <label class="field feed-field feed-grow">
                    <span class="field-label">"Target"</span>
                    <input type="text" name="target" required maxlength="1024" placeholder="* or web-* or web-01,db-01"
                        prop:value=move || target.get() on:input=move |ev| target.set(event_target_value(&ev))
                        data-test="inventory-refresh-target" />
                    {field_error("target")}
                </label>
                <label class="field feed-field">
                    <span class="field-label">"Target type"</span>
                    <select name="target_type" on:change=move |ev| target_type.set(event_target_value(&ev)) data-test="inventory-refresh-type">
                        {TARGET_TYPES.iter().map(|t| view! { <option value=*t selected=move || target_type.get() == *t>{*t}</option> }).collect_view()}
                    </select>
                    {field_error("target_type")}
                </label>
                <button type="submit" class="button button-primary" data-test="inventory-refresh-submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Refreshing…" } else { "Refresh" }}
                </button>
            </form>
            {running}
            {outcome}
        </section>
    }
}

/// What a finished refresh did.
#[component]
fn RefreshResult(s: RefreshSummary) -> impl IntoView {
    let minion_link = |m: &String, class: &'static str| {
        let text = m.clone();
        view! { <A href=minion_href(m) attr:class=class>{text}</A> }
    };
    let head = format!(
        "Refreshed {} {} of {} in {}",
        s.minions_refreshed,
        counted(s.minions_refreshed, "minion"),
        s.minions_targeted,
        crate::model::time::duration_ms_text(s.duration_ms as f64)
    );
    let no_answer = (!s.no_answer.is_empty()).then(|| {
        view! {
            <p class="small" data-test="inventory-refresh-no-answer">
                <span class="muted">"No answer (their previous lists are kept): "</span>
                {s.no_answer.iter().map(|m| minion_link(m, "mono inv-minion")).collect_view()}
            </p>
        }
    });
    let errors = (!s.errors.is_empty()).then(|| {
        view! {
            <ul class="small inv-errors" data-test="inventory-refresh-errors">
                {s.errors.iter().map(|(m, why)| view! { <li>{minion_link(m, "mono")}": "{why.clone()}</li> }).collect_view()}
            </ul>
        }
    });
    let counts = (!s.package_counts.is_empty()).then(|| {
        let rows = s
            .package_counts
            .iter()
            .map(|(m, n)| {
                view! {
                    <tr data-minion=m.clone()>
                        <td class="cell-id">{minion_link(m, "")}</td>
                        <td class="num">{*n}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <details class="inv-counts">
                <summary class="small">{format!("Packages per minion ({})", s.package_counts.len())}</summary>
                <table class="table inv-counts-table"><caption class="sr-only">"Packages by source"</caption>
                    <thead><tr><th>"Minion"</th><th class="num">"Packages"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </details>
        }
    });
    let class = if s.no_answer.is_empty() && s.errors.is_empty() {
        "notice notice-ok inv-summary"
    } else {
        "notice inv-summary"
    };
    view! {
        <div class=class data-test="inventory-refresh-summary" data-refreshed=s.minions_refreshed>
            <strong>{head}</strong>
        </div>
        {no_answer}
        {errors}
        {counts}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn minutes_and_age() {
        assert_eq!(minutes_text(5), "5 min");
        assert_eq!(minutes_text(360), "6 h");
        assert_eq!(minutes_text(90), "1 h 30 min");
        let now = at("2026-11-30T12:00:00Z");
        assert!(!is_old(at("2026-11-30T06:00:00Z"), now));
        assert!(is_old(at("2026-11-29T11:59:00Z"), now));
        assert_eq!(age_text(at("2026-11-30T11:55:00Z"), now), "5 min ago");
    }

    #[test]
    fn links_escape_names() {
        assert_eq!(package_href("libstdc++6"), "/inventory/libstdc%2B%2B6");
        assert_eq!(minion_href("web-01"), "/minions/web-01");
        assert_eq!(source_label(""), "All sources");
    }
}
