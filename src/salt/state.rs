//! State returns: what a minion answers to a `state.*` job (`state.apply`, `state.highstate`,
//! ...), as it arrives in a job lookup or a `salt/job/<jid>/ret/<minion>` event. A dict of
//! `<module>_|-<id>_|-<name>_|-<function>` keys, or a list of strings when rendering failed.

use serde_json::Value;

/// The functions that return the state dict.
pub const STATE_FUNCTIONS: &[&str] = &[
    "state.apply",
    "state.highstate",
    "state.sls",
    "state.sls_id",
    "state.single",
    "state.top",
    "state.template",
    "state.template_str",
];

/// Whether a function returns the state dict (`state.apply`, `state.highstate`, `state.sls`, ...).
pub fn is_state_function(fun: &str) -> bool {
    STATE_FUNCTIONS.contains(&fun)
}

/// The key Salt uses when no top file matched the minion.
const NO_TOP_KEY: &str = "no_|-states_|-states";

/// One state of a state return.
#[derive(Debug, Clone, PartialEq)]
pub struct StateOutcome {
    /// The state's id (`__id__`, else the second part of the key).
    pub id: String,
    pub sls: Option<String>,
    pub name: String,
    /// `module.function` from the key (empty when the key has another shape).
    pub fun: String,
    /// `Some(true)` passed, `Some(false)` failed, `None` would change (test mode).
    pub result: Option<bool>,
    pub duration_ms: Option<f64>,
    pub comment: String,
    /// The changes, when there are any (`{}` and `null` are none).
    pub changes: Option<Value>,
    pub run_num: i64,
}

/// A minion's state return, in Salt's order (by key).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateReturn {
    pub states: Vec<StateOutcome>,
    /// A render error (a list of strings), or entries and returns that are not states.
    pub errors: Vec<String>,
    /// No top file matched the minion.
    pub no_top: bool,
}

/// Whether a state's `changes` holds any: an empty object and `null` do not.
fn has_changes(changes: &Value) -> bool {
    match changes {
        Value::Object(m) => !m.is_empty(),
        Value::Null => false,
        _ => true,
    }
}

/// A value shown as text: strings as they are, lists one item a line, anything else as JSON.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::Array(a)) => super::replies::join_values(a, "\n"),
        Some(Value::String(s)) => s.clone(),
        Some(o) => o.to_string(),
    }
}

/// Parse one minion's return of a state function. Never fails: whatever is not a state
/// becomes an entry of `errors`.
pub fn parse_state_return(ret: &Value) -> StateReturn {
    let mut out = StateReturn::default();
    match ret {
        Value::Object(map) => {
            for (key, st) in map {
                let Some(o) = st.as_object() else {
                    out.errors.push(format!("{key}: {st}"));
                    continue;
                };
                let parts: Vec<&str> = key.split("_|-").collect();
                let fun = if parts.len() >= 4 {
                    format!("{}.{}", parts[0], parts[parts.len() - 1])
                } else {
                    String::new()
                };
                if key.starts_with(NO_TOP_KEY) {
                    out.no_top = true;
                }
                out.states.push(StateOutcome {
                    id: o
                        .get("__id__")
                        .and_then(Value::as_str)
                        .map(String::from)
                        .unwrap_or_else(|| parts.get(1).unwrap_or(&"").to_string()),
                    sls: o.get("__sls__").and_then(Value::as_str).map(String::from),
                    name: text(o.get("name")),
                    fun,
                    result: o.get("result").and_then(Value::as_bool),
                    duration_ms: o.get("duration").and_then(Value::as_f64),
                    comment: text(o.get("comment")),
                    changes: o.get("changes").filter(|c| has_changes(c)).cloned(),
                    run_num: o.get("__run_num__").and_then(Value::as_i64).unwrap_or(0),
                });
            }
        }
        Value::Array(items) => {
            out.errors = items.iter().map(super::replies::value_text).collect();
        }
        Value::Null => {}
        other => out.errors.push(text(Some(other))),
    }
    out
}

/// Salt's text for a targeted minion that never answered (sync `local` replies, job lookups).
const NOT_RETURNED: &[&str] = &["Minion did not return", "Salt request timed out"];

/// What Salt answers instead of running a state function while another one runs.
const ALREADY_RUNNING: &str = "is running as PID";

/// Is `key` a lowstate key, `<module>_|-<id>_|-<name>_|-<function>` with a non-empty module and
/// function?
pub fn is_lowstate_key(key: &str) -> bool {
    let parts: Vec<&str> = key.split("_|-").collect();
    parts.len() >= 4
        && !parts[0].is_empty()
        && !parts[parts.len() - 1].is_empty()
        && parts.iter().all(|p| !p.chars().any(char::is_control))
}

/// What one minion's return of a state function is, for fleet health.
#[derive(Debug, Clone, PartialEq)]
pub enum StateRun {
    /// The states it ran (every key a lowstate key; entries that are not become `errors`).
    States(StateReturn),
    /// Salt could not render the states: its messages (a list of strings).
    RenderError(Vec<String>),
    /// The minion did not return, the request timed out, or Salt refused to start the run
    /// because another state run was in progress: Salt's text.
    NotReturned(String),
    /// Anything else (a bare value, a dict without a single state): not a state run.
    Unparseable,
}

/// Classify one minion's return of a state function (`Result.<minion>.return` of a job lookup,
/// `data.return` of a `job.ret` event, a value of a sync `local` reply).
pub fn classify(ret: &Value) -> StateRun {
    match ret {
        Value::String(s) if NOT_RETURNED.iter().any(|p| s.starts_with(p)) => {
            StateRun::NotReturned(s.clone())
        }
        // Another state run was in progress: Salt did not run this one (no render error).
        Value::Array(items)
            if items
                .first()
                .and_then(Value::as_str)
                .is_some_and(|s| s.contains(ALREADY_RUNNING)) =>
        {
            StateRun::NotReturned(super::replies::join_values(items, "\n"))
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            StateRun::RenderError(items.iter().map(super::replies::value_text).collect())
        }
        Value::Object(map) if map.iter().any(|(k, v)| is_lowstate_key(k) && v.is_object()) => {
            let valid: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(k, v)| is_lowstate_key(k) && v.is_object())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut parsed = parse_state_return(&Value::Object(valid));
            for (k, v) in map {
                if !(is_lowstate_key(k) && v.is_object()) {
                    parsed.errors.push(format!("{k}: {v}"));
                }
            }
            StateRun::States(parsed)
        }
        _ => StateRun::Unparseable,
    }
}

/// `(changed, duration in ms)` of a state-style return, without parsing every state: whether
/// any state has changes, and the sum of the states' durations. `None` when the return holds
/// no state (any function's return passes through here, e.g. from the event bus).
pub fn state_facts(ret: &Value) -> Option<(bool, f64)> {
    let map = ret.as_object()?;
    let mut states = map
        .iter()
        .filter(|(k, _)| k.contains("_|-"))
        .filter_map(|(_, v)| v.as_object())
        .peekable();
    states.peek()?;
    let (mut changed, mut duration) = (false, 0.0);
    for s in states {
        changed |= s.get("changes").is_some_and(has_changes);
        duration += s.get("duration").and_then(Value::as_f64).unwrap_or(0.0);
    }
    Some((changed, duration))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn facts_of_state_and_other_returns() {
        let st = json!({"file_|-a_|-/a_|-managed": {"result": true, "changes": {"diff": "x"}, "duration": 10.4},
                        "test_|-b_|-b_|-nop": {"result": true, "changes": {}, "duration": 1.2}});
        let (changed, ms) = state_facts(&st).unwrap();
        assert!(changed);
        assert!((ms - 11.6).abs() < 1e-9);
        assert_eq!(state_facts(&json!({"vim": "9.0"})), None);
        assert_eq!(state_facts(&json!("uptime")), None);
    }

    #[test]
    fn states_and_render_errors() {
        let r = parse_state_return(&json!({
            "pkg_|-vim_|-vim_|-installed": {"result": null, "comment": ["a", "b"], "changes": {}, "__run_num__": 1},
            "no_|-states_|-states_|-None": {"result": false, "changes": null, "name": "x"}
        }));
        assert!(r.no_top);
        assert_eq!(r.states.len(), 2);
        let vim = r.states.iter().find(|s| s.id == "vim").unwrap();
        assert_eq!((vim.fun.as_str(), vim.result), ("pkg.installed", None));
        assert_eq!(vim.comment, "a\nb");
        assert_eq!(vim.changes, None);
        let r = parse_state_return(&json!(["Rendering SLS failed", 3]));
        assert_eq!(r.errors, vec!["Rendering SLS failed", "3"]);
    }

    #[test]
    fn classify_returns() {
        assert!(is_lowstate_key("file_|-motd_|-/etc/motd_|-managed"));
        assert!(is_lowstate_key("cmd_|-a_|-echo a_|-b_|-run"));
        assert!(!is_lowstate_key("file_|-motd_|-managed"));
        assert!(!is_lowstate_key("_|-a_|-b_|-run"));
        assert!(!is_lowstate_key("vim"));
        let st = json!({"file_|-a_|-/a_|-managed": {"result": true, "changes": {}}, "retcode": 0});
        match classify(&st) {
            StateRun::States(r) => {
                assert_eq!(r.states.len(), 1);
                assert_eq!(r.errors, vec!["retcode: 0"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            classify(&json!([
                "Rendering SLS 'base:web' failed: Jinja variable 'x' is undefined"
            ])),
            StateRun::RenderError(vec![
                "Rendering SLS 'base:web' failed: Jinja variable 'x' is undefined".into()
            ])
        );
        assert!(matches!(
            classify(&json!("Minion did not return. [Not connected]")),
            StateRun::NotReturned(_)
        ));
        assert!(matches!(
            classify(&json!(
                "Salt request timed out. The master is not responding."
            )),
            StateRun::NotReturned(_)
        ));
        assert!(matches!(
            classify(&json!(["The function \"state.apply\" is running as PID 4242 and was started at 2026, Nov 27 08:49:27.485894 with jid 20261127084927485894"])),
            StateRun::NotReturned(_)
        ));
        for other in [
            json!(true),
            json!(3),
            json!({"vim": "9.0"}),
            json!({"file_|-a_|-/a_|-managed": "not a state"}),
            json!([]),
            json!([1, 2]),
            json!(null),
            json!("uptime"),
        ] {
            assert_eq!(classify(&other), StateRun::Unparseable, "{other}");
        }
    }
}
