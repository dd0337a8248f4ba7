//! The audit trail: one row per mutation and per denial, with secrets redacted.

use crate::server::db::Db;
use crate::server::now_text;
use serde_json::Value;

/// Placeholder written instead of a secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Names whose value is a secret however they are spelled (case and `-`/`_` ignored).
const SECRET_KEYS: &[&str] = &[
    "pass",
    "passwd",
    "password",
    "passphrase",
    "pw",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "privkey",
    "credential",
    "credentials",
    "authorization",
    "auth",
    "cookie",
    "session",
];

/// Parts that make a longer name secret (`db_password`, `passphrase_file`, `x_auth_token`).
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

/// True for a key whose value must never be stored: the names above, case-insensitive, also as
/// part of a longer name (`new_password`, `vault_token`, `AWS_SECRET_ACCESS_KEY`), and names
/// ending in `_pass` / `_pw` / `_pwd`.
pub fn is_secret_key(key: &str) -> bool {
    let k = key
        .trim_start_matches('-')
        .to_ascii_lowercase()
        .replace('-', "_");
    SECRET_KEYS.contains(&k.as_str())
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
