//! `GET /api/fleet/export.csv|json|ndjson`: the fleet table as the `/fleet` page's query
//! filters it (search, status, failing state, sort), every row. Only the minions the caller may
//! view. The fleet (10k rows, ~1 MB) is read in one query, as the page reads it, then streamed.

use crate::model::fleet::{FleetFilters, FleetRow};
use crate::model::list::ListQuery;
use crate::server::export::{
    all_pages, every_row, Ask, ExportError, ExportRow, Gate, Refusal, Sink, Table,
};
use crate::server::state::AppState;

impl ExportRow for FleetRow {
    const COLUMNS: &'static [&'static str] = &[
        "minion_id",
        "online",
        "status",
        "run_id",
        "jid",
        "fun",
        "completed_at",
        "pass_count",
        "fail_count",
        "change_count",
        "total_count",
        "duration_ms",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.minion_id.clone(),
            self.online.to_string(),
            self.status.to_string(),
            self.run_id.clone().unwrap_or_default(),
            self.jid.clone().unwrap_or_default(),
            self.fun.clone().unwrap_or_default(),
            self.completed_at
                .as_ref()
                .map(crate::model::time::rfc3339)
                .unwrap_or_default(),
            self.pass_count.to_string(),
            self.fail_count.to_string(),
            self.change_count.to_string(),
            self.total_count.to_string(),
            format!("{:.0}", self.duration_ms),
        ]
    }
}

/// The CSV columns, in order.
pub const CSV_HEADER: &[&str] = <FleetRow as ExportRow>::COLUMNS;

/// The Fleet table's export.
pub struct FleetExport {
    query: ListQuery<FleetFilters>,
    globs: Option<Vec<String>>,
    describe: serde_json::Value,
}

impl Table for FleetExport {
    const PAGE: &'static str = "fleet";
    const WHAT: &'static str = "the fleet";
    type Row = FleetRow;
    const GATE: Gate = crate::server::minions::export::MINIONS;

    async fn check(Ask { params, globs, .. }: Ask<'_>) -> Result<Self, Refusal> {
        let lq: ListQuery<FleetFilters> = all_pages(params)?;
        let describe = serde_json::json!({
            "q": lq.q,
            "status": lq.filters.status.map(|s| s.to_string()),
            "failing": lq.filters.failing,
            "sort": lq.sort.map(crate::model::list::SortColumn::as_str),
            "dir": lq.dir.as_str(),
            "scoped": globs.is_some(),
        });
        Ok(FleetExport {
            query: every_row(lq),
            globs,
            describe,
        })
    }

    fn describe(&self) -> serde_json::Value {
        self.describe.clone()
    }

    async fn produce(self, state: AppState, mut sink: Sink) -> Result<Sink, ExportError> {
        let now = chrono::Utc::now();
        let (rows, _, _) = super::store::list(&state.db, &self.query, &self.globs, now).await?;
        sink.all(rows).await?;
        Ok(sink)
    }
}
