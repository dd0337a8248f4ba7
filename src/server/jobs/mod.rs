//! Jobs: the `jobs_index` store, pure ingest of `jobs.list_jobs`, the jobs poller and the
//! in-memory active-JID cache (running/complete is computed, never stored: SPEC 3.7).

pub mod detail;
pub mod export;
pub mod highstate;
pub mod ingest;
pub mod poller;
pub mod store;
pub mod timeline;

use crate::salt::replies::{ActiveJob, JobSummary};
use crate::salt::SaltError;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// A JID marked running (dispatch, `job.new` event) that no poll confirmed is forgotten after this.
pub const ACTIVE_TTL: Duration = Duration::from_secs(3600);
/// At most this many running JIDs are remembered (the oldest marks go first).
pub const ACTIVE_CAP: usize = 10_000;
/// How long one `jobs.active` / `jobs.list_jobs` answer is shared by every viewer.
pub const LIVE_TTL: Duration = Duration::from_secs(5);
/// Per-user budget for live job calls (`jobs/get`, live `jobs/list`): a burst of this many...
pub const LIVE_BURST: f64 = 60.0;
/// ...refilled at this many per second (120 a minute: the Run page follows a job every 1.5 s).
pub const LIVE_REFILL_PER_SEC: f64 = 2.0;

/// What the jobs poller learnt on its last cycle; shared by the runtime with every reader.
#[derive(Debug, Default)]
pub struct JobsCache {
    inner: RwLock<CacheInner>,
    /// Function catalogue (`sys.list_functions`, merged) and when it was fetched.
    pub catalogue: tokio::sync::Mutex<Option<(Vec<String>, chrono::DateTime<chrono::Utc>)>>,
    /// `jobs.active` (asks every minion), shared by every viewer for [`LIVE_TTL`].
    pub live_active: SharedCall<Vec<ActiveJob>>,
    /// `jobs.list_jobs` without a start time (Live mode of the Jobs page), shared likewise.
    pub live_list: SharedCall<Vec<JobSummary>>,
    /// Per-user rate limit on live job calls.
    pub live_limit: RateLimit,
}

#[derive(Debug, Default, Clone)]
struct CacheInner {
    /// Running JID -> when a poll or a mark last said so.
    active: HashMap<String, Instant>,
    last_pruned: Option<Instant>,
    active_known: bool,
    last_polled_at: Option<DateTime<Utc>>,
}

impl JobsCache {
    /// Replace the active set after a successful `jobs.active` (at most [`ACTIVE_CAP`], newest
    /// JIDs kept).
    pub fn set_active(&self, jids: HashSet<String>, polled_at: DateTime<Utc>) {
        let now = Instant::now();
        let mut list: Vec<String> = jids.into_iter().collect();
        if list.len() > ACTIVE_CAP {
            list.sort_unstable_by(|a, b| b.cmp(a));
            list.truncate(ACTIVE_CAP);
        }
        let mut g = self.inner.write().unwrap_or_else(|e| e.into_inner());
        g.active = list.into_iter().map(|j| (j, now)).collect();
        g.active_known = true;
        g.last_polled_at = Some(polled_at);
        g.last_pruned = Some(now);
    }

    /// Mark a JID running at once (a dispatch or a `job.new` event) until the next poll says
    /// otherwise; a mark no poll confirms is forgotten after [`ACTIVE_TTL`].
    pub fn mark_running(&self, jid: &str) {
        let now = Instant::now();
        let mut g = self.inner.write().unwrap_or_else(|e| e.into_inner());
        g.active.insert(jid.to_string(), now);
        let due = g
            .last_pruned
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(60));
        if due || g.active.len() > ACTIVE_CAP {
            prune_active(&mut g.active, now);
            g.last_pruned = Some(now);
        }
    }

    /// Forget everything (the poller was turned off or Salt changed).
    pub fn reset(&self) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = CacheInner::default();
        self.live_active.invalidate();
        self.live_list.invalidate();
    }

    /// Whether this JID was running at the last poll.
    pub fn is_active(&self, jid: &str) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .active
            .get(jid)
            .is_some_and(|t| t.elapsed() < ACTIVE_TTL)
    }

    /// A copy of the running JIDs.
    pub fn active(&self) -> HashSet<String> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .active
            .iter()
            .filter(|(_, t)| t.elapsed() < ACTIVE_TTL)
            .map(|(j, _)| j.clone())
            .collect()
    }

    /// False until the poller has completed one cycle (statuses are then guesses).
    pub fn active_known(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .active_known
    }

    /// When the poller last finished a cycle.
    pub fn last_polled_at(&self) -> Option<DateTime<Utc>> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .last_polled_at
    }
}

/// Drop marks older than [`ACTIVE_TTL`]; beyond [`ACTIVE_CAP`], the oldest down to 90 % of it
/// (so a flood of marks does not sort the set on every insert).
fn prune_active(active: &mut HashMap<String, Instant>, now: Instant) {
    active.retain(|_, t| now.saturating_duration_since(*t) < ACTIVE_TTL);
    if active.len() > ACTIVE_CAP {
        let mut by_age: Vec<(Instant, String)> =
            active.iter().map(|(j, t)| (*t, j.clone())).collect();
        by_age.sort();
        let excess = active.len() - ACTIVE_CAP * 9 / 10;
        for (_, j) in by_age.into_iter().take(excess) {
            active.remove(&j);
        }
    }
}

/// (fetched at, epoch it was fetched in, answer).
type Shared<T> = Option<(Instant, u64, Result<T, SaltError>)>;

/// One answer shared by every caller for a while: concurrent callers wait for the one call in
/// flight (single flight) instead of each asking the master. Errors are shared too, so a
/// failing master is not asked once per viewer.
pub struct SharedCall<T> {
    slot: tokio::sync::Mutex<Shared<T>>,
    epoch: AtomicU64,
}

impl<T> Default for SharedCall<T> {
    fn default() -> Self {
        Self {
            slot: tokio::sync::Mutex::new(None),
            epoch: AtomicU64::new(0),
        }
    }
}

impl<T> std::fmt::Debug for SharedCall<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCall").finish_non_exhaustive()
    }
}

impl<T: Clone> SharedCall<T> {
    /// The shared answer if it is younger than `ttl`, else `fetch()`'s (stored for the others).
    pub async fn get<F, Fut>(&self, ttl: Duration, fetch: F) -> Result<T, SaltError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, SaltError>>,
    {
        let mut slot = self.slot.lock().await;
        let epoch = self.epoch.load(Ordering::SeqCst);
        if let Some((at, e, v)) = slot.as_ref() {
            if *e == epoch && at.elapsed() < ttl {
                return v.clone();
            }
        }
        let v = fetch().await;
        *slot = Some((Instant::now(), epoch, v.clone()));
        v
    }

    /// Make the next caller ask again (a dispatch or a kill changed what is running); an
    /// answer in flight now is not reused.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

/// Per-key token bucket: [`LIVE_BURST`] calls at once, refilled at [`LIVE_REFILL_PER_SEC`].
#[derive(Debug, Default)]
pub struct RateLimit {
    buckets: std::sync::Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimit {
    /// Take one call for `key`; `Err(seconds to wait)` when the budget is spent.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        self.take_at(key, Instant::now(), LIVE_BURST, LIVE_REFILL_PER_SEC)
    }

    fn take_at(&self, key: &str, now: Instant, burst: f64, per_sec: f64) -> Result<(), u64> {
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            // Forget users whose bucket has refilled (they lose nothing).
            map.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec < burst
            });
        }
        let (tokens, at) = map.entry(key.to_string()).or_insert((burst, now));
        let refilled =
            (*tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec).min(burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(((1.0 - refilled) / per_sec).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn active_jids_are_bounded() {
        let cache = JobsCache::default();
        for i in 0..ACTIVE_CAP + 500 {
            cache.mark_running(&format!("{i:020}"));
        }
        let n = cache.active().len();
        assert!((ACTIVE_CAP * 9 / 10..=ACTIVE_CAP).contains(&n), "{n}");
        assert!(
            !cache.is_active(&format!("{:020}", 0)),
            "oldest mark dropped"
        );
        assert!(cache.is_active(&format!("{:020}", ACTIVE_CAP + 499)));

        let mut m = HashMap::new();
        let now = Instant::now();
        m.insert("a".to_string(), now);
        prune_active(&mut m, now + ACTIVE_TTL + Duration::from_secs(1));
        assert!(m.is_empty(), "an unconfirmed mark ages out");

        let many: HashSet<String> = (0..ACTIVE_CAP + 10).map(|i| format!("{i:020}")).collect();
        cache.set_active(many, chrono::Utc::now());
        assert_eq!(cache.active().len(), ACTIVE_CAP);
        assert!(
            cache.is_active(&format!("{:020}", ACTIVE_CAP + 9)),
            "newest kept"
        );
    }

    #[tokio::test]
    async fn shared_call_is_single_flight_and_expires() {
        let shared = Arc::new(SharedCall::<u32>::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = vec![];
        for _ in 0..20 {
            let (shared, calls) = (shared.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                shared
                    .get(Duration::from_secs(60), || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(7)
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(7));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one call for 20 callers");
        // Invalidated: the next caller asks again.
        shared.invalidate();
        let v = shared
            .get(Duration::from_secs(60), || async { Ok(8) })
            .await;
        assert_eq!(v, Ok(8));
        // Expired: asks again.
        let v = shared.get(Duration::ZERO, || async { Ok(9) }).await;
        assert_eq!(v, Ok(9));
    }

    #[test]
    fn rate_limit_per_key_with_refill() {
        let rl = RateLimit::default();
        let t0 = Instant::now();
        for _ in 0..20 {
            assert!(rl.take_at("alice", t0, 20.0, 1.0 / 3.0).is_ok());
        }
        let wait = rl.take_at("alice", t0, 20.0, 1.0 / 3.0).unwrap_err();
        assert_eq!(wait, 3, "one call every 3 s");
        assert!(rl.take_at("bob", t0, 20.0, 1.0 / 3.0).is_ok(), "per user");
        let t1 = t0 + Duration::from_secs(3);
        assert!(rl.take_at("alice", t1, 20.0, 1.0 / 3.0).is_ok());
        assert!(rl.take_at("alice", t1, 20.0, 1.0 / 3.0).is_err());
    }
}
