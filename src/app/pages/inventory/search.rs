//! The package search (`/inventory/search`, SPEC 6.9): "which minions run openssl older than
//! 3.0.13?". A plain GET form (name and how it matches, a version comparison, source, minion)
//! whose fields are the URL; the hits a page at a time; CSV / JSON export of the same query.

use super::{collected_cell, minion_href, now_utc, package_href, source_label, SOURCES};
use crate::app::api::inventory::{search_packages, PackageHit, SearchFilters, SearchPage};
use crate::app::components::icons::Icon;
use crate::app::components::list::{
    export_bar, input_text, list_table, use_list_params, EmptyState, Pager,
};
use crate::app::pages::{ErrorPanel, PageHeader};
use crate::error::AppError;
use crate::model::list::{href, ListFilters, ListParams};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

/// The page's state, as in the URL.
pub type SearchQuery = ListParams<SearchFilters>;

/// How a name matches: (value, label).
const NAME_OPS: &[(&str, &str)] = &[
    ("", "is exactly"),
    ("prefix", "starts with"),
    ("contains", "contains"),
];

/// Version comparisons: (value, label). Equality is the default, so it is sent as nothing.
const VERSION_OPS: &[(&str, &str)] = &[
    ("", "="),
    ("ne", "≠"),
    ("lt", "<"),
    ("lte", "≤"),
    ("gt", ">"),
    ("gte", "≥"),
];

/// The export URL of this format (`csv`, `json`, `ndjson`) for the search's fields.
pub fn export_href(f: &SearchFilters, ext: &str) -> String {
    let mut parts = vec![];
    f.to_query(&mut parts);
    href(&format!("/api/inventory/search.{ext}"), &parts)
}

/// The fields as the form shows them: the defaults (`eq`) as the empty choice.
fn shown(f: &SearchFilters) -> SearchFilters {
    let default_eq = |s: &str| {
        if s == "eq" {
            String::new()
        } else {
            s.to_string()
        }
    };
    SearchFilters {
        name_op: default_eq(&f.name_op),
        version_op: default_eq(&f.version_op),
        ..f.clone()
    }
}

/// `/inventory/search`.
#[component]
pub fn PackageSearchPage() -> impl IntoView {
    let state = use_list_params::<SearchFilters>();
    let data = Resource::new(
        move || state.get(),
        |s| async move {
            if s.filters == SearchFilters::default() {
                return Ok(None);
            }
            let f = s.filters;
            search_packages(
                f.name,
                f.name_op,
                f.version,
                f.version_op,
                f.source,
                f.minion,
                s.page,
                s.per_page,
            )
            .await
            .map(|p| Some((p, now_utc())))
        },
    );
    view! {
        <PageHeader title="Package search" subtitle="Which minions have a package, in which versions: compared by each source's version rules">
            <A href="/inventory" attr:class="button">"← All packages"</A>
        </PageHeader>
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Searching…"</div> }>
            {move || Suspend::new(async move {
                let s = state.get_untracked();
                match data.await {
                    Ok(None) => view! {
                        <SearchForm state error=None />
                        <EmptyState test="search-intro" icon="box" title="Search the installed packages">
                            <p>"Name a package (exactly, by its start, or a part of it), optionally compare its version (e.g. < 3.0.13: older than 3.0.13 by the source's rules), or name a minion to list its packages."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(Some((page, now))) => view! {
                        <SearchForm state error=None />
                        <SearchResults page now s />
                    }.into_any(),
                    Err(e) if e.field().is_some() => view! { <SearchForm state error=Some(e) /> }.into_any(),
                    Err(e) => view! {
                        <SearchForm state error=None />
                        <ErrorPanel error=e />
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The search form: a plain GET form (works before hydration), applied with client-side
/// navigation; a validation error is shown under its field.
#[component]
fn SearchForm(state: Memo<SearchQuery>, error: Option<AppError>) -> impl IntoView {
    let navigate = use_navigate();
    let init = state.get_untracked();
    let f = shown(&init.filters);
    let name_ref = NodeRef::<leptos::html::Input>::new();
    let name_op_ref = NodeRef::<leptos::html::Select>::new();
    let version_op_ref = NodeRef::<leptos::html::Select>::new();
    let version_ref = NodeRef::<leptos::html::Input>::new();
    let source_ref = NodeRef::<leptos::html::Select>::new();
    let minion_ref = NodeRef::<leptos::html::Input>::new();
    let select_value =
        |r: NodeRef<leptos::html::Select>| r.get().map(|e| e.value()).unwrap_or_default();
    let apply = move || {
        let cur = state.get_untracked();
        let version = input_text(version_ref);
        let filters = SearchFilters {
            name: input_text(name_ref),
            name_op: select_value(name_op_ref),
            // A comparison without a version means nothing: leave both out.
            version_op: if version.is_empty() {
                String::new()
            } else {
                select_value(version_op_ref)
            },
            version,
            source: select_value(source_ref),
            minion: input_text(minion_ref),
        };
        navigate(&cur.with_filters(filters).href(), Default::default());
    };
    let error_for = |field: &'static str| {
        error
            .as_ref()
            .filter(|e| e.field() == Some(field))
            .map(|e| view! { <span class="field-error" data-test="field-error" data-field=field>{e.to_string()}</span> })
    };
    let options = |list: &'static [(&'static str, &'static str)], current: &str| {
        list.iter()
            .map(|(v, label)| view! { <option value=*v selected=*v == current>{*label}</option> })
            .collect_view()
    };
    let sources = std::iter::once("")
        .chain(SOURCES.iter().copied())
        .map(|v| {
            let label = if v.is_empty() {
                "Any source"
            } else {
                source_label(v)
            };
            view! { <option value=v selected=v == f.source>{label}</option> }
        })
        .collect_view();
    view! {
        <form method="get" action="/inventory/search" class="feed-filters inv-search-form" role="search" aria-label="Package search"
            data-test="search-form"
            on:submit=move |ev| {
                ev.prevent_default();
                apply();
            }>
            <label class="field feed-field feed-grow">
                <span class="field-label">"Package name"</span>
                <input type="search" name="name" placeholder="openssl" maxlength="255" node_ref=name_ref
                    value=f.name.clone() data-test="search-name" />
                {error_for("name")}
            </label>
            <label class="field feed-field">
                <span class="field-label">"Name match"</span>
                <select name="name_op" node_ref=name_op_ref data-test="search-name-op">{options(NAME_OPS, &f.name_op)}</select>
                {error_for("name_op")}
            </label>
            <label class="field feed-field inv-op">
                <span class="field-label">"Version"</span>
                <select name="version_op" node_ref=version_op_ref data-test="search-version-op" aria-label="Version comparison">
                    {options(VERSION_OPS, &f.version_op)}
                </select>
                {error_for("version_op")}
            </label>
            <label class="field feed-field inv-version">
                <span class="field-label">"\u{a0}"</span>
                <input type="text" name="version" placeholder="3.0.13" maxlength="255" node_ref=version_ref
                    value=f.version.clone() data-test="search-version" aria-label="Version" />
                {error_for("version")}
            </label>
            <label class="field feed-field">
                <span class="field-label">"Source"</span>
                <select name="source" node_ref=source_ref data-test="search-source">{sources}</select>
                {error_for("source")}
            </label>
            <label class="field feed-field feed-minion">
                <span class="field-label">"Minion"</span>
                <input type="text" name="minion" placeholder="any minion" maxlength="255" node_ref=minion_ref
                    value=f.minion.clone() data-test="search-minion" />
                {error_for("minion")}
            </label>
            <input type="hidden" name="per_page" value=init.per_page.to_string() />
            <button type="submit" class="button button-primary" data-test="search-submit">"Search"</button>
            {init.filtered().then(|| view! { <A href="/inventory/search" attr:class="button button-ghost">"Clear"</A> })}
        </form>
    }
}

#[component]
fn SearchResults(page: SearchPage, now: DateTime<Utc>, s: SearchQuery) -> impl IntoView {
    let truncated = page.truncated.then(|| {
        view! {
            <div class="notice notice-warn" data-test="search-truncated">
                <Icon name="alert" />
                <span>"More versions match this name than one search compares: the hits are incomplete. Narrow the name (match it exactly or by a longer prefix) or pick a source."</span>
            </div>
        }
    });
    let exports = export_bar(
        "Export every hit of this search:".to_string(),
        |ext| export_href(&s.filters, ext),
        "search-export",
    );
    let empty = || {
        view! {
            <EmptyState test="search-no-match" icon="box" title="No installed package matches">
                <p>"Nothing the collected package lists hold matches these fields (on the minions you may view). Try a looser name match, or another version comparison."</p>
            </EmptyState>
        }
        .into_any()
    };
    let head = view! {
        <th>"Minion"</th><th>"Package"</th><th>"Version"</th><th>"Arch"</th><th>"Source"</th><th>"Collected"</th>
    };
    let pager = view! {
        <Pager params=s.clone() total=page.list.total page=page.list.page per_page=page.list.per_page noun="hit"
            total_test="search-total" />
    };
    let table = list_table(
        "table minions-table inv-search-table",
        "search-table",
        "Installed packages matching the search",
        head,
        page.list.rows,
        move |r| view! { <HitTr r now /> },
        empty,
    );
    view! {
        {truncated}
        {exports}
        {table}
        {pager}
    }
}

#[component]
fn HitTr(r: PackageHit, now: DateTime<Utc>) -> impl IntoView {
    let arch = super::arch_cell(&r.arch);
    let source = super::source_cell(&r.source);
    let (minion_text, name_text) = (r.minion_id.clone(), r.name.clone());
    view! {
        <tr data-test="search-hit" data-minion=r.minion_id.clone() data-package=r.name.clone() data-version=r.version.clone()>
            <td class="cell-id"><A href=minion_href(&r.minion_id)>{minion_text}</A></td>
            <td class="cell-id"><A href=package_href(&r.name)>{name_text}</A></td>
            <td class="mono">{r.version.clone()}</td>
            <td>{arch}</td>
            <td>{source}</td>
            <td>{collected_cell(r.collected_at, now)}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_keeps_the_query_and_the_form_shows_defaults_empty() {
        let f = SearchFilters {
            name: "openssl".into(),
            name_op: "eq".into(),
            version: "3.0.13".into(),
            version_op: "lt".into(),
            source: "apt".into(),
            minion: String::new(),
        };
        assert_eq!(
            export_href(&f, "csv"),
            "/api/inventory/search.csv?name=openssl&name_op=eq&version=3.0.13&version_op=lt&source=apt"
        );
        assert_eq!(
            export_href(&SearchFilters::default(), "json"),
            "/api/inventory/search.json"
        );
        let s = shown(&f);
        assert_eq!((s.name_op.as_str(), s.version_op.as_str()), ("", "lt"));
    }
}
