//! Jobs: the `jobs_index` store, pure ingest of `jobs.list_jobs`, the jobs poller and the
//! in-memory active-JID cache (running/complete is computed, never stored: SPEC 3.7).

pub mod highstate;
pub mod ingest;
pub mod poller;
pub mod store;
pub mod timeline;

use std::collections::HashSet;
use std::sync::RwLock;

/// What the jobs poller learnt on its last cycle; shared by the runtime with every reader.
#[derive(Debug, Default)]
pub struct JobsCache {
    inner: RwLock<CacheInner>,
    /// Function catalogue (`sys.list_functions`, merged) and when it was fetched.
    pub catalogue: tokio::sync::Mutex<Option<(Vec<String>, chrono::DateTime<chrono::Utc>)>>,
    /// Batch runs started from the Run page (`local_batch` blocks until done).
    pub batches: std::sync::Mutex<std::collections::HashMap<String, BatchRun>>,
}

/// A `local_batch` dispatch followed by the Run page.
#[derive(Debug, Clone, Default)]
pub struct BatchRun {
    pub owner_user_id: String,
    pub fun: String,
    pub minions: Vec<String>,
    pub batch: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    /// minion -> return value, once the batch call came back.
    pub results: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Default, Clone)]
struct CacheInner {
    active: HashSet<String>,
    active_known: bool,
    last_polled_at: Option<String>,
}

impl JobsCache {
    /// Replace the active set after a successful `jobs.active`.
    pub fn set_active(&self, jids: HashSet<String>, polled_at: String) {
        let mut g = self.inner.write().unwrap_or_else(|e| e.into_inner());
        g.active = jids;
        g.active_known = true;
        g.last_polled_at = Some(polled_at);
    }

    /// Mark a JID running at once (a dispatch or a `job.new` event) until the next poll says otherwise.
    pub fn mark_running(&self, jid: &str) {
        let mut g = self.inner.write().unwrap_or_else(|e| e.into_inner());
        g.active.insert(jid.to_string());
    }

    /// Forget everything (the poller was turned off or Salt changed).
    pub fn reset(&self) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = CacheInner::default();
    }

    /// Whether this JID was running at the last poll.
    pub fn is_active(&self, jid: &str) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .active
            .contains(jid)
    }

    /// A copy of the running JIDs.
    pub fn active(&self) -> HashSet<String> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .active
            .clone()
    }

    /// False until the poller has completed one cycle (statuses are then guesses).
    pub fn active_known(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .active_known
    }

    /// When the poller last finished a cycle (RFC 3339 UTC).
    pub fn last_polled_at(&self) -> Option<String> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .last_polled_at
            .clone()
    }
}
