//! The salt-api client against the real Salt lab (master + salt-api + minions on loopback).

use crate::common::lab::{lab, LAB};
use halite::salt::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const ACCEPTED: &[&str] = &["broken-01", "db-01", "web-01", "web-02"];

#[tokio::test]
async fn login_wheel_runner_and_local() {
    let _g = LAB.lock().await;
    let c = lab().client();
    let info = c.login().await.unwrap();
    assert_eq!(info.user, "halite");
    assert!(info.expire > info.start + 3600.0);

    let keys = c.key_list_all().await.unwrap();
    assert!(keys.pending.contains(&"new-01".to_string()), "{keys:?}");
    for m in ACCEPTED {
        assert!(
            keys.accepted.contains(&m.to_string()),
            "{m} accepted: {keys:?}"
        );
    }
    let fp = c.key_finger("new-01").await.unwrap();
    assert_eq!(fp[0].state, "pending");

    let present: BTreeSet<String> = c.manage_present().await.unwrap().into_iter().collect();
    for m in ACCEPTED {
        assert!(present.contains(*m), "{m} present: {present:?}");
    }
    let ips = c.manage_present_ips().await.unwrap();
    assert_eq!(ips.len(), present.len());
    let grains = c.cache_grains("*", "glob").await.unwrap();
    assert!(grains.get("web-01").and_then(|g| g.get("os")).is_some());

    // Synchronous local: every accepted minion answers; the pending one is a "no response".
    let mut req = LocalRequest::simple("*", "glob", "test.ping");
    req.timeout_secs = Some(10);
    let r = c.local(&req).await.unwrap();
    for m in ACCEPTED {
        assert_eq!(
            r[*m],
            MinionReturn::Returned {
                ret: serde_json::Value::Bool(true),
                retcode: Some(0)
            },
            "{m}"
        );
    }
    let list = LocalRequest {
        tgt: serde_json::json!(["web-01", "new-01"]),
        tgt_type: "list".into(),
        fun: "test.ping".into(),
        arg: vec![],
        kwarg: Default::default(),
        timeout_secs: Some(3),
    };
    let r = c.local(&list).await.unwrap();
    assert!(matches!(
        r.get("web-01"),
        Some(MinionReturn::Returned { .. })
    ));
    if let Some(x) = r.get("new-01") {
        assert!(
            matches!(x, MinionReturn::NoResponse { .. }),
            "pending minion: {x:?}"
        );
    }
    // A returned `false` stays a real false, not a "no response".
    let mut f = LocalRequest::simple("web-01", "glob", "test.false");
    f.timeout_secs = Some(10);
    let r = c.local(&f).await.unwrap();
    assert_eq!(
        r["web-01"],
        MinionReturn::Returned {
            ret: serde_json::Value::Bool(false),
            retcode: Some(0)
        }
    );
    // No match is an empty map.
    assert!(c
        .local(&LocalRequest::simple("nomatch-*", "glob", "test.ping"))
        .await
        .unwrap()
        .is_empty());

    // Async dispatch, then the job shows in the job cache.
    let job = c
        .local_async(&LocalRequest::simple("web-*", "glob", "test.ping"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.minions, vec!["web-01", "web-02"]);
    let mut detail = None;
    for _ in 0..40 {
        let d = c.list_job(&job.jid).await.unwrap();
        if d.results.len() == 2 {
            detail = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let d = detail.expect("both web minions returned");
    assert_eq!(d.summary.function, "test.ping");
    let jobs = c.list_jobs(None).await.unwrap();
    assert!(jobs.iter().any(|j| j.jid == job.jid));
    c.jobs_active().await.unwrap();
    assert_eq!(
        c.local_async(&LocalRequest::simple("nomatch-*", "glob", "test.ping"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn wrong_credentials_and_unreachable_are_distinct_errors() {
    let _g = LAB.lock().await;
    let l = lab();
    let mut cfg = l.config();
    cfg.password = "wrong-password".into();
    let err = SaltClient::new(cfg).unwrap().login().await.unwrap_err();
    assert!(matches!(err, SaltError::Api { status: 401, .. }), "{err:?}");

    let mut cfg = l.config();
    cfg.url = "http://127.0.0.1:9".into(); // discard port: nothing listens
    let err = SaltClient::new(cfg)
        .unwrap()
        .manage_present()
        .await
        .unwrap_err();
    assert!(matches!(err, SaltError::Unavailable(_)), "{err:?}");

    // Runner exceptions (200 + string) are errors, not data.
    let c = l.client();
    let err = c
        .runner("jobs.list_job", Default::default())
        .await
        .map(parse_list_job);
    assert!(matches!(err, Ok(Err(SaltError::Api { .. }))), "{err:?}");
}

#[tokio::test]
async fn one_login_for_concurrent_callers_and_relogin_on_401() {
    let _g = LAB.lock().await;
    let c = Arc::new(lab().client());
    let calls = (0..8).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.key_list_all().await })
    });
    for h in calls {
        h.await.unwrap().unwrap();
    }
    assert_eq!(c.login_count(), 1, "N concurrent callers cause one login");
    // A token salt-api no longer knows (as after a salt-api restart) gets one re-login.
    c.corrupt_token_for_tests().await;
    c.manage_present().await.unwrap();
    assert_eq!(c.login_count(), 2);
}

#[tokio::test]
async fn event_stream_sees_a_jobs_new_and_returns() {
    let _g = LAB.lock().await;
    let c = lab().client();
    let mut stream = c.events().await.unwrap();
    let job = c
        .local_async(&LocalRequest::simple("web-*", "glob", "test.ping"))
        .await
        .unwrap()
        .unwrap();
    let mut saw_new = false;
    let mut rets = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !(saw_new && rets.len() == 2) {
        let ev = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("events arrive within 30 s")
            .expect("stream open")
            .unwrap();
        if ev.tag == format!("salt/job/{}/new", job.jid) {
            assert_eq!(ev.data["fun"], "test.ping");
            saw_new = true;
        }
        if ev.tag.starts_with(&format!("salt/job/{}/ret/", job.jid)) {
            assert!(saw_new, "new arrives before ret");
            rets.insert(ev.data["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        rets.into_iter().collect::<Vec<_>>(),
        vec!["web-01", "web-02"]
    );
}
