//! Server functions (stable paths under `/api/`) and the types they exchange.

pub mod activity;
pub mod auth;
pub mod jobs;
pub mod keys;
pub mod minions;
pub mod overview;
pub mod run;
pub mod settings;
pub mod templates;
pub mod timeline;

/// Deepest row a list serves by paging (OFFSET makes the database walk every skipped row).
pub const MAX_LIST_OFFSET: i64 = 250_000;

/// A 1-based page number (0 means the first page) within [`MAX_LIST_OFFSET`] for this page size.
pub fn validate_page(page: i64, per_page: i64) -> Result<i64, crate::error::AppError> {
    let page = if page == 0 { 1 } else { page };
    let last = MAX_LIST_OFFSET / per_page.max(1) + 1;
    if !(1..=last).contains(&page) {
        return Err(crate::error::AppError::invalid(
            "page",
            format!(
                "Page must be a number from 1 to {last} at this page size; \
                 narrow the list with search or filters to reach older rows."
            ),
        ));
    }
    Ok(page)
}
