//! The inventory's two exports, both needing `view:inventory:*` like the pages:
//! - `GET /api/inventory/export.csv|json|ndjson` (`packages`): the `/inventory` packages table
//!   as its query searches, filters and sorts it, every page: one row per package name with its
//!   minion and version counts and sources (over the whole fleet, like the page).
//! - `GET /api/inventory/search.csv|json|ndjson` (`inventory`): the package search as the
//!   `/inventory/search` page's query states it (name, version, source, minion), every hit up to
//!   [`EXPORT_MAX`] rows, only the minions the caller may view. A cut export says so in
//!   `X-Halite-Truncated: true`. The search runs before the answer starts, so a search that is
//!   too wide is a 422 naming the field, never a broken download.

use crate::model::inventory::{
    PackageFilters, PackageHit, PackageRow, PackageSearch, SearchFilters,
};
use crate::model::list::{ListFilters, ListQuery};
use crate::server::export::{
    all_pages, every_row, view_globs, Ask, ExportError, ExportRow, Gate, Refusal, Sink, Table,
};

/// Both inventory exports need what the inventory pages need.
const INVENTORY: Gate = Gate::Grant(
    "inventory:*",
    "You do not have permission to view the package inventory.",
);
use crate::server::state::AppState;

/// Most rows one export carries.
pub const EXPORT_MAX: i64 = 200_000;

impl ExportRow for PackageHit {
    const COLUMNS: &'static [&'static str] = &[
        "minion_id",
        "name",
        "version",
        "arch",
        "source",
        "collected_at",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.minion_id.clone(),
            self.name.clone(),
            self.version.clone(),
            self.arch.clone(),
            self.source.clone(),
            crate::model::time::rfc3339(&self.collected_at),
        ]
    }
}

/// The CSV columns, in order.
pub const CSV_HEADER: &[&str] = <PackageHit as ExportRow>::COLUMNS;

/// The package search's export.
pub struct InventoryExport {
    filters: SearchFilters,
    rows: Vec<PackageHit>,
    truncated: bool,
}

impl Table for InventoryExport {
    const PAGE: &'static str = "inventory";
    const WHAT: &'static str = "the inventory";
    type Row = PackageHit;
    const GATE: Gate = INVENTORY;

    async fn check(
        Ask {
            state,
            user,
            params,
            ..
        }: Ask<'_>,
    ) -> Result<Self, Refusal> {
        let globs = view_globs(
            user,
            "minion",
            "You do not have permission to view minions.",
        )?;
        let filters = SearchFilters::from_query(&|k| params.get(k));
        let search: PackageSearch = filters.clone().validate()?;
        let page = super::store::search(&state.db, &search, &globs, 1, EXPORT_MAX).await?;
        let truncated = page.truncated || page.list.total > page.list.rows.len() as i64;
        Ok(InventoryExport {
            filters,
            rows: page.list.rows,
            truncated,
        })
    }

    fn describe(&self) -> serde_json::Value {
        let mut args = serde_json::to_value(&self.filters).unwrap_or_default();
        args["rows"] = self.rows.len().into();
        args["truncated"] = self.truncated.into();
        args
    }

    fn headers(&self) -> Vec<(&'static str, &'static str)> {
        vec![(
            "x-halite-truncated",
            if self.truncated { "true" } else { "false" },
        )]
    }

    async fn produce(self, _: AppState, mut sink: Sink) -> Result<Sink, ExportError> {
        sink.all(self.rows).await?;
        Ok(sink)
    }
}

impl ExportRow for PackageRow {
    const COLUMNS: &'static [&'static str] = &["name", "minions", "versions", "sources"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.minion_count.to_string(),
            self.version_count.to_string(),
            self.sources.replace(',', " "),
        ]
    }
}

/// The packages table's export.
pub struct PackagesExport(ListQuery<PackageFilters>);

impl Table for PackagesExport {
    const PAGE: &'static str = "packages";
    const WHAT: &'static str = "the package list";
    type Row = PackageRow;
    const GATE: Gate = INVENTORY;

    async fn check(Ask { params, .. }: Ask<'_>) -> Result<Self, Refusal> {
        Ok(PackagesExport(all_pages(params)?))
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "q": self.0.q,
            "source": self.0.filters.map(|s| s.as_str()),
            "sort": self.0.sort.map(crate::model::list::SortColumn::as_str),
            "dir": self.0.dir.as_str(),
        })
    }

    async fn produce(self, state: AppState, mut sink: Sink) -> Result<Sink, ExportError> {
        let (rows, _) = super::store::packages(&state.db, &every_row(self.0)).await?;
        sink.all(rows).await?;
        Ok(sink)
    }
}
