//! `GET /api/minions/export.csv|json|ndjson`: the Minions table as the `/minions` page's query
//! filters and sorts it (search, status, sort, direction), every page, streamed from the
//! database (`crate::server::export`). Only the minions the caller may view; an
//! `export.minions` audit row names the filters and the format.

use crate::model::list::{ListQuery, MinionFilters, SortColumn, SortDir};
use crate::model::minions::MinionRow;
use crate::server::export::{all_pages, Ask, ExportError, ExportRow, Gate, Refusal, Sink, Table};
use crate::server::minions::store;
use crate::server::state::AppState;

impl ExportRow for MinionRow {
    const COLUMNS: &'static [&'static str] = &[
        "minion_id",
        "status",
        "ip",
        "os",
        "salt_version",
        "cpus",
        "mem_mb",
        "virtual",
        "stale",
    ];

    fn cells(&self) -> Vec<String> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        vec![
            self.id.clone(),
            self.status.as_str().to_string(),
            opt(&self.ip),
            opt(&self.os),
            opt(&self.salt),
            num(self.cpus),
            num(self.mem_mb),
            opt(&self.virtual_type),
            self.stale.to_string(),
        ]
    }
}

/// What the minion tables (Minions, Fleet) need: `view` on some minions, and only those leave.
pub const MINIONS: Gate = Gate::Kind("minion", "You do not have permission to view minions.");

/// The Minions table's export: the page's checked query and the caller's scope.
pub struct MinionsExport {
    query: store::ListQuery,
    describe: serde_json::Value,
}

impl Table for MinionsExport {
    const PAGE: &'static str = "minions";
    const WHAT: &'static str = "minions";
    type Row = MinionRow;
    const GATE: Gate = MINIONS;

    async fn check(Ask { params, globs, .. }: Ask<'_>) -> Result<Self, Refusal> {
        let lq: ListQuery<MinionFilters> = all_pages(params)?;
        let sort = lq.sort.map(|c| c.as_str().to_string()).unwrap_or_default();
        let describe = serde_json::json!({
            "q": lq.q,
            "status": lq.filters.map(|s| s.as_str()),
            "sort": sort,
            "dir": lq.dir.as_str(),
            "scoped": globs.is_some(),
        });
        Ok(MinionsExport {
            query: store::ListQuery {
                search: lq.q,
                status: lq.filters,
                sort,
                descending: lq.dir == SortDir::Desc,
                page: 1,
                per_page: 0,
                allowed_globs: globs,
            },
            describe,
        })
    }

    fn describe(&self) -> serde_json::Value {
        self.describe.clone()
    }

    async fn produce(self, state: AppState, sink: Sink) -> Result<Sink, ExportError> {
        store::export(&state.db, &self.query, sink).await
    }
}
