//! A package's version drift (`/inventory/:name`): one row per installed (version, arch,
//! source), newest first as the server orders them, each with its minion count as a bar; the
//! chosen version's minions (`?version=<id>`, paged) below. Source filter, version and page are
//! in the URL.

use super::{collected_cell, minion_href, now_utc, package_href, source_label, SOURCES};
use crate::app::api::inventory::{
    get_package_versions, list_version_minions, PackageVersions, VersionMinions, VersionRow,
};
use crate::app::components::icons::Icon;
use crate::app::components::list::{pager_links, use_query_state, EmptyState, PagerShape};
use crate::app::pages::{ErrorPanel, PageHeader};
use crate::error::AppError;
use crate::model::list::{href, url_escape, DEFAULT_PER_PAGE};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// The drift page's state, as in its URL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriftQuery {
    pub name: String,
    /// `apt`, `rpm`, `pacman` or empty (every source).
    pub source: String,
    /// The chosen version's id.
    pub version: Option<i64>,
    pub page: i64,
    pub per_page: i64,
}

impl DriftQuery {
    /// The URL of this state (defaults left out).
    pub fn href(&self) -> String {
        let mut parts = vec![];
        if !self.source.is_empty() {
            parts.push(format!("source={}", url_escape(&self.source)));
        }
        if let Some(v) = self.version {
            parts.push(format!("version={v}"));
        }
        if self.page > 1 {
            parts.push(format!("page={}", self.page));
        }
        if self.per_page != 0 && self.per_page != DEFAULT_PER_PAGE {
            parts.push(format!("per_page={}", self.per_page));
        }
        href(&package_href(&self.name), &parts)
    }

    /// The same package with another source filter (no version chosen).
    pub fn with_source(&self, source: &str) -> Self {
        DriftQuery {
            name: self.name.clone(),
            source: source.to_string(),
            ..Default::default()
        }
    }

    /// The same view with version `id` chosen, its first page.
    pub fn with_version(&self, id: i64) -> Self {
        DriftQuery {
            version: Some(id),
            page: 1,
            ..self.clone()
        }
    }
}

/// The package search for the minions with an older version of the package than `v` (from the
/// same source).
pub fn older_href(name: &str, v: &VersionRow) -> String {
    let mut parts = vec![
        format!("name={}", url_escape(name)),
        format!("version={}", url_escape(&v.version)),
        "version_op=lt".to_string(),
    ];
    if !v.source.is_empty() {
        parts.push(format!("source={}", url_escape(&v.source)));
    }
    href("/inventory/search", &parts)
}

/// `/inventory/:name`.
#[component]
pub fn PackageDriftPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.get().get("name").unwrap_or_default());
    let query = use_query_state(|get| {
        (
            get("source"),
            get("version").parse::<i64>().ok().filter(|v| *v > 0),
            get("page").parse::<i64>().unwrap_or(1),
            get("per_page").parse::<i64>().unwrap_or(DEFAULT_PER_PAGE),
        )
    });
    let state = Memo::new(move |_| {
        let (source, version, page, per_page) = query.get();
        DriftQuery {
            name: name.get(),
            source,
            version,
            page,
            per_page,
        }
    });
    let selected = Memo::new(move |_| state.get().version);
    let versions = Resource::new(
        move || (name.get(), state.get().source),
        |(name, source)| get_package_versions(name, source),
    );
    let minions = Resource::new(
        move || {
            let s = state.get();
            (s.version, s.page, s.per_page)
        },
        |(version, page, per_page)| async move {
            match version {
                None => Ok(None),
                Some(id) => list_version_minions(id, page, per_page)
                    .await
                    .map(|m| Some((m, now_utc()))),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading versions…"</div> }>
            {move || Suspend::new(async move {
                let s = state.get_untracked();
                match versions.await {
                    Err(AppError::NotFound(_)) => view! { <NotInstalled s /> }.into_any(),
                    Err(e) => view! { <PageHeader title=s.name.clone() /><ErrorPanel error=e /> }.into_any(),
                    Ok(v) => view! { <DriftBody v s selected /> }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading minions…"</div> }>
            {move || Suspend::new(async move {
                let s = state.get_untracked();
                match minions.await {
                    Ok(None) => ().into_any(),
                    Ok(Some((m, now))) => view! { <VersionMinionsPanel m now s /> }.into_any(),
                    Err(AppError::NotFound(m)) => view! {
                        <div class="notice notice-warn" data-test="drift-version-gone"><Icon name="alert" /><span>{m}</span></div>
                    }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The designed 404: no minion has this package (in the source filtered).
#[component]
fn NotInstalled(s: DriftQuery) -> impl IntoView {
    let search = href(
        "/inventory/search",
        &[
            format!("name={}", url_escape(&s.name)),
            "name_op=contains".to_string(),
        ],
    );
    let other_source = (!s.source.is_empty()).then(|| {
        let all = s.with_source("").href();
        view! { <p><A href=all>{format!("Look in every source, not only {}", s.source)}</A></p> }
    });
    view! {
        <PageHeader title=s.name.clone() subtitle="Version drift">
            <A href="/inventory" attr:class="button">"← All packages"</A>
        </PageHeader>
        <EmptyState test="drift-not-found" icon="box" title=format!("No minion has package {}", s.name)>
            <p>"No collected package list names it. It may be spelled differently, or the minions that have it were not collected yet."</p>
            {other_source}
            <p><A href=search>"Search for names that contain it"</A></p>
        </EmptyState>
    }
}

#[component]
fn DriftBody(v: PackageVersions, s: DriftQuery, selected: Memo<Option<i64>>) -> impl IntoView {
    let chips = std::iter::once("")
        .chain(SOURCES.iter().copied())
        .map(|src| {
            let class = if s.source == src {
                "chip chip-active"
            } else {
                "chip"
            };
            view! {
                <A href=s.with_source(src).href() attr:class=class attr:data-status=src.to_string()>{source_label(src)}</A>
            }
        })
        .collect_view();
    let most = v
        .versions
        .iter()
        .map(|r| r.minion_count)
        .max()
        .unwrap_or(1)
        .max(1);
    let distinct = v.versions.len();
    let mut seen_sources: Vec<String> = vec![];
    let rows = v
        .versions
        .iter()
        .map(|r| {
            let newest = !seen_sources.contains(&r.source);
            if newest {
                seen_sources.push(r.source.clone());
            }
            view! { <VersionTr r=r.clone() name=v.name.clone() newest most s=s.clone() selected /> }
        })
        .collect_view();
    let subtitle = format!(
        "Version drift · {} {} with it · {} installed version{}",
        v.minion_count,
        super::counted(v.minion_count, "minion"),
        distinct,
        if distinct == 1 { "" } else { "s" }
    );
    view! {
        <PageHeader title=v.name.clone() subtitle>
            <A href=format!("/inventory/search?name={}", url_escape(&v.name)) attr:class="button">"Search"</A>
            <A href="/inventory" attr:class="button">"← All packages"</A>
        </PageHeader>
        <div class="chips" role="group" aria-label="Filter by source">{chips}</div>
        <div class="table-wrap">
            <table class="table minions-table inv-drift-table" data-test="drift-table" data-minions=v.minion_count><caption class="sr-only">"Versions of this package, newest first"</caption>
                <thead>
                    <tr>
                        <th>"Version"</th>
                        <th>"Arch"</th>
                        <th>"Source"</th>
                        <th class="inv-bar-col">"Minions"</th>
                        <th><span class="visually-hidden">"Search"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <p class="muted small inv-hint">"Newest first by each source's version rules · click a version for its minions"</p>
    }
}

#[component]
fn VersionTr(
    r: VersionRow,
    name: String,
    newest: bool,
    most: i64,
    s: DriftQuery,
    /// The chosen version (it changes without a new load of the versions).
    selected: Memo<Option<i64>>,
) -> impl IntoView {
    let id = r.id;
    let is_selected = move || selected.get() == Some(id);
    let href = s.with_version(r.id).href();
    let width = format!("width:{:.1}%", r.minion_count as f64 * 100.0 / most as f64);
    let older = older_href(&name, &r);
    let version_text = r.version.clone();
    let tag = newest.then(|| {
        view! { <span class="badge badge-newest" data-test="drift-newest" title="The newest version installed from this source">"newest"</span> }
    });
    let arch = super::arch_cell(&r.arch);
    let source = super::source_cell(&r.source);
    view! {
        <tr data-test="drift-row" data-version=r.version.clone() data-id=r.id data-count=r.minion_count
            class:inv-selected=is_selected aria-selected=move || is_selected().to_string()>
            <td class="cell-id"><A href=href attr:class="mono" attr:data-test="drift-version">{version_text}</A>{tag}</td>
            <td>{arch}</td>
            <td>{source}</td>
            <td class="inv-bar-col">
                <div class="inv-bar-cell">
                    <div class="tf-bar inv-bar"><span style=width></span></div>
                    <span class="inv-bar-n" data-test="drift-count">{r.minion_count}</span>
                </div>
            </td>
            <td class="nowrap"><A href=older attr:class="small" attr:data-test="drift-older"
                attr:title="Search the minions with an older version from this source">"older than this →"</A></td>
        </tr>
    }
}

#[component]
fn VersionMinionsPanel(m: VersionMinions, now: DateTime<Utc>, s: DriftQuery) -> impl IntoView {
    let VersionMinions {
        version,
        name,
        list,
    } = m;
    let arch = (!version.arch.is_empty()).then(|| format!(" ({})", version.arch));
    let shape = PagerShape::new(list.total, list.page, list.per_page, "minion");
    let link = move |page: i64, per_page: i64| {
        DriftQuery {
            page,
            per_page,
            ..s.clone()
        }
        .href()
    };
    let body = if list.rows.is_empty() {
        view! { <p class="muted" data-test="drift-minions-none">"None of the minions with this version are ones you may view."</p> }
            .into_any()
    } else {
        let rows = list
            .rows
            .into_iter()
            .map(|r| {
                let id = r.minion_id.clone();
                view! {
                    <tr data-test="drift-minion" data-minion=r.minion_id.clone()>
                        <td class="cell-id"><A href=minion_href(&r.minion_id)>{id}</A></td>
                        <td>{collected_cell(r.collected_at, now)}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-wrap">
                <table class="table minions-table" data-test="drift-minions"><caption class="sr-only">"Minions with this version"</caption>
                    <thead><tr><th>"Minion"</th><th>"Package list collected"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {pager_links(shape, link)}
        }
        .into_any()
    };
    view! {
        <section class="inv-version-minions" id="minions" data-test="drift-version-minions" data-version=version.version.clone()>
            <h2 class="fleet-table-title">
                "Minions with "<span class="mono">{format!("{name} {}", version.version)}</span>{arch}
            </h2>
            {body}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let s = DriftQuery {
            name: "libssl3".into(),
            source: "apt".into(),
            version: None,
            page: 1,
            per_page: 50,
        };
        assert_eq!(s.href(), "/inventory/libssl3?source=apt");
        assert_eq!(
            s.with_version(7).href(),
            "/inventory/libssl3?source=apt&version=7"
        );
        assert_eq!(
            DriftQuery {
                page: 3,
                per_page: 100,
                ..s.with_version(7)
            }
            .href(),
            "/inventory/libssl3?source=apt&version=7&page=3&per_page=100"
        );
        assert_eq!(s.with_source("").href(), "/inventory/libssl3");
        let v = VersionRow {
            id: 1,
            version: "3.0.13-1~deb12u1".into(),
            arch: "amd64".into(),
            source: "apt".into(),
            minion_count: 2,
        };
        assert_eq!(
            older_href("libssl3", &v),
            "/inventory/search?name=libssl3&version=3.0.13-1~deb12u1&version_op=lt&source=apt"
        );
    }
}
