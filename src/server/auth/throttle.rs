//! Login (and password-change) throttling: at most N attempts per key (username+IP) in a
//! sliding window. An attempt is counted *before* the password is checked, so parallel guesses
//! cannot slip past the limit while their checks run; a success forgets the key's attempts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys held at once; past it the stalest keys are evicted (never the whole table).
const DEFAULT_CAPACITY: usize = 100_000;

/// In-process attempt counter (single Halite process; DECISIONS).
pub struct LoginThrottle {
    attempts: Mutex<HashMap<(String, String), Vec<Instant>>>,
    capacity: usize,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl LoginThrottle {
    /// A throttle holding at most `capacity` keys.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            attempts: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn key(scope: &str, ip: &str) -> (String, String) {
        (scope.to_lowercase(), ip.to_string())
    }

    /// Count one attempt for `scope`+`ip`. `Err(seconds to wait)` when `max` attempts were
    /// already made inside `window` (the refused attempt is not counted).
    pub fn attempt(&self, scope: &str, ip: &str, max: usize, window: Duration) -> Result<(), u64> {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let key = Self::key(scope, ip);
        if !map.contains_key(&key) && map.len() >= self.capacity {
            Self::evict(&mut map, now, window, self.capacity);
        }
        let list = map.entry(key).or_default();
        list.retain(|t| now.duration_since(*t) < window);
        if list.len() >= max {
            let wait = window.saturating_sub(now.duration_since(list[0]));
            return Err(wait.as_secs().max(1));
        }
        list.push(now);
        Ok(())
    }

    /// Seconds to wait when the key is locked out, else `None` (does not count an attempt).
    pub fn check(&self, scope: &str, ip: &str, max: usize, window: Duration) -> Option<u64> {
        let map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let list = map.get(&Self::key(scope, ip))?;
        let recent: Vec<&Instant> = list
            .iter()
            .filter(|t| now.duration_since(**t) < window)
            .collect();
        (recent.len() >= max).then(|| {
            window
                .saturating_sub(now.duration_since(*recent[0]))
                .as_secs()
                .max(1)
        })
    }

    /// Forget the attempts of a key after a success.
    pub fn clear(&self, scope: &str, ip: &str) {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&Self::key(scope, ip));
    }

    /// Number of keys held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Make room: drop keys with no attempt inside the window, then the stalest tenth.
    fn evict(
        map: &mut HashMap<(String, String), Vec<Instant>>,
        now: Instant,
        window: Duration,
        capacity: usize,
    ) {
        map.retain(|_, v| v.last().is_some_and(|t| now.duration_since(*t) < window));
        if map.len() < capacity {
            return;
        }
        let mut by_age: Vec<(Instant, (String, String))> = map
            .iter()
            .map(|(k, v)| (v.last().copied().unwrap_or(now), k.clone()))
            .collect();
        by_age.sort_by_key(|(t, _)| *t);
        let drop = (capacity / 10).max(1).min(by_age.len());
        for (_, k) in by_age.into_iter().take(drop) {
            map.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(900);

    #[test]
    fn locks_after_max_attempts_per_user_and_ip() {
        let t = LoginThrottle::default();
        for _ in 0..5 {
            assert!(t.attempt("Admin", "1.2.3.4", 5, W).is_ok());
        }
        let wait = t.attempt("ADMIN", "1.2.3.4", 5, W).expect_err("locked");
        assert!(wait > 0 && wait <= 900);
        assert_eq!(t.check("admin", "1.2.3.4", 5, W), Some(wait));
        assert!(
            t.attempt("admin", "5.6.7.8", 5, W).is_ok(),
            "other IP unaffected"
        );
        t.clear("admin", "1.2.3.4");
        assert!(t.attempt("admin", "1.2.3.4", 5, W).is_ok());
    }

    #[test]
    fn parallel_attempts_never_pass_the_limit() {
        let t = std::sync::Arc::new(LoginThrottle::default());
        let passed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..32)
            .map(|_| {
                let (t, passed) = (t.clone(), passed.clone());
                std::thread::spawn(move || {
                    if t.attempt("root", "9.9.9.9", 5, W).is_ok() {
                        passed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(passed.load(std::sync::atomic::Ordering::SeqCst), 5);
    }

    #[test]
    fn a_full_table_evicts_the_oldest_keys_not_everything() {
        let t = LoginThrottle::with_capacity(100);
        for _ in 0..5 {
            t.attempt("victim", "1.1.1.1", 5, W).unwrap();
        }
        for i in 0..100 {
            t.attempt(&format!("flood{i}"), "2.2.2.2", 5, W).unwrap();
        }
        assert!(t.len() <= 100);
        // The victim's key was among the stalest and may go, but the table was never wiped:
        // the newest flood keys are all still there.
        assert!(t.check("flood99", "2.2.2.2", 1, W).is_some());
        assert!(
            t.len() >= 90,
            "only the stalest tenth is evicted: {}",
            t.len()
        );
    }
}
