//! Login throttling: at most N failed attempts per username+IP in a sliding window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// In-process failure counter (single Halite process; DECISIONS).
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<(String, String), Vec<Instant>>>,
}

impl LoginThrottle {
    /// Seconds to wait when the key is locked out, else `None`.
    pub fn check(&self, username: &str, ip: &str, max: usize, window: Duration) -> Option<u64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let key = (username.to_lowercase(), ip.to_string());
        let now = Instant::now();
        let list = map.entry(key).or_default();
        list.retain(|t| now.duration_since(*t) < window);
        if list.len() >= max {
            let oldest = list[0];
            let wait = window.saturating_sub(now.duration_since(oldest));
            Some(wait.as_secs().max(1))
        } else {
            None
        }
    }

    /// Record a failed attempt.
    pub fn fail(&self, username: &str, ip: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((username.to_lowercase(), ip.to_string()))
            .or_default()
            .push(Instant::now());
        if map.len() > 100_000 {
            map.clear(); // bound memory under a credential-stuffing flood
        }
    }

    /// Forget failures after a successful login.
    pub fn clear(&self, username: &str, ip: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&(username.to_lowercase(), ip.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_per_user_and_ip() {
        let t = LoginThrottle::default();
        let w = Duration::from_secs(900);
        for _ in 0..5 {
            assert!(t.check("Admin", "1.2.3.4", 5, w).is_none());
            t.fail("admin", "1.2.3.4");
        }
        let wait = t.check("ADMIN", "1.2.3.4", 5, w).expect("locked");
        assert!(wait > 0 && wait <= 900);
        assert!(
            t.check("admin", "5.6.7.8", 5, w).is_none(),
            "other IP unaffected"
        );
        t.clear("admin", "1.2.3.4");
        assert!(t.check("admin", "1.2.3.4", 5, w).is_none());
    }
}
