//! `GET /api/activity/export.csv|json|ndjson`: the persisted event feed as the `/activity`
//! page's query filters it (category, type, minion, search, routine and dispatch switches,
//! time range), every page, newest first, streamed with a cursor: a million rows leave with flat
//! memory. Only the categories and resources the caller may view, as on the page.

use super::store::{self, ActivityQuery, Visibility};
use crate::model::activity::ActivityEvent;
use crate::model::list::{ActivityFilters, ListQuery};
use crate::server::export::{all_pages, Ask, ExportError, ExportRow, Gate, Refusal, Sink, Table};
use crate::server::state::AppState;

impl ExportRow for ActivityEvent {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "ts",
        "category",
        "event_type",
        "minion_id",
        "jid",
        "fun",
        "success",
        "changed",
        "initiator",
        "target",
        "duration_ms",
        "summary",
    ];

    fn cells(&self) -> Vec<String> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let flag = |v: Option<bool>| v.map(|b| b.to_string()).unwrap_or_default();
        vec![
            self.id.to_string(),
            crate::model::time::rfc3339(&self.ts),
            self.category.as_str().to_string(),
            self.event_type.clone(),
            opt(&self.minion_id),
            opt(&self.jid),
            opt(&self.fun),
            flag(self.success),
            flag(self.changed),
            opt(&self.initiator),
            opt(&self.target),
            self.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
            self.summary.clone(),
        ]
    }
}

/// The Activity table's export.
pub struct ActivityExport {
    query: ActivityQuery,
    vis: Visibility,
    describe: serde_json::Value,
}

impl Table for ActivityExport {
    const PAGE: &'static str = "activity";
    const WHAT: &'static str = "activity";
    type Row = ActivityEvent;
    /// Which categories the caller may see is checked in `check`.
    const GATE: Gate = Gate::Session("event:*");

    async fn check(Ask { user, params, .. }: Ask<'_>) -> Result<Self, Refusal> {
        let vis = Visibility::of(&user.permissions);
        if vis.categories().is_empty() {
            return Err(Refusal::denied(
                "event:*",
                "You may not view jobs, keys or minions, so there is no activity to export.",
            ));
        }
        let lq: ListQuery<ActivityFilters> = all_pages(params)?;
        let f = &lq.filters;
        let describe = serde_json::json!({
            "q": lq.q,
            "category": f.category,
            "event_type": f.event_type,
            "minion": f.minion,
            "hide_routine": f.hide_routine,
            "hide_dispatch": f.hide_dispatch,
            "range": f.range,
        });
        Ok(ActivityExport {
            query: ActivityQuery::of_list(lq, 0),
            vis,
            describe,
        })
    }

    fn describe(&self) -> serde_json::Value {
        self.describe.clone()
    }

    async fn produce(self, state: AppState, sink: Sink) -> Result<Sink, ExportError> {
        store::export(&state.db, &self.query, &self.vis, sink).await
    }
}
