//! The pieces every list page shares (see [`crate::model::list`]): the list state from the URL
//! ([`use_list_params`]), the [`Pager`], sortable column headers ([`SortHeader`]), filter chips
//! ([`FilterChips`]) and the search form ([`SearchBox`]). Every link is a plain `href` built by
//! [`ListParams::href`], so the lists work before hydration too.

use crate::app::components::icons::Icon;
use crate::model::list::{ListFilters, ListParams, SortColumn, SortDir, MAX_Q, PAGE_SIZES};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

/// Some state parsed from the URL query, kept in step with it (`get` answers `""` for a
/// missing key).
pub fn use_query_state<T>(
    parse: impl Fn(&dyn Fn(&str) -> String) -> T + Send + Sync + 'static,
) -> Memo<T>
where
    T: Clone + PartialEq + Send + Sync + 'static,
{
    let query = use_query_map();
    Memo::new(move |_| {
        let m = query.get();
        parse(&|k: &str| m.get(k).unwrap_or_default())
    })
}

/// A list page's [`ListParams`], from the URL.
pub fn use_list_params<F: ListFilters>() -> Memo<ListParams<F>> {
    use_query_state(|get| ListParams::from_query(get))
}

/// The text of an input (trimmed), or `""` before it is mounted.
pub fn input_text(r: NodeRef<leptos::html::Input>) -> String {
    r.get()
        .map(|e| e.value().trim().to_string())
        .unwrap_or_default()
}

/// The count line, the page sizes and previous/next links under a list.
#[component]
pub fn Pager<F: ListFilters>(
    /// The list as shown (links keep its search and filters).
    params: ListParams<F>,
    /// Rows in the whole list.
    total: i64,
    /// The page shown and its size (as the server answered).
    page: i64,
    per_page: i64,
    /// What a row is (`minion`; an `s` is added for other counts than one).
    noun: &'static str,
    #[prop(default = "← Prev")] prev_label: &'static str,
    #[prop(default = "Next →")] next_label: &'static str,
    /// `data-test` of the count line.
    #[prop(optional)]
    total_test: Option<&'static str>,
    /// `total` is a lower bound (the count stopped there): "1000+ jobs", Next stays open.
    #[prop(optional)]
    capped: bool,
) -> impl IntoView {
    let link = move |page: i64, per_page: i64| {
        ListParams {
            page,
            per_page,
            ..params.clone()
        }
        .href()
    };
    pager_links(
        PagerShape {
            total,
            page,
            per_page,
            noun,
            prev_label,
            next_label,
            total_test,
            capped,
        },
        link,
    )
}

/// What a pager shows: the counts as the server answered, and its labels.
#[derive(Debug, Clone, Copy)]
pub struct PagerShape {
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// What a row is (`minion`).
    pub noun: &'static str,
    pub prev_label: &'static str,
    pub next_label: &'static str,
    /// `data-test` of the count line.
    pub total_test: Option<&'static str>,
    /// `total` is a lower bound: more rows may follow the last counted page.
    pub capped: bool,
}

impl PagerShape {
    /// The usual labels for `total` rows of `noun`, on `page` of `per_page`.
    pub fn new(total: i64, page: i64, per_page: i64, noun: &'static str) -> Self {
        PagerShape {
            total,
            page,
            per_page,
            noun,
            prev_label: "← Prev",
            next_label: "Next →",
            total_test: None,
            capped: false,
        }
    }
}

/// A [`Pager`] for a list whose URL is not a [`ListParams`] (a detail page's sub-list):
/// `link(page, per_page)` is the URL of a page.
pub fn pager_links(shape: PagerShape, link: impl Fn(i64, i64) -> String) -> impl IntoView {
    let PagerShape {
        total,
        page,
        per_page,
        noun,
        prev_label,
        next_label,
        total_test,
        capped,
    } = shape;
    let pages = crate::model::page::page_count(total, per_page);
    let prev = (page > 1).then(|| link(page - 1, per_page));
    let next = (page < pages || capped).then(|| link(page + 1, per_page));
    let count = if capped {
        format!("{total}+ {} · page {page} of {pages}+", counted(2, noun))
    } else {
        format!("{total} {} · page {page} of {pages}", counted(total, noun))
    };
    let sizes = PAGE_SIZES
        .iter()
        .map(|n| {
            let href = link(1, *n);
            let class = if per_page == *n {
                "page-size active"
            } else {
                "page-size"
            };
            view! { <A href=href attr:class=class>{n.to_string()}</A> }
        })
        .collect_view();
    let link = |href: Option<String>, rel: &'static str, label: &'static str| match href {
        Some(h) => view! { <A href=h attr:class="button" attr:rel=rel>{label}</A> }.into_any(),
        None => {
            view! { <span class="button disabled" aria-disabled="true">{label}</span> }.into_any()
        }
    };
    view! {
        <div class="pager">
            <span class="muted" data-test=total_test title=capped.then_some("Counted up to here; narrow the search for an exact count")>{count}</span>
            <span class="pager-spacer"></span>
            <span class="muted small">"Per page"</span>
            {sizes}
            {link(prev, "prev", prev_label)}
            {link(next, "next", next_label)}
        </div>
    }
}

/// `noun` for `n` of them: "1 key", "2 keys", "3 entries".
pub fn counted(n: i64, noun: &str) -> String {
    // "entry" -> "entries", "key" -> "keys".
    match (n, noun.strip_suffix('y')) {
        (1, _) => noun.to_string(),
        (_, Some(stem)) if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) => format!("{stem}ies"),
        _ => format!("{noun}s"),
    }
}

/// A `<th>` that sorts the list by its column (a second click reverses).
#[component]
pub fn SortHeader<F: ListFilters>(
    params: ListParams<F>,
    col: F::Sort,
    label: &'static str,
) -> impl IntoView {
    let active = if params.sort.is_empty() {
        F::Sort::ALL.first() == Some(&col)
    } else {
        params.sort == col.as_str()
    };
    let desc = active && params.sort_dir() == SortDir::Desc;
    let href = params.sorted_by(col).href();
    let (aria, arrow) = match (active, desc) {
        (false, _) => ("none", ""),
        (true, false) => ("ascending", " ↑"),
        (true, true) => ("descending", " ↓"),
    };
    view! { <th aria-sort=aria><A href=href>{label}{arrow}</A></th> }
}

/// The export links of a list (CSV, JSON, NDJSON): every page of what its search and filters
/// select, in its order (`endpoint` as in [`ListParams::export_href`]). `total` and `noun`
/// (singular: "minion") say how many rows the file will have; the server streams them (`server::export`).
pub fn export_links<F: ListFilters>(
    s: &ListParams<F>,
    endpoint: &str,
    total: i64,
    noun: &str,
    test: &'static str,
) -> AnyView {
    let noun = counted(total, noun);
    let what = if s.filtered() {
        format!("Export the {total} matching {noun}:")
    } else {
        format!("Export all {total} {noun}:")
    };
    export_bar(what, |ext| s.export_href(endpoint, ext), test)
}

/// The export bar: `what` ("Export all 12 keys:") and a link per format to `href(ext)`.
pub fn export_bar(what: String, href: impl Fn(&str) -> String, test: &'static str) -> AnyView {
    let link = |ext: &'static str, text: &'static str, title: &'static str| {
        view! {
            <a href=href(ext) class="button button-small" rel="external" download
                title=title data-test=format!("{test}-{ext}")>{text}</a>
        }
    };
    view! {
        <div class="toolbar export-toolbar" data-test=test>
            <span class="muted small">{what}</span>
            {link("csv", "CSV", "Comma-separated, for spreadsheets")}
            {link("json", "JSON", "One JSON array")}
            {link("ndjson", "NDJSON", "One JSON object a line, for scripts and large sets")}
        </div>
    }
    .into_any()
}

/// A list's table (`class` and `data-test` on the `<table>`, `caption` read to screen readers):
/// the header cells `head`, a row `row` makes of each of `rows`; or `empty` (the empty or
/// no-match panel) when there is none.
pub fn list_table<T, V: IntoView + 'static>(
    class: &'static str,
    test: &'static str,
    caption: &'static str,
    head: impl IntoView + 'static,
    rows: Vec<T>,
    row: impl FnMut(T) -> V,
    empty: impl FnOnce() -> AnyView,
) -> AnyView {
    if rows.is_empty() {
        return empty();
    }
    let rows = rows.into_iter().map(row).collect_view();
    view! {
        <div class="table-wrap">
            <table class=class data-test=test>
                <caption class="sr-only">{caption}</caption>
                <thead>
                    <tr>{head}</tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The [`SortHeader`] cell of a column of the list `s`, as a list page writes its header row:
/// `header(Col::Name, "Name")`.
pub fn sort_headers<F: ListFilters>(
    s: &ListParams<F>,
) -> impl Fn(F::Sort, &'static str) -> AnyView + '_ {
    move |col, label| view! { <SortHeader params=s.clone() col label /> }.into_any()
}

/// The [`Pager`] under one page of the list `s` (`noun`: what a row is).
pub fn page_pager<F: ListFilters, T>(
    s: &ListParams<F>,
    page: &crate::model::page::Page<T>,
    noun: &'static str,
) -> impl IntoView {
    view! { <Pager params=s.clone() total=page.total page=page.page per_page=page.per_page noun /> }
}

/// One chip of a [`FilterChips`] group.
#[derive(Debug, Clone, PartialEq)]
pub struct Chip {
    pub href: String,
    pub label: String,
    pub active: bool,
    /// The filter value, as the chip's `data-<key>` attribute.
    pub value: String,
    /// A count shown after the label.
    pub count: Option<i64>,
}

/// One chip per filter value: "" (all) and then `values`, each linking to `s` with the filter
/// `filters` builds of it, active when it is `current`, labelled by `label` and counted by `count`.
pub fn value_chips<F: ListFilters>(
    s: &ListParams<F>,
    values: &[&'static str],
    current: &str,
    label: fn(&str) -> &'static str,
    filters: impl Fn(String) -> F,
    count: impl Fn(&str) -> i64,
) -> Vec<Chip> {
    std::iter::once("")
        .chain(values.iter().copied())
        .map(|v| Chip {
            href: s.with_filters(filters(v.to_string())).href(),
            label: label(v).to_string(),
            active: current == v,
            value: v.to_string(),
            count: Some(count(v)),
        })
        .collect()
}

/// Which `data-` attribute carries a chip's value (the tests find chips by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChipKey {
    Status,
    Category,
}

/// A group of links that each set one filter value.
#[component]
pub fn FilterChips(
    chips: Vec<Chip>,
    /// `aria-label` of the group.
    label: &'static str,
    key: ChipKey,
) -> impl IntoView {
    let chips = chips
        .into_iter()
        .map(|c| {
            let class = if c.active { "chip chip-active" } else { "chip" };
            let (status, category) = match key {
                ChipKey::Status => (Some(c.value), None),
                ChipKey::Category => (None, Some(c.value)),
            };
            let count = c
                .count
                .map(|n| view! { <span class="chip-count">{n}</span> });
            view! {
                <A href=c.href attr:class=class attr:data-status=status attr:data-category=category>
                    {c.label}{count}
                </A>
            }
        })
        .collect_view();
    view! { <div class="chips" role="group" aria-label=label>{chips}</div> }
}

/// A search form: a plain GET form (works before hydration) that navigates client-side to
/// the URL `go` builds from the entered text.
#[component]
pub fn SearchBox(
    /// The list's path (the form's `action`).
    action: &'static str,
    /// The search as in the URL now.
    q: String,
    placeholder: &'static str,
    aria_label: &'static str,
    /// `data-test` of the input.
    #[prop(optional)]
    test: Option<&'static str>,
    /// Other URL state the plain form must keep (`name`, `value`).
    #[prop(optional)]
    hidden: Vec<(&'static str, String)>,
    #[prop(default = "Search")] button: &'static str,
    /// The URL for the entered text.
    go: Callback<String, String>,
) -> impl IntoView {
    let navigate = use_navigate();
    let input = NodeRef::<leptos::html::Input>::new();
    let hidden = hidden
        .into_iter()
        .map(|(name, value)| view! { <input type="hidden" name=name value=value /> })
        .collect_view();
    view! {
        <form method="get" action=action class="search-form" role="search" on:submit=move |ev| {
            ev.prevent_default();
            let q = input.get().map(|i| i.value()).unwrap_or_default();
            navigate(&go.run(q), Default::default());
        }>
            <input type="search" name="q" placeholder=placeholder maxlength=MAX_Q.to_string() node_ref=input
                value=q aria-label=aria_label data-test=test />
            {hidden}
            <button type="submit" class="button">{button}</button>
        </form>
    }
}

/// A list page's search toolbar: a [`SearchBox`] at the list's path whose plain form keeps the
/// page's `filters` (hidden `name`, `value`), sort, direction and page size, and starts again at
/// the first page.
#[component]
pub fn ListSearch<F: ListFilters>(
    state: Memo<ListParams<F>>,
    placeholder: &'static str,
    aria_label: &'static str,
    /// `data-test` of the input.
    test: &'static str,
    /// The page's filters as hidden form fields.
    #[prop(optional)]
    filters: Vec<(&'static str, String)>,
) -> impl IntoView {
    let init = state.get_untracked();
    let mut hidden = filters;
    hidden.push(("sort", init.sort.clone()));
    hidden.push(("dir", init.dir.clone()));
    hidden.push(("per_page", init.per_page.to_string()));
    let go = Callback::new(move |q: String| state.get_untracked().with_q(&q).href());
    view! {
        <div class="toolbar">
            <SearchBox action=F::PATH q=init.q placeholder aria_label test hidden go />
        </div>
    }
}

/// The panel of a list whose search or filters match nothing, with a link to the whole list.
#[component]
pub fn NoMatch(
    /// The list's path.
    path: &'static str,
    /// What the rows are (`minions`).
    what: &'static str,
    icon: &'static str,
    /// `data-test` of the panel.
    test: &'static str,
) -> impl IntoView {
    view! {
        <EmptyState test icon title=format!("No {what} match")>
            <p><A href=path>"Clear the search and filters"</A></p>
        </EmptyState>
    }
}

/// A labelled `<select>` of a filter bar (a plain GET form): `options` are (value, label), the one
/// equal to `selected` marked for the first render, `value` keeping it in step with the URL
/// afterwards, and `on_change` applying the form.
#[component]
pub fn FilterSelect<H>(
    /// Classes of the `<label>` besides `field`.
    class: &'static str,
    label: &'static str,
    name: &'static str,
    /// `data-test` of the `<select>`.
    test: &'static str,
    node_ref: NodeRef<leptos::html::Select>,
    options: Vec<(&'static str, &'static str)>,
    selected: String,
    #[prop(into)] value: Signal<String>,
    on_change: H,
) -> impl IntoView
where
    H: FnMut(leptos::ev::Event) + Send + 'static,
{
    view! {
        <label class=format!("field {class}")>
            <span class="field-label">{label}</span>
            <select name=name node_ref=node_ref on:change=on_change data-test=test prop:value=value>
                {options.into_iter().map(|(v, label)| view! {
                    <option value=v selected=selected == v>{label}</option>
                }).collect_view()}
            </select>
        </label>
    }
}

/// A labelled text `<input>` of a filter bar: `initial` for the first render, `value` keeping
/// it in step with the URL afterwards.
#[component]
pub fn FilterInput(
    /// Classes of the `<label>` besides `field`.
    class: &'static str,
    label: &'static str,
    /// `search` or `text`.
    kind: &'static str,
    name: &'static str,
    placeholder: &'static str,
    #[prop(optional)] title: Option<&'static str>,
    maxlength: usize,
    /// `data-test` of the `<input>`.
    test: &'static str,
    node_ref: NodeRef<leptos::html::Input>,
    initial: String,
    #[prop(into)] value: Signal<String>,
) -> impl IntoView {
    view! {
        <label class=format!("field {class}")>
            <span class="field-label">{label}</span>
            <input type=kind name=name placeholder=placeholder title=title maxlength=maxlength.to_string()
                node_ref=node_ref value=initial prop:value=value data-test=test />
        </label>
    }
}

/// A designed empty state: a panel with an icon, a heading and what to do next (the children).
#[component]
pub fn EmptyState(
    /// `data-test` of the panel.
    test: &'static str,
    icon: &'static str,
    #[prop(into)] title: String,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="panel state-panel" data-test=test>
            <Icon name=icon />
            <h2>{title}</h2>
            {children()}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_nouns() {
        assert_eq!(counted(1, "entry"), "entry");
        assert_eq!(counted(2, "entry"), "entries");
        assert_eq!(counted(0, "key"), "keys");
        assert_eq!(counted(3, "package"), "packages");
    }
}
