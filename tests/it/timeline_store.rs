//! Timeline and job-activity reads over `jobs_index` (rows inserted directly), through the real
//! router and server functions, against a real database.

use crate::common::TestApp;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use halite::app::api::timeline::validate_timeline_args;
use halite::server::db::Ts;
use halite::server::jobs::timeline;
use halite::server::to_text;
use serde_json::Value;
use std::collections::HashSet;

/// A 20-digit JID for `t` whose last digits are `n` (unique per test).
fn jid_at(t: DateTime<Utc>, n: u32) -> String {
    format!("{}{:06}", t.format("%Y%m%d%H%M%S"), n)
}

/// Insert one job started `ago` before `now`; returns its JID.
async fn job(
    app: &TestApp,
    now: DateTime<Utc>,
    ago: Duration,
    n: u32,
    function: &str,
    user: Option<&str>,
) -> String {
    let t = now - ago;
    let jid = jid_at(t, n);
    halite::with_db!(&app.state.db, p => {
            sqlx::query(
            "INSERT INTO jobs_index (jid, function, target, target_type, salt_user, started_at, seen_at, arguments) \
             VALUES ($1, $2, 'web-*', 'glob', $3, $4, $5, '[]')",
        )
        .bind(&jid)
        .bind(function)
        .bind(user)
        .bind(Ts(t))
        .bind(Ts(now))
        .execute(p)
        .await
        .unwrap();
    });
    jid
}

/// The jobs poller and the event stream off (a fresh install has them on), as an operator who
/// switched them off has it: the Timeline's "not running" state.
async fn pollers_off(app: &TestApp) {
    halite::with_db!(&app.state.db, p => {
            sqlx::query(
            "UPDATE app_settings SET jobs_poll_interval_seconds = 0, event_stream_enabled = FALSE",
        )
        .execute(p)
        .await
        .unwrap();
    });
}

/// The fixture most tests share; returns the JIDs by name.
async fn seed(app: &TestApp, now: DateTime<Utc>) -> Vec<(&'static str, String)> {
    let m = Duration::minutes;
    let h = Duration::hours;
    let mut out = vec![];
    for (name, ago, n, f, u) in [
        ("ping1", m(10), 1, "test.ping", Some("root")),
        ("ping2", m(20), 2, "test.ping", Some("root")),
        ("ping3", m(30), 3, "test.ping", Some("root")),
        ("state1", h(2), 4, "state.apply", Some("halite")),
        ("state2", h(3), 5, "state.highstate", Some("halite")),
        ("cmd", h(5), 6, "cmd.run", Some("alice")),
        ("nouser", h(6), 7, "grains.items", None),
        ("present", m(15), 8, "runner.manage.present", Some("halite")),
        ("findjob", m(25), 9, "saltutil.find_job", Some("root")),
        ("old", h(30), 10, "test.ping", Some("root")),
        ("ancient", h(24 * 8), 11, "pkg.install", Some("root")),
    ] {
        out.push((name, job(app, now, ago, n, f, u).await));
    }
    out
}

async fn admin(app: &TestApp) -> String {
    halite::with_db!(&app.state.db, p => {
            sqlx::query("UPDATE users SET must_change_pw = FALSE")
            .execute(p)
            .await
            .unwrap();
    });
    app.login("admin", "changeme").await
}

async fn get(app: &TestApp, cookie: &str, form: &[(&str, &str)]) -> Value {
    let r = app.call("timeline/get", form, Some(cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{form:?}: {}", r.body);
    r.json()
}

fn keys(v: &Value) -> Vec<String> {
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap().to_string())
        .collect()
}

fn bar_jids(v: &Value) -> HashSet<String> {
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["bars"].as_array().unwrap().iter())
        .map(|b| b["jid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn windows_system_jobs_grouping_and_filters() {
    let app = TestApp::new().await;
    pollers_off(&app).await;
    let now = Utc::now();
    let jids = seed(&app, now).await;
    let jid = |name: &str| jids.iter().find(|j| j.0 == name).unwrap().1.clone();
    let cookie = admin(&app).await;

    // Default: 24 h, by function, system jobs hidden; busiest group first, ties by name.
    let v = get(&app, &cookie, &[]).await;
    assert_eq!(v["window"], "24h");
    assert_eq!(v["group_by"], "function");
    assert_eq!(v["total_bars"], 7);
    assert_eq!(v["truncated"], false);
    assert_eq!(
        keys(&v),
        [
            "test.ping",
            "cmd.run",
            "grains.items",
            "state.apply",
            "state.highstate"
        ]
    );
    let g0 = &v["groups"][0];
    assert_eq!(
        (g0["bar_count"].as_i64(), g0["category"].as_str()),
        (Some(3), Some("test"))
    );
    let started: Vec<&str> = g0["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["started_at"].as_str().unwrap())
        .collect();
    assert!(
        started.windows(2).all(|w| w[0] <= w[1]),
        "bars oldest first"
    );
    assert_eq!(g0["bars"][0]["jid"], jid("ping3"));
    assert_eq!(g0["bars"][0]["target"], "web-*");
    assert_eq!(g0["bars"][0]["user"], "root");
    assert_eq!(v["groups"][1]["category"], "cmd");
    assert_eq!(v["groups"][2]["category"], "other");
    assert_eq!(v["groups"][3]["category"], "state");
    let (start, end) = (
        v["window_start"].as_str().unwrap(),
        v["window_end"].as_str().unwrap(),
    );
    let span = halite::server::from_text(end).unwrap() - halite::server::from_text(start).unwrap();
    assert_eq!(span, Duration::hours(24));
    // Nothing polled yet: statuses unknown, and the poller is off.
    assert_eq!(v["active_known"], false);
    assert_eq!(v["poller_enabled"], false);
    assert!(v["last_polled_at"].is_null());
    assert_eq!(g0["bars"][0]["status"], "unknown");

    // Windows.
    let v = get(&app, &cookie, &[("window", "1h")]).await;
    assert_eq!(
        bar_jids(&v),
        HashSet::from([jid("ping1"), jid("ping2"), jid("ping3")])
    );
    let v = get(&app, &cookie, &[("window", "4h")]).await;
    assert_eq!(v["total_bars"], 5);
    let v = get(&app, &cookie, &[("window", "7d")]).await;
    assert_eq!(
        v["total_bars"], 8,
        "the 30 h old ping, not the 8 day old one"
    );
    assert!(bar_jids(&v).contains(&jid("old")) && !bar_jids(&v).contains(&jid("ancient")));

    // System jobs only on request.
    let v = get(&app, &cookie, &[("include_system", "true")]).await;
    assert_eq!(v["total_bars"], 9);
    let runner = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "runner.manage.present")
        .unwrap();
    assert_eq!(runner["category"], "runner");
    assert!(bar_jids(&v).contains(&jid("findjob")));

    // By user: the job without a user gets its own readable row.
    let v = get(&app, &cookie, &[("group_by", "user")]).await;
    assert_eq!(keys(&v), ["root", "halite", "", "alice"].map(String::from));
    let labels: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels[2], timeline::NO_USER_LABEL);
    assert_eq!(v["groups"][1]["category"], "state");

    // Function filter: case-insensitive substring, LIKE wildcards literal.
    let v = get(&app, &cookie, &[("function_filter", "STATE.")]).await;
    assert_eq!(bar_jids(&v), HashSet::from([jid("state1"), jid("state2")]));
    let v = get(&app, &cookie, &[("function_filter", "t_p")]).await;
    assert_eq!(v["total_bars"], 0, "_ is not a wildcard");
    let v = get(&app, &cookie, &[("function_filter", "%")]).await;
    assert_eq!(v["total_bars"], 0);
    // User: exact match.
    let v = get(&app, &cookie, &[("user", "root")]).await;
    assert_eq!(v["total_bars"], 3);
    let v = get(&app, &cookie, &[("user", "ROOT")]).await;
    assert_eq!(v["total_bars"], 0);
    let v = get(
        &app,
        &cookie,
        &[
            ("user", "root"),
            ("include_system", "true"),
            ("group_by", "user"),
        ],
    )
    .await;
    assert_eq!(v["total_bars"], 4);
    assert_eq!(keys(&v), ["root"]);

    // After a poll: running from the active cache, finished state jobs "complete", others "pass".
    halite::with_db!(&app.state.db, p => {
            sqlx::query("UPDATE app_settings SET jobs_poll_interval_seconds = 60")
            .execute(p)
            .await
            .unwrap();
    });
    app.state
        .runtime
        .jobs()
        .set_active(HashSet::from([jid("ping1")]), Utc::now());
    let v = get(&app, &cookie, &[]).await;
    assert_eq!(v["active_known"], true);
    assert_eq!(v["poller_enabled"], true);
    assert!(v["last_polled_at"].is_string());
    let status = |v: &Value, j: &str| -> String {
        v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["bars"].as_array().unwrap().iter())
            .find(|b| b["jid"] == j)
            .unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status(&v, &jid("ping1")), "running");
    assert_eq!(status(&v, &jid("ping2")), "pass");
    assert_eq!(status(&v, &jid("state1")), "complete");
}

#[tokio::test]
async fn bad_arguments_are_clear_4xx() {
    let app = TestApp::new().await;
    let cookie = admin(&app).await;
    let long_fn = "f".repeat(129);
    let long_user = "u".repeat(256);
    for bad in [
        vec![("window", "3h")],
        vec![("window", "24H")],
        vec![("group_by", "minion")],
        vec![("include_system", "maybe")],
        vec![("function_filter", long_fn.as_str())],
        vec![("user", long_user.as_str())],
        vec![("user", "a\u{7}b")],
    ] {
        let r = app.call("timeline/get", &bad, Some(&cookie)).await;
        assert_eq!(r.status.as_u16(), 422, "{bad:?}: {}", r.body);
        assert!(r.body.contains("Invalid"), "{}", r.body);
    }
    let r = app
        .call("timeline/get", &[("window", "2d")], Some(&cookie))
        .await;
    assert!(
        r.body.contains("1h, 4h, 24h, 7d"),
        "the message names the choices: {}",
        r.body
    );
    for bad in ["0", "169", "-1", "abc", "1.5"] {
        let r = app
            .call("jobs/activity", &[("hours", bad)], Some(&cookie))
            .await;
        assert_eq!(r.status.as_u16(), 422, "hours={bad}: {}", r.body);
    }
    for ok in ["1", "168"] {
        let r = app
            .call("jobs/activity", &[("hours", ok)], Some(&cookie))
            .await;
        assert_eq!(r.status, StatusCode::OK, "hours={ok}: {}", r.body);
    }
    // Signed out: 401.
    assert_eq!(
        app.call("timeline/get", &[], None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn per_resource_globs_and_denial() {
    let app = TestApp::new().await;
    let now = Utc::now();
    let jids = seed(&app, now).await;
    let db = &app.state.db;
    halite::with_db!(db, p => {
            sqlx::query("INSERT INTO roles (id, name, name_lower, description) VALUES ('r-j', 'some-jobs', 'some-jobs', '')")
            .execute(p)
            .await
            .unwrap();
    });
    // JIDs ending in 1 or 2: ping1, ping2 (and the old and ancient jobs, outside 24 h / 7 d).
    for (id, res) in [("p1", "job:*1"), ("p2", "job:*2"), ("p3", "minion:*")] {
        halite::with_db!(db, p => {
                sqlx::query(
                "INSERT INTO permissions (id, role_id, verb, resource_glob) VALUES ($1, 'r-j', 'view', $2)",
            )
            .bind(id)
            .bind(res)
            .execute(p)
            .await
            .unwrap();
        });
    }
    app.create_user("jo", "jo-password-1", &["some-jobs"]).await;
    let c = app.login("jo", "jo-password-1").await;
    let v = get(&app, &c, &[]).await;
    let want: HashSet<String> = jids
        .iter()
        .filter(|j| j.0 == "ping1" || j.0 == "ping2")
        .map(|j| j.1.clone())
        .collect();
    assert_eq!(bar_jids(&v), want);
    let a = app.call("jobs/activity", &[], Some(&c)).await.json();
    assert_eq!(a["total"], 2);
    // Running: only visible JIDs count.
    let ping1 = jids.iter().find(|j| j.0 == "ping1").unwrap().1.clone();
    let ping3 = jids.iter().find(|j| j.0 == "ping3").unwrap().1.clone();
    app.state
        .runtime
        .jobs()
        .set_active(HashSet::from([ping1, ping3]), Utc::now());
    let a = app.call("jobs/activity", &[], Some(&c)).await.json();
    assert_eq!(a["running"], 1);
    let o = app.call("overview/summary", &[], Some(&c)).await.json();
    assert_eq!(o["jobs"]["running"], 1);
    assert_eq!(o["jobs"]["total"], 2);

    // No job view at all: 403 for both, audited; the Overview just leaves the job tiles empty.
    halite::with_db!(db, p => {
            sqlx::query("INSERT INTO roles (id, name, name_lower, description) VALUES ('r-m', 'minions-only', 'minions-only', '')")
            .execute(p)
            .await
            .unwrap();
    });
    halite::with_db!(db, p => {
            sqlx::query("INSERT INTO permissions (id, role_id, verb, resource_glob) VALUES ('p9', 'r-m', 'view', 'minion:*')")
            .execute(p)
            .await
            .unwrap();
    });
    app.create_user("mo", "mo-password-1", &["minions-only"])
        .await;
    let m = app.login("mo", "mo-password-1").await;
    let r = app.call("timeline/get", &[], Some(&m)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app.call("jobs/activity", &[], Some(&m)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let denied: i64 = halite::with_db!(db, p => {
            sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'permission.denied' AND resource = 'job:*'",
        )
        .fetch_one(p)
        .await
        .unwrap()
    });
    assert_eq!(denied, 2);
    let o = app.call("overview/summary", &[], Some(&m)).await;
    assert_eq!(o.status, StatusCode::OK);
    let o = o.json();
    assert!(o["jobs"].is_null());
    assert!(!o["minions"].is_null());
    // The built-in viewer sees every job.
    app.create_user("vera", "vera-password", &["viewer"]).await;
    let vc = app.login("vera", "vera-password").await;
    assert_eq!(get(&app, &vc, &[]).await["total_bars"], 7);
}

#[tokio::test]
async fn cap_keeps_the_most_recent_jobs() {
    let app = TestApp::new().await;
    let now = Utc::now();
    let total = 2_100u32;
    halite::with_db!(&app.state.db, p => {
        let mut tx = p.begin().await.unwrap();
        for i in 0..total {
            // One every 30 s going back: 2,100 jobs over ~17.5 h.
            let t = now - Duration::seconds(30 * i as i64 + 1);
            sqlx::query(
                "INSERT INTO jobs_index (jid, function, target, started_at, seen_at) VALUES ($1, $2, '*', $3, $4)",
            )
            .bind(jid_at(t, i))
            .bind(if i % 2 == 0 { "test.ping" } else { "cmd.run" })
            .bind(Ts(t))
            .bind(Ts(now))
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    });
    let cookie = admin(&app).await;
    let v = get(&app, &cookie, &[]).await;
    assert_eq!(v["total_bars"], 2_000);
    assert_eq!(v["truncated"], true);
    let jids = bar_jids(&v);
    let newest = jid_at(now - Duration::seconds(1), 0);
    let oldest = jid_at(now - Duration::seconds(30 * 2_099 + 1), 2_099);
    assert!(jids.contains(&newest) && !jids.contains(&oldest));
    // Under the cap: not truncated.
    let v = get(&app, &cookie, &[("window", "1h")]).await;
    assert_eq!(v["total_bars"], 120);
    assert_eq!(v["truncated"], false);
}

#[tokio::test]
async fn activity_buckets_running_and_overview_tiles() {
    let app = TestApp::new().await;
    pollers_off(&app).await;
    let now = Utc::now();
    let jids = seed(&app, now).await;
    let jid = |name: &str| jids.iter().find(|j| j.0 == name).unwrap().1.clone();
    let cookie = admin(&app).await;

    let a = app.call("jobs/activity", &[], Some(&cookie)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = a.json();
    assert_eq!(a["hours"], 24);
    assert_eq!(
        a["total"], 7,
        "system jobs and jobs older than 24 h left out"
    );
    let buckets = a["buckets"].as_array().unwrap();
    assert!((24..=25).contains(&buckets.len()), "{}", buckets.len());
    let sum: i64 = buckets.iter().map(|b| b["count"].as_i64().unwrap()).sum();
    assert_eq!(sum, 7);
    let hours: Vec<&str> = buckets
        .iter()
        .map(|b| b["hour_start"].as_str().unwrap())
        .collect();
    assert!(hours.windows(2).all(|w| w[0] < w[1]), "oldest first");
    assert!(hours.iter().all(|h| h.ends_with(":00:00.000Z")));
    // The cmd.run job 5 h ago sits in its clock hour.
    let cmd_hour = to_text(now - Duration::hours(5))[..13].to_string();
    let b = buckets
        .iter()
        .find(|b| b["hour_start"].as_str().unwrap().starts_with(&cmd_hour))
        .unwrap();
    assert!(b["count"].as_i64().unwrap() >= 1);
    assert_eq!(a["running"], 0);
    assert_eq!(a["active_known"], false);
    let a = app
        .call("jobs/activity", &[("hours", "168")], Some(&cookie))
        .await
        .json();
    assert_eq!(a["total"], 8);

    // Running: visible active JIDs, known system jobs left out, not-yet-indexed ones counted.
    app.state.runtime.jobs().set_active(
        HashSet::from([
            jid("ping1"),
            jid("present"),
            "20991231000000000001".to_string(),
        ]),
        Utc::now(),
    );
    let a = app.call("jobs/activity", &[], Some(&cookie)).await.json();
    assert_eq!(a["running"], 2);
    assert_eq!(a["active_known"], true);
    assert!(a["last_polled_at"].is_string());

    // The Overview carries the same figures for its tiles and chart.
    let o = app
        .call("overview/summary", &[], Some(&cookie))
        .await
        .json();
    assert_eq!(o["jobs"]["running"], 2);
    assert_eq!(o["jobs"]["total"], 7);
    assert_eq!(o["jobs_poller_enabled"], false);

    // The store function agrees with a fixed clock.
    let args = validate_timeline_args("1h", "", "", "", "").unwrap();
    let t = timeline::timeline(
        &app.state.db,
        &app.state.runtime.jobs(),
        &args,
        None,
        now,
        true,
    )
    .await
    .unwrap();
    assert_eq!(t.total_bars, 3);
    assert_eq!(to_text(t.window_end), to_text(now));
}

#[tokio::test]
async fn pages_render_on_the_server() {
    let app = TestApp::new().await;
    pollers_off(&app).await;
    let now = Utc::now();
    seed(&app, now).await;
    let cookie = admin(&app).await;
    let r = app.get("/timeline", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Jobs scheduler not running"),
        "poller off notice"
    );
    assert!(
        r.body.contains("timeline-svg"),
        "the chart is in the server HTML"
    );
    assert!(r.body.contains("/jobs/"), "bars link to their jobs");
    // Nothing in the window while the poller is off: the scheduler message comes first.
    let empty = "/timeline?window=1h&function=nothing-like-this";
    let r = app.get(empty, Some(&cookie)).await;
    assert!(r.body.contains("timeline-poller-off"));
    assert!(r.body.contains("Clear the function and user filters"));
    halite::with_db!(&app.state.db, p => {
            sqlx::query("UPDATE app_settings SET jobs_poll_interval_seconds = 60")
            .execute(p)
            .await
            .unwrap();
    });
    let r = app.get(empty, Some(&cookie)).await;
    assert!(r.body.contains("No jobs match in the last 1 hour"));
    assert!(!r.body.contains("timeline-poller-off"));
    let r = app.get("/timeline?window=5y", Some(&cookie)).await;
    assert!(r.body.contains("Window must be one of"));
    let r = app.get("/", Some(&cookie)).await;
    assert!(r.body.contains("activity-svg"));
    assert!(
        r.body.contains("Jobs poller has not run yet"),
        "the chart warns until the first poll"
    );
}

/// The jobs list reads `JobListRow`s straight from SQL: status from the active-JID list,
/// `salt_user` as `user`, `started_at` as a time that serializes as the stored text.
#[tokio::test]
async fn jobs_list_rows_come_typed_from_the_store() {
    use halite::model::jobs::JobStatus;
    use halite::server::jobs::store::{self, JobQuery};
    let app = TestApp::new().await;
    let now = Utc::now();
    let jids = seed(&app, now).await;
    let jid = |name: &str| jids.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    let running = vec![jid("ping1")];
    let q = |status| JobQuery {
        search: None,
        function: Some("test.ping".into()),
        status,
        include_system: false,
        page: 1,
        per_page: 50,
        allowed_globs: None,
    };
    let (rows, total, _) = store::list(&app.state.db, &q(None), &running)
        .await
        .unwrap();
    // ping1-3 and the 30-hour-old ping.
    assert_eq!(total, 4);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].jid, jid("ping1"), "newest first");
    assert_eq!(rows[0].status, JobStatus::Running);
    assert_eq!(rows[1].status, JobStatus::Complete);
    assert_eq!(rows[0].user.as_deref(), Some("root"));
    assert_eq!(
        rows[0].started_at.map(to_text),
        Some(to_text(now - Duration::minutes(10)))
    );
    let json = serde_json::to_value(&rows[0]).unwrap();
    assert_eq!(json["status"], "running");
    assert_eq!(
        json["started_at"],
        to_text(now - Duration::minutes(10)).as_str()
    );
    let (rows, total, _) = store::list(&app.state.db, &q(Some(JobStatus::Running)), &running)
        .await
        .unwrap();
    assert_eq!((rows.len(), total), (1, 1));
    let (rows, total, _) = store::list(&app.state.db, &q(Some(JobStatus::Complete)), &running)
        .await
        .unwrap();
    assert_eq!((rows.len(), total), (3, 3));
    assert!(rows.iter().all(|r| r.status == JobStatus::Complete));
}

/// An unfiltered Jobs page reads its total from the counts the triggers keep (SQLite), or
/// counts (Postgres): either way the table's own count, after inserts, a function rewrite that
/// moves a job in or out of the system ones, and pruning.
#[tokio::test]
async fn unfiltered_totals_are_the_table_count() {
    use halite::server::jobs::store::{self, JobQuery};
    let app = TestApp::new().await;
    let db = &app.state.db;
    let now = Utc::now();
    let jids = seed(&app, now).await;
    let q = |include_system| JobQuery {
        search: None,
        function: None,
        status: None,
        include_system,
        page: 1,
        per_page: 50,
        allowed_globs: None,
    };
    let check = |step: &'static str| {
        let q = &q;
        async move {
            for include_system in [false, true] {
                let (_, total, capped) = store::list(db, &q(include_system), &[]).await.unwrap();
                assert!(!capped, "an unfiltered total is exact");
                let sql = if include_system {
                    "SELECT COUNT(*) FROM jobs_index"
                } else {
                    "SELECT COUNT(*) FROM jobs_index WHERE NOT is_system"
                };
                let counted: i64 = halite::with_db!(db, p => {
                    sqlx::query_scalar(sql).fetch_one(p).await.unwrap()
                });
                assert_eq!(total, counted, "{step}, include_system {include_system}");
            }
        }
    };
    check("seeded").await;
    let (_, before, _) = store::list(db, &q(false), &[]).await.unwrap();
    let ping = &jids.iter().find(|(n, _)| *n == "ping1").unwrap().1;
    halite::with_db!(db, p => {
        sqlx::query("UPDATE jobs_index SET function = 'runner.jobs.list_jobs' WHERE jid = $1")
            .bind(ping)
            .execute(p)
            .await
            .unwrap();
    });
    check("a job became a system one").await;
    let (_, after, _) = store::list(db, &q(false), &[]).await.unwrap();
    assert_eq!(after, before - 1);
    let pruned = store::prune(db, now - Duration::hours(12)).await.unwrap();
    assert!(pruned > 0, "the fixture has jobs older than 12 hours");
    check("pruned").await;
}

/// A search over many jobs counts up to the cap (1,000) or one past the page shown, and says the
/// total is a lower bound; past the last match it is exact again. The Jobs page says "1000+".
#[tokio::test]
async fn a_filtered_count_stops_at_the_cap() {
    use halite::server::jobs::ingest::JobRow;
    use halite::server::jobs::store::{self, JobQuery};
    let app = TestApp::new().await;
    let db = &app.state.db;
    let now = Utc::now();
    let rows: Vec<JobRow> = (0..1_100u32)
        .map(|i| {
            let t = now - Duration::seconds(i64::from(i));
            JobRow {
                jid: jid_at(t, i),
                function: if i % 2 == 0 { "cmd.run" } else { "test.ping" }.into(),
                target: Some("web-*".into()),
                target_type: Some("glob".into()),
                salt_user: Some("root".into()),
                started_at: t,
                arguments: None,
            }
        })
        .collect();
    store::upsert_jobs(db, &rows, now).await.unwrap();
    let q = |search: &str, page| JobQuery {
        search: Some(search.into()),
        function: None,
        status: None,
        include_system: false,
        page,
        per_page: 50,
        allowed_globs: None,
    };
    // 1,100 match "root": capped at 1,000 on the first pages.
    let (rows1, total, capped) = store::list(db, &q("root", 1), &[]).await.unwrap();
    assert_eq!((rows1.len(), total, capped), (50, 1_000, true));
    // Page 21 reads one past its own end (1,051 rows): still more.
    let (_, total, capped) = store::list(db, &q("root", 21), &[]).await.unwrap();
    assert_eq!((total, capped), (1_050, true));
    // Page 22 ends at 1,100, the last match: exact.
    let (rows22, total, capped) = store::list(db, &q("root", 22), &[]).await.unwrap();
    assert_eq!((rows22.len(), total, capped), (50, 1_100, false));
    // 550 match "cmd.run": under the cap, exact.
    let (_, total, capped) = store::list(db, &q("cmd.run", 1), &[]).await.unwrap();
    assert_eq!((total, capped), (550, false));
    // Over HTTP the page carries the flag, and the server-rendered pager says "1000+ jobs".
    let cookie = admin(&app).await;
    let r = app.call("jobs/list", &[("q", "root")], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (v["total"].as_i64(), v["total_capped"].as_bool()),
        (Some(1_000), Some(true))
    );
    let r = app.get("/jobs?q=root", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("1000+ jobs · page 1 of 20+"),
        "the pager says the count is a floor"
    );
}
