//! Jobs poller, Run dispatch, job detail, kill and RBAC against the real Salt lab.

use crate::common::lab::{lab, LAB};
use crate::common::TestApp;
use axum::http::StatusCode;
use halite::server::jobs::{poller, store};
use std::time::Duration;

async fn connected_app() -> (TestApp, String) {
    let l = lab();
    let app = TestApp::new().await;
    let db = &app.state.db;
    l.save_to(&app).await;
    app.state.runtime.boot().await;
    halite::with_db!(db, p => {
            sqlx::query("UPDATE users SET must_change_pw = FALSE")
            .execute(p)
            .await
            .unwrap();
    });
    let cookie = app.login("admin", "changeme").await;
    (app, cookie)
}

/// Poll `jobs/get` until every targeted minion returned (or 60 s).
async fn wait_returned(app: &TestApp, cookie: &str, jid: &str, n: usize) -> serde_json::Value {
    for _ in 0..60 {
        let r = app.call("jobs/get", &[("jid", jid)], Some(cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let v = r.json();
        if v["returned"].as_i64() == Some(n as i64) {
            return v;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("job {jid} did not finish");
}

#[tokio::test]
async fn run_poll_detail_kill_and_permissions_against_the_real_master() {
    let _g = LAB.lock().await;
    let l = lab();
    l.sh(&["reset-keys"]);
    let (app, cookie) = connected_app().await;
    let db = &app.state.db;

    // Preview resolves the target on the master.
    let p = app
        .call(
            "run/preview",
            &[("target", "web-*"), ("target_type", "glob")],
            Some(&cookie),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.json()["minions"], serde_json::json!(["web-01", "web-02"]));
    let p = app
        .call(
            "run/preview",
            &[
                ("target", "G@id:db-* or web-01"),
                ("target_type", "compound"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(
        p.json()["minions"],
        serde_json::json!(["db-01", "web-01"]),
        "{}",
        p.body
    );

    // test.ping on * : every accepted minion answers.
    let r = app
        .call(
            "run/dispatch",
            &[
                ("target", "*"),
                ("target_type", "glob"),
                ("fun", "test.ping"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = r.json();
    let jid = d["jid"].as_str().unwrap().to_string();
    assert_eq!(d["minions"].as_array().unwrap().len(), 4, "{d}");
    let job = wait_returned(&app, &cookie, &jid, 4).await;
    assert_eq!(job["function"], "test.ping");
    assert_eq!(job["failed"], 0);
    assert!(job["minions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["state"] == "returned" && m["success"] == true && m["return_json"] == "true"));
    // The job's per-minion results export: the page's rows, from the master.
    let r = app
        .get(
            &format!("/api/jobs/results/export.csv?jid={jid}"),
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let lines: Vec<&str> = r.body.lines().collect();
    assert!(
        lines[0].starts_with("minion,state,success,retcode,"),
        "{}",
        r.body
    );
    let mut minions: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    minions.sort_unstable();
    let mut want: Vec<&str> = job["minions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["minion"].as_str().unwrap())
        .collect();
    want.sort_unstable();
    assert_eq!(minions, want, "{}", r.body);
    assert!(
        lines[1..].iter().all(|l| l.contains(",returned,true,")),
        "{}",
        r.body
    );
    let exported = app.audit_rows("export.job-results").await;
    assert_eq!(exported.len(), 1);
    let audit = app.audit_rows("salt.run").await;
    assert_eq!(audit.len(), 1);
    assert!(audit[0].2.as_deref().unwrap().contains("test.ping"));
    let stored_jid: Option<String> = halite::with_db!(db, p => {
            sqlx::query_scalar("SELECT salt_jid FROM audit_log WHERE action = 'salt.run'")
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!(stored_jid.as_deref(), Some(jid.as_str()));

    // The poller indexes it; system jobs are stored but hidden by default.
    let cache = app.state.runtime.jobs();
    let summary = poller::poll_jobs(&l.client(), db, &cache, 90)
        .await
        .unwrap();
    assert!(summary.contains("jobs since"), "{summary}");
    assert!(cache.active_known());
    let row = store::get(db, &jid).await.unwrap().expect("indexed");
    assert_eq!(row.function, "test.ping");
    assert_eq!(row.target.as_deref(), Some("*"));
    let list = app
        .call("jobs/list", &[("q", "test.ping")], Some(&cookie))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let rows = list.json()["rows"].as_array().unwrap().clone();
    assert!(rows
        .iter()
        .any(|r| r["jid"] == jid.as_str() && r["status"] == "complete"));
    let hidden = app
        .call("jobs/list", &[("q", "runner.")], Some(&cookie))
        .await;
    assert_eq!(hidden.json()["total"], 0, "system jobs hidden by default");
    let shown = app
        .call(
            "jobs/list",
            &[("q", "runner."), ("system", "true")],
            Some(&cookie),
        )
        .await;
    assert!(
        shown.json()["total"].as_i64().unwrap() > 0,
        "{}",
        shown.body
    );
    // Polling again is idempotent.
    poller::poll_jobs(&l.client(), db, &cache, 90)
        .await
        .unwrap();
    let n: i64 = halite::with_db!(db, p => {
            sqlx::query_scalar("SELECT count(*) FROM jobs_index WHERE jid = $1")
            .bind(&jid)
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!(n, 1);

    // state.apply: broken-01's failing state shows in the detail.
    let r = app
        .call(
            "run/dispatch",
            &[("target", "*"), ("fun", "state.apply")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let sjid = r.json()["jid"].as_str().unwrap().to_string();
    let job = wait_returned(&app, &cookie, &sjid, 4).await;
    assert_eq!(job["is_state"], true);
    let minions = job["minions"].as_array().unwrap();
    assert_eq!(minions[0]["minion"], "broken-01", "failing minion first");
    let hs = &minions[0]["highstate"];
    assert!(hs["fail"].as_i64().unwrap() >= 1, "{hs}");
    assert_eq!(hs["rows"][0]["result"], "fail");
    let web = minions.iter().find(|m| m["minion"] == "web-01").unwrap();
    assert_eq!(web["highstate"]["fail"], 0);
    assert_eq!(job["failed"], 1);

    // test.sleep 30, then kill it.
    let r = app
        .call(
            "run/dispatch",
            &[
                ("target", "web-01"),
                ("target_type", "list"),
                ("fun", "test.sleep"),
                ("args_json", "[\"30\"]"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let kjid = r.json()["jid"].as_str().unwrap().to_string();
    let mut running = false;
    for _ in 0..20 {
        let j = app
            .call("jobs/get", &[("jid", &kjid)], Some(&cookie))
            .await
            .json();
        if j["running"] == true {
            assert_eq!(j["can_kill"], true);
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(running, "test.sleep shows as running");
    let k = app
        .call("jobs/kill", &[("jid", &kjid)], Some(&cookie))
        .await;
    assert_eq!(k.status, StatusCode::OK, "{}", k.body);
    assert_eq!(k.json()["minions"], serde_json::json!(["web-01"]));
    let mut stopped = false;
    for _ in 0..20 {
        let j = app
            .call("jobs/get", &[("jid", &kjid)], Some(&cookie))
            .await
            .json();
        if j["running"] == false {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(stopped, "the killed job stopped well before 30 s");
    assert_eq!(app.audit_rows("job.kill").await.len(), 1);
    let again = app
        .call("jobs/kill", &[("jid", &kjid)], Some(&cookie))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);

    // Permissions: viewer cannot run; a role with execute:salt:test.* runs test.ping, not cmd.run.
    app.create_user("viewer2", "viewer-password-2", &["viewer"])
        .await;
    let vc = app.login("viewer2", "viewer-password-2").await;
    let r = app
        .call(
            "run/dispatch",
            &[("target", "*"), ("fun", "test.ping")],
            Some(&vc),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app.call("jobs/kill", &[("jid", &kjid)], Some(&vc)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    halite::with_db!(db, p => {
            sqlx::query("INSERT INTO roles (id, name, name_lower, description) VALUES ('r-t', 'testers', 'testers', '')")
            .execute(p)
            .await
            .unwrap();
    });
    halite::with_db!(db, p => {
            sqlx::query("INSERT INTO permissions (id, role_id, verb, resource_glob) VALUES ('p-t', 'r-t', 'execute', 'salt:test.*')")
            .execute(p)
            .await
            .unwrap();
    });
    // Run reaches only minions the caller may view (issue 10, finding 5).
    halite::with_db!(db, p => {
            sqlx::query("INSERT INTO permissions (id, role_id, verb, resource_glob) VALUES ('p-t2', 'r-t', 'view', 'minion:web-*')")
            .execute(p)
            .await
            .unwrap();
    });
    app.create_user("tester", "tester-password-1", &["testers"])
        .await;
    let tc = app.login("tester", "tester-password-1").await;
    let ok = app
        .call(
            "run/dispatch",
            &[
                ("target", "web-01"),
                ("target_type", "list"),
                ("fun", "test.ping"),
            ],
            Some(&tc),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let no = app
        .call(
            "run/dispatch",
            &[
                ("target", "web-01"),
                ("fun", "cmd.run"),
                ("args_json", "[\"id\"]"),
            ],
            Some(&tc),
        )
        .await;
    assert_eq!(no.status, StatusCode::FORBIDDEN, "{}", no.body);
    let denied: i64 = halite::with_db!(db, p => {
            sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE decision = 'deny' AND resource = 'salt:cmd.run'",
        )
        .fetch_one(p)
        .await
        .unwrap()
    });
    assert_eq!(denied, 1);

    // Bad input is a 4xx with a message, never a 500.
    for (form, field) in [
        (vec![("target", ""), ("fun", "test.ping")], "target"),
        (vec![("target", "*"), ("fun", "rm -rf")], "fun"),
        (
            vec![
                ("target", "*"),
                ("fun", "test.ping"),
                ("target_type", "regex"),
            ],
            "target_type",
        ),
        (
            vec![("target", "*"), ("fun", "test.ping"), ("args_json", "{")],
            "args",
        ),
        (
            vec![("target", "*"), ("fun", "test.ping"), ("batch", "0")],
            "batch",
        ),
    ] {
        let r = app.call("run/dispatch", &form, Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains(field), "{field}: {}", r.body);
    }
    let r = app
        .call("jobs/get", &[("jid", "nope")], Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .call(
            "run/dispatch",
            &[("target", "no-such-*"), ("fun", "test.ping")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    // Function catalogue (cached).
    let f = app.call("run/functions", &[], Some(&cookie)).await;
    assert_eq!(f.status, StatusCode::OK, "{}", f.body);
    let funcs = f.json()["functions"].as_array().unwrap().clone();
    assert!(funcs.iter().any(|x| x == "test.ping") && funcs.iter().any(|x| x == "state.apply"));

    app.state.runtime.shutdown().await;
}

#[tokio::test]
async fn batch_runs_follow_to_the_end() {
    let _g = LAB.lock().await;
    let (app, cookie) = connected_app().await;
    let r = app
        .call(
            "run/dispatch",
            &[("target", "*"), ("fun", "test.ping"), ("batch", "2")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = r.json();
    assert!(d["jid"].is_null());
    let id = d["batch_id"].as_str().unwrap().to_string();
    assert_eq!(d["minions"].as_array().unwrap().len(), 4);
    let mut done = serde_json::Value::Null;
    for _ in 0..60 {
        let b = app.call("run/batch", &[("id", &id)], Some(&cookie)).await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.body);
        if b.json()["finished"] == true {
            done = b.json();
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(done["error"], serde_json::Value::Null, "{done}");
    assert_eq!(done["results"].as_array().unwrap().len(), 4, "{done}");
    app.state.runtime.shutdown().await;
}
