//! `Page<T>`: one page of a server-side list, what every list server function returns inside its
//! page type (`MinionPage`, `JobsPage`, `ActivityPage`, flattened so the JSON stays flat).

use serde::{Deserialize, Serialize};

/// The rows shown and where they sit in the whole list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// Rows in the whole (filtered) list.
    pub total: i64,
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
        }
    }

    /// How many pages the whole list has (at least one).
    pub fn pages(&self) -> i64 {
        page_count(self.total, self.per_page)
    }
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
}
