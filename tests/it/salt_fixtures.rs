//! The reply parsers against replies recorded from real Salt 3006, 3007 and 3008 masters.

use halite::salt::events::SseParser;
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
