//! One list-view flow. [`ListParams`] is a list page's state exactly as its URL holds it (search,
//! sort, direction, page, page size and the page's own [`ListFilters`]): the pages parse it from
//! the query string and write it back with one URL builder ([`ListParams::href`]), and the list
//! server functions build it from their form fields. Validated once (`TryFrom`) it becomes a
//! [`ListQuery`], which is what the stores are asked with; the rules (search length, page
//! sizes, how deep paging may go) are the same for every list.

mod filters;

pub use filters::*;

use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// Deepest row a list serves by paging (OFFSET makes the database walk every skipped row).
pub const MAX_LIST_OFFSET: i64 = 250_000;
/// Longest search text (characters, after trimming).
pub const MAX_Q: usize = 200;
/// Page sizes the pager offers.
pub const PAGE_SIZES: &[i64] = &[50, 100, 500];
/// Page size when the URL names none.
pub const DEFAULT_PER_PAGE: i64 = 50;

/// Percent-encode a value for a URL path segment or query value (unreserved bytes kept).
pub fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A 1-based page number (0 means the first page) within [`MAX_LIST_OFFSET`] for this page size.
pub fn validate_page(page: i64, per_page: i64) -> Result<i64, AppError> {
    let page = if page == 0 { 1 } else { page };
    let last = MAX_LIST_OFFSET / per_page.max(1) + 1;
    if !(1..=last).contains(&page) {
        return Err(AppError::invalid(
            "page",
            format!(
                "Page must be a number from 1 to {last} at this page size; \
                 narrow the list with search or filters to reach older rows."
            ),
        ));
    }
    Ok(page)
}

/// Search text: trimmed, at most [`MAX_Q`] characters, no control characters (a NUL is not
/// text to Postgres).
pub fn validate_q(q: &str) -> Result<String, AppError> {
    Ok(AppError::check_plain_text("q", "Search text", q, MAX_Q)?.to_string())
}

/// Sort direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortDir {
    #[default]
    Asc,
    Desc,
}

impl SortDir {
    /// From the URL (`""` is ascending); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "" | "asc" => Some(SortDir::Asc),
            "desc" => Some(SortDir::Desc),
            _ => None,
        }
    }

    /// The other direction.
    pub fn flip(self) -> Self {
        match self {
            SortDir::Asc => SortDir::Desc,
            SortDir::Desc => SortDir::Asc,
        }
    }

    /// `asc` or `desc`.
    pub fn as_str(self) -> &'static str {
        match self {
            SortDir::Asc => "asc",
            SortDir::Desc => "desc",
        }
    }
}

/// The sortable columns of a list (an enum per page).
pub trait SortColumn: Copy + PartialEq + std::fmt::Debug + 'static {
    /// Every column, the default first.
    const ALL: &'static [Self];
    /// The column's name in the URL.
    fn as_str(self) -> &'static str;
    /// From the URL.
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

/// A list without sortable columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSort {}

impl SortColumn for NoSort {
    const ALL: &'static [Self] = &[];
    fn as_str(self) -> &'static str {
        match self {}
    }
}

/// A list page's own filters: how they sit in the URL and how they are checked.
pub trait ListFilters:
    Clone + Default + PartialEq + std::fmt::Debug + Send + Sync + 'static
{
    /// The page's path (`/minions`).
    const PATH: &'static str;
    /// Accept any page size from 1 to the largest of [`PAGE_SIZES`] (for callers that size
    /// their own list, such as the Overview widget), not only the offered ones.
    const ANY_PAGE_SIZE: bool = false;
    /// The sortable columns.
    type Sort: SortColumn;
    /// The filters once checked, as the store query takes them.
    type Valid: Clone + std::fmt::Debug;
    /// From the URL query (`get` answers `""` for a missing key).
    fn from_query(get: &dyn Fn(&str) -> String) -> Self;
    /// `key=value` pairs for the URL, defaults left out (values already escaped).
    fn to_query(&self, out: &mut Vec<String>);
    /// Does any filter hide rows?
    fn is_active(&self) -> bool;
    /// Check the filters; a 422 naming the field otherwise.
    fn validate(self) -> Result<Self::Valid, AppError>;
}

/// A list page's state, as in its URL, and its server function's argument (unchecked).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListParams<F> {
    pub q: String,
    /// A column name of the page's [`SortColumn`]; empty for the default.
    pub sort: String,
    /// `asc`, `desc` or empty (ascending).
    pub dir: String,
    /// 1-based; 0 means the first page.
    pub page: i64,
    /// 0 means [`DEFAULT_PER_PAGE`].
    pub per_page: i64,
    pub filters: F,
}

impl<F: ListFilters> ListParams<F> {
    /// From the URL query (`get` answers `""` for a missing key).
    pub fn from_query(get: impl Fn(&str) -> String) -> Self {
        ListParams {
            q: get("q").trim().to_string(),
            sort: get("sort"),
            dir: get("dir"),
            page: get("page").parse().unwrap_or(1),
            per_page: get("per_page").parse().unwrap_or(DEFAULT_PER_PAGE),
            filters: F::from_query(&get),
        }
    }

    /// The URL for this state (defaults left out).
    pub fn href(&self) -> String {
        href(F::PATH, &self.query_parts(true))
    }

    /// The URL of this list's export in format `ext` (`endpoint` `/api/minions/export`, `ext`
    /// `csv`): the search, filters and order, never the page (an export carries every page).
    pub fn export_href(&self, endpoint: &str, ext: &str) -> String {
        href(&format!("{endpoint}.{ext}"), &self.query_parts(false))
    }

    /// The query's `key=value` parts, defaults left out; the page and its size with `paging`.
    fn query_parts(&self, paging: bool) -> Vec<String> {
        let mut parts = vec![];
        if !self.q.is_empty() {
            parts.push(format!("q={}", url_escape(&self.q)));
        }
        self.filters.to_query(&mut parts);
        if !self.sort.is_empty() {
            parts.push(format!("sort={}", url_escape(&self.sort)));
        }
        if self.dir == "desc" {
            parts.push("dir=desc".into());
        }
        if paging && self.page > 1 {
            parts.push(format!("page={}", self.page));
        }
        if paging && self.per_page != 0 && self.per_page != DEFAULT_PER_PAGE {
            parts.push(format!("per_page={}", self.per_page));
        }
        parts
    }

    /// The same list at another page.
    pub fn at_page(&self, page: i64) -> Self {
        ListParams {
            page,
            ..self.clone()
        }
    }

    /// The same list, first page, with another page size.
    pub fn with_per_page(&self, per_page: i64) -> Self {
        ListParams {
            per_page,
            page: 1,
            ..self.clone()
        }
    }

    /// The same search, first page, with other filters.
    pub fn with_filters(&self, filters: F) -> Self {
        ListParams {
            filters,
            page: 1,
            ..self.clone()
        }
    }

    /// The same list, first page, with another search.
    pub fn with_q(&self, q: &str) -> Self {
        ListParams {
            q: q.trim().to_string(),
            page: 1,
            ..self.clone()
        }
    }

    /// The sorted column (the first one when the URL names none or an unknown one).
    pub fn sort_column(&self) -> Option<F::Sort> {
        F::Sort::parse(&self.sort).or_else(|| F::Sort::ALL.first().copied())
    }

    /// The sort direction (ascending when the URL names none or an unknown one).
    pub fn sort_dir(&self) -> SortDir {
        SortDir::parse(&self.dir).unwrap_or_default()
    }

    /// A click on a column header: that column ascending, or the other way if it is sorted
    /// ascending already; first page.
    pub fn sorted_by(&self, col: F::Sort) -> Self {
        let active = self.sort_column() == Some(col);
        let dir = if active && self.sort_dir() == SortDir::Asc {
            "desc"
        } else {
            ""
        };
        ListParams {
            sort: col.as_str().to_string(),
            dir: dir.to_string(),
            page: 1,
            ..self.clone()
        }
    }

    /// Does the search or any filter hide rows?
    pub fn filtered(&self) -> bool {
        !self.q.is_empty() || self.filters.is_active()
    }
}

/// A checked list query: what the stores are asked with.
#[derive(Debug, Clone)]
pub struct ListQuery<F: ListFilters> {
    /// Trimmed, at most [`MAX_Q`] characters.
    pub q: String,
    /// `None`: the store's default order.
    pub sort: Option<F::Sort>,
    pub dir: SortDir,
    /// 1-based, within [`MAX_LIST_OFFSET`].
    pub page: i64,
    pub per_page: i64,
    pub filters: F::Valid,
}

impl<F: ListFilters> TryFrom<ListParams<F>> for ListQuery<F> {
    type Error = AppError;

    fn try_from(p: ListParams<F>) -> Result<Self, AppError> {
        let q = validate_q(&p.q)?;
        let filters = p.filters.validate()?;
        let sort = if p.sort.is_empty() {
            None
        } else {
            let names: Vec<&str> = F::Sort::ALL.iter().map(|c| c.as_str()).collect();
            Some(F::Sort::parse(&p.sort).ok_or_else(|| {
                AppError::invalid("sort", format!("Sort by one of {}.", names.join(", ")))
            })?)
        };
        let dir = SortDir::parse(&p.dir)
            .ok_or_else(|| AppError::invalid("dir", "Direction must be asc or desc."))?;
        let per_page = validate_per_page::<F>(p.per_page)?;
        let page = validate_page(p.page, per_page)?;
        Ok(ListQuery {
            q,
            sort,
            dir,
            page,
            per_page,
            filters,
        })
    }
}

fn validate_per_page<F: ListFilters>(per_page: i64) -> Result<i64, AppError> {
    let per_page = if per_page == 0 {
        DEFAULT_PER_PAGE
    } else {
        per_page
    };
    let max = PAGE_SIZES.iter().copied().max().unwrap_or(DEFAULT_PER_PAGE);
    if F::ANY_PAGE_SIZE {
        if !(1..=max).contains(&per_page) {
            return Err(AppError::invalid(
                "per_page",
                format!("Page size must be 1 to {max}."),
            ));
        }
    } else if !PAGE_SIZES.contains(&per_page) {
        let sizes: Vec<String> = PAGE_SIZES.iter().map(|n| n.to_string()).collect();
        let (last, rest) = sizes.split_last().expect("page sizes");
        return Err(AppError::invalid(
            "per_page",
            format!("Page size must be {} or {last}.", rest.join(", ")),
        ));
    }
    Ok(per_page)
}

/// An optional choice filter: `None` for `""` or `all`, else `v` parsed, or a 422 on `field`
/// saying `message`.
pub fn optional_choice<T: std::str::FromStr>(
    field: &str,
    v: &str,
    message: &str,
) -> Result<Option<T>, AppError> {
    match v {
        "" | "all" => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|_| AppError::invalid(field, message)),
    }
}

/// Is `key=true` in the query?
pub fn flag(get: &dyn Fn(&str) -> String, key: &str) -> bool {
    get(key) == "true"
}

/// `path?a=1&b=2`, or `path` alone without parts: the one way page URLs are written.
pub fn href(path: &str, parts: &[String]) -> String {
    if parts.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", parts.join("&"))
    }
}

/// Add `key=value` (escaped) to a query unless the value is empty.
pub fn push_str(out: &mut Vec<String>, key: &str, value: &str) {
    if !value.is_empty() {
        out.push(format!("{key}={}", url_escape(value)));
    }
}

/// Add `key=true` to a query when the flag is on.
pub fn push_flag(out: &mut Vec<String>, key: &str, on: bool) {
    if on {
        out.push(format!("{key}=true"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_href_keeps_the_query_but_not_the_page() {
        let s = ListParams {
            q: "web 01".into(),
            sort: "cpus".into(),
            dir: "desc".into(),
            page: 3,
            per_page: 100,
            filters: MinionFilters {
                status: "online".into(),
            },
        };
        assert_eq!(
            s.href(),
            "/minions?q=web%2001&status=online&sort=cpus&dir=desc&page=3&per_page=100"
        );
        assert_eq!(
            s.export_href("/api/minions/export", "csv"),
            "/api/minions/export.csv?q=web%2001&status=online&sort=cpus&dir=desc"
        );
        let none: ListParams<MinionFilters> = ListParams::default();
        assert_eq!(
            none.export_href("/api/minions/export", "ndjson"),
            "/api/minions/export.ndjson"
        );
    }

    /// Parse an href's query the way the router does (only `%20`-style escapes used here).
    fn parse<F: ListFilters>(href: &str) -> ListParams<F> {
        let pairs: Vec<(String, String)> = href
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_string(), v.replace("%20", " ").replace("%2F", "/"))
            })
            .collect();
        ListParams::from_query(|k| {
            pairs
                .iter()
                .find(|(a, _)| a == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
    }

    fn err_field(e: AppError) -> String {
        assert!(matches!(e, AppError::Invalid { .. }), "not a 422: {e:?}");
        e.field().unwrap_or_default().to_string()
    }

    #[test]
    fn defaults_leave_the_url_bare() {
        let p: ListParams<MinionFilters> = parse("/minions");
        assert_eq!(p.page, 1);
        assert_eq!(p.per_page, DEFAULT_PER_PAGE);
        assert_eq!(p.href(), "/minions");
        assert_eq!(ListParams::<JobFilters>::default().href(), "/jobs");
        assert_eq!(ListParams::<ActivityFilters>::default().href(), "/activity");
        assert!(!p.filtered());
    }

    /// `p` writes `href`, and `href` reads back as `p`.
    fn round_trip<F: ListFilters>(p: ListParams<F>, href: &str) {
        assert_eq!(p.href(), href);
        assert_eq!(parse::<F>(href), p);
    }

    #[test]
    fn url_round_trips() {
        let status = "online".to_string();
        round_trip(
            ListParams {
                q: "web 01".into(),
                sort: "mem".into(),
                dir: "desc".into(),
                page: 3,
                per_page: 100,
                filters: MinionFilters { status },
            },
            "/minions?q=web%2001&status=online&sort=mem&dir=desc&page=3&per_page=100",
        );
        let (system, live) = (true, true);
        let jobs = JobFilters {
            status: "running".into(),
            system,
            live,
        };
        round_trip(
            ListParams::default()
                .with_q("state.apply")
                .with_filters(jobs)
                .with_per_page(500)
                .at_page(2),
            "/jobs?q=state.apply&status=running&system=true&live=true&page=2&per_page=500",
        );
        let (hide_routine, hide_dispatch, paused) = (true, true, true);
        let activity = ActivityFilters {
            category: "job".into(),
            event_type: "job.ret".into(),
            minion: "web 01".into(),
            range: "24h".into(),
            hide_routine,
            hide_dispatch,
            paused,
        };
        let a = ListParams::default()
            .with_q("ping")
            .with_filters(activity)
            .with_per_page(100)
            .at_page(2);
        assert!(a.filtered());
        round_trip(a, "/activity?q=ping&category=job&event_type=job.ret&minion=web%2001&hide_routine=true&hide_dispatch=true&range=24h&live=off&page=2&per_page=100");
    }

    #[test]
    fn navigation_helpers_reset_the_page() {
        let p: ListParams<MinionFilters> = parse("/minions?q=x&page=4");
        assert_eq!(p.at_page(5).page, 5);
        assert_eq!(p.with_per_page(500).href(), "/minions?q=x&per_page=500");
        assert_eq!(p.with_q("  y ").href(), "/minions?q=y");
        let f = MinionFilters {
            status: "pending".into(),
        };
        assert_eq!(p.with_filters(f).href(), "/minions?q=x&status=pending");
        // Sorting: the default column is id ascending; a click on it flips, another column
        // starts ascending.
        assert_eq!(p.sort_column(), Some(MinionSort::Id));
        assert_eq!(
            p.sorted_by(MinionSort::Id).href(),
            "/minions?q=x&sort=id&dir=desc"
        );
        let desc = p.sorted_by(MinionSort::Id);
        assert_eq!(desc.sort_dir(), SortDir::Desc);
        assert_eq!(
            desc.sorted_by(MinionSort::Id).href(),
            "/minions?q=x&sort=id"
        );
        assert_eq!(
            desc.sorted_by(MinionSort::Os).href(),
            "/minions?q=x&sort=os"
        );
        assert_eq!(SortDir::Asc.flip(), SortDir::Desc);
    }

    #[test]
    fn validation_checks_every_field_once() {
        let ok: ListQuery<MinionFilters> = ListParams {
            q: "  web  ".into(),
            sort: "cpus".into(),
            dir: "desc".into(),
            filters: MinionFilters {
                status: "online".into(),
            },
            ..Default::default()
        }
        .try_into()
        .unwrap();
        assert_eq!(ok.q, "web");
        assert_eq!(ok.sort, Some(MinionSort::Cpus));
        assert_eq!(ok.dir, SortDir::Desc);
        assert_eq!((ok.page, ok.per_page), (1, 50));

        let bad = |p: ListParams<MinionFilters>| {
            err_field(ListQuery::<MinionFilters>::try_from(p).unwrap_err())
        };
        let base = ListParams::<MinionFilters>::default();
        assert_eq!(
            bad(ListParams {
                q: "x".repeat(201),
                ..base.clone()
            }),
            "q"
        );
        assert!(ListQuery::<MinionFilters>::try_from(ListParams {
            q: format!("  {}  ", "x".repeat(200)),
            ..base.clone()
        })
        .is_ok());
        assert_eq!(
            bad(ListParams {
                filters: MinionFilters {
                    status: "up".into()
                },
                ..base.clone()
            }),
            "status"
        );
        assert_eq!(
            bad(ListParams {
                sort: "name".into(),
                ..base.clone()
            }),
            "sort"
        );
        assert_eq!(
            bad(ListParams {
                dir: "down".into(),
                ..base.clone()
            }),
            "dir"
        );
        assert_eq!(
            bad(ListParams {
                per_page: 25,
                ..base.clone()
            }),
            "per_page"
        );
        assert_eq!(
            bad(ListParams {
                page: 900_000,
                ..base.clone()
            }),
            "page"
        );
        assert_eq!(
            bad(ListParams {
                page: -1,
                ..base.clone()
            }),
            "page"
        );
        // The deepest page is allowed, one more is not.
        let last = MAX_LIST_OFFSET / 500 + 1;
        assert!(ListQuery::<MinionFilters>::try_from(ListParams {
            page: last,
            per_page: 500,
            ..base.clone()
        })
        .is_ok());
        assert_eq!(
            bad(ListParams {
                page: last + 1,
                per_page: 500,
                ..base
            }),
            "page"
        );
    }

    #[test]
    fn messages_name_the_rules() {
        let e = ListQuery::<JobFilters>::try_from(ListParams {
            per_page: 7,
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("Page size must be 50, 100 or 500."),
            "{e}"
        );
        let e = ListQuery::<ActivityFilters>::try_from(ListParams {
            per_page: 501,
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("Page size must be 1 to 500."), "{e}");
        let e = ListQuery::<MinionFilters>::try_from(ListParams {
            sort: "x".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("Sort by one of id, status, os, ip, salt, cpus, mem."),
            "{e}"
        );
    }
}
