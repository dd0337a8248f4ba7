//! Security of Run and the live job calls (issue 10: findings 4, 5, 8, 9 and the Run part of 12).
//!
//! The lab tests talk to the real Salt lab (end2end/salt-lab) and build only with the `lab`
//! feature; the others need no Salt.

#[cfg(feature = "lab")]
use crate::common::lab::{lab, LAB};
use crate::common::TestApp;
use axum::http::StatusCode;
#[cfg(feature = "lab")]
use std::collections::BTreeSet;
#[cfg(feature = "lab")]
use std::time::Duration;

#[cfg(feature = "lab")]
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

/// A custom role holding exactly `perms` (`verb:resource_glob`), and a signed-in user in it.
#[cfg(feature = "lab")]
async fn user_with(app: &TestApp, name: &str, perms: &[&str]) -> String {
    let db = &app.state.db;
    let role = format!("r-{name}");
    halite::with_db!(db, p => {
            sqlx::query("INSERT INTO roles (id, name, name_lower, description) VALUES ($1, $2, $3, '')")
            .bind(&role)
            .bind(&role)
            .bind(&role)
            .execute(p)
            .await
            .unwrap();
    });
    for (i, p) in perms.iter().enumerate() {
        let (verb, glob) = p.split_once(':').unwrap();
        halite::with_db!(db, p => {
                sqlx::query(
                "INSERT INTO permissions (id, role_id, verb, resource_glob) VALUES ($1, $2, $3, $4)",
            )
            .bind(format!("p-{name}-{i}"))
            .bind(&role)
            .bind(verb)
            .bind(glob)
            .execute(p)
            .await
            .unwrap();
        });
    }
    let pw = format!("{name}-password-1");
    app.create_user(name, &pw, &[&role]).await;
    app.login(name, &pw).await
}

/// Poll `jobs/get` until `n` minions returned (or 60 s).
#[cfg(feature = "lab")]
async fn wait_returned(app: &TestApp, cookie: &str, jid: &str, n: usize) -> serde_json::Value {
    for _ in 0..120 {
        let r = app.call("jobs/get", &[("jid", jid)], Some(cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let v = r.json();
        if v["returned"].as_i64() == Some(n as i64) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("job {jid} did not finish");
}

/// JIDs of the master's jobs (from its job cache) running `fun`.
#[cfg(feature = "lab")]
async fn master_jids(fun: &str) -> BTreeSet<String> {
    lab()
        .client()
        .list_jobs(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.function == fun)
        .map(|j| j.jid)
        .collect()
}

#[cfg(feature = "lab")]
fn minions_of(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

#[cfg(feature = "lab")]
async fn denials(app: &TestApp, resource: &str) -> Vec<String> {
    halite::with_db!(&app.state.db, p => {
            sqlx::query_scalar(
            "SELECT CAST(args_json AS TEXT) FROM audit_log WHERE action = 'permission.denied' AND decision = 'deny' \
             AND result_code = 403 AND resource = $1 ORDER BY id",
        )
        .bind(resource)
        .fetch_all(p)
        .await
        .unwrap()
    })
}

/// Finding 4: `execute:salt:test.*` does not cover `test.cross_test` (which runs any function);
/// a grant naming it exactly does.
#[cfg(feature = "lab")]
#[tokio::test]
async fn indirect_functions_need_a_full_or_exact_grant_on_the_real_master() {
    let _g = LAB.lock().await;
    let (app, admin) = connected_app().await;
    let before = master_jids("test.cross_test").await;

    let globber = user_with(&app, "globber", &["execute:salt:test.*"]).await;
    let r = app
        .call(
            "run/dispatch",
            &[
                ("target", "web-01"),
                ("target_type", "list"),
                ("fun", "test.cross_test"),
                ("args_json", r#"["cmd.run", "w"]"#),
            ],
            Some(&globber),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(
        r.body.contains("execute:salt:*") && r.body.contains("execute:salt:test.cross_test"),
        "the refusal explains the rule: {}",
        r.body
    );
    let d = denials(&app, "salt:test.cross_test").await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].contains("indirect-function"), "{}", d[0]);
    assert!(app.audit_rows("salt.run").await.is_empty(), "nothing run");
    // The same through a batch.
    let r = app
        .call(
            "run/dispatch",
            &[
                ("target", "web-01"),
                ("fun", "test.cross_test"),
                ("args_json", r#"["cmd.run", "w"]"#),
                ("batch", "1"),
            ],
            Some(&globber),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Other indirect functions too.
    let ops = user_with(&app, "ops", &["execute:salt:s*", "view:minion:*"]).await;
    for fun in [
        "saltutil.cmd",
        "saltutil.runner",
        "state.single",
        "schedule.add",
    ] {
        let r = app
            .call(
                "run/dispatch",
                &[("target", "web-01"), ("fun", fun)],
                Some(&ops),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{fun}: {}", r.body);
    }

    // Barrier: a job dispatched after the refusals is in the master's job cache, so a job the
    // refusal had let through would be there too.
    let r = app
        .call(
            "run/dispatch",
            &[
                ("target", "web-01"),
                ("target_type", "list"),
                ("fun", "test.ping"),
            ],
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let marker = r.json()["jid"].as_str().unwrap().to_string();
    wait_returned(&app, &admin, &marker, 1).await;
    assert!(master_jids("test.ping").await.contains(&marker));
    assert_eq!(
        master_jids("test.cross_test").await,
        before,
        "no test.cross_test job reached the master"
    );

    // A grant naming it exactly allows it.
    let exact = user_with(
        &app,
        "crosser",
        &["execute:salt:test.cross_test", "view:minion:*"],
    )
    .await;
    let r = app
        .call(
            "run/dispatch",
            &[
                ("target", "web-01"),
                ("target_type", "list"),
                ("fun", "test.cross_test"),
                ("args_json", r#"["test.echo", "[\"hello\"]"]"#),
            ],
            Some(&exact),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let jid = r.json()["jid"].as_str().unwrap().to_string();
    let job = wait_returned(&app, &admin, &jid, 1).await;
    assert_eq!(job["function"], "test.cross_test");
    assert_eq!(job["minions"][0]["minion"], "web-01");
    // ...but no other function of the module.
    let r = app
        .call(
            "run/dispatch",
            &[("target", "web-01"), ("fun", "test.ping")],
            Some(&exact),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    app.state.runtime.shutdown().await;
}

/// Finding 5: a user whose `view:minion` grant covers only web-* reaches only web-01/web-02,
/// sees only them in the preview, and may not use compound or pcre targets.
#[cfg(feature = "lab")]
#[tokio::test]
async fn run_reaches_only_the_minions_in_the_callers_scope_on_the_real_master() {
    let _g = LAB.lock().await;
    let (app, admin) = connected_app().await;
    let web = user_with(
        &app,
        "webops",
        &["view:minion:web-*", "execute:salt:test.*"],
    )
    .await;

    // Preview: the admin sees every accepted minion, the scoped user only the web ones.
    let p = app
        .call("run/preview", &[("target", "*")], Some(&admin))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(
        minions_of(&p.json()["minions"]),
        ["broken-01", "db-01", "web-01", "web-02"]
    );
    let p = app
        .call("run/preview", &[("target", "*")], Some(&web))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(minions_of(&p.json()["minions"]), ["web-01", "web-02"]);
    let p = app
        .call(
            "run/preview",
            &[("target", "roles:db"), ("target_type", "grain")],
            Some(&web),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.json()["minions"], serde_json::json!([]));

    // test.ping on * reaches web-01 and web-02 only.
    let r = app
        .call(
            "run/dispatch",
            &[("target", "*"), ("fun", "test.ping")],
            Some(&web),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = r.json();
    assert_eq!(minions_of(&d["minions"]), ["web-01", "web-02"], "{d}");
    let jid = d["jid"].as_str().unwrap().to_string();
    let job = wait_returned(&app, &admin, &jid, 2).await;
    let got: Vec<&str> = job["minions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["minion"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["web-01", "web-02"], "{job}");
    assert_eq!(job["target_type"], "list", "sent to Salt as a list");
    let audit = app.audit_rows("salt.run").await;
    let last = audit.last().unwrap().2.clone().unwrap();
    assert!(last.contains("scoped_minions"), "{last}");

    // Nothing in scope: 422 with a clear message, nothing run.
    let runs = app.audit_rows("salt.run").await.len();
    let r = app
        .call(
            "run/dispatch",
            &[
                ("target", "db-01,broken-01"),
                ("target_type", "list"),
                ("fun", "test.ping"),
            ],
            Some(&web),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body
            .contains("No minion you may act on matches this target."),
        "{}",
        r.body
    );
    assert_eq!(app.audit_rows("salt.run").await.len(), runs);

    // compound and pcre need view:minion:*: refused, audited, for dispatch and preview alike.
    for (tgt, tt) in [("G@roles:web or I@x:y", "compound"), ("web-.*", "pcre")] {
        for endpoint in ["run/dispatch", "run/preview"] {
            let r = app
                .call(
                    endpoint,
                    &[("target", tgt), ("target_type", tt), ("fun", "test.ping")],
                    Some(&web),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{endpoint} {tt}: {}",
                r.body
            );
            assert!(r.body.contains("view:minion:*"), "{}", r.body);
        }
    }
    let d = denials(&app, "minion:*").await;
    assert_eq!(d.len(), 4, "{d:?}");
    assert!(d.iter().all(|a| a.contains("target-scope")));
    assert_eq!(app.audit_rows("salt.run").await.len(), runs);

    // The batch path is scoped too.
    let r = app
        .call(
            "run/dispatch",
            &[("target", "*"), ("fun", "test.ping"), ("batch", "1")],
            Some(&web),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = r.json();
    assert_eq!(minions_of(&d["minions"]), ["web-01", "web-02"], "{d}");
    let id = d["batch_id"].as_str().unwrap().to_string();
    let mut done = serde_json::Value::Null;
    for _ in 0..120 {
        let b = app.call("run/batch", &[("id", &id)], Some(&web)).await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.body);
        if b.json()["finished"] == true {
            done = b.json();
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let answered: Vec<&str> = done["results"]
        .as_array()
        .unwrap_or_else(|| panic!("batch never finished: {done}"))
        .iter()
        .map(|p| p[0].as_str().unwrap())
        .collect();
    assert_eq!(answered, ["web-01", "web-02"], "{done}");
    app.state.runtime.shutdown().await;
}

/// Finding 12 (Run part): a preview refused for lack of any execute grant is audited.
#[tokio::test]
async fn a_refused_preview_is_audited() {
    let app = TestApp::new().await;
    halite::with_db!(&app.state.db, p => {
            sqlx::query("UPDATE users SET must_change_pw = FALSE")
            .execute(p)
            .await
            .unwrap();
    });
    app.create_user("viewer1", "viewer-password-1", &["viewer"])
        .await;
    let v = app.login("viewer1", "viewer-password-1").await;
    let r = app.call("run/preview", &[("target", "*")], Some(&v)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let rows = app.audit_rows("permission.denied").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "deny");
    assert_eq!(rows[0].1, 403);
    assert_eq!(rows[0].3.as_deref(), Some("viewer1"));
}

/// Finding 9: live job calls are rate limited per user (429 with Retry-After), and one user's
/// budget does not touch another's.
#[tokio::test]
async fn live_job_calls_are_rate_limited_per_user() {
    let app = TestApp::new().await;
    halite::with_db!(&app.state.db, p => {
            sqlx::query("UPDATE users SET must_change_pw = FALSE")
            .execute(p)
            .await
            .unwrap();
    });
    let admin = app.login("admin", "changeme").await;
    app.create_user("viewer1", "viewer-password-1", &["viewer"])
        .await;
    let v = app.login("viewer1", "viewer-password-1").await;
    let mut limited = None;
    for i in 0..500 {
        // Salt is not configured here: an allowed call is a 503, a limited one a 429.
        let r = if i % 2 == 0 {
            app.call("jobs/list", &[("live", "true")], Some(&admin))
                .await
        } else {
            app.call("jobs/get", &[("jid", "20261127084920611602")], Some(&admin))
                .await
        };
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, r));
            break;
        }
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    }
    let (i, r) = limited.expect("live calls are limited");
    assert!(
        (halite::server::jobs::LIVE_BURST as usize..200).contains(&i),
        "limited after {i} calls"
    );
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(r.body.contains("Too many live job requests"), "{}", r.body);
    // The indexed (non-live) list is not limited, nor is another user.
    let r = app.call("jobs/list", &[], Some(&admin)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.call("jobs/list", &[("live", "true")], Some(&v)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
}
