//! Finding 8 (audit part): rows anyone can cause before signing in are cut and capped per IP;
//! the audit log is pruned by the `audit_retention_days` setting, at start and hourly.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use halite::server::audit::{ANON_ROWS_PER_MINUTE, ANON_VALUE_MAX};
use std::time::Duration;

async fn cross_origin_post(app: &TestApp, origin: &str) -> StatusCode {
    let req = Request::post("/api/auth/login")
        .header(header::HOST, "halite.test")
        .header(header::ORIGIN, origin)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=a&password=b"))
        .unwrap();
    app.send(req).await.status
}

async fn count(app: &TestApp, action: &str) -> i64 {
    halite::with_db!(&app.state.db, p => sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(p)
        .await
        .unwrap())
}

#[tokio::test]
async fn cross_origin_rows_store_cut_header_values() {
    let app = TestApp::new().await;
    let origin = format!("http://evil.example/{}", "x".repeat(8000));
    assert_eq!(
        cross_origin_post(&app, &origin).await,
        StatusCode::FORBIDDEN
    );
    let rows = app.audit_rows("request.cross_origin").await;
    assert_eq!(rows.len(), 1);
    let args: serde_json::Value = serde_json::from_str(rows[0].2.as_deref().unwrap()).unwrap();
    let stored = args["origin"].as_str().unwrap();
    assert_eq!(stored.chars().count(), ANON_VALUE_MAX, "{stored}");
    assert!(stored.starts_with("http://evil.example/"));
}

#[tokio::test]
async fn anonymous_rows_are_capped_per_ip() {
    let app = TestApp::new().await;
    let n = ANON_ROWS_PER_MINUTE as usize + 15;
    for _ in 0..n {
        assert_eq!(
            cross_origin_post(&app, "http://evil.example").await,
            StatusCode::FORBIDDEN,
            "every request is still refused"
        );
    }
    assert_eq!(
        count(&app, "request.cross_origin").await,
        ANON_ROWS_PER_MINUTE as i64
    );
    assert_eq!(app.state.audit_limiter.skipped_total(), 15);

    // Failed sign-ins from the same address share the cap (each still gets its 401).
    for i in 0..5 {
        let r = app
            .call(
                "auth/login",
                &[("username", &format!("nobody{i}")), ("password", "wrong")],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    assert_eq!(count(&app, "auth.login").await, 0);
}

#[tokio::test]
async fn failed_logins_are_capped_and_usernames_cut() {
    let app = TestApp::new().await;
    let long = "u".repeat(255);
    for i in 0..(ANON_ROWS_PER_MINUTE + 5) {
        let r = app
            .call(
                "auth/login",
                &[
                    ("username", &format!("{i}{long}")[..255]),
                    ("password", "wrong"),
                ],
                None,
            )
            .await;
        assert!(
            matches!(r.status.as_u16(), 401 | 429),
            "{} {}",
            r.status,
            r.body
        );
    }
    let rows = app.audit_rows("auth.login").await;
    assert_eq!(rows.len(), ANON_ROWS_PER_MINUTE as usize);
    assert!(rows
        .iter()
        .all(|r| r.3.as_deref().unwrap().chars().count() <= ANON_VALUE_MAX));
}

async fn insert_row(app: &TestApp, action: &str, days_ago: i64) {
    let at = halite::server::db::Ts(chrono::Utc::now() - chrono::Duration::days(days_ago));
    halite::with_db!(&app.state.db, p => {
    sqlx::query(
            "INSERT INTO audit_log (at, action, resource, decision, result_code, duration_ms, ip) \
             VALUES ($1, $2, 'x', 'allow', 200, 0, '')",
        )
        .bind(at)
        .bind(action)
        .execute(p)
        .await
        .unwrap();
    });
}

#[tokio::test]
async fn audit_retention_setting_prunes() {
    let app = TestApp::new().await;
    let view = halite::server::settings::load_view(&app.state.db)
        .await
        .unwrap();
    assert_eq!(view.pollers.audit_retention_days, 365, "default");

    insert_row(&app, "t.old", 400).await;
    insert_row(&app, "t.recent", 40).await;
    insert_row(&app, "t.new", 1).await;

    // The runtime prunes at start (no Salt configured: the housekeeping runs anyway).
    app.state.runtime.boot().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while count(&app, "t.old").await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "old row not pruned at start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count(&app, "t.recent").await, 1);

    // An admin shortens the retention on the Settings page (Pollers section).
    app.create_user("root", "correct horse battery", &["admin"])
        .await;
    let cookie = app.login("root", "correct horse battery").await;
    let form = |days: &'static str| {
        vec![
            ("minion_state_keys_interval_seconds", "60"),
            ("minion_state_presence_interval_seconds", "60"),
            ("minion_state_grains_interval_seconds", "600"),
            ("minion_state_initial_delay_seconds", "0"),
            ("jobs_poll_interval_seconds", "60"),
            ("fleet_poll_interval_seconds", "60"),
            ("inventory_refresh_minutes", "0"),
            ("inventory_refresh_initial_delay_s", "0"),
            ("event_stream_retention_days", "30"),
            ("audit_retention_days", days),
        ]
    };
    for bad in ["0", "3651", "x"] {
        let r = app
            .call("settings/pollers", &form(bad), Some(&cookie))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.body
        );
        assert!(r.body.contains("Audit retention"), "{}", r.body);
    }
    let r = app
        .call("settings/pollers", &form("30"), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["pollers"]["audit_retention_days"], 30);

    let n = halite::server::settings::prune_audit(&app.state.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(count(&app, "t.recent").await, 0);
    assert_eq!(count(&app, "t.new").await, 1);
    app.state.runtime.shutdown().await;
}
