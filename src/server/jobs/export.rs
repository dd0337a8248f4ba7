//! The Jobs exports: the indexed list as the `/jobs` page's query filters it
//! (`GET /api/jobs/export.csv|json|ndjson`, [`JobsExport`]) and one job's per-minion results
//! as its page shows them (`GET /api/jobs/results/export.csv|json|ndjson?jid=…`,
//! [`JobResultsExport`]).

use super::store::{self, JobQuery};
use crate::model::jobs::{Jid, JobListRow, JobMinionRow};
use crate::model::list::{JobFilters, ListQuery};
use crate::server::export::{all_pages, Ask, ExportError, ExportRow, Gate, Refusal, Sink, Table};
use crate::server::state::AppState;

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

impl ExportRow for JobListRow {
    const COLUMNS: &'static [&'static str] = &[
        "jid",
        "status",
        "function",
        "target",
        "target_type",
        "user",
        "started_at",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.jid.clone(),
            self.status.as_str().to_string(),
            self.function.clone(),
            opt(&self.target),
            opt(&self.target_type),
            opt(&self.user),
            self.started_at
                .as_ref()
                .map(crate::model::time::rfc3339)
                .unwrap_or_default(),
        ]
    }
}

/// The Jobs table's export: the indexed list (never the live view), every page, newest first.
/// Running or complete comes from the server's active-job cache, as on the page.
pub struct JobsExport {
    query: JobQuery,
}

impl Table for JobsExport {
    const PAGE: &'static str = "jobs";
    const WHAT: &'static str = "jobs";
    type Row = JobListRow;
    const GATE: Gate = Gate::Kind("job", "You do not have permission to view jobs.");

    async fn check(Ask { params, globs, .. }: Ask<'_>) -> Result<Self, Refusal> {
        let lq: ListQuery<JobFilters> = all_pages(params)?;
        let q = lq.q.to_lowercase();
        Ok(JobsExport {
            query: JobQuery {
                search: (!q.is_empty()).then_some(q),
                function: None,
                status: lq.filters.status,
                include_system: lq.filters.system,
                page: 1,
                per_page: 0,
                allowed_globs: globs,
            },
        })
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "q": self.query.search,
            "status": self.query.status.map(|s| s.as_str()),
            "system": self.query.include_system,
            "scoped": self.query.allowed_globs.is_some(),
        })
    }

    async fn produce(self, state: AppState, sink: Sink) -> Result<Sink, ExportError> {
        let mut active: Vec<String> = state.runtime.jobs().active().into_iter().collect();
        active.sort();
        store::export(&state.db, &self.query, &active, sink).await
    }
}

impl ExportRow for JobMinionRow {
    const COLUMNS: &'static [&'static str] = &[
        "minion",
        "state",
        "success",
        "retcode",
        "states_passed",
        "states_failed",
        "states_changed",
        "return",
    ];

    fn cells(&self) -> Vec<String> {
        let hs = |f: fn(&crate::model::jobs::StateSummary) -> i64| {
            self.highstate
                .as_ref()
                .map(|h| f(h).to_string())
                .unwrap_or_default()
        };
        vec![
            self.minion.clone(),
            self.state.as_str().to_string(),
            self.success.map(|b| b.to_string()).unwrap_or_default(),
            self.retcode.map(|c| c.to_string()).unwrap_or_default(),
            hs(|h| h.pass),
            hs(|h| h.fail),
            hs(|h| h.changed),
            self.return_json.clone(),
        ]
    }
}

/// One job's per-minion results, as its page lists them (failures first, then by minion),
/// read live from the master like the page (a live call from the caller's budget).
pub struct JobResultsExport {
    jid: Jid,
    rows: Vec<JobMinionRow>,
}

impl Table for JobResultsExport {
    const PAGE: &'static str = "job-results";
    const WHAT: &'static str = "job results";
    type Row = JobMinionRow;
    /// The job's own grant is checked once its id is known.
    const GATE: Gate = Gate::Session("job:*");

    async fn check(
        Ask {
            state,
            user,
            params,
            ..
        }: Ask<'_>,
    ) -> Result<Self, Refusal> {
        let jid = Jid::new(params.get("jid"))?;
        let resource = format!("job:{jid}");
        if !user.can("view", &resource) {
            return Err(Refusal::denied(
                &resource,
                "You do not have permission to view this job.",
            ));
        }
        let view = super::detail::load(state, user, jid.clone()).await?;
        Ok(JobResultsExport {
            jid,
            rows: view.minions,
        })
    }

    fn resource(&self) -> String {
        format!("job:{}", self.jid)
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({ "jid": self.jid.as_str(), "minions": self.rows.len() })
    }

    async fn produce(self, _: AppState, mut sink: Sink) -> Result<Sink, ExportError> {
        sink.all(self.rows).await?;
        Ok(sink)
    }
}
