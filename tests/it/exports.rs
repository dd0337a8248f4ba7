//! The table exports (`GET /api/<page>/export.csv|json|ndjson`, `server::export::Table`) of
//! Keys, Jobs, Activity, Templates, Users and Roles against a real database: every page of what the
//! page's filters select, only what the caller may view, formula cells neutralised, one
//! `export.<page>` audit row each; and `halite admin export` through the real binary.

use crate::common::{Reply, TestApp};
use axum::http::StatusCode;
use chrono::{Duration, TimeZone, Utc};
use halite::model::activity::{ActivityEvent, EventCategory};
use halite::server::activity::normalize::NewActivity;
use halite::server::jobs::ingest::JobRow;
use halite::server::minions::{ingest, store};
use serde_json::{json, Value};

/// A user holding only `grants` (a role of their own).
async fn user_with(app: &TestApp, name: &str, grants: &[(&str, &str)]) -> String {
    app.create_role(&format!("{name}-role"), grants).await;
    let password = format!("{name}-password-123");
    app.create_user(name, &password, &[&format!("{name}-role")])
        .await;
    app.login(name, &password).await
}

/// The CSV's header and rows.
fn csv_rows(r: &Reply) -> (Vec<String>, Vec<Vec<String>>) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["content-type"], "text/csv; charset=utf-8");
    let mut rd = csv::Reader::from_reader(r.body.as_bytes());
    let header = rd.headers().unwrap().iter().map(String::from).collect();
    let rows = rd
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn ndjson(r: &Reply) -> Vec<Value> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/x-ndjson");
    r.body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap()
}

/// A caller who may view none of the table gets an audited 403; a bad filter a 422; no session
/// a 401; none of them is an export.
async fn refusals(app: &TestApp, path: &str, denied: &str, bad_query: &str, action: &str) {
    let before_denied = app.audit_rows("permission.denied").await.len();
    let before = app.audit_rows(action).await.len();
    let r = app.get(path, Some(denied)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
    assert_eq!(
        app.audit_rows("permission.denied").await.len(),
        before_denied + 1
    );
    if !bad_query.is_empty() {
        let cookie = app.login_bootstrap_admin().await;
        let r = app.get(&format!("{path}{bad_query}"), Some(&cookie)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}{bad_query}: {}",
            r.body
        );
    }
    let r = app.get(path, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit_rows(action).await.len(), before);
}

#[tokio::test]
async fn the_keys_export_follows_the_search_and_the_key_grants() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let accepted: Vec<String> = (0..150)
        .map(|i| format!("{}-{i:03}", if i % 2 == 0 { "web" } else { "db" }))
        .collect();
    let lists = halite::salt::KeyLists {
        accepted: accepted.clone(),
        pending: vec!["web-new".into(), "=cmd".into()],
        rejected: vec!["db-bad".into()],
        denied: vec![],
    };
    let existing = store::load_key_states(db).await.unwrap();
    store::apply_keys(db, &ingest::reconcile_keys(&existing, &lists), Utc::now())
        .await
        .unwrap();
    let cookie = app.login_bootstrap_admin().await;

    // Every key, every state, by id (more accepted keys than the page's 100).
    let (header, rows) = csv_rows(&app.get("/api/keys/export.csv", Some(&cookie)).await);
    assert_eq!(header, ["minion_id", "state"]);
    assert_eq!(rows.len(), 153);
    let state_of = |id: &str| rows.iter().find(|r| r[0] == id).map(|r| r[1].clone());
    assert_eq!(state_of("web-new").as_deref(), Some("pending"));
    assert_eq!(state_of("db-bad").as_deref(), Some("rejected"));
    assert_eq!(state_of("web-148").as_deref(), Some("accepted"));
    assert_eq!(
        state_of("'=cmd").as_deref(),
        Some("pending"),
        "a formula-like id is neutralised"
    );

    // The page's search.
    let got = ndjson(
        &app.get("/api/keys/export.ndjson?q=WEB", Some(&cookie))
            .await,
    );
    assert_eq!(got.len(), 76);
    assert!(got
        .iter()
        .all(|k| k["minion_id"].as_str().unwrap().starts_with("web-")));

    // A per-resource role exports only its keys.
    let dbview = user_with(&app, "dbview", &[("view", "key:db-*")]).await;
    let got = ndjson(&app.get("/api/keys/export.ndjson", Some(&dbview)).await);
    assert_eq!(got.len(), 76);
    assert!(got
        .iter()
        .all(|k| k["minion_id"].as_str().unwrap().starts_with("db-")));

    let audited = app.audit_rows("export.keys").await;
    assert_eq!(audited.len(), 3);
    let args: Value = serde_json::from_str(audited[1].2.as_deref().unwrap()).unwrap();
    assert_eq!(
        (&args["format"], &args["q"]),
        (&json!("ndjson"), &json!("web"))
    );
    assert_eq!(audited[2].3.as_deref(), Some("dbview"));

    let jobs_only = user_with(&app, "jobsonly", &[("view", "job:*")]).await;
    let long = format!("?q={}", "x".repeat(300));
    refusals(
        &app,
        "/api/keys/export.csv",
        &jobs_only,
        &long,
        "export.keys",
    )
    .await;
}

#[tokio::test]
async fn the_jobs_export_carries_every_page_the_filters_select() {
    let app = TestApp::new().await;
    let now = Utc::now();
    let base = Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap();
    let rows: Vec<JobRow> = (0..260u32)
        .map(|i| {
            // Every 27 s from 08:00: 134 in the 08:xx hour, the rest in the 09:xx hour.
            let t = base + Duration::seconds(i64::from(i) * 27);
            JobRow {
                jid: format!("{}{:06}", t.format("%Y%m%d%H%M%S"), i),
                function: match i % 3 {
                    0 => "cmd.run",
                    1 => "test.ping",
                    _ => "saltutil.find_job",
                }
                .into(),
                target: Some(if i == 7 { "@evil" } else { "web-*" }.into()),
                target_type: Some("glob".into()),
                salt_user: Some("root".into()),
                started_at: t,
                arguments: None,
            }
        })
        .collect();
    halite::server::jobs::store::upsert_jobs(&app.state.db, &rows, now)
        .await
        .unwrap();
    let cookie = app.login_bootstrap_admin().await;

    // Without system jobs (as the page), newest first, all pages.
    let (header, got) = csv_rows(&app.get("/api/jobs/export.csv", Some(&cookie)).await);
    assert_eq!(header[0], "jid");
    let users_jobs: Vec<&JobRow> = rows
        .iter()
        .filter(|r| r.function != "saltutil.find_job")
        .collect();
    assert_eq!(got.len(), users_jobs.len());
    let mut want: Vec<&str> = users_jobs.iter().map(|r| r.jid.as_str()).collect();
    want.sort_unstable_by(|a, b| b.cmp(a));
    let jids: Vec<&str> = got.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(jids, want);
    let target = col(&header, "target");
    assert!(got.iter().any(|r| r[target] == "'@evil"));
    assert!(got.iter().all(|r| r[col(&header, "status")] == "complete"));

    // The search and the system switch, as the page's URL states them.
    let got = ndjson(
        &app.get("/api/jobs/export.ndjson?q=ping&page=2", Some(&cookie))
            .await,
    );
    assert_eq!(got.len(), 87);
    assert!(got.iter().all(|j| j["function"] == "test.ping"));
    let got = ndjson(
        &app.get("/api/jobs/export.ndjson?system=true", Some(&cookie))
            .await,
    );
    assert_eq!(got.len(), 260);

    // A per-resource role: only the jobs its glob names.
    let early = user_with(&app, "early", &[("view", "job:2026112708*")]).await;
    let got = ndjson(
        &app.get("/api/jobs/export.ndjson?system=true", Some(&early))
            .await,
    );
    assert_eq!(got.len(), 134);
    assert!(got
        .iter()
        .all(|j| j["jid"].as_str().unwrap().starts_with("2026112708")));

    let audited = app.audit_rows("export.jobs").await;
    assert_eq!(audited.len(), 4);
    let args: Value = serde_json::from_str(audited[1].2.as_deref().unwrap()).unwrap();
    assert_eq!(args["q"], "ping");

    let keys_only = user_with(&app, "keysonly", &[("view", "key:*")]).await;
    refusals(
        &app,
        "/api/jobs/export.csv",
        &keys_only,
        "?status=lost",
        "export.jobs",
    )
    .await;
    // A job's results need a well-formed JID the caller may view.
    let r = app
        .get("/api/jobs/results/export.csv?jid=nope", Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app
        .get(
            "/api/jobs/results/export.csv?jid=20261127090000000001",
            Some(&early),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

fn event(category: EventCategory, event_type: &str, minion: &str, summary: &str) -> NewActivity {
    NewActivity {
        event: ActivityEvent {
            minion_id: Some(minion.to_string()),
            ..ActivityEvent::new(category, event_type, summary.to_string())
        },
        raw: "{}".into(),
        arguments: None,
        target_type: None,
    }
}

#[tokio::test]
async fn the_activity_export_streams_the_filtered_feed() {
    let app = TestApp::new().await;
    let mut batch = vec![];
    for i in 0..300 {
        let m = format!("{}-{i:03}", if i % 2 == 0 { "web" } else { "db" });
        batch.push(event(
            EventCategory::Minion,
            "minion.start",
            &m,
            &format!("{m} started"),
        ));
        batch.push(event(
            EventCategory::Key,
            "key.accept",
            &m,
            &format!("-{m} key accepted"),
        ));
    }
    halite::server::activity::store::insert_batch(&app.state.db, &batch, Utc::now())
        .await
        .unwrap();
    let cookie = app.login_bootstrap_admin().await;

    // Everything, newest first (ids descending), more rows than any page.
    let (header, got) = csv_rows(&app.get("/api/activity/export.csv", Some(&cookie)).await);
    assert_eq!(got.len(), 600);
    let ids: Vec<i64> = got.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    let summary = col(&header, "summary");
    assert!(got.iter().any(|r| r[summary] == "'-web-000 key accepted"));

    // The category filter and the search.
    let got = ndjson(
        &app.get(
            "/api/activity/export.ndjson?category=minion&q=web-1",
            Some(&cookie),
        )
        .await,
    );
    assert_eq!(got.len(), 50);
    assert!(got.iter().all(|e| e["event_type"] == "minion.start"
        && e["minion_id"].as_str().unwrap().starts_with("web-1")));

    // A role that views only db minions (and no keys) exports only their starts.
    let dbview = user_with(&app, "dbview", &[("view", "minion:db-*")]).await;
    let got = ndjson(&app.get("/api/activity/export.ndjson", Some(&dbview)).await);
    assert_eq!(got.len(), 150);
    assert!(got
        .iter()
        .all(|e| e["category"] == "minion" && e["minion_id"].as_str().unwrap().starts_with("db-")));

    assert_eq!(app.audit_rows("export.activity").await.len(), 3);
    let nobody = user_with(&app, "auditor", &[("view", "audit:*")]).await;
    refusals(
        &app,
        "/api/activity/export.csv",
        &nobody,
        "?category=weather",
        "export.activity",
    )
    .await;
}

#[tokio::test]
async fn templates_and_users_exports_show_what_their_pages_show() {
    let app = TestApp::new().await;
    let cookie = app.login_bootstrap_admin().await;
    app.create_user("bob", "bob-password-1234", &["operator"])
        .await;
    app.create_user("carol", "carol-password-123", &["viewer"])
        .await;
    let id_of = |name: &'static str| {
        let db = app.state.db.clone();
        async move {
            halite::server::users::find_for_login(&db, name)
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let spec = |fun: &str| halite::model::templates::CommandSpec {
        target: "web-*".into(),
        target_type: "glob".into(),
        fun: fun.into(),
        args: vec!["=1+1".into()],
        kwargs: Default::default(),
    };
    let t = halite::server::templates::insert;
    let (admin_id, bob_id) = (id_of("admin").await, id_of("bob").await);
    t(
        &app.state.db,
        &admin_id,
        "mine",
        "",
        &spec("test.ping"),
        false,
    )
    .await
    .unwrap();
    t(&app.state.db, &bob_id, "shared", "", &spec("cmd.run"), true)
        .await
        .unwrap();
    t(
        &app.state.db,
        &bob_id,
        "bobs-own",
        "",
        &spec("cmd.run"),
        false,
    )
    .await
    .unwrap();

    // The admin's own and the shared one, never bob's private one.
    let (header, got) = csv_rows(&app.get("/api/templates/export.csv", Some(&cookie)).await);
    let names: Vec<&str> = got.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["mine", "shared"]);
    assert_eq!(got[1][col(&header, "owner")], "bob");
    assert_eq!(got[0][col(&header, "args")], "[\"=1+1\"]");
    assert_eq!(app.audit_rows("export.templates").await.len(), 1);

    // Users: the page's search and sort, every user, no secret.
    let r = app
        .get(
            "/api/users/export.json?sort=username&dir=desc",
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let got: Vec<Value> = serde_json::from_str(&r.body).unwrap();
    let names: Vec<&str> = got
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["carol", "bob", "admin"]);
    assert!(!r.body.contains("argon2") && !r.body.contains("password_hash"));
    let (header, got) = csv_rows(&app.get("/api/users/export.csv?q=bo", Some(&cookie)).await);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0][col(&header, "roles")], "operator");
    assert_eq!(app.audit_rows("export.users").await.len(), 2);

    let viewer = app.login("carol", "carol-password-123").await;
    refusals(
        &app,
        "/api/users/export.csv",
        &viewer,
        "?active=maybe",
        "export.users",
    )
    .await;
}

#[tokio::test]
async fn the_roles_export_lists_the_roles_and_members_the_caller_may_view() {
    let app = TestApp::new().await;
    let cookie = app.login_bootstrap_admin().await;
    app.create_role("ops-web", &[("run", "minion:web-*"), ("view", "minion:*")])
        .await;
    app.create_role("ops-db", &[("view", "minion:db-*")]).await;
    app.create_role("-cmd", &[("view", "job:*")]).await;
    app.create_user("bob", "bob-password-1234", &["ops-web"])
        .await;
    app.create_user("carol", "carol-password-123", &["ops-web", "ops-db"])
        .await;

    // Every role, by name, with its grants and members; a formula-like name neutralised.
    let (header, got) = csv_rows(
        &app.get("/api/roles/export.csv?sort=name", Some(&cookie))
            .await,
    );
    let names: Vec<&str> = got.iter().map(|r| r[0].as_str()).collect();
    assert!(names.contains(&"'-cmd"), "{names:?}");
    let plain: Vec<&str> = names.iter().copied().filter(|n| *n != "'-cmd").collect();
    assert_eq!(plain, ["admin", "operator", "ops-db", "ops-web", "viewer"]);
    let web = &got[names.iter().position(|n| *n == "ops-web").unwrap()];
    assert_eq!(
        web[col(&header, "permissions")],
        "run:minion:web-* view:minion:*"
    );
    assert_eq!(web[col(&header, "members")], "bob carol");
    assert_eq!(web[col(&header, "builtin")], "false");

    // A role that may view ops-* roles and only the user carol: those roles, carol alone.
    let scoped = user_with(
        &app,
        "rita",
        &[("view", "role:ops-*"), ("view", "user:carol")],
    )
    .await;
    let rows = ndjson(
        &app.get(
            "/api/roles/export.ndjson?q=ops&dir=desc&sort=name",
            Some(&scoped),
        )
        .await,
    );
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ops-web", "ops-db"]);
    assert_eq!(rows[0]["members"], json!(["carol"]));
    assert_eq!(app.audit_rows("export.roles").await.len(), 2);

    let nobody = user_with(&app, "nora", &[("view", "job:*")]).await;
    refusals(
        &app,
        "/api/roles/export.csv",
        &nobody,
        "?sort=colour",
        "export.roles",
    )
    .await;
}

#[tokio::test]
async fn halite_admin_export_writes_a_table_to_standard_output() {
    // SQLite on purpose (the Postgres pass too): the binary opens the file the test app wrote.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/halite.db?mode=rwc", dir.path().display());
    let app = TestApp::with_env(&[("DATABASE_URL", &url)]).await;
    app.create_user("bob", "bob-password-1234", &["operator"])
        .await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_halite"))
            .args(["admin", "export"])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HALITE_DATA_DIR", dir.path())
            .env("DATABASE_URL", &url)
            .env("COOKIE_SECRET", "test-secret-test-secret-test-secret-0001")
            .output()
            .unwrap()
    };
    let out = run(&["users", "q=bo", "--format", "ndjson"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["username"], "bob");
    let out = run(&["users"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("username,display_name,"));
    let audited = app.audit_rows("export.users").await;
    assert_eq!(audited.len(), 2);
    let args: Value = serde_json::from_str(audited[0].2.as_deref().unwrap()).unwrap();
    assert_eq!((&args["via"], &args["q"]), (&json!("cli"), &json!("bo")));

    // The roles and the inventory's packages table are pages too.
    let out = run(&["roles", "--format", "json"]);
    assert!(out.status.success());
    let roles: Value = serde_json::from_slice(&out.stdout).unwrap();
    let operator = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "operator")
        .unwrap();
    assert_eq!(operator["members"], json!(["bob"]));
    let out = run(&["packages"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "name,minions,versions,sources\n"
    );

    // A filter that does not check, an unknown page, a bad format: exit 2 and a message.
    for (args, says) in [
        (&["users", "active=maybe"][..], "active filter"),
        (&["weather"][..], "no page"),
        (&["users", "--format", "xml"][..], "--format"),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
