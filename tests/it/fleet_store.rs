//! Fleet health against a real SQLite file: ingest of the job lookups recorded from the lab
//! (3006, 3007, 3008), idempotency, blocked minions and their replacement, the status rules
//! (SPEC 6.10) computed in SQL, and the server functions and CSV export through the router,
//! scoped to what the caller may view.
use crate::common::TestApp;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use halite::model::fleet::{FleetFilters, HealthStatus};
use halite::model::list::{ListParams, ListQuery};
use halite::salt::events::SaltEvent;
use halite::salt::replies::{first_return, parse_list_job};
use halite::server::db::{JsonText, Ts};
use halite::server::fleet::{ingest, store};
use halite::server::to_text;
use serde_json::{json, Value};
use std::path::Path;

/// (minion, online, its run's job and return, the status it must get)
type Case<'a> = (&'a str, bool, Option<(&'a str, Value)>, HealthStatus);

const VERSIONS: [&str; 3] = ["3006.29", "3007.16", "3008.4"];

fn fixture(version: &str, name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/salt")
        .join(version)
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Insert (or replace) an accepted minion's snapshot row.
async fn minion(app: &TestApp, id: &str, online: bool) {
    halite::with_db!(&app.state.db, p => sqlx::query(
        "INSERT INTO minion_snapshots (minion_id, key_status, online, keys_refreshed_at, \
         presence_refreshed_at) VALUES ($1, 'accepted', $2, $3, $4) ON CONFLICT (minion_id) \
         DO UPDATE SET key_status = excluded.key_status, online = excluded.online, \
         keys_refreshed_at = excluded.keys_refreshed_at, \
         presence_refreshed_at = excluded.presence_refreshed_at",
    )
    .bind(id)
    .bind(online)
    .bind(Ts::now())
    .bind(Ts::now())
    .execute(p)
    .await.map(|r| r.rows_affected()))
    .unwrap();
}

fn jid_at(t: DateTime<Utc>, n: u32) -> String {
    format!("{}{:06}", t.format("%Y%m%d%H%M%S"), n)
}

/// A state return with `pass` passing states, `fail` failing ones and `change` passing ones
/// with changes.
fn state_return(pass: usize, fail: usize, change: usize) -> Value {
    let mut m = serde_json::Map::new();
    for i in 0..pass {
        m.insert(
            format!("file_|-ok{i}_|-/etc/ok{i}_|-managed"),
            json!({"__id__": format!("ok{i}"), "name": format!("/etc/ok{i}"), "result": true,
                   "comment": "File is in the correct state", "changes": {}, "duration": 2.0, "__run_num__": i}),
        );
    }
    for i in 0..fail {
        m.insert(
            format!("pkg_|-bad{i}_|-nginx{i}_|-installed"),
            json!({"__id__": format!("bad{i}"), "name": format!("nginx{i}"), "result": false,
                   "comment": format!("Package nginx{i} failed to install"), "changes": {},
                   "duration": 5.0, "__run_num__": 100 + i}),
        );
    }
    for i in 0..change {
        m.insert(
            format!("service_|-chg{i}_|-svc{i}_|-running"),
            json!({"__id__": format!("chg{i}"), "name": format!("svc{i}"), "result": true,
                   "comment": "Service restarted", "changes": {"svc": true}, "duration": 3.0,
                   "__run_num__": 200 + i}),
        );
    }
    Value::Object(m)
}

/// Write one run for `minion` from `ret` in a job started at `at`.
async fn run(app: &TestApp, minion: &str, jid: &str, ret: &Value) {
    let r = ingest::run_from_return(minion, jid, "state.apply", ret, None).expect("a state run");
    ingest::write_runs(&app.state.db, &[r], Utc::now())
        .await
        .unwrap();
    ingest::refresh_jobs(&app.state.db, &[jid.to_string()], 0, false, Utc::now())
        .await
        .unwrap();
}

fn all_rows() -> ListQuery<FleetFilters> {
    ListParams::<FleetFilters>::default().try_into().unwrap()
}

#[tokio::test]
async fn lab_recordings_ingest_with_the_right_counts() {
    for v in VERSIONS {
        let app = TestApp::new().await;
        let db = &app.state.db;
        let detail =
            parse_list_job(first_return(&fixture(v, "list_job_highstate.json")).unwrap()).unwrap();
        // The recordings are days old: read them as of an hour after the job.
        let now = ingest::jid_time(&detail.summary.jid).unwrap() + Duration::hours(1);
        let r = ingest::ingest_job(
            db,
            &detail.summary.jid,
            "state.apply",
            &detail,
            true,
            Utc::now(),
        )
        .await
        .unwrap();
        assert_eq!(
            (r.written, r.blocked, r.skipped, r.missing),
            (4, 0, 0, 0),
            "{v}"
        );
        assert!(r.complete, "{v}");
        // The same lookup again writes nothing (idempotent on minion and JID).
        let again = ingest::ingest_job(
            db,
            &detail.summary.jid,
            "state.apply",
            &detail,
            true,
            Utc::now(),
        )
        .await
        .unwrap();
        assert_eq!(again.written, 0, "{v}");
        let n: i64 =
            halite::with_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM highstate_runs")
            .fetch_one(p)
            .await)
            .unwrap();
        assert_eq!(n, 4, "{v}");

        // broken-01 fails its two lab-broken states; the web minions always change one state.
        let (rows, total, counts) = store::list(db, &all_rows(), &None, now).await.unwrap();
        assert_eq!(total, 4, "{v}");
        let by = |id: &str| rows.iter().find(|r| r.minion_id == id).unwrap().clone();
        let broken = by("broken-01");
        assert_eq!(broken.status, HealthStatus::Unhealthy, "{v}");
        assert_eq!(broken.fail_count, 2, "{v}");
        assert_eq!(by("web-01").status, HealthStatus::Changed, "{v}");
        assert_eq!(by("web-01").fail_count, 0, "{v}");
        assert!(by("web-01").change_count >= 1, "{v}");
        assert_eq!((counts.unhealthy, counts.changed), (1, 3), "{v}");
        // Worst first by default.
        assert_eq!(rows[0].minion_id, "broken-01", "{v}");

        let top = store::top_failures(db, &None, 10).await.unwrap();
        let ids: Vec<&str> = top.iter().map(|t| t.state_id.as_str()).collect();
        assert!(
            ids.contains(&"lab-broken-command") && ids.contains(&"lab-broken-test"),
            "{v}: {ids:?}"
        );
        let test = top
            .iter()
            .find(|t| t.state_id == "lab-broken-test")
            .unwrap();
        assert_eq!(
            (test.fun.as_str(), test.minions, test.comment.as_str()),
            ("test.fail_without_changes", 1, "Failure!"),
            "{v}"
        );

        let buckets = store::compliance(db, &None, 30).await.unwrap();
        assert_eq!(buckets.len(), 1, "{v}");
        let b = &buckets[0];
        assert_eq!(
            (b.minions, b.passed, b.changed, b.failed, b.blocked),
            (4, 0, 3, 1, 0),
            "{v}"
        );

        // The run detail parses the kept raw return, failing states first.
        let (summary, raw) = store::run(db, broken.run_id.as_deref().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(summary.minion_id, "broken-01");
        let states = halite::server::jobs::highstate::parse_state_return(
            &serde_json::from_str(&raw.unwrap()).unwrap(),
        );
        assert_eq!(states.rows[0].result, "fail", "{v}");
        assert!(
            states
                .rows
                .iter()
                .any(|s| s.comment.contains("lab: broken on purpose")
                    || s.comment.contains("broken on purpose")),
            "{v}"
        );
    }
}

#[tokio::test]
async fn status_rules_in_sql() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let now = Utc::now();
    let recent = jid_at(now - Duration::hours(1), 1);
    let old = jid_at(now - Duration::days(3), 2);
    // (minion, online, job, return) -> expected status
    let cases: Vec<Case> = vec![
        (
            "healthy-01",
            true,
            Some((&recent, state_return(3, 0, 0))),
            HealthStatus::Healthy,
        ),
        (
            "changed-01",
            true,
            Some((&recent, state_return(3, 0, 1))),
            HealthStatus::Changed,
        ),
        (
            "failing-01",
            true,
            Some((&recent, state_return(3, 1, 1))),
            HealthStatus::Unhealthy,
        ),
        (
            "offline-01",
            false,
            Some((&recent, state_return(3, 0, 0))),
            HealthStatus::Unhealthy,
        ),
        ("offline-02", false, None, HealthStatus::Unhealthy),
        (
            "blocked-01",
            true,
            Some((&recent, json!("Minion did not return. [Not connected]"))),
            HealthStatus::Blocked,
        ),
        // blocked wins over stale (DECISIONS), and a known failure is not hidden by age
        (
            "blocked-02",
            true,
            Some((&old, json!("Minion did not return. [No response]"))),
            HealthStatus::Blocked,
        ),
        (
            "failing-02",
            true,
            Some((&old, state_return(3, 1, 0))),
            HealthStatus::Unhealthy,
        ),
        (
            "stale-01",
            true,
            Some((&old, state_return(3, 0, 0))),
            HealthStatus::Stale,
        ),
        (
            "stale-02",
            true,
            Some((&old, state_return(3, 0, 2))),
            HealthStatus::Stale,
        ),
        ("unknown-01", true, None, HealthStatus::Unknown),
        // test mode: result null counts as a change
        (
            "testmode-01",
            true,
            Some((
                &recent,
                json!({"pkg_|-vim_|-vim_|-installed": {"result": null, "changes": {}, "comment": "would install", "__id__": "vim", "name": "vim"}}),
            )),
            HealthStatus::Changed,
        ),
        (
            "render-01",
            true,
            Some((
                &recent,
                json!(["Rendering SLS 'base:web' failed: Jinja variable 'x' is undefined"]),
            )),
            HealthStatus::Unhealthy,
        ),
    ];
    for (id, online, job, _) in &cases {
        minion(&app, id, *online).await;
        if let Some((jid, ret)) = job {
            run(&app, id, jid, ret).await;
        }
    }
    // A pending key is not in the fleet.
    halite::with_db!(db, p => sqlx::query(
        "INSERT INTO minion_snapshots (minion_id, key_status) VALUES ('new-01', 'pending')",
    )
    .execute(p)
    .await.map(|r| r.rows_affected()))
    .unwrap();
    let (rows, total, counts) = store::list(db, &all_rows(), &None, now).await.unwrap();
    assert_eq!(total as usize, cases.len());
    for (id, _, _, want) in &cases {
        let got = rows.iter().find(|r| r.minion_id == *id).unwrap().status;
        assert_eq!(got, *want, "{id}");
        assert_eq!(
            store::status_of(db, id, now).await.unwrap(),
            Some(*want),
            "{id}"
        );
    }
    assert_eq!(store::status_of(db, "new-01", now).await.unwrap(), None);
    assert_eq!(
        (
            counts.unhealthy,
            counts.blocked,
            counts.stale,
            counts.unknown
        ),
        (5, 2, 2, 1)
    );
    assert_eq!((counts.healthy, counts.changed), (1, 2));

    // Filters: status, failing state, search; sort by failures.
    let q = |status: &str, failing: &str, q: &str, sort: &str| -> ListQuery<FleetFilters> {
        ListParams {
            q: q.into(),
            sort: sort.into(),
            dir: "desc".into(),
            page: 0,
            per_page: 0,
            filters: FleetFilters {
                status: status.into(),
                failing: failing.into(),
            },
        }
        .try_into()
        .unwrap()
    };
    let (rows, total, _) = store::list(db, &q("stale", "", "", ""), &None, now)
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert!(rows.iter().all(|r| r.status == HealthStatus::Stale));
    let (rows, _, counts) = store::list(db, &q("", "bad0", "", ""), &None, now)
        .await
        .unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r.minion_id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["failing-02", "failing-01"],
        "desc by severity then id"
    );
    assert_eq!(counts.all(), 2);
    let (rows, _, _) = store::list(db, &q("", "", "stale", "failures"), &None, now)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let (rows, _, _) = store::list(db, &q("", "", "", "failures"), &None, now)
        .await
        .unwrap();
    assert_eq!(rows[0].fail_count, 1);

    // Only the minions a scoped caller may view.
    let globs = Some(vec!["minion:stale-*".to_string()]);
    let (rows, total, _) = store::list(db, &all_rows(), &globs, now).await.unwrap();
    assert_eq!(total, 2);
    assert!(rows.iter().all(|r| r.minion_id.starts_with("stale-")));
    assert_eq!(store::counts(db, &globs, now).await.unwrap().all(), 2);
    assert_eq!(store::tiles(db, &globs, now).await.unwrap().len(), 2);
    let top = store::top_failures(db, &globs, 10).await.unwrap();
    assert!(top.is_empty(), "stale minions fail nothing: {top:?}");
    let buckets = store::compliance(db, &globs, 30).await.unwrap();
    assert_eq!(buckets.len(), 1, "only the old job has stale-* runs");
    assert_eq!(buckets[0].minions, 2);
}

#[tokio::test]
async fn missing_minions_block_only_once_the_job_ended_and_a_real_return_replaces_them() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let v = "3008.4";
    let mut detail =
        parse_list_job(first_return(&fixture(v, "list_job_highstate.json")).unwrap()).unwrap();
    let web02 = detail.results.remove("web-02").unwrap();
    let now = ingest::jid_time(&detail.summary.jid).unwrap() + Duration::hours(1);
    // Still running: web-02 is missing, not blocked, and the job is not complete.
    let r = ingest::ingest_job(
        db,
        &detail.summary.jid,
        "state.apply",
        &detail,
        false,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(
        (r.written, r.blocked, r.missing, r.complete),
        (3, 0, 1, false)
    );
    // Ended: web-02 is blocked with zero counts.
    let r = ingest::ingest_job(
        db,
        &detail.summary.jid,
        "state.apply",
        &detail,
        true,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!((r.written, r.blocked, r.complete), (1, 1, true));
    let (rows, _, _) = store::list(db, &all_rows(), &None, now).await.unwrap();
    let w = rows.iter().find(|r| r.minion_id == "web-02").unwrap();
    assert_eq!((w.status, w.total_count), (HealthStatus::Blocked, 0));
    // Its return arrives late as an event: the real run replaces the blocked placeholder.
    let ev = SaltEvent {
        tag: format!("salt/job/{}/ret/web-02", detail.summary.jid),
        data: json!({"fun": "state.apply", "id": "web-02", "jid": detail.summary.jid,
                     "return": web02.ret, "retcode": 0, "success": true,
                     "_stamp": "2026-11-27T08:49:31.000000"}),
    };
    let live = ingest::run_from_event(&ev).expect("a state run event");
    assert_eq!(
        ingest::write_live(db, std::slice::from_ref(&live), Utc::now())
            .await
            .unwrap(),
        1
    );
    let (rows, _, _) = store::list(db, &all_rows(), &None, now).await.unwrap();
    let w = rows.iter().find(|r| r.minion_id == "web-02").unwrap();
    assert_eq!(w.status, HealthStatus::Changed);
    assert_eq!(to_text(w.completed_at.unwrap()), "2026-11-27T08:49:31.000Z");
    // ...and a second copy of the same event changes nothing.
    assert_eq!(
        ingest::write_live(db, &[live], Utc::now()).await.unwrap(),
        0
    );
    let job: (i64, i64, i64) =
        halite::with_db!(db, p => sqlx::query_as("SELECT minions, changed, blocked FROM highstate_jobs WHERE jid = $1")
            .bind(&detail.summary.jid)
            .fetch_one(p)
            .await)
            .unwrap();
    assert_eq!(job, (4, 3, 0));
    // Events of other functions are not runs.
    let ping = SaltEvent {
        tag: "salt/job/20261127084927485894/ret/web-01".into(),
        data: json!({"fun": "test.ping", "return": true}),
    };
    assert!(ingest::run_from_event(&ping).is_none());
}

#[tokio::test]
async fn server_functions_and_export_are_scoped_and_validated() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let now = Utc::now();
    let jid = jid_at(now - Duration::minutes(30), 7);
    for (id, ret) in [
        ("web-01", state_return(5, 1, 0)),
        ("web-02", state_return(5, 0, 1)),
        ("db-01", state_return(5, 2, 0)),
    ] {
        minion(&app, id, true).await;
        run(&app, id, &jid, &ret).await;
    }
    let admin = app.login_bootstrap_admin().await;
    app.create_role("webview", &[("view", "minion:web-*")])
        .await;
    app.create_user("wendy", "wendy-password-1", &["webview"])
        .await;
    let wendy = app.login("wendy", "wendy-password-1").await;

    let r = app.call("fleet/list", &[], Some(&admin)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let j = r.json();
    assert_eq!(j["total"], 3);
    assert_eq!(j["counts"]["unhealthy"], 2);
    assert_eq!(j["rows"][0]["minion_id"], "db-01");

    let r = app.call("fleet/list", &[], Some(&wendy)).await;
    let j = r.json();
    assert_eq!(j["total"], 2, "{}", r.body);
    assert!(!r.body.contains("db-01"));

    for (k, v) in [
        ("status", "green"),
        ("per_page", "7"),
        ("sort", "nope"),
        ("failing", "a\u{1}b"),
    ] {
        let r = app.call("fleet/list", &[(k, v)], Some(&admin)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{k}={v}: {}",
            r.body
        );
    }
    let r = app.call("fleet/list", &[], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let r = app
        .call("fleet/summary", &[("tiles", "true")], Some(&wendy))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let j = r.json();
    assert_eq!(j["tiles"].as_array().unwrap().len(), 2);
    assert_eq!(j["top_failures"][0]["state_id"], "bad0");
    assert_eq!(
        j["top_failures"][0]["minions"], 1,
        "db-01's failure is not counted for wendy"
    );
    assert_eq!(j["compliance"][0]["minions"], 2);
    assert_eq!(
        j["poller_enabled"], true,
        "a fresh install turns the fleet poller on"
    );
    let p = halite::server::settings::load_view(db)
        .await
        .unwrap()
        .pollers;
    assert_eq!(
        (
            p.jobs_poll_interval_seconds,
            p.event_stream_enabled,
            p.fleet_poll_interval_seconds
        ),
        (60, true, 120),
        "fresh-install defaults (DECISIONS)"
    );
    let r = app
        .call("fleet/summary", &[("runs", "201")], Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // One run: allowed on web-01, an audited 403 on db-01, 404 unknown, 422 malformed.
    let run_of = |m: &str| {
        let m = m.to_string();
        async move {
            halite::with_db!(db, p => sqlx::query_scalar::<_, String>(
                "SELECT run_id FROM minion_latest_run WHERE minion_id = $1",
            )
            .bind(m)
            .fetch_one(p)
            .await)
            .unwrap()
        }
    };
    let web = run_of("web-01").await;
    let r = app.call("fleet/run", &[("id", &web)], Some(&wendy)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let j = r.json();
    assert_eq!(j["run"]["minion_id"], "web-01");
    assert_eq!(j["states"]["rows"][0]["result"], "fail");
    assert_eq!(
        j["states"]["rows"][0]["comment"],
        "Package nginx0 failed to install"
    );
    let dbrun = run_of("db-01").await;
    let r = app.call("fleet/run", &[("id", &dbrun)], Some(&wendy)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(app.audit_rows("permission.denied").await.len(), 1);
    let r = app
        .call(
            "fleet/run",
            &[("id", "00000000-0000-4000-8000-000000000000")],
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call("fleet/run", &[("id", "../etc")], Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    let r = app
        .call("minions/runs", &[("id", "web-02")], Some(&wendy))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let j = r.json();
    assert_eq!(
        (j["total"].as_i64(), j["status"].as_str()),
        (Some(1), Some("changed"))
    );
    let r = app
        .call("minions/runs", &[("id", "db-01")], Some(&wendy))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            "minions/runs",
            &[("id", "web-02"), ("limit", "500")],
            Some(&wendy),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // CSV export: the same filters, scoped, formula cells neutralised.
    let r = app
        .get("/api/fleet/export.csv?status=unhealthy", Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let lines: Vec<&str> = r.body.lines().collect();
    assert!(lines[0].starts_with("minion_id,online,status,run_id"));
    assert_eq!(lines.len(), 3, "{}", r.body);
    let r = app.get("/api/fleet/export.csv", Some(&wendy)).await;
    assert_eq!(r.body.lines().count(), 3);
    assert!(!r.body.contains("db-01"));
    let r = app
        .get("/api/fleet/export.csv?status=nope", Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.get("/api/fleet/export.csv", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // JSON: the same rows as objects; each export audited with its filters.
    let r = app
        .get("/api/fleet/export.json?status=unhealthy", Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let audited = app.audit_rows("export.fleet").await;
    assert_eq!(audited.len(), 3);
    let args: serde_json::Value = serde_json::from_str(audited[2].2.as_deref().unwrap()).unwrap();
    assert_eq!(
        (&args["format"], &args["status"]),
        (&serde_json::json!("json"), &serde_json::json!("unhealthy"))
    );
}

#[tokio::test]
async fn timeline_state_bars_get_width_colour_and_counts() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let now = Utc::now();
    let t = now - Duration::minutes(40);
    let jid = jid_at(t, 9);
    halite::with_db!(db, p => sqlx::query(
        "INSERT INTO jobs_index (jid, function, target, target_type, salt_user, started_at, seen_at, arguments) \
         VALUES ($1, 'state.apply', '*', 'glob', 'halite', $2, $3, $4)",
    )
    .bind(&jid)
    .bind(Ts(t))
    .bind(Ts(now))
    .bind(JsonText("[]".into()))
    .execute(p)
    .await.map(|r| r.rows_affected()))
    .unwrap();
    for (id, ret) in [
        ("a-01", state_return(2, 1, 0)),
        ("a-02", state_return(2, 0, 0)),
    ] {
        run(&app, id, &jid, &ret).await;
    }
    let runs = halite::server::jobs::timeline::state_runs(db, now - Duration::hours(1), now)
        .await
        .unwrap();
    let (completed, minions, failed, _, _) = runs[&jid];
    assert_eq!((minions, failed), (2, 1));
    assert!(
        completed > ingest::jid_time(&jid).unwrap(),
        "start + the states' durations"
    );
    let admin = app.login_bootstrap_admin().await;
    // The jobs poller has not run in this process: mark the cache known so bars are finished.
    app.state.runtime.jobs().set_active(Default::default(), now);
    let r = app
        .call("timeline/get", &[("window", "1h")], Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let bar = r.json()["groups"][0]["bars"][0].clone();
    assert_eq!(bar["jid"], jid.as_str());
    assert_eq!(bar["status"], "failed");
    assert_eq!(bar["minion_count"], 2);
    assert_eq!(bar["failed_minion_count"], 1);
    assert!(bar["completed_at"].is_string());
}

#[tokio::test]
async fn the_job_cache_overrides_events_and_hostile_returns_are_contained() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let detail =
        parse_list_job(first_return(&fixture("3008.4", "list_job_highstate.json")).unwrap())
            .unwrap();
    let jid = detail.summary.jid.clone();
    // An event claiming web-01 passed everything, sent by web-01 itself.
    let forged = |id: &str| SaltEvent {
        tag: format!("salt/job/{jid}/ret/web-01"),
        data: json!({"fun": "state.apply", "id": id, "jid": jid,
                     "return": state_return(1, 0, 0), "_stamp": "2026-11-27T08:49:31.000000"}),
    };
    // The sender must be the minion the tag names.
    assert!(ingest::run_from_event(&forged("db-01")).is_none());
    let ev = ingest::run_from_event(&forged("web-01")).unwrap();
    assert_eq!(ingest::write_live(db, &[ev], Utc::now()).await.unwrap(), 1);
    let changes = || async {
        halite::with_db!(db, p => sqlx::query_scalar::<_, i64>(
            "SELECT change_count FROM highstate_runs WHERE minion_id = 'web-01' AND jid = $1",
        )
        .bind(&jid)
        .fetch_one(p)
        .await)
        .unwrap()
    };
    assert_eq!(changes().await, 0);
    // The job cache's answer replaces what the event wrote, once.
    let r = ingest::ingest_job(db, &jid, "state.apply", &detail, true, Utc::now())
        .await
        .unwrap();
    assert_eq!(r.written, 4);
    assert!(
        changes().await >= 1,
        "web-01 always reports a change in the lab"
    );
    let r = ingest::ingest_job(db, &jid, "state.apply", &detail, true, Utc::now())
        .await
        .unwrap();
    assert_eq!(r.written, 0);

    // Absurd durations do not overflow; a huge return keeps only its notable states; a run
    // failing hundreds of states keeps 50 of them and the exact count.
    let jid2 = "20261127090000000001";
    let mut big = serde_json::Map::new();
    for i in 0..400 {
        big.insert(
            format!("cmd_|-s{i}_|-{}_|-run", "x".repeat(300)),
            json!({"__id__": format!("s{i}"), "name": "x".repeat(if i == 1 { 900 } else { 300 }),
                   "result": i % 2 == 0, "comment": "c".repeat(if i == 1 { 3000 } else { 300 }),
                   "changes": {}, "duration": if i == 0 { 1e300 } else { -5.0 }}),
        );
    }
    let run =
        ingest::run_from_return("big-01", jid2, "state.apply", &Value::Object(big), None).unwrap();
    assert_eq!(
        (run.fail_count, run.pass_count, run.total_count),
        (200, 200, 400)
    );
    assert_eq!(run.failures.len(), ingest::MAX_FAILURES);
    assert!(run
        .failures
        .iter()
        .all(|f| f.name.chars().count() <= 513 && f.comment.chars().count() <= 2001));
    assert!(run.completed_at >= run.started_at);
    let raw = run.raw.as_deref().expect("the failing states fit");
    assert!(raw.len() <= ingest::MAX_RAW);
    assert_eq!(
        serde_json::from_str::<Value>(raw)
            .unwrap()
            .as_object()
            .unwrap()
            .len(),
        200
    );
    assert_eq!(ingest::write_runs(db, &[run], Utc::now()).await.unwrap(), 1);
    // Salt refusing a run while another one runs is blocked, not a render error.
    let busy = ingest::run_from_return("busy-01", jid2, "state.apply",
        &json!(["The function \"state.apply\" is running as PID 4242 and was started at 2026, Nov 27 09:00:00.000001 with jid 20261127090000000001"]), None).unwrap();
    assert!(busy.blocked && !busy.render_error);
}

#[tokio::test]
async fn recorded_render_errors_test_mode_missing_minions_and_ret_events() {
    for v in VERSIONS {
        let app = TestApp::new().await;
        let db = &app.state.db;
        // Render error: a failed run, with Salt's message as the failure.
        let d = parse_list_job(first_return(&fixture(v, "list_job_render_error.json")).unwrap())
            .unwrap();
        let jid = d.summary.jid.clone();
        let r = ingest::ingest_job(db, &jid, "state.sls", &d, true, Utc::now())
            .await
            .unwrap();
        assert_eq!((r.written, r.skipped), (1, 0), "{v}");
        let (render, fail, total): (bool, i64, i64) = halite::with_db!(db, p => sqlx::query_as(
            "SELECT render_error, fail_count, total_count FROM highstate_runs WHERE jid = $1",
        )
        .bind(&jid)
        .fetch_one(p)
        .await)
        .unwrap();
        assert!(render, "{v}");
        assert_eq!((fail, total), (1, 1), "{v}");
        let comment: String =
            halite::with_db!(db, p => sqlx::query_scalar("SELECT comment FROM highstate_failures WHERE minion_id = 'web-01'")
                .fetch_one(p)
                .await)
                .unwrap();
        assert!(
            comment.starts_with("Rendering SLS 'base:lab.render_error' failed"),
            "{v}: {comment}"
        );

        // A stopped minion: listed in Minions, absent from Result -> missing, then blocked.
        let d = parse_list_job(first_return(&fixture(v, "list_job_not_returned.json")).unwrap())
            .unwrap();
        let jid = d.summary.jid.clone();
        let r = ingest::ingest_job(db, &jid, "state.apply", &d, false, Utc::now())
            .await
            .unwrap();
        assert_eq!((r.written, r.missing, r.complete), (1, 1, false), "{v}");
        let r = ingest::ingest_job(db, &jid, "state.apply", &d, true, Utc::now())
            .await
            .unwrap();
        assert_eq!((r.written, r.blocked, r.complete), (1, 1, true), "{v}");

        // Test mode: `result: null` counts as a change; broken-01 still fails.
        let replies = first_return(&fixture(v, "state_apply_test.json")).unwrap();
        let tjid = "20261127090000000002";
        let web = ingest::run_from_return("web-01", tjid, "state.apply", &replies["web-01"], None)
            .unwrap();
        assert_eq!(web.fail_count, 0, "{v}");
        assert!(web.change_count >= 1, "{v}");
        let broken = ingest::run_from_return(
            "broken-01",
            tjid,
            "state.apply",
            &replies["broken-01"],
            None,
        )
        .unwrap();
        assert!(broken.fail_count >= 1, "{v}");

        // The live path: the recorded ret event of a state.apply becomes a run from the event.
        let raw = fixture(v, "events_state_ret.txt");
        let events = halite::salt::events::SseParser::default().push(raw.as_bytes());
        let runs: Vec<_> = events.iter().filter_map(ingest::run_from_event).collect();
        assert_eq!(runs.len(), 1, "{v}");
        assert_eq!(runs[0].minion_id, "web-01", "{v}");
        assert_eq!(runs[0].source, ingest::Source::Event, "{v}");
        // Its completion is the event's own time (`_stamp`), not start + durations.
        let ret = events.iter().find(|e| e.tag.contains("/ret/")).unwrap();
        let stamp = ret.data["_stamp"].as_str().unwrap();
        assert_eq!(to_text(runs[0].completed_at)[..19], stamp[..19], "{v}");
        assert!(runs[0].total_count >= 2 && runs[0].change_count >= 1, "{v}");
        assert_eq!(
            ingest::write_live(db, &runs, Utc::now()).await.unwrap(),
            1,
            "{v}"
        );

        // ...and the render error's ret event a failed run.
        let raw = fixture(v, "events_state_render_error.txt");
        let events = halite::salt::events::SseParser::default().push(raw.as_bytes());
        let runs: Vec<_> = events.iter().filter_map(ingest::run_from_event).collect();
        assert_eq!(runs.len(), 1, "{v}");
        assert!(runs[0].render_error && runs[0].fail_count == 1, "{v}");
        assert_eq!(runs[0].fun, "state.sls", "{v}");
    }
}
