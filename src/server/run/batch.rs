//! Batch runs started from the Run page: `local_batch` blocks until the last batch returns, so
//! the call runs as a runtime task ([`crate::server::runtime::Runtime::spawn_task`]) and its
//! result waits here, in memory, until the page that started it has read it.

use crate::model::jobs::clipped_json;
use crate::model::run::BatchProgress;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Finished batch runs are forgotten this long after they ended.
pub const BATCH_TTL: Duration = Duration::from_secs(3600);
/// A batch run still unfinished after this long is forgotten (`local_batch` gives up at 6 h).
pub const BATCH_MAX_AGE: Duration = Duration::from_secs(7 * 3600);
/// At most this many batch runs are remembered; a new one beyond it is refused (429).
pub const BATCH_CAP: usize = 1000;
/// The largest return shown per minion on the Run page.
const RESULT_CLIP_BYTES: usize = 64 * 1024;

/// A `local_batch` dispatch followed by the Run page.
#[derive(Debug, Clone, Default)]
pub struct BatchRun {
    pub owner_user_id: String,
    pub minions: Vec<String>,
    pub batch: String,
    /// When it was registered / when it ended (for [`BATCH_TTL`] and [`BATCH_MAX_AGE`]).
    pub started: Option<Instant>,
    pub finished: Option<Instant>,
    pub error: Option<String>,
    /// minion -> return value, once the batch call came back.
    pub results: BTreeMap<String, serde_json::Value>,
}

/// The batch runs of this process, by id (the runtime holds one).
#[derive(Debug, Default)]
pub struct BatchRuns {
    runs: Mutex<HashMap<String, BatchRun>>,
}

impl BatchRuns {
    /// Register a batch run, after forgetting old ones; `false` when [`BATCH_CAP`] runs are
    /// still in progress.
    pub fn add(&self, id: String, mut run: BatchRun) -> bool {
        let now = Instant::now();
        run.started.get_or_insert(now);
        let mut map = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        prune(&mut map, now);
        if map.len() >= BATCH_CAP {
            return false;
        }
        map.insert(id, run);
        true
    }

    /// Record the end of a batch run (if it is still remembered).
    pub fn finish(&self, id: &str, result: Result<BTreeMap<String, serde_json::Value>, String>) {
        let mut map = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(run) = map.get_mut(id) {
            run.finished = Some(Instant::now());
            match result {
                Ok(results) => run.results = results,
                Err(e) => run.error = Some(e),
            }
        }
    }

    /// The progress of run `id`, if `owner_user_id` started it.
    pub fn progress(&self, id: &str, owner_user_id: &str) -> Option<BatchProgress> {
        let map = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let run = map.get(id).filter(|r| r.owner_user_id == owner_user_id)?;
        Some(BatchProgress {
            minions: run.minions.clone(),
            batch: run.batch.clone(),
            finished: run.finished.is_some(),
            error: run.error.clone(),
            results: run
                .results
                .iter()
                .map(|(k, v)| (k.clone(), clipped_json(v, RESULT_CLIP_BYTES).0))
                .collect(),
        })
    }
}

/// Drop batch runs finished more than [`BATCH_TTL`] ago or started more than
/// [`BATCH_MAX_AGE`] ago; at [`BATCH_CAP`], also the oldest finished ones.
fn prune(map: &mut HashMap<String, BatchRun>, now: Instant) {
    let age = |t: Option<Instant>| t.map(|t| now.saturating_duration_since(t));
    map.retain(|_, r| {
        age(r.finished).is_none_or(|a| a < BATCH_TTL)
            && age(r.started).is_none_or(|a| a < BATCH_MAX_AGE)
    });
    if map.len() >= BATCH_CAP {
        let mut finished: Vec<(Instant, String)> = map
            .iter()
            .filter_map(|(id, r)| r.finished.map(|t| (t, id.clone())))
            .collect();
        finished.sort();
        let excess = map.len() + 1 - BATCH_CAP;
        for (_, id) in finished.into_iter().take(excess) {
            map.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_bounded() {
        let runs = BatchRuns::default();
        let later = Instant::now() + Duration::from_secs(2 * 3600);
        let mut map = HashMap::new();
        let run = |started: Instant, finished: Option<Instant>| BatchRun {
            started: Some(started),
            finished,
            ..Default::default()
        };
        let now = Instant::now();
        map.insert("old-done".to_string(), run(now, Some(now)));
        map.insert("running".to_string(), run(now, None));
        map.insert(
            "recent-done".to_string(),
            run(now, Some(later - Duration::from_secs(60))),
        );
        prune(&mut map, later);
        let mut left: Vec<&String> = map.keys().collect();
        left.sort();
        assert_eq!(left, ["recent-done", "running"]);
        // A run unfinished after BATCH_MAX_AGE is forgotten.
        prune(&mut map, now + BATCH_MAX_AGE + Duration::from_secs(1));
        assert!(map.is_empty());

        // The cap: finished runs make room, unfinished ones do not.
        for i in 0..BATCH_CAP {
            assert!(runs.add(format!("b{i}"), BatchRun::default()));
        }
        assert!(!runs.add("one-too-many".into(), BatchRun::default()));
        runs.finish("b7", Ok(Default::default()));
        assert!(runs.add("fits-now".into(), BatchRun::default()));
        let map = runs.runs.lock().unwrap();
        assert_eq!(map.len(), BATCH_CAP);
        assert!(!map.contains_key("b7") && map.contains_key("fits-now"));
    }

    #[test]
    fn progress_is_for_the_owner_only() {
        let runs = BatchRuns::default();
        let run = BatchRun {
            owner_user_id: "u1".into(),
            minions: vec!["web-01".into()],
            batch: "1".into(),
            ..Default::default()
        };
        assert!(runs.add("b".into(), run));
        assert!(runs.progress("b", "u2").is_none());
        let p = runs.progress("b", "u1").unwrap();
        assert!(!p.finished);
        runs.finish(
            "b",
            Ok(BTreeMap::from([("web-01".into(), serde_json::json!(true))])),
        );
        let p = runs.progress("b", "u1").unwrap();
        assert!(p.finished);
        assert_eq!(p.results, vec![("web-01".to_string(), "true".to_string())]);
    }
}
