//! The reply parsers against replies recorded from real Salt 3006, 3007 and 3008 masters.
#![cfg(feature = "ssr")]

use halite::salt::events::SseParser;
use halite::salt::state::{parse_state_return, state_facts};
use halite::salt::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn versions() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/salt");
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    assert!(
        v.len() >= 3,
        "fixtures for 3006, 3007 and 3008 are checked in"
    );
    v
}

fn ret(dir: &Path, name: &str) -> Value {
    let body = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    first_return(&body).unwrap()
}

#[test]
fn login_and_keys() {
    for d in versions() {
        let body = std::fs::read_to_string(d.join("login.json")).unwrap();
        let l = parse_login(&body).unwrap();
        assert_eq!(l.user, "halite");
        assert_eq!(l.eauth, "file");
        assert!(l.expire > l.start, "{d:?}");

        let keys =
            parse_key_lists(unwrap_wheel("key.list_all", ret(&d, "key_list_all.json")).unwrap())
                .unwrap();
        assert_eq!(keys.pending, vec!["new-01"], "{d:?}");
        assert!(keys.accepted.contains(&"web-01".to_string()));
        assert!(keys.accepted.contains(&"broken-01".to_string()));
        assert!(
            !keys.accepted.iter().any(|k| k.ends_with(".pem")),
            "master's local keys left out"
        );

        let fp = parse_key_finger(unwrap_wheel("key.finger", ret(&d, "key_finger.json")).unwrap())
            .unwrap();
        assert_eq!(fp.len(), 1);
        assert_eq!(
            (fp[0].state.as_str(), fp[0].id.as_str()),
            ("pending", "new-01")
        );
        assert!(fp[0].fingerprint.contains(':'));

        let accepted = unwrap_wheel("key.accept", ret(&d, "key_accept.json")).unwrap();
        assert_eq!(changed_key_ids(&accepted), vec!["new-01"]);
    }
}

#[test]
fn presence_grains_and_locals() {
    for d in versions() {
        let present = parse_string_list("manage.present", ret(&d, "manage_present.json")).unwrap();
        assert!(present.contains(&"db-01".to_string()) && !present.contains(&"new-01".to_string()));
        let ips = parse_present_ips(ret(&d, "manage_present_show_ip.json")).unwrap();
        assert_eq!(ips.len(), present.len());
        let grains = expect_object("cache.grains", ret(&d, "cache_grains.json")).unwrap();
        let raw = parse_grains_raw(&std::fs::read_to_string(d.join("cache_grains.json")).unwrap())
            .unwrap();
        assert_eq!(
            raw.len(),
            grains.len(),
            "raw and tree parsers agree ({d:?})"
        );
        assert!(raw
            .iter()
            .any(|(id, g)| id == "web-01" && g.get().contains("\"os\"")));
        assert!(
            parse_grains_raw(&std::fs::read_to_string(d.join("runner_error.json")).unwrap())
                .is_err()
        );
        assert!(grains["web-01"]["os"].is_string(), "{d:?}");

        // A minion that did not answer is NoResponse, never a returned `false`.
        let pending = parse_local_returns(ret(&d, "local_list_pending.json")).unwrap();
        assert!(
            matches!(pending["new-01"], MinionReturn::NoResponse { .. }),
            "{d:?}"
        );
        assert_eq!(
            pending["web-01"],
            MinionReturn::Returned {
                ret: Value::Bool(true),
                retcode: None
            }
        );
        let full = parse_local_returns(ret(&d, "local_full_return.json")).unwrap();
        assert!(full.values().all(|r| matches!(
            r,
            MinionReturn::Returned {
                retcode: Some(0),
                ..
            }
        )));
        assert!(parse_local_returns(ret(&d, "local_no_match.json"))
            .unwrap()
            .is_empty());

        let job = parse_async_job(ret(&d, "local_async.json"))
            .unwrap()
            .unwrap();
        assert_eq!(job.jid.len(), 20);
        assert!(!job.minions.is_empty());
        assert_eq!(parse_async_job(serde_json::json!({})).unwrap(), None);

        let killed = parse_local_returns(ret(&d, "kill_job.json")).unwrap();
        assert!(!killed.is_empty());
    }
}

#[test]
fn jobs() {
    for d in versions() {
        let jobs = parse_list_jobs(ret(&d, "list_jobs.json")).unwrap();
        assert!(jobs.iter().any(|j| j.function == "test.ping"), "{d:?}");
        assert!(
            jobs.windows(2).all(|w| w[0].jid >= w[1].jid),
            "newest first"
        );
        let list_target = jobs
            .iter()
            .find(|j| j.target_type.as_deref() == Some("list") && j.function == "test.ping");
        assert!(list_target.is_some_and(|j| j.target.as_deref().unwrap().contains(',')));

        let hs = parse_list_job(ret(&d, "list_job_highstate.json")).unwrap();
        assert_eq!(hs.summary.function, "state.apply");
        let broken = &hs.results["broken-01"];
        assert_ne!(
            broken.retcode,
            Some(0),
            "broken-01's highstate fails ({d:?})"
        );
        assert_eq!(hs.results["web-01"].retcode, Some(0));
        assert!(hs.minions.contains(&"web-02".to_string()));

        let ping = parse_list_job(ret(&d, "list_job_ping.json")).unwrap();
        assert_eq!(ping.summary.function, "test.ping");

        let active = parse_jobs_active(ret(&d, "jobs_active.json")).unwrap();
        assert!(
            active
                .iter()
                .any(|j| j.function == "test.sleep" && !j.running.is_empty()),
            "{d:?}"
        );

        // A runner exception is a 200 with a string: an error, not data.
        let err = parse_list_jobs(ret(&d, "runner_error.json")).unwrap_err();
        assert!(matches!(err, SaltError::Api { .. }));
        assert!(
            err.to_string().contains("Passed invalid arguments"),
            "{err}"
        );
    }
}

#[test]
fn error_bodies() {
    for d in versions() {
        let html = std::fs::read_to_string(d.join("error_disabled_client.html")).unwrap();
        let m = error_message(&html);
        assert!(m.contains("Client disabled"), "{d:?}: {m}");
        let e401 = std::fs::read_to_string(d.join("error_401.txt")).unwrap();
        assert!(
            error_message(&e401).contains("Could not authenticate"),
            "{d:?}"
        );
    }
    assert_eq!(error_message(r#"{"detail": "nope"}"#), "nope");
    assert_eq!(error_message(""), "empty response");
}

#[test]
fn event_stream_frames_split_anywhere() {
    for d in versions() {
        let raw = std::fs::read(d.join("events_sample.txt")).unwrap();
        let whole = SseParser::default().push(&raw);
        assert!(whole.iter().any(|e| e.tag.ends_with("/new")), "{d:?}");
        let rets: Vec<_> = whole.iter().filter(|e| e.tag.contains("/ret/")).collect();
        assert!(!rets.is_empty());
        assert!(rets
            .iter()
            .all(|e| e.data["id"].is_string() && e.data["jid"].is_string()));
        // Byte-by-byte feeding gives the same events.
        let mut p = SseParser::default();
        let mut split = vec![];
        for b in &raw {
            split.extend(p.push(std::slice::from_ref(b)));
        }
        assert_eq!(split, whole);
    }
}

#[test]
fn event_parser_handles_huge_lines_crlf_and_comments() {
    let big = "x".repeat(3_000_000);
    let frame = format!(
        ": keepalive\r\nretry: 400\r\ntag: salt/job/1/ret/m1\r\ndata: {{\"tag\": \"salt/job/1/ret/m1\", \"data\": {{\"id\": \"m1\", \"return\": \"{big}\"}}}}\r\n\r\n"
    );
    let mut p = SseParser::default();
    let mut out = vec![];
    for chunk in frame.as_bytes().chunks(65536) {
        out.extend(p.push(chunk));
    }
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].tag, "salt/job/1/ret/m1");
    assert_eq!(out[0].data["return"].as_str().unwrap().len(), 3_000_000);
    // Invalid JSON is skipped, not fatal.
    assert!(p.push(b"data: {not json\n\n").is_empty());
    let ok = p.push(
        "data: {\"tag\": \"salt/key\", \"data\": {\"act\": \"accept\", \"id\": \"é\"}}\n\n"
            .as_bytes(),
    );
    assert_eq!(ok[0].data["id"], "é");
}

/// The release a fixture folder was recorded from (`3006.29` -> 3006).
fn major(dir: &Path) -> u32 {
    let name = dir.file_name().unwrap().to_str().unwrap();
    name.split('.').next().unwrap().parse().unwrap()
}

#[test]
fn state_render_error_is_a_list_of_strings() {
    for d in versions() {
        // Sync reply: web-01's value is a list with one string, no state dict.
        let sync = ret(&d, "state_sls_render_error.json");
        let parsed = parse_state_return(&sync["web-01"]);
        assert!(parsed.states.is_empty(), "{d:?}");
        assert!(!parsed.no_top);
        assert_eq!(parsed.errors.len(), 1, "{d:?}");
        assert!(
            parsed.errors[0]
                .starts_with("Rendering SLS 'base:lab.render_error' failed: Jinja syntax error:"),
            "{d:?}: {}",
            parsed.errors[0]
        );
        // The job cache holds the same list, with retcode 1 and success false.
        let job = parse_list_job(ret(&d, "list_job_render_error.json")).unwrap();
        assert_eq!(job.summary.function, "state.sls");
        assert_eq!(job.minions, vec!["web-01"]);
        let web = &job.results["web-01"];
        assert_eq!(
            (web.retcode, web.success, web.out.as_deref()),
            (Some(1), Some(false), Some("highstate")),
            "{d:?}"
        );
        assert_eq!(parse_state_return(&web.ret), parsed);
        assert_eq!(state_facts(&web.ret), None, "a render error holds no state");
    }
}

#[test]
fn state_test_mode_gives_result_none() {
    for d in versions() {
        let all = expect_object("state.apply test=True", ret(&d, "state_apply_test.json")).unwrap();
        let mut ids: Vec<&str> = all.keys().map(String::as_str).collect();
        ids.sort();
        assert_eq!(ids, ["broken-01", "db-01", "web-01", "web-02"], "{d:?}");
        for (id, r) in &all {
            let s = parse_state_return(r);
            assert!(s.errors.is_empty(), "{d:?} {id}: {:?}", s.errors);
            let would_change = s
                .states
                .iter()
                .find(|st| st.id == "lab-always-changes")
                .unwrap();
            assert_eq!(would_change.result, None, "{d:?} {id}");
            assert_eq!(would_change.fun, "test.succeed_with_changes");
            assert!(would_change.changes.is_some(), "{d:?} {id}");
        }
        // test.fail_without_changes fails even in test mode; cmd.run only would run.
        let broken = parse_state_return(&all["broken-01"]);
        let result_of = |sid: &str| broken.states.iter().find(|s| s.id == sid).unwrap().result;
        assert_eq!(result_of("lab-broken-test"), Some(false), "{d:?}");
        assert_eq!(result_of("lab-broken-command"), None, "{d:?}");
    }
}

#[test]
fn state_minion_not_returned() {
    for d in versions() {
        // Sync `local` state.apply on the list [web-01, web-02] with web-02 stopped.
        let sync = ret(&d, "local_state_not_returned.json");
        let web01 = parse_state_return(&sync["web-01"]);
        assert_eq!(web01.states.len(), 2, "{d:?}");
        assert!(web01.states.iter().all(|s| s.result == Some(true)));
        let web02 = &sync["web-02"];
        if major(&d) >= 3008 {
            // 3008 reports the missing minion as Salt's text ...
            let text = web02.as_str().unwrap_or_else(|| panic!("{d:?}: {web02}"));
            assert!(
                text.starts_with("Minion did not return. [No response]\n"),
                "{d:?}: {text}"
            );
            assert!(text.ends_with(&format!(
                "salt-run jobs.lookup_jid {}",
                ret(&d, "list_job_not_returned.json")["jid"]
                    .as_str()
                    .unwrap()
            )));
        } else {
            // ... 3006 and 3007 as a bare `false`.
            assert_eq!(web02, &Value::Bool(false), "{d:?}");
        }
        let parsed = parse_local_returns(sync).unwrap();
        assert!(
            matches!(parsed["web-02"], MinionReturn::NoResponse { .. }),
            "{d:?}"
        );
        assert!(matches!(parsed["web-01"], MinionReturn::Returned { .. }));

        // The job cache lists web-02 among the targeted minions, without a result.
        let job = parse_list_job(ret(&d, "list_job_not_returned.json")).unwrap();
        assert_eq!(job.summary.function, "state.apply");
        assert_eq!(job.summary.target_type.as_deref(), Some("list"));
        assert_eq!(job.minions, vec!["web-01", "web-02"], "{d:?}");
        assert_eq!(
            job.results.keys().collect::<Vec<_>>(),
            vec!["web-01"],
            "{d:?}"
        );
        assert_eq!(job.results["web-01"].retcode, Some(0));
        assert_eq!(parse_state_return(&job.results["web-01"].ret), web01);
    }
}

#[test]
fn state_return_event() {
    for d in versions() {
        let raw = std::fs::read(d.join("events_state_ret.txt")).unwrap();
        let events = SseParser::default().push(&raw);
        let ret_ev = events
            .iter()
            .find(|e| e.tag.starts_with("salt/job/") && e.tag.ends_with("/ret/web-01"))
            .unwrap_or_else(|| panic!("{d:?}: no ret event"));
        let data = &ret_ev.data;
        assert_eq!(data["fun"], "state.apply", "{d:?}");
        assert_eq!(data["id"], "web-01");
        assert_eq!(data["out"], "highstate");
        assert_eq!(data["retcode"], 0);
        assert_eq!(
            ret_ev.tag,
            format!("salt/job/{}/ret/web-01", data["jid"].as_str().unwrap())
        );
        let s = parse_state_return(&data["return"]);
        assert!(s.errors.is_empty());
        assert_eq!(s.states.len(), 2, "{d:?}");
        assert!(s
            .states
            .iter()
            .all(|st| st.sls.as_deref() == Some("lab.ok")));
        let (changed, ms) = state_facts(&data["return"]).unwrap();
        assert!(changed, "test.succeed_with_changes always changes");
        assert!(ms > 0.0);
        // The job's /new event comes first, with the targeted minions.
        let new = events.iter().find(|e| e.tag.ends_with("/new")).unwrap();
        assert_eq!(new.data["fun"], "state.apply");
        assert_eq!(new.data["minions"], serde_json::json!(["web-01"]));
    }
}

#[test]
fn state_render_error_event() {
    for d in versions() {
        let raw = std::fs::read(d.join("events_state_render_error.txt")).unwrap();
        let events = SseParser::default().push(&raw);
        let ret_ev = events
            .iter()
            .find(|e| e.tag.ends_with("/ret/web-01"))
            .unwrap_or_else(|| panic!("{d:?}: no ret event"));
        let data = &ret_ev.data;
        assert_eq!(data["fun"], "state.sls", "{d:?}");
        assert_eq!(data["fun_args"], serde_json::json!(["lab.render_error"]));
        assert_eq!(
            (&data["retcode"], &data["success"], &data["out"]),
            (
                &serde_json::json!(1),
                &Value::Bool(false),
                &serde_json::json!("highstate")
            ),
            "{d:?}"
        );
        let s = parse_state_return(&data["return"]);
        assert!(s.states.is_empty());
        assert_eq!(s.errors.len(), 1);
        // The same text as the sync reply and the job cache.
        let sync = ret(&d, "state_sls_render_error.json");
        assert_eq!(s, parse_state_return(&sync["web-01"]), "{d:?}");
        assert_eq!(state_facts(&data["return"]), None);
    }
}
