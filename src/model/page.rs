//! `Page<T>`: one page of a server-side list, what every list server function returns inside its
//! page type (`MinionPage`, `JobsPage`, `ActivityPage`, flattened so the JSON stays flat).

use serde::{Deserialize, Serialize};

/// The rows shown and where they sit in the whole list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// Rows in the whole (filtered) list; at least this many when `total_capped`.
    pub total: i64,
    /// The count stopped at `total` (a filtered count stops at [`COUNT_CAP`] or at the end of
    /// the page shown, whichever is further): more rows may follow.
    #[serde(default)]
    pub total_capped: bool,
    /// 1-based.
    pub page: i64,
    pub per_page: i64,
}

impl<T> Page<T> {
    pub fn new(rows: Vec<T>, total: i64, page: i64, per_page: i64) -> Self {
        Page {
            rows,
            total,
            page,
            per_page,
            total_capped: false,
        }
    }

    /// The same page, its total a lower bound when `capped`.
    pub fn capped(self, capped: bool) -> Self {
        Page {
            total_capped: capped,
            ..self
        }
    }

    /// How many pages the whole list has (at least one).
    pub fn pages(&self) -> i64 {
        page_count(self.total, self.per_page)
    }
}

/// Where a filtered count (a search, a per-resource role) over a large table stops: the page
/// then says "1000+ jobs". An exact count would read every match for every page.
pub const COUNT_CAP: i64 = 1_000;

/// How many rows a filtered count reads on `page` of `per_page` before it stops: the cap, or
/// one past the page shown (so a deep page still knows whether another follows).
pub fn count_limit(page: i64, per_page: i64) -> i64 {
    COUNT_CAP
        .max(page.max(1).saturating_mul(per_page.max(1)))
        .saturating_add(1)
}

/// How many pages of `per_page` rows `total` rows make (at least one).
pub fn page_count(total: i64, per_page: i64) -> i64 {
    let per_page = per_page.max(1);
    ((total + per_page - 1) / per_page).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_up_and_never_drop_below_one() {
        assert_eq!(Page::<()>::new(vec![], 0, 1, 50).pages(), 1);
        assert_eq!(Page::<()>::new(vec![], 50, 1, 50).pages(), 1);
        assert_eq!(Page::<()>::new(vec![], 51, 1, 50).pages(), 2);
        assert_eq!(Page::<()>::new(vec![], 10, 1, 0).pages(), 10);
    }

    #[test]
    fn a_count_reads_past_the_cap_only_for_a_deeper_page() {
        assert_eq!(count_limit(1, 50), COUNT_CAP + 1);
        assert_eq!(count_limit(20, 50), COUNT_CAP + 1);
        assert_eq!(count_limit(21, 50), 1_051);
        assert_eq!(count_limit(i64::MAX, 500), i64::MAX);
        assert!(!Page::<()>::new(vec![], 5, 1, 50).total_capped);
        assert!(Page::<()>::new(vec![], 5, 1, 50).capped(true).total_capped);
    }
}
