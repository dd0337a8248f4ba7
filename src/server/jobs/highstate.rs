//! Parse a minion's return of a `state.*` job into rows of the highstate table.

use crate::model::jobs::{StateRow, StateSummary};
use serde_json::Value;

/// Whether a function returns the state dict (`state.apply`, `state.highstate`, `state.sls`, ...).
pub fn is_state_function(fun: &str) -> bool {
    matches!(
        fun,
        "state.apply"
            | "state.highstate"
            | "state.sls"
            | "state.sls_id"
            | "state.single"
            | "state.top"
            | "state.template"
            | "state.template_str"
    )
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(o) => o.to_string(),
    }
}

/// Rows for one minion's state return, failing states first then in run order.
/// A render error (a list of strings) or any other non-dict return becomes `errors`.
pub fn parse_state_return(ret: &Value) -> StateSummary {
    let mut s = StateSummary::default();
    match ret {
        Value::Object(map) => {
            for (key, st) in map {
                let Some(o) = st.as_object() else {
                    s.errors.push(format!("{key}: {st}"));
                    continue;
                };
                let parts: Vec<&str> = key.split("_|-").collect();
                let fun = if parts.len() >= 4 {
                    format!("{}.{}", parts[0], parts[parts.len() - 1])
                } else {
                    String::new()
                };
                let changes = o.get("changes").filter(|c| match c {
                    Value::Object(m) => !m.is_empty(),
                    Value::Null => false,
                    _ => true,
                });
                let result = match o.get("result") {
                    Some(Value::Bool(true)) => "pass",
                    Some(Value::Bool(false)) => "fail",
                    _ => "would_change",
                };
                if key.starts_with("no_|-states_|-states") {
                    s.no_top = true;
                }
                s.rows.push(StateRow {
                    state_id: o
                        .get("__id__")
                        .and_then(Value::as_str)
                        .map(String::from)
                        .unwrap_or_else(|| parts.get(1).unwrap_or(&"").to_string()),
                    sls: o.get("__sls__").and_then(Value::as_str).map(String::from),
                    name: text(o.get("name")),
                    fun,
                    result: result.to_string(),
                    duration_ms: o.get("duration").and_then(Value::as_f64),
                    comment: text(o.get("comment")),
                    changes_json: changes
                        .map(|c| serde_json::to_string_pretty(c).unwrap_or_default()),
                    run_num: o.get("__run_num__").and_then(Value::as_i64).unwrap_or(0),
                });
            }
        }
        Value::Array(items) => {
            s.errors = items
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect();
        }
        Value::Null => {}
        other => s.errors.push(text(Some(other))),
    }
    s.rows.sort_by(|a, b| {
        (a.result != "fail")
            .cmp(&(b.result != "fail"))
            .then(a.run_num.cmp(&b.run_num))
    });
    s.pass = s.rows.iter().filter(|r| r.result == "pass").count() as i64;
    s.fail = s.rows.iter().filter(|r| r.result == "fail").count() as i64;
    s.would_change = s.rows.iter().filter(|r| r.result == "would_change").count() as i64;
    s.changed = s.rows.iter().filter(|r| r.changes_json.is_some()).count() as i64;
    s.duration_ms = s.rows.iter().filter_map(|r| r.duration_ms).sum();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lab_highstate_fixture() {
        let body = include_str!("../../../tests/fixtures/salt/3008.4/list_job_highstate.json");
        let v = crate::salt::replies::first_return(body).unwrap();
        let job = crate::salt::replies::parse_list_job(v).unwrap();
        assert!(is_state_function(&job.summary.function));
        let ok = parse_state_return(&job.results["web-01"].ret);
        assert_eq!(ok.fail, 0);
        assert!(ok.pass >= 2);
        assert!(ok.changed >= 1);
        assert!(ok.errors.is_empty());
        let motd = ok.rows.iter().find(|r| r.state_id == "lab-motd").unwrap();
        assert_eq!(motd.sls.as_deref(), Some("lab.ok"));
        assert_eq!(motd.fun, "file.managed");
        assert!(motd.duration_ms.unwrap() > 0.0);
        let broken = parse_state_return(&job.results["broken-01"].ret);
        assert!(broken.fail >= 1, "broken-01 has a failing state");
        assert_eq!(broken.rows[0].result, "fail", "failing states come first");
        assert!(!broken.rows[0].comment.is_empty());
    }

    #[test]
    fn render_error_list_and_no_top() {
        let r = parse_state_return(&json!([
            "Rendering SLS 'base:lab.bad' failed: mapping values are not allowed here"
        ]));
        assert!(r.rows.is_empty());
        assert_eq!(r.errors.len(), 1);
        assert!(r.errors[0].contains("Rendering SLS"));

        let r = parse_state_return(&json!({
            "no_|-states_|-states_|-None": {
                "result": false,
                "comment": "No Top file or master_tops data matches found. Please see master log for details.",
                "name": "No Top file or master_tops data matches found.",
                "changes": {},
                "__run_num__": 0
            }
        }));
        assert!(r.no_top);
        assert_eq!(r.fail, 1);
        assert!(r.rows[0].comment.contains("No Top file"));
    }

    #[test]
    fn test_mode_counts_as_would_change() {
        let r = parse_state_return(&json!({
            "pkg_|-vim_|-vim_|-installed": {"result": null, "comment": "would install", "changes": {}, "__run_num__": 1, "__id__": "vim", "duration": 2.5},
            "file_|-f_|-/f_|-managed": {"result": true, "comment": "ok", "changes": {}, "__run_num__": 0, "__id__": "f", "duration": 1.0}
        }));
        assert_eq!(r.would_change, 1);
        assert_eq!(r.pass, 1);
        assert_eq!(r.changed, 0);
        assert_eq!(r.rows[0].state_id, "f");
        assert!((r.duration_ms - 3.5).abs() < 1e-9);
    }
}
