//! The minion page's Packages section (SPEC 6.9): the packages the inventory holds for this
//! minion, a name filter (`?pkg=`, contains) and paging (`pkg_page`, `pkg_per_page`) in the URL,
//! with the time its list was collected. Only for users who may view the inventory.

use crate::app::api::inventory::{search_packages, SearchPage};
use crate::app::components::list::{input_text, pager_links, PagerShape};
use crate::app::pages::inventory::{collected_cell, now_utc, package_href};
use crate::error::AppError;
use crate::model::list::{href, url_escape, DEFAULT_PER_PAGE};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

/// The section's state, as in the minion page's URL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackagesQuery {
    pub minion: String,
    /// Name contains.
    pub name: String,
    pub page: i64,
    pub per_page: i64,
}

impl PackagesQuery {
    /// From the minion id and the URL query.
    pub fn from_query(minion: String, get: &dyn Fn(&str) -> String) -> Self {
        PackagesQuery {
            minion,
            name: get("pkg").trim().to_string(),
            page: get("pkg_page").parse().unwrap_or(1),
            per_page: get("pkg_per_page").parse().unwrap_or(DEFAULT_PER_PAGE),
        }
    }

    /// The minion page with this state, at the section.
    pub fn href(&self) -> String {
        let mut parts = vec![];
        if !self.name.is_empty() {
            parts.push(format!("pkg={}", url_escape(&self.name)));
        }
        if self.page > 1 {
            parts.push(format!("pkg_page={}", self.page));
        }
        if self.per_page != 0 && self.per_page != DEFAULT_PER_PAGE {
            parts.push(format!("pkg_per_page={}", self.per_page));
        }
        format!(
            "{}#packages",
            href(&format!("/minions/{}", url_escape(&self.minion)), &parts)
        )
    }
}

/// What the section loaded: `None` when the user may not view the inventory (no section).
pub type MinionPackages = Option<(SearchPage, DateTime<Utc>)>;

/// Load the section: nothing without `view:inventory:*` (so no refused call is made and
/// audited), else the minion's packages.
pub async fn load_minion_packages(
    allowed: bool,
    q: PackagesQuery,
) -> Result<MinionPackages, AppError> {
    if !allowed || q.minion.is_empty() {
        return Ok(None);
    }
    let name_op = if q.name.is_empty() { "" } else { "contains" };
    search_packages(
        q.name,
        name_op.to_string(),
        String::new(),
        String::new(),
        String::new(),
        q.minion,
        q.page,
        q.per_page,
    )
    .await
    .map(|p| Some((p, now_utc())))
}

/// The Packages section (anchor `#packages`).
#[component]
pub fn MinionPackagesSection(
    page: SearchPage,
    now: DateTime<Utc>,
    q: PackagesQuery,
) -> impl IntoView {
    let navigate = use_navigate();
    let input = NodeRef::<leptos::html::Input>::new();
    let filter_q = q.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let next = PackagesQuery {
            name: input_text(input),
            page: 1,
            ..filter_q.clone()
        };
        navigate(&next.href(), Default::default());
    };
    let collected = page.list.rows.first().map(|r| r.collected_at);
    let filtered = !q.name.is_empty();
    let body = if page.list.rows.is_empty() {
        let text = if filtered {
            "No package of this minion has a name that contains this."
        } else {
            "No package list collected for this minion yet: the inventory poller collects it on its schedule, or refresh it on the Inventory page."
        };
        view! {
            <div class="runs-empty" data-test="minion-packages-empty">
                <p>{if filtered { "No package matches" } else { "No packages collected" }}</p>
                <p class="muted small">{text}" "<A href="/inventory">"Inventory →"</A></p>
            </div>
        }
        .into_any()
    } else {
        let rows = page
            .list
            .rows
            .into_iter()
            .map(|r| {
                let arch = (!r.arch.is_empty()).then(|| r.arch.clone());
                let name_text = r.name.clone();
                view! {
                    <tr data-test="minion-package" data-package=r.name.clone()>
                        <td class="cell-id"><A href=package_href(&r.name)>{name_text}</A></td>
                        <td class="mono">{r.version.clone()}</td>
                        <td class="mono">{arch.unwrap_or_else(|| "—".into())}</td>
                        <td>{if r.source.is_empty() { "—".to_string() } else { r.source.clone() }}</td>
                    </tr>
                }
            })
            .collect_view();
        let shape = PagerShape::new(
            page.list.total,
            page.list.page,
            page.list.per_page,
            "package",
        );
        let pq = q.clone();
        let link = move |page: i64, per_page: i64| {
            PackagesQuery {
                page,
                per_page,
                ..pq.clone()
            }
            .href()
        };
        view! {
            <div class="scroll-x">
                <table class="table minion-runs-table" data-test="minion-packages"><caption class="sr-only">"This minion's installed packages"</caption>
                    <thead><tr><th>"Package"</th><th>"Version"</th><th>"Arch"</th><th>"Source"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {pager_links(shape, link)}
        }
        .into_any()
    };
    let search = format!("/inventory/search?minion={}", url_escape(&q.minion));
    view! {
        <section class="panel minion-runs" id="packages" data-test="tab-packages">
            <div class="section-head row">
                <div class="runs-title"><h2>"Packages"</h2></div>
                <span class="muted small" data-test="minion-packages-collected">
                    {collected.map(|t| view! { "Collected "{collected_cell(t, now)}" · " })}
                    <A href=search>"Search →"</A>
                </span>
            </div>
            <form method="get" action=format!("/minions/{}", url_escape(&q.minion)) class="search-form inv-minion-filter" role="search" on:submit=on_submit>
                <input type="search" name="pkg" placeholder="Package name contains…" maxlength="255" node_ref=input
                    value=q.name.clone() aria-label="Filter packages" data-test="minion-packages-filter" />
                <button type="submit" class="button">"Filter"</button>
            </form>
            {body}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let q = PackagesQuery {
            minion: "web-01".into(),
            name: "lib ssl".into(),
            page: 2,
            per_page: 100,
        };
        assert_eq!(
            q.href(),
            "/minions/web-01?pkg=lib%20ssl&pkg_page=2&pkg_per_page=100#packages"
        );
        let bare = PackagesQuery::from_query("db-01".into(), &|_| String::new());
        assert_eq!(bare.href(), "/minions/db-01#packages");
    }
}
