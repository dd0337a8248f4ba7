//! A minion's state return as the highstate table shows it: the states parsed by
//! [`crate::salt::state`], mapped to [`StateRow`]s and counted.

use crate::model::jobs::{StateRow, StateSummary};
pub use crate::salt::state::is_state_function;
use crate::salt::state::StateOutcome;
use serde_json::Value;

fn row(st: StateOutcome) -> StateRow {
    StateRow {
        state_id: st.id,
        sls: st.sls,
        name: st.name,
        fun: st.fun,
        result: match st.result {
            Some(true) => "pass",
            Some(false) => "fail",
            None => "would_change",
        }
        .to_string(),
        duration_ms: st.duration_ms,
        comment: st.comment,
        changes_json: st
            .changes
            .map(|c| serde_json::to_string_pretty(&c).unwrap_or_default()),
        run_num: st.run_num,
    }
}

/// Rows for one minion's state return, failing states first then in run order.
/// A render error (a list of strings) or any other non-dict return becomes `errors`.
pub fn parse_state_return(ret: &Value) -> StateSummary {
    let parsed = crate::salt::state::parse_state_return(ret);
    let mut s = StateSummary {
        rows: parsed.states.into_iter().map(row).collect(),
        errors: parsed.errors,
        no_top: parsed.no_top,
        ..Default::default()
    };
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
