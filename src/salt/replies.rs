//! Typed salt-api replies and the pure parsers that build them (unit-tested on recorded
//! replies from real masters under `tests/fixtures/salt/<version>/`).

use super::SaltError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `cache.grains` as (minion id, raw grains JSON) pairs.
pub type RawGrains = Vec<(String, Box<serde_json::value::RawValue>)>;

/// Parse a `cache.grains` body without building one JSON tree for the whole fleet.
pub fn parse_grains_raw(body: &str) -> Result<RawGrains, SaltError> {
    use serde_json::value::RawValue;
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow, rename = "return")]
        ret: Vec<&'a RawValue>,
    }
    let invalid = |e: serde_json::Error| SaltError::Api {
        status: 200,
        message: format!("salt-api sent invalid JSON for cache.grains: {e}"),
    };
    let env: Envelope = serde_json::from_str(body).map_err(invalid)?;
    let first = env.ret.first().ok_or_else(|| SaltError::Api {
        status: 200,
        message: "cache.grains returned nothing".into(),
    })?;
    if first.get().trim_start().starts_with('"') {
        let s: String = serde_json::from_str(first.get()).unwrap_or_default();
        return Err(
            runner_string_error("cache.grains", &Value::String(s)).unwrap_or_else(|| {
                SaltError::Api {
                    status: 200,
                    message: "cache.grains failed".into(),
                }
            }),
        );
    }
    let map: BTreeMap<String, Box<RawValue>> =
        serde_json::from_str(first.get()).map_err(invalid)?;
    Ok(map.into_iter().collect())
}

/// `POST /login` result.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginInfo {
    pub token: String,
    pub expire: f64,
    pub start: f64,
    pub user: String,
    pub eauth: String,
    /// What eauth grants this user: strings (function regexes, `@runner`, `@wheel`, `@jobs`)
    /// and objects (`{"@runner": [...]}`, `{"<target>": [...]}`), as salt-api lists them.
    pub perms: Vec<Value>,
}

/// Keys by state (`wheel key.list_all`; the master's own `local` keys are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLists {
    pub accepted: Vec<String>,
    pub pending: Vec<String>,
    pub rejected: Vec<String>,
    pub denied: Vec<String>,
}

/// One key's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFingerprint {
    pub state: String,
    pub id: String,
    pub fingerprint: String,
}

/// What one minion answered to a `local` call.
#[derive(Debug, Clone, PartialEq)]
pub enum MinionReturn {
    /// A real answer (which may itself be `false`).
    Returned { ret: Value, retcode: Option<i64> },
    /// The minion was targeted but did not answer in time.
    NoResponse { detail: String },
}

/// Per-minion answers of a `local` call (empty when nothing matched).
pub type LocalReturns = BTreeMap<String, MinionReturn>;

/// `local_async` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncJob {
    pub jid: String,
    pub minions: Vec<String>,
}

/// One row of `jobs.list_jobs`.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSummary {
    pub jid: String,
    pub function: String,
    pub arguments: Value,
    pub target: Option<String>,
    pub target_type: Option<String>,
    pub user: Option<String>,
    pub start_time: Option<String>,
}

/// `jobs.list_job`.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDetail {
    pub summary: JobSummary,
    pub minions: Vec<String>,
    /// Minions that answered; targeted minions missing here did not answer.
    pub results: BTreeMap<String, JobMinionResult>,
}

/// One minion's stored result of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobMinionResult {
    pub ret: Value,
    pub retcode: Option<i64>,
    pub success: Option<bool>,
    pub out: Option<String>,
}

/// One entry of `jobs.active`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveJob {
    pub jid: String,
    pub function: String,
    pub running: Vec<String>,
    pub returned: Vec<String>,
}

/// The message inside a salt-api error body: JSON `detail`/`message`/`error`, else the first
/// `<p>` of a CherryPy HTML page, else the start of the body.
pub fn error_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        for k in ["detail", "message", "error", "return"] {
            if let Some(s) = v.get(k).and_then(Value::as_str) {
                return s.trim().to_string();
            }
        }
    }
    if let Some(start) = body.find("<p>") {
        let rest = &body[start + 3..];
        let end = rest.find("</p>").unwrap_or(rest.len());
        return html_unescape(rest[..end].trim());
    }
    let t: String = body.trim().chars().take(200).collect();
    if t.is_empty() {
        "empty response".into()
    } else {
        t
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn bad_shape(what: &str, v: &Value) -> SaltError {
    let mut s = v.to_string();
    s.truncate(200);
    SaltError::Api {
        status: 200,
        message: format!("unexpected reply to {what}: {s}"),
    }
}

/// A runner that raised answers 200 with a string: turn that into an error.
fn runner_string_error(what: &str, v: &Value) -> Option<SaltError> {
    v.as_str().map(|s| SaltError::Api {
        status: 200,
        message: format!(
            "{what} failed: {}",
            s.trim().lines().next().unwrap_or("").trim()
        ),
    })
}

/// `{"return": [x, ...]}` -> x.
pub fn first_return(body: &str) -> Result<Value, SaltError> {
    let mut v: Value = serde_json::from_str(body).map_err(|e| SaltError::Api {
        status: 200,
        message: format!("salt-api sent invalid JSON: {e}"),
    })?;
    // Moved out, not copied: a fleet-wide highstate's `jobs.list_job` is ~100 MB of JSON, and
    // a copy of its tree doubled the process's peak memory.
    if let Some(first) = v
        .get_mut("return")
        .and_then(Value::as_array_mut)
        .filter(|a| !a.is_empty())
    {
        return Ok(first.swap_remove(0));
    }
    Err(bad_shape("lowstate call", &v))
}

/// Parse the `/login` body.
pub fn parse_login(body: &str) -> Result<LoginInfo, SaltError> {
    let r = first_return(body)?;
    let token = r
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_shape("login", &r))?;
    Ok(LoginInfo {
        token: token.to_string(),
        expire: r.get("expire").and_then(Value::as_f64).unwrap_or(0.0),
        start: r.get("start").and_then(Value::as_f64).unwrap_or(0.0),
        user: r
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        eauth: r
            .get("eauth")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        perms: match r.get("perms") {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Object(o)) if !o.is_empty() => vec![Value::Object(o.clone())],
            _ => vec![],
        },
    })
}

/// Wheel replies are wrapped: `{"tag", "data": {"return", "success"}}`.
pub fn unwrap_wheel(fun: &str, v: Value) -> Result<Value, SaltError> {
    let data = v.get("data").ok_or_else(|| bad_shape(fun, &v))?;
    if data.get("success").and_then(Value::as_bool) == Some(false) {
        let msg = data
            .get("return")
            .map(|r| match r {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        return Err(SaltError::Api {
            status: 200,
            message: format!("wheel {fun} failed: {msg}"),
        });
    }
    Ok(data.get("return").cloned().unwrap_or(Value::Null))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = v
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// `key.list_all` return value.
pub fn parse_key_lists(v: Value) -> Result<KeyLists, SaltError> {
    if !v.is_object() {
        return Err(bad_shape("key.list_all", &v));
    }
    Ok(KeyLists {
        accepted: strings(v.get("minions")),
        pending: strings(v.get("minions_pre")),
        rejected: strings(v.get("minions_rejected")),
        denied: strings(v.get("minions_denied")),
    })
}

fn key_state_name(group: &str) -> &str {
    match group {
        "minions" => "accepted",
        "minions_pre" => "pending",
        "minions_rejected" => "rejected",
        "minions_denied" => "denied",
        other => other,
    }
}

/// `key.finger` return value: `{"minions_pre": {"id": "fp"}}`.
pub fn parse_key_finger(v: Value) -> Result<Vec<KeyFingerprint>, SaltError> {
    let obj = v.as_object().ok_or_else(|| bad_shape("key.finger", &v))?;
    let mut out = vec![];
    for (group, ids) in obj {
        if group == "local" {
            continue;
        }
        if let Some(ids) = ids.as_object() {
            for (id, fp) in ids {
                out.push(KeyFingerprint {
                    state: key_state_name(group).to_string(),
                    id: id.clone(),
                    fingerprint: fp.as_str().unwrap_or("").to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// Ids named in a key.accept/reject/delete return (`{"minions": ["id"]}` etc.).
pub fn changed_key_ids(v: &Value) -> Vec<String> {
    let mut out = vec![];
    if let Some(obj) = v.as_object() {
        for ids in obj.values() {
            out.extend(strings(Some(ids)));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A runner value that must be a list of strings.
pub fn parse_string_list(what: &str, v: Value) -> Result<Vec<String>, SaltError> {
    if let Some(e) = runner_string_error(what, &v) {
        return Err(e);
    }
    if !v.is_array() {
        return Err(bad_shape(what, &v));
    }
    Ok(strings(Some(&v)))
}

/// `manage.present show_ip=true`.
pub fn parse_present_ips(v: Value) -> Result<BTreeMap<String, String>, SaltError> {
    if let Some(e) = runner_string_error("manage.present", &v) {
        return Err(e);
    }
    let obj = v
        .as_object()
        .ok_or_else(|| bad_shape("manage.present", &v))?;
    Ok(obj
        .iter()
        .map(|(k, ip)| (k.clone(), ip.as_str().unwrap_or("").to_string()))
        .collect())
}

/// A runner value that must be an object.
pub fn expect_object(what: &str, v: Value) -> Result<Map<String, Value>, SaltError> {
    if let Some(e) = runner_string_error(what, &v) {
        return Err(e);
    }
    match v {
        Value::Object(m) => Ok(m),
        other => Err(bad_shape(what, &other)),
    }
}

const NO_RETURN_PREFIX: &str = "Minion did not return";

/// `local` with `full_return`: `{"id": {"ret", "retcode", "jid"}}`; a string "Minion did not
/// return…" (3008) or `false` (older) means no answer.
pub fn parse_local_returns(v: Value) -> Result<LocalReturns, SaltError> {
    let obj = match v {
        Value::Object(m) => m,
        other => return Err(bad_shape("local call", &other)),
    };
    Ok(obj
        .into_iter()
        .map(|(id, r)| {
            let parsed = match r {
                // With full_return, 3008 wraps the "did not return" text: {"ret": "Minion did not return…", "retcode": 1}.
                Value::Object(m)
                    if m.get("ret")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.starts_with(NO_RETURN_PREFIX))
                        && !m.contains_key("jid") =>
                {
                    MinionReturn::NoResponse {
                        detail: m["ret"]
                            .as_str()
                            .unwrap_or("")
                            .lines()
                            .next()
                            .unwrap_or("")
                            .to_string(),
                    }
                }
                Value::Object(m) if m.contains_key("ret") => MinionReturn::Returned {
                    retcode: m.get("retcode").and_then(Value::as_i64),
                    ret: m.get("ret").cloned().unwrap_or(Value::Null),
                },
                Value::String(s) if s.starts_with(NO_RETURN_PREFIX) => MinionReturn::NoResponse {
                    detail: s.lines().next().unwrap_or("").to_string(),
                },
                Value::Bool(false) => MinionReturn::NoResponse {
                    detail: "Minion did not return".into(),
                },
                other => MinionReturn::Returned {
                    ret: other,
                    retcode: None,
                },
            };
            (id, parsed)
        })
        .collect())
}

/// `local_async`: `{"jid", "minions"}`, or `{}` when no minion matched.
pub fn parse_async_job(v: Value) -> Result<Option<AsyncJob>, SaltError> {
    match v.get("jid").and_then(Value::as_str) {
        Some(jid) => Ok(Some(AsyncJob {
            jid: jid.to_string(),
            minions: strings(v.get("minions")),
        })),
        None if v.as_object().is_some_and(|m| m.is_empty()) => Ok(None),
        None => Err(bad_shape("local_async", &v)),
    }
}

/// A value as text: a string as it is, anything else as JSON.
pub fn value_text(v: &Value) -> String {
    v.as_str()
        .map(String::from)
        .unwrap_or_else(|| v.to_string())
}

/// A list of values as text, each by [`value_text`], joined with `sep` (a `list` target, a
/// comment given as lines).
pub fn join_values(items: &[Value], sep: &str) -> String {
    items.iter().map(value_text).collect::<Vec<_>>().join(sep)
}

fn target_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(join_values(a, ",")),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn job_summary(jid: &str, j: &Value) -> JobSummary {
    let s = |k: &str| j.get(k).and_then(Value::as_str).map(String::from);
    JobSummary {
        jid: jid.to_string(),
        function: s("Function").unwrap_or_default(),
        arguments: j.get("Arguments").cloned().unwrap_or(Value::Array(vec![])),
        target: target_text(j.get("Target")),
        target_type: s("Target-type"),
        user: s("User"),
        start_time: s("StartTime"),
    }
}

/// `jobs.list_jobs`: `{"<jid>": {"Function", ...}}`, sorted newest first.
pub fn parse_list_jobs(v: Value) -> Result<Vec<JobSummary>, SaltError> {
    let obj = expect_object("jobs.list_jobs", v)?;
    let mut out: Vec<JobSummary> = obj.iter().map(|(jid, j)| job_summary(jid, j)).collect();
    out.sort_by(|a, b| b.jid.cmp(&a.jid));
    Ok(out)
}

/// `jobs.list_job`.
pub fn parse_list_job(v: Value) -> Result<JobDetail, SaltError> {
    let obj = expect_object("jobs.list_job", v)?;
    let v = Value::Object(obj);
    let jid = v
        .get("jid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let summary = job_summary(&jid, &v);
    let minions = strings(v.get("Minions"));
    // Each minion's return is moved out of the reply, not copied: a fleet-wide highstate's
    // lookup is ~100 MB of JSON.
    let mut results = BTreeMap::new();
    let mut v = v;
    if let Some(Value::Object(res)) = v.get_mut("Result").map(Value::take) {
        for (id, mut r) in res {
            results.insert(
                id,
                JobMinionResult {
                    ret: r.get_mut("return").map(Value::take).unwrap_or(Value::Null),
                    retcode: r.get("retcode").and_then(Value::as_i64),
                    success: r.get("success").and_then(Value::as_bool),
                    out: r.get("out").and_then(Value::as_str).map(String::from),
                },
            );
        }
    }
    Ok(JobDetail {
        summary,
        minions,
        results,
    })
}

fn ids_of(list: Option<&Value>) -> Vec<String> {
    // `[{"web-01": 1234}, ...]` or `["web-01", ...]`
    let mut out = vec![];
    for item in list.and_then(Value::as_array).into_iter().flatten() {
        match item {
            Value::Object(m) => out.extend(m.keys().cloned()),
            Value::String(s) => out.push(s.clone()),
            _ => {}
        }
    }
    out.sort();
    out
}

/// `jobs.active`.
pub fn parse_jobs_active(v: Value) -> Result<Vec<ActiveJob>, SaltError> {
    let obj = expect_object("jobs.active", v)?;
    let mut out: Vec<ActiveJob> = obj
        .iter()
        .map(|(jid, j)| ActiveJob {
            jid: jid.clone(),
            function: j
                .get("Function")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            running: ids_of(j.get("Running")),
            returned: ids_of(j.get("Returned")),
        })
        .collect();
    out.sort_by(|a, b| b.jid.cmp(&a.jid));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn full_return_no_response_shape_seen_on_3008() {
        let v = json!({
            "web-01": {"ret": true, "retcode": 0, "jid": "20261127085850615988"},
            "new-01": {"ret": "Minion did not return. [No response]\nThe minions may not…", "retcode": 1},
            "db-01": {"ret": false, "retcode": 0, "jid": "20261127085850615988"},
        });
        let r = parse_local_returns(v).unwrap();
        assert!(matches!(r["new-01"], MinionReturn::NoResponse { .. }));
        assert_eq!(
            r["db-01"],
            MinionReturn::Returned {
                ret: Value::Bool(false),
                retcode: Some(0)
            }
        );
        assert_eq!(
            r["web-01"],
            MinionReturn::Returned {
                ret: Value::Bool(true),
                retcode: Some(0)
            }
        );
    }
}
