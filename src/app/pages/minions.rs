//! Minions: server-side search, status chips with counts, sortable columns, paging, all in the
//! URL; and the detail page with its state runs ([`runs`]) and the grains tree.

pub mod packages;
pub mod runs;

use crate::app::api::fleet::{get_minion_runs, MINION_RUNS};
use crate::app::api::minions::{get_minion, list_minions, MinionDetail, MinionPage, MinionRow};
use crate::app::api::overview::url_path_escape;
use crate::app::components::list::{
    export_links, list_table, page_pager, sort_headers, value_chips, ChipKey, EmptyState,
    FilterChips, ListSearch, NoMatch,
};
use crate::app::pages::{copy_text, live_list, load_view, short_utc, ErrorPanel, PageHeader};
use crate::model::list::{ListParams, MinionFilters, MinionSort};
use crate::model::minions::MinionStatus;
use crate::model::minions::STATUSES;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use packages::{load_minion_packages, MinionPackagesSection, PackagesQuery};
use runs::MinionRunsSection;

/// The list's state, as in the URL.
pub type MinionsQuery = ListParams<MinionFilters>;

fn status_label(s: &str) -> &'static str {
    match s {
        "online" => "Online",
        "offline" => "Offline",
        "pending" => "Pending",
        "rejected" => "Rejected",
        "denied" => "Denied",
        _ => "All",
    }
}

/// Badge for a derived status.
#[component]
pub fn StatusBadge(status: MinionStatus) -> impl IntoView {
    let class = format!("badge status-{status}");
    view! { <span class=class>{status_label(status.as_str())}</span> }
}

/// `/minions`.
#[component]
pub fn MinionsPage() -> impl IntoView {
    let (state, data) = live_list(
        |l| l.minions,
        |s: MinionsQuery| list_minions(s.q, s.filters.status, s.sort, s.dir, s.page, s.per_page),
    );
    let filters = vec![("status", state.get_untracked().filters.status)];
    view! {
        <PageHeader title="Minions" subtitle="Every minion the master knows, from Halite's database" />
        <ListSearch state placeholder="Search id, OS or IP" aria_label="Search minions" test="minion-search" filters />
        {load_view("Loading minions…", data, state, |page, s| view! { <MinionsBody page s /> })}
    }
}

#[component]
fn MinionsBody(page: MinionPage, s: MinionsQuery) -> impl IntoView {
    let chips = value_chips(
        &s,
        STATUSES,
        &s.filters.status,
        status_label,
        |status| MinionFilters { status },
        |st| page.counts.get(st),
    );
    let header = sort_headers(&s);
    let empty_fleet = page.counts.all() == 0;
    let pager = page_pager(&s, &page.list, "minion");
    let exports = (page.list.total > 0).then(|| {
        export_links(
            &s,
            "/api/minions/export",
            page.list.total,
            "minion",
            "minions-export",
        )
    });
    let head = view! {
        {header(MinionSort::Id, "Minion")}
        {header(MinionSort::Status, "Status")}
        {header(MinionSort::Os, "OS")}
        {header(MinionSort::Ip, "IP")}
        {header(MinionSort::Salt, "Salt")}
        {header(MinionSort::Cpus, "CPUs")}
        {header(MinionSort::Mem, "Memory")}
    };
    let empty = move || {
        if empty_fleet {
            view! {
                <EmptyState test="minions-empty" icon="server" title="No minions yet">
                    <p>"Halite fills this list from salt-api: the keys poller adds every minion the master knows, presence and grains follow. If Salt is connected, the first poll runs a few seconds after start."</p>
                </EmptyState>
            }.into_any()
        } else {
            view! { <NoMatch path="/minions" what="minions" icon="server" test="minions-no-match" /> }.into_any()
        }
    };
    let rows = page.list.rows;
    let table = list_table(
        "table minions-table",
        "minions-table",
        "Minions",
        head,
        rows,
        |r| view! { <MinionTr r /> },
        empty,
    );
    view! {
        <FilterChips chips label="Filter by status" key=ChipKey::Status />
        {exports}
        {table}
        {pager}
    }
}

fn mem(mb: Option<i64>) -> String {
    match mb {
        Some(m) if m >= 1024 => format!("{:.1} GiB", m as f64 / 1024.0),
        Some(m) => format!("{m} MiB"),
        None => "—".into(),
    }
}

#[component]
fn MinionTr(r: MinionRow) -> impl IntoView {
    let href = format!("/minions/{}", url_path_escape(&r.id));
    let id_text = r.id.clone();
    let data_id = r.id.clone();
    // An offline minion's facts are the ones the master last cached for it.
    let last_known = (r.status == MinionStatus::Offline)
        .then_some("Last known: the minion is offline; these are the master's cached grains");
    view! {
        <tr data-minion=data_id class:last-known=last_known.is_some() title=last_known>
            <td class="cell-id"><A href=href>{id_text}</A>{r.stale.then(|| view! { <span class="badge badge-stale" title="No fresh data for over 10 minutes">"stale"</span> })}</td>
            <td><StatusBadge status=r.status /></td>
            <td>{r.os.unwrap_or_else(|| "—".into())}</td>
            <td class="mono">{r.ip.unwrap_or_else(|| "—".into())}</td>
            <td>{r.salt.unwrap_or_else(|| "—".into())}</td>
            <td class="num">{r.cpus.map(|c| c.to_string()).unwrap_or_else(|| "—".into())}</td>
            <td class="num">{mem(r.mem_mb)}</td>
        </tr>
    }
}

/// `/minions/:id`.
#[component]
pub fn MinionDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.get().get("id").unwrap_or_default());
    // Refetch when a live key or minion event names this minion (not on every fleet event:
    // that would also reset the grain filter).
    let live = crate::app::live::use_live();
    let changed = Memo::new(move |_| {
        let id = id.get();
        live.newest_live(|e| {
            use crate::model::activity::EventCategory;
            matches!(
                e.category,
                EventCategory::Key | EventCategory::Minion | EventCategory::System
            ) && (e.category == EventCategory::System
                || e.minion_id.as_deref() == Some(id.as_str()))
        })
    });
    let data = Resource::new(move || (id.get(), changed.get()), |(id, _)| get_minion(id));
    // Its state runs: again when a state run of this minion returns (stored by then), and
    // every 30 s without the event stream.
    let runs_changed = Memo::new(move |_| {
        let id = id.get();
        live.newest_live(|e| {
            e.category == crate::model::activity::EventCategory::System
                || (crate::app::live::is_state_return(e)
                    && e.minion_id.as_deref() == Some(id.as_str()))
        })
    });
    let runs = Resource::new(
        move || (id.get(), runs_changed.get()),
        |(id, _)| get_minion_runs(id, MINION_RUNS),
    );
    crate::app::pages::auto_refresh(move || runs.refetch());
    // Its packages (`view:inventory:*` only), filtered and paged in the URL.
    let query = leptos_router::hooks::use_query_map();
    let pkg_query = Memo::new(move |_| {
        let m = query.get();
        PackagesQuery::from_query(id.get(), &|k: &str| m.get(k).unwrap_or_default())
    });
    let me = crate::app::me_resource();
    let packages = Resource::new(
        move || pkg_query.get(),
        move |q| async move {
            let allowed = crate::app::me_value(me)
                .await
                .is_some_and(|m| m.can("view", "inventory:*"));
            load_minion_packages(allowed, q).await
        },
    );
    // Four parts, so that new runs or another page of packages do not redraw the grains (and
    // reset their filter).
    view! {
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading minion…"</div> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <PageHeader title=id.get_untracked() /><ErrorPanel error=e /> }.into_any(),
                    Ok(d) => view! { <MinionDetailBody d /> }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading state runs…"</div> }>
            {move || Suspend::new(async move {
                let found = data.await.is_ok();
                match runs.await {
                    _ if !found => ().into_any(),
                    Ok(r) => view! { <MinionRunsSection runs=r /> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let found = data.await.is_ok();
                let q = pkg_query.get_untracked();
                match packages.await {
                    Ok(Some((page, now))) if found => view! { <MinionPackagesSection page now q /> }.into_any(),
                    Err(e) if found => view! { <ErrorPanel error=e /> }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <MinionGrains grains_json=d.grains_json /> }.into_any(),
                    Err(_) => ().into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn MinionDetailBody(d: MinionDetail) -> impl IntoView {
    let fact = |label: &'static str, v: Option<String>| view! { <dt>{label}</dt><dd>{v.unwrap_or_else(|| "—".into())}</dd> };
    view! {
        <PageHeader title=d.id.clone() subtitle=format!("Key {}", d.key_status)>
            <A href="/minions" attr:class="button">"← All minions"</A>
        </PageHeader>
        <div class="detail-grid">
            <section class="panel">
                <div class="status-line">
                    <StatusBadge status=d.status />
                    {d.stale.then(|| view! { <span class="badge badge-stale">"stale"</span> })}
                </div>
                <dl class="facts" data-test="minion-facts">
                    {fact("IP", d.ip.clone())}
                    {fact("OS", d.os.clone().map(|o| format!("{o} {}", d.osrelease.clone().unwrap_or_default())))}
                    {fact("OS family", d.os_family.clone())}
                    {fact("Kernel", d.kernel.clone().map(|k| format!("{k} {}", d.kernelrelease.clone().unwrap_or_default())))}
                    {fact("CPU", d.cpus.map(|c| format!("{c} × {}", d.cpu_model.clone().unwrap_or_default())))}
                    {fact("Memory", Some(mem(d.mem_mb)))}
                    {fact("Salt", d.salt.clone())}
                    {fact("Virtual", d.virtual_type.clone())}
                </dl>
                {(d.status == MinionStatus::Offline).then(|| view! {
                    <p class="muted facts-note" data-test="last-known">
                        "The minion is offline: these are the last-known facts from the master's grains cache."
                    </p>
                })}
            </section>
            <section class="panel">
                <h2>"Freshness"</h2>
                <dl class="facts">
                    {fact("Keys polled", d.keys_refreshed_at.as_ref().map(short_utc))}
                    {fact("Presence polled", d.presence_refreshed_at.as_ref().map(short_utc))}
                    {fact("Grains polled", d.grains_refreshed_at.as_ref().map(short_utc))}
                </dl>
            </section>
        </div>
    }
}

#[component]
fn MinionGrains(grains_json: Option<String>) -> impl IntoView {
    let grains: Option<serde_json::Value> = grains_json
        .as_deref()
        .and_then(|g| serde_json::from_str(g).ok());
    let filter = RwSignal::new(String::new());
    view! {
        <section class="panel" data-test="grains">
            <div class="section-head row">
                <h2>"Grains"</h2>
                <input type="search" placeholder="Filter grains (key or value)" class="grain-filter"
                    on:input=move |ev| filter.set(event_target_value(&ev)) data-test="grain-filter" />
            </div>
            {match grains {
                None => view! { <p class="muted">"No grains yet: they are read from the master's cache for accepted, online minions."</p> }.into_any(),
                Some(g) => view! { <div class="grain-tree">{move || grain_tree(&g, "", &filter.get().to_lowercase())}</div> }.into_any(),
            }}
        </section>
    }
}

fn matches(path: &str, v: &serde_json::Value, f: &str) -> bool {
    if f.is_empty() || path.to_lowercase().contains(f) {
        return true;
    }
    match v {
        serde_json::Value::Object(m) => m.iter().any(|(k, c)| matches(&join(path, k), c, f)),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .any(|(i, c)| matches(&join(path, &i.to_string()), c, f)),
        other => scalar(other).to_lowercase().contains(f),
    }
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}:{k}")
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Collapsible tree of grains; paths use Salt's `a:b:c` notation (as `grains.get`).
fn grain_tree(v: &serde_json::Value, path: &str, f: &str) -> AnyView {
    let entries: Vec<(String, serde_json::Value)> = match v {
        serde_json::Value::Object(m) => m.iter().map(|(k, c)| (k.clone(), c.clone())).collect(),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, c)| (i.to_string(), c.clone()))
            .collect(),
        _ => vec![],
    };
    view! {
        <ul class="tree">
            {entries
                .into_iter()
                .filter(|(k, c)| matches(&join(path, k), c, f))
                .map(|(k, c)| {
                    let p = join(path, &k);
                    if c.is_object() || c.is_array() {
                        let n = if let Some(o) = c.as_object() { o.len() } else { c.as_array().map(|a| a.len()).unwrap_or(0) };
                        view! {
                            <li>
                                <details open=!f.is_empty()>
                                    <summary><span class="tree-key">{k}</span><span class="muted small">{format!(" {n}")}</span></summary>
                                    {grain_tree(&c, &p, f)}
                                </details>
                            </li>
                        }.into_any()
                    } else {
                        let copy_path = p.clone();
                        view! {
                            <li class="tree-leaf">
                                <span class="tree-key">{k}</span>
                                <span class="tree-value">{scalar(&c)}</span>
                                <button type="button" class="copy" title=format!("Copy {p}") on:click=move |_| copy_text(&copy_path)>"copy path"</button>
                            </li>
                        }.into_any()
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}
