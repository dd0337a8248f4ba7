//! The audit trail: one row per mutation and per denial, with secrets redacted.

use crate::server::db::Db;
use crate::server::now_text;
use serde_json::Value;

/// Placeholder written instead of a secret value.
pub const REDACTED: &str = "[REDACTED]";

const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pw",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "new_password",
    "current_password",
    "cookie",
    "session",
];

/// True for a key whose value must never be stored.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS.contains(&k.as_str())
        || k.ends_with("_password")
        || k.ends_with("_token")
        || k.ends_with("_secret")
}

/// Replace the values of secret-named keys, recursively.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    if is_secret_key(k) {
                        (k.clone(), Value::String(REDACTED.into()))
                    } else {
                        (k.clone(), redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
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
    let args = e.args.as_ref().map(|a| redact(a).to_string());
    let r = sqlx::query(
        "INSERT INTO audit_log (at, user_id, username, action, resource, args_json, salt_jid, \
         decision, result_code, duration_ms, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(now_text())
    .bind(&e.user_id)
    .bind(&e.username)
    .bind(&e.action)
    .bind(&e.resource)
    .bind(args)
    .bind(&e.salt_jid)
    .bind(e.decision)
    .bind(e.result_code as i64)
    .bind(e.duration_ms)
    .bind(&e.ip)
    .execute(db)
    .await;
    if let Err(err) = r {
        tracing::error!(error = %err, action = %e.action, "failed to write audit row");
    }
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
}
