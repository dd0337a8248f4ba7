//! The audit trail: one row per mutation and per denial, with secrets redacted. Reading it
//! (pages, export, CLI) is in [`query`] and [`export`].

pub mod export;
pub mod query;

use crate::server::db::{Db, JsonText, Ts};
use crate::with_db;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Placeholder written instead of a secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Parts that make a name secret, alone or inside a longer name (`db_password`,
/// `passphrase_file`, `x_auth_token`, `AWS_SECRET_ACCESS_KEY`).
const SECRET_PARTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "privkey",
    "credential",
];

/// Short names that are secret only as the whole name (as a part they are too common:
/// `passive`, `author`, `session_count`).
const SECRET_NAMES: &[&str] = &[
    "pass",
    "pw",
    "pwd",
    "authorization",
    "auth",
    "cookie",
    "session",
];

/// True for a key whose value must never be stored (case and `-`/`_` ignored): a secret part
/// anywhere in the name, one of the short secret names, or a name ending in `_pass` / `_pw` /
/// `_pwd`.
pub fn is_secret_key(key: &str) -> bool {
    let k = key
        .trim_start_matches('-')
        .to_ascii_lowercase()
        .replace('-', "_");
    SECRET_NAMES.contains(&k.as_str())
        || SECRET_PARTS.iter().any(|p| k.contains(p))
        || k.ends_with("_pass")
        || k.ends_with("_pw")
        || k.ends_with("_pwd")
}

/// Redact `name=value` words whose name is secret-like inside free text (a positional Salt
/// argument such as `password=hunter2`, or `--password=x` in a command line): the value becomes
/// [`REDACTED`], everything else is kept as written.
pub fn redact_text(s: &str) -> String {
    if !s.contains('=') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match word.split_once('=') {
            Some((name, _))
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                    && is_secret_key(name) =>
            {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(word),
        }
        word.clear();
    };
    for c in s.chars() {
        if c.is_whitespace() {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Replace the values of secret-named keys (booleans and nulls, which say only whether a secret
/// is set, are kept) and secret `name=value` words in strings, recursively.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    if is_secret_key(k) && !matches!(v, Value::Bool(_) | Value::Null) {
                        (k.clone(), Value::String(REDACTED.into()))
                    } else {
                        (k.clone(), redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(s) => Value::String(redact_text(s)),
        other => other.clone(),
    }
}

/// Redact a stored JSON text (`jobs_index.arguments`); text that is not JSON is redacted as
/// free text.
pub fn redact_json_text(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => redact(&v).to_string(),
        Err(_) => redact_text(text),
    }
}

/// One audit row under construction.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub action: String,
    pub resource: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub args: Option<Value>,
    pub salt_jid: Option<String>,
    pub decision: &'static str,
    pub result_code: u16,
    pub duration_ms: i64,
    pub ip: String,
}

impl AuditEntry {
    /// An allowed action with result 200.
    pub fn new(action: &str, resource: &str) -> Self {
        Self {
            action: action.chars().take(128).collect(),
            resource: resource.chars().take(255).collect(),
            user_id: None,
            username: None,
            args: None,
            salt_jid: None,
            decision: "allow",
            result_code: 200,
            duration_ms: 0,
            ip: String::new(),
        }
    }
    /// Who did it.
    pub fn user(mut self, id: &str, username: &str) -> Self {
        self.user_id = Some(id.to_string());
        self.username = Some(username.to_string());
        self
    }
    /// The attempted username when there is no user id (failed logins).
    pub fn username(mut self, username: &str) -> Self {
        self.username = Some(username.chars().take(255).collect());
        self
    }
    /// Request arguments (redacted when written).
    pub fn args(mut self, args: Value) -> Self {
        self.args = Some(args);
        self
    }
    /// The Salt job this action dispatched.
    pub fn jid(mut self, jid: &str) -> Self {
        self.salt_jid = Some(jid.to_string());
        self
    }
    /// Mark as denied with this status.
    pub fn deny(mut self, code: u16) -> Self {
        self.decision = "deny";
        self.result_code = code;
        self
    }
    /// Allowed, but with this status.
    pub fn code(mut self, code: u16) -> Self {
        self.result_code = code;
        self
    }
    /// Client IP.
    pub fn ip(mut self, ip: &str) -> Self {
        self.ip = ip.to_string();
        self
    }
    /// Elapsed time.
    pub fn duration_ms(mut self, ms: i64) -> Self {
        self.duration_ms = ms;
        self
    }
}

/// Write an audit row. Failure to audit is logged, never turned into a user-facing error.
pub async fn record(db: &Db, e: AuditEntry) {
    let args = e.args.as_ref().map(|a| JsonText(redact(a).to_string()));
    let r = with_db!(db, p => sqlx::query(
        "INSERT INTO audit_log (at, user_id, username, action, resource, args_json, salt_jid, \
         decision, result_code, duration_ms, ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(Ts::now())
    .bind(&e.user_id)
    .bind(&e.username)
    .bind(&e.action)
    .bind(&e.resource)
    .bind(&args)
    .bind(&e.salt_jid)
    .bind(e.decision)
    .bind(e.result_code as i64)
    .bind(e.duration_ms)
    .bind(&e.ip)
    .execute(p)
    .await
    .map(|r| r.rows_affected()));
    if let Err(err) = r {
        tracing::error!(error = %err, action = %e.action, "failed to write audit row");
    }
}

/// Longest request-supplied value (a header, an attempted username) stored in a row written
/// before sign-in; longer values are cut and marked with `…`.
pub const ANON_VALUE_MAX: usize = 256;
/// Rows written before sign-in per client IP and minute; more are counted, not written.
pub const ANON_ROWS_PER_MINUTE: u32 = 30;
/// Client IPs the limiter remembers; beyond that the oldest window is forgotten.
pub const ANON_MAX_IPS: usize = 10_000;
const ANON_WINDOW: Duration = Duration::from_secs(60);

/// A request-supplied value cut to [`ANON_VALUE_MAX`] characters.
pub fn clip_value(s: &str) -> String {
    if s.chars().count() <= ANON_VALUE_MAX {
        return s.to_string();
    }
    let mut out: String = s.chars().take(ANON_VALUE_MAX - 1).collect();
    out.push('…');
    out
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    written: u32,
    skipped: u64,
}

/// Per-IP cap on audit rows that anyone can cause without signing in (cross-origin rejections,
/// failed and throttled logins): at most [`ANON_ROWS_PER_MINUTE`] rows per IP per minute. What
/// is skipped is counted, and the next row written for that IP says how many were.
#[derive(Debug, Default)]
pub struct AnonAuditLimiter {
    windows: Mutex<HashMap<String, Window>>,
    skipped_total: AtomicU64,
}

impl AnonAuditLimiter {
    /// `Some(rows skipped since the last one written)` when a row for `ip` may be written now.
    pub fn admit(&self, ip: &str) -> Option<u64> {
        self.admit_at(ip, Instant::now())
    }

    /// [`Self::admit`] at a given instant (tests).
    pub fn admit_at(&self, ip: &str, now: Instant) -> Option<u64> {
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(ip) && map.len() >= ANON_MAX_IPS {
            map.retain(|_, w| now.saturating_duration_since(w.start) < ANON_WINDOW);
            if map.len() >= ANON_MAX_IPS {
                if let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, w)| w.start)
                    .map(|(k, _)| k.clone())
                {
                    map.remove(&oldest);
                }
            }
        }
        let w = map.entry(ip.to_string()).or_insert(Window {
            start: now,
            written: 0,
            skipped: 0,
        });
        if now.saturating_duration_since(w.start) >= ANON_WINDOW {
            w.start = now;
            w.written = 0;
        }
        if w.written >= ANON_ROWS_PER_MINUTE {
            w.skipped += 1;
            if self.skipped_total.fetch_add(1, Ordering::Relaxed) == 0 || w.skipped == 1 {
                tracing::warn!(
                    ip,
                    "too many anonymous audit rows from one address; counting, not writing"
                );
            }
            return None;
        }
        w.written += 1;
        Some(std::mem::take(&mut w.skipped))
    }

    /// Rows skipped since start.
    pub fn skipped_total(&self) -> u64 {
        self.skipped_total.load(Ordering::Relaxed)
    }

    /// Client IPs currently remembered.
    pub fn tracked_ips(&self) -> usize {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Write a row that a client can cause without signing in, within the per-IP cap (see
/// [`AnonAuditLimiter`]); string arguments are cut to [`ANON_VALUE_MAX`]. Returns whether the
/// row was written.
pub async fn record_limited(db: &Db, limiter: &AnonAuditLimiter, mut e: AuditEntry) -> bool {
    let Some(skipped) = limiter.admit(&e.ip) else {
        return false;
    };
    e.args = e.args.map(|a| clip_strings(&a));
    if skipped > 0 {
        let mut args = match e.args.take() {
            Some(Value::Object(m)) => m,
            Some(other) => {
                let mut m = serde_json::Map::new();
                m.insert("args".into(), other);
                m
            }
            None => serde_json::Map::new(),
        };
        args.insert("suppressed_before".into(), Value::from(skipped));
        e.args = Some(Value::Object(args));
    }
    e.username = e.username.map(|u| clip_value(&u));
    e.ip = clip_value(&e.ip);
    record(db, e).await;
    true
}

fn clip_strings(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(clip_value(s)),
        Value::Array(a) => Value::Array(a.iter().map(clip_strings).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (clip_value(k), clip_strings(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Delete audit rows older than `days` days before `now`; returns how many.
pub async fn prune(
    db: &Db,
    days: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, sqlx::Error> {
    let cutoff = now - chrono::Duration::days(days.clamp(1, 3650));
    crate::server::db::delete_before(db, "DELETE FROM audit_log WHERE at < $1", cutoff).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_nested_secrets() {
        let v = json!({
            "username": "alice",
            "password": "hunter22",
            "nested": {"Token": "abc", "list": [{"new_password": "x"}, {"keep": 1}]},
            "salt_api_password": "pw",
            "pw": "p"
        });
        let r = redact(&v);
        assert_eq!(r["username"], "alice");
        assert_eq!(r["password"], REDACTED);
        assert_eq!(r["nested"]["Token"], REDACTED);
        assert_eq!(r["nested"]["list"][0]["new_password"], REDACTED);
        assert_eq!(r["nested"]["list"][1]["keep"], 1);
        assert_eq!(r["salt_api_password"], REDACTED);
        assert_eq!(r["pw"], REDACTED);
        assert!(!r.to_string().contains("hunter22"));
    }

    #[test]
    fn clips_long_values() {
        assert_eq!(clip_value("short"), "short");
        let long = "x".repeat(10_000);
        let c = clip_value(&long);
        assert_eq!(c.chars().count(), ANON_VALUE_MAX);
        assert!(c.ends_with('…'));
        let v = clip_strings(&json!({"origin": long, "n": [long.clone()]}));
        assert!(v.to_string().len() < 2 * 4 * ANON_VALUE_MAX);
    }

    #[test]
    fn limiter_caps_per_ip_and_window() {
        let l = AnonAuditLimiter::default();
        let t0 = Instant::now();
        for _ in 0..ANON_ROWS_PER_MINUTE {
            assert_eq!(l.admit_at("10.0.0.1", t0), Some(0));
        }
        assert_eq!(l.admit_at("10.0.0.1", t0), None);
        assert_eq!(l.admit_at("10.0.0.1", t0 + Duration::from_secs(30)), None);
        // Another address is not affected.
        assert_eq!(l.admit_at("10.0.0.2", t0), Some(0));
        // A new window: writes again and reports what was skipped.
        assert_eq!(
            l.admit_at("10.0.0.1", t0 + Duration::from_secs(61)),
            Some(2)
        );
        assert_eq!(
            l.admit_at("10.0.0.1", t0 + Duration::from_secs(62)),
            Some(0)
        );
        assert_eq!(l.skipped_total(), 2);
    }

    #[test]
    fn limiter_memory_is_bounded() {
        let l = AnonAuditLimiter::default();
        let t0 = Instant::now();
        for i in 0..(ANON_MAX_IPS + 500) {
            l.admit_at(&format!("ip{i}"), t0 + Duration::from_millis(i as u64));
        }
        assert!(l.tracked_ips() <= ANON_MAX_IPS);
        // The newest addresses are still counted.
        let last = format!("ip{}", ANON_MAX_IPS + 499);
        for _ in 1..ANON_ROWS_PER_MINUTE {
            assert!(l.admit_at(&last, t0).is_some());
        }
        assert!(l.admit_at(&last, t0).is_none());
    }

    #[test]
    fn secret_like_names() {
        for k in [
            "pass",
            "PASSWD",
            "Passphrase",
            "token",
            "api-key",
            "private_key",
            "credentials",
            "db_password",
            "vault_token",
            "AWS_SECRET_ACCESS_KEY",
            "ssh_passphrase",
            "mysql_pass",
            "--password",
            "client_secret",
            "X-Auth-Token",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "username",
            "name",
            "cwd",
            "bypass",
            "compass",
            "passthrough",
            "path",
            "keyid",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn redacts_positional_name_value_words() {
        assert_eq!(redact_text("password=hunter2"), "password=[REDACTED]");
        assert_eq!(
            redact_text("mysql -u root --password=hunter2 -e 'select 1'"),
            "mysql -u root --password=[REDACTED] -e 'select 1'"
        );
        assert_eq!(redact_text("name=web cwd=/tmp"), "name=web cwd=/tmp");
        assert_eq!(redact_text("a=b=c Token=x=y"), "a=b=c Token=[REDACTED]");
        let v = json!({
            "args": ["test.echo", "password=hunter2", "keep=1"],
            "kwargs": {"passphrase": "sesame", "cwd": "/tmp", "token_set": true},
        });
        let r = redact(&v);
        assert_eq!(r["args"][1], "password=[REDACTED]");
        assert_eq!(r["args"][2], "keep=1");
        assert_eq!(r["kwargs"]["passphrase"], REDACTED);
        assert_eq!(r["kwargs"]["cwd"], "/tmp");
        assert_eq!(r["kwargs"]["token_set"], true);
        let stored = redact_json_text(
            r#"["password=hunter2", {"__kwarg__": true, "passphrase": "sesame"}]"#,
        );
        assert!(
            !stored.contains("hunter2") && !stored.contains("sesame"),
            "{stored}"
        );
        assert!(stored.contains("__kwarg__"), "{stored}");
    }
}
