//! The event stream against the real Salt lab: a key accept and a job arrive as activity rows
//! and SSE messages in order; a viewer without `view:key` never gets key events; salt-api killed
//! mid-stream -> the consumer reconnects, marks the gap and resumes with no duplicate rows.

use crate::common::lab::{lab, LAB};
use crate::common::TestApp;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use futures::StreamExt;
use halite::model::activity::StreamStatus;
use http_body_util::BodyExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

/// Open `/api/activity/stream` and collect every `data:` frame in the background.
async fn sse(app: &TestApp, cookie: &str) -> (StatusCode, Arc<Mutex<Vec<serde_json::Value>>>) {
    let req = Request::get("/api/activity/stream")
        .header(header::HOST, "halite.test")
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT, "text/event-stream")
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let frames = Arc::new(Mutex::new(vec![]));
    if status == StatusCode::OK {
        let out = frames.clone();
        let mut body = res.into_body().into_data_stream();
        tokio::spawn(async move {
            let mut buf = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(i) = buf.find("\n\n") {
                    let frame: String = buf.drain(..i + 2).collect();
                    for line in frame.lines() {
                        if let Some(d) = line.strip_prefix("data: ") {
                            if let Ok(v) = serde_json::from_str(d) {
                                out.lock().unwrap().push(v);
                            }
                        }
                    }
                }
            }
        });
    } else {
        let _ = res.into_body().collect().await;
    }
    (status, frames)
}

async fn rows(app: &TestApp) -> Vec<(i64, String, Option<String>, Option<String>)> {
    halite::with_db!(&app.state.db, p => {
            sqlx::query_as("SELECT id, event_type, minion_id, jid FROM activity_events ORDER BY id")
            .fetch_all(p)
            .await
            .unwrap()
    })
}

async fn wait_for<F: Fn(&[(i64, String, Option<String>, Option<String>)]) -> bool>(
    app: &TestApp,
    what: &str,
    f: F,
) {
    for _ in 0..120 {
        if f(&rows(app).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("timed out waiting for {what}; rows: {:?}", rows(app).await);
}

async fn wait_state(app: &TestApp, state: StreamStatus) {
    for _ in 0..120 {
        if app.state.runtime.hub().state().state == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "hub never reached {state}: {:?}",
        app.state.runtime.hub().state()
    );
}

#[tokio::test]
async fn events_persist_fan_out_and_survive_a_salt_api_restart() {
    let _g = LAB.lock().await;
    let l = lab();
    l.sh(&["reset-keys"]);
    let app = TestApp::new().await;
    let db = &app.state.db;
    l.save_to(&app).await;
    let mut p = halite::server::settings::load_view(db)
        .await
        .unwrap()
        .pollers;
    p.event_stream_enabled = true;
    halite::server::settings::save_pollers(db, &p)
        .await
        .unwrap();
    halite::with_db!(db, p => {
            sqlx::query("UPDATE users SET must_change_pw = FALSE")
            .execute(p)
            .await
            .unwrap();
    });
    let cookie = app.login("admin", "changeme").await;

    // Stream off -> 503.
    let (st, _) = sse(&app, &cookie).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    app.state.runtime.boot().await;
    wait_state(&app, StreamStatus::Connected).await;

    // Someone who may only see jobs.
    halite::with_db!(db, p => {
            sqlx::query("INSERT INTO roles (id, name, name_lower, description) VALUES ('r-j', 'jobs-only', 'jobs-only', '')")
            .execute(p).await.unwrap();
    });
    halite::with_db!(db, p => {
            sqlx::query("INSERT INTO permissions (id, role_id, verb, resource_glob) VALUES ('p-j', 'r-j', 'view', 'job:*')")
            .execute(p).await.unwrap();
    });
    app.create_user("jobwatch", "jobwatch-password-1", &["jobs-only"])
        .await;
    let jc = app.login("jobwatch", "jobwatch-password-1").await;
    // And someone who may see nothing of it.
    halite::with_db!(db, p => {
            sqlx::query("INSERT INTO roles (id, name, name_lower, description) VALUES ('r-n', 'nothing', 'nothing', '')")
            .execute(p).await.unwrap();
    });
    halite::with_db!(db, p => {
            sqlx::query("INSERT INTO permissions (id, role_id, verb, resource_glob) VALUES ('p-n', 'r-n', 'view', 'audit:*')")
            .execute(p).await.unwrap();
    });
    app.create_user("nobody", "nobody-password-1", &["nothing"])
        .await;
    let nc = app.login("nobody", "nobody-password-1").await;
    assert_eq!(sse(&app, &nc).await.0, StatusCode::FORBIDDEN);

    let (st, admin_frames) = sse(&app, &cookie).await;
    assert_eq!(st, StatusCode::OK);
    let (_, job_frames) = sse(&app, &jc).await;

    // Accept the pending key, then run a job.
    let r = app
        .call(
            "keys/action",
            &[("action", "accept"), ("ids", "new-01")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.json()[0]["ok"], true, "{}", r.body);
    let r = app
        .call(
            "run/dispatch",
            &[
                ("target", "web-01"),
                ("target_type", "list"),
                ("fun", "test.ping"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let jid = r.json()["jid"].as_str().unwrap().to_string();
    wait_for(&app, "key.accept + job.new + job.ret", |rs| {
        rs.iter()
            .any(|r| r.1 == "key.accept" && r.2.as_deref() == Some("new-01"))
            && rs
                .iter()
                .any(|r| r.1 == "job.ret" && r.3.as_deref() == Some(&jid))
    })
    .await;
    let rs = rows(&app).await;
    let new_id = rs
        .iter()
        .find(|r| r.1 == "job.new" && r.3.as_deref() == Some(&jid))
        .unwrap()
        .0;
    let ret_id = rs
        .iter()
        .find(|r| r.1 == "job.ret" && r.3.as_deref() == Some(&jid))
        .unwrap()
        .0;
    assert!(new_id < ret_id, "dispatch before return");
    // job.new indexed the job at once; initiator/target filled.
    let (fun, user): (String, Option<String>) = halite::with_db!(db, p => {
            sqlx::query_as("SELECT function, salt_user FROM jobs_index WHERE jid = $1")
            .bind(&jid)
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!(
        (fun.as_str(), user.as_deref()),
        ("test.ping", Some(l.user.as_str()))
    );
    let (init, tgt): (Option<String>, Option<String>) = halite::with_db!(db, p => {
            sqlx::query_as("SELECT initiator, target FROM activity_events WHERE id = $1")
            .bind(ret_id)
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!(init.as_deref(), Some(l.user.as_str()));
    assert_eq!(tgt.as_deref(), Some("web-01"));
    // The polling noise of Halite itself never becomes activity.
    assert!(!rs.iter().any(|r| r.1.starts_with("job.") && r.3.is_none()));
    let noise: i64 = halite::with_db!(db, p => {
            sqlx::query_scalar(
            "SELECT count(*) FROM activity_events WHERE fun IN ('saltutil.find_job', 'saltutil.running')",
        )
        .fetch_one(p)
        .await
        .unwrap()
    });
    assert_eq!(noise, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let f = admin_frames.lock().unwrap();
        let pos = |t: &str| {
            f.iter().position(|v| {
                v["event_type"] == t && (v["jid"] == jid.as_str() || t == "key.accept")
            })
        };
        let (k, n, r) = (
            pos("key.accept").unwrap(),
            pos("job.new").unwrap(),
            pos("job.ret").unwrap(),
        );
        assert!(k < n && n < r, "SSE order: {k} {n} {r}");
        let ids: Vec<i64> = f.iter().filter_map(|v| v["id"].as_i64()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
        let jf = job_frames.lock().unwrap();
        assert!(
            jf.iter().any(|v| v["jid"] == jid.as_str()),
            "jobs-only user gets job events"
        );
        assert!(
            !jf.iter().any(|v| v["category"] == "key"),
            "jobs-only user never gets key events"
        );
    }
    // The page query honours the same visibility.
    let page = app
        .call("activity/list", &[("category", "key")], Some(&jc))
        .await;
    assert_eq!(page.json()["total"], 0, "{}", page.body);
    let page = app
        .call("activity/list", &[("q", "new-01")], Some(&cookie))
        .await;
    assert!(page.json()["total"].as_i64().unwrap() >= 1);

    // Kill salt-api mid-stream: the consumer goes down, comes back, marks the gap, resumes.
    l.sh(&["stop-api"]);
    wait_state(&app, StreamStatus::Down).await;
    l.sh(&["start-api"]);
    wait_state(&app, StreamStatus::Connected).await;
    let before = rows(&app).await.len();
    let r = app
        .call(
            "run/dispatch",
            &[
                ("target", "web-02"),
                ("target_type", "list"),
                ("fun", "test.ping"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let jid2 = r.json()["jid"].as_str().unwrap().to_string();
    wait_for(&app, "job.ret after the restart", |rs| {
        rs.iter()
            .any(|r| r.1 == "job.ret" && r.3.as_deref() == Some(&jid2))
    })
    .await;
    let rs = rows(&app).await;
    assert!(rs.len() > before);
    assert!(rs.iter().any(|r| r.1 == "stream.gap"), "gap marked");
    let dups: i64 = halite::with_db!(db, p => {
            sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT jid, event_type, minion_id FROM activity_events \
             WHERE jid IS NOT NULL GROUP BY jid, event_type, minion_id HAVING count(*) > 1) AS d",
        )
        .fetch_one(p)
        .await
        .unwrap()
    });
    assert_eq!(dups, 0, "no duplicate rows");
    assert!(
        admin_frames
            .lock()
            .unwrap()
            .iter()
            .any(|v| v["jid"] == jid2.as_str()),
        "the browser stream survived the salt-api restart"
    );

    // Put the lab back.
    let r = app
        .call(
            "keys/action",
            &[("action", "delete"), ("ids", "new-01")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.json()[0]["ok"], true, "{}", r.body);
    l.sh(&["reset-keys"]);
    app.state.runtime.shutdown().await;
}
