//! The runtime hub and the Settings server functions against the real Salt lab, including
//! salt-api going away and coming back (its tests hold the shared lab lock). The lab
//! tests build only with the `lab` feature; the RBAC one needs no Salt.

#[cfg(feature = "lab")]
use crate::common::lab::lab;
use crate::common::lab::LAB;
use crate::common::TestApp;
use axum::http::StatusCode;
#[cfg(feature = "lab")]
use std::time::Duration;

#[cfg(feature = "lab")]
async fn admin(app: &TestApp) -> String {
    halite::with_db!(&app.state.db, p => {
            sqlx::query("UPDATE users SET must_change_pw = FALSE WHERE username = 'admin'")
            .execute(p)
            .await
            .unwrap();
    });
    app.login("admin", "changeme").await
}

#[cfg(feature = "lab")]
async fn wait_state(app: &TestApp, want: &str, secs: u64) -> String {
    let mut last = String::new();
    for _ in 0..secs * 4 {
        last = app.state.runtime.connection().state.to_string();
        if last == want {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    last
}

/// One test so the salt-api restart cannot disturb the others running in parallel.
#[cfg(feature = "lab")]
#[tokio::test]
async fn settings_connect_reload_degrade_and_recover() {
    let _serial = LAB.lock().await;
    let l = lab();
    l.sh(&["reset-keys"]); // four accepted minions and new-01 pending, whatever ran before
    let app = TestApp::with_env(&[("SALT_HEALTH_INTERVAL_SECONDS", "1")]).await;
    let cookie = admin(&app).await;
    app.state.runtime.boot().await;
    assert_eq!(
        app.state.runtime.connection().state,
        halite::model::settings::ConnectionState::Unconfigured
    );
    let status = app.call("settings/status", &[], Some(&cookie)).await.json();
    assert_eq!(status["configured"], false);
    assert_eq!(
        status["missing"],
        serde_json::json!(["salt.url", "salt.username", "salt.password"])
    );
    // Actions need a client: 503 with a clear message.
    let e = app.state.runtime.client().unwrap_err();
    assert_eq!(e.status(), 503);
    assert!(e.to_string().contains("not configured"));

    // Test Connection with unsaved values: right and wrong password.
    let form = |pw: &str| -> Vec<(&'static str, String)> {
        vec![
            ("url", l.url.clone()),
            ("username", l.user.clone()),
            ("password", pw.to_string()),
            ("eauth", l.eauth.clone()),
        ]
    };
    let good = form(&l.password);
    let good_ref: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app
        .call("settings/test-salt", &good_ref, Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let t = r.json();
    assert_eq!(t["ok"], true, "{t}");
    assert_eq!(
        t["minion_count"], 4,
        "four accepted lab minions are connected: {t}"
    );
    let bad = form("wrong-password");
    let bad_ref: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let t = app
        .call("settings/test-salt", &bad_ref, Some(&cookie))
        .await
        .json();
    assert_eq!(t["ok"], false);
    assert!(t["detail"].as_str().unwrap().contains("refused"), "{t}");
    // Validation errors name the field.
    let r = app
        .call(
            "settings/salt",
            &[("url", "ftp://nope"), ("username", "x"), ("eauth", "file")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422);
    assert_eq!(r.json()["Invalid"]["field"], "url");

    // Save: the runtime reloads and connects, the banner state clears.
    let r = app.call("settings/salt", &good_ref, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["salt"]["password_set"], true);
    assert!(
        !r.body.contains(&l.password),
        "the password never comes back"
    );
    assert_eq!(
        app.state.runtime.connection().state,
        halite::model::settings::ConnectionState::Connected
    );
    let status = app.call("settings/status", &[], Some(&cookie)).await.json();
    assert_eq!(status["configured"], true);
    assert_eq!(status["connection"]["state"], "connected");
    let saved = app
        .call("settings/test-salt-saved", &[], Some(&cookie))
        .await
        .json();
    assert_eq!(saved["ok"], true, "{saved}");
    let stored: (String,) = halite::with_db!(&app.state.db, p => {
            sqlx::query_as("SELECT salt_api_password_encrypted FROM app_settings")
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert!(!stored.0.contains(&l.password), "encrypted at rest");
    let audit: Vec<(String,)> = halite::with_db!(&app.state.db, p => {
            sqlx::query_as(
            "SELECT COALESCE(CAST(args_json AS TEXT),'') FROM audit_log WHERE action LIKE 'settings.%'",
        )
        .fetch_all(p)
        .await
        .unwrap()
    });
    assert!(audit.len() >= 3);
    assert!(audit.iter().all(|(a,)| !a.contains(&l.password)));
    let client = app.state.runtime.client().unwrap();
    assert_eq!(client.manage_present().await.unwrap().len(), 4);
    // The readiness probe says Salt is fine; /metrics counted the calls, refusals included.
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.json()["salt"], "ok", "{}", ready.body);
    let m = app.get("/metrics", None).await.body;
    let sample = crate::metrics::sample;
    assert!(
        sample(
            &m,
            "halite_salt_api_requests_total",
            &[("call", "login"), ("outcome", "ok")]
        )
        .is_some_and(|n| n >= 1.0),
        "{m}"
    );
    assert!(
        sample(
            &m,
            "halite_salt_api_requests_total",
            &[("call", "login"), ("outcome", "refused")]
        )
        .is_some_and(|n| n >= 1.0),
        "the wrong password was counted as refused: {m}"
    );
    assert!(
        sample(
            &m,
            "halite_salt_api_duration_seconds_count",
            &[("call", "runner:manage.present")]
        )
        .is_some_and(|n| n >= 1.0),
        "{m}"
    );

    // salt-api goes away: pages still render, the state says unreachable, actions get 503.
    l.sh(&["stop-api"]);
    assert_eq!(wait_state(&app, "unreachable", 20).await, "unreachable");
    let page = app.get("/", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    // Still ready (pages serve from the database), but Salt is reported degraded, with why.
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    let r = ready.json();
    assert_eq!(r["status"], "ready", "{r}");
    assert_eq!(r["salt"], "degraded", "{r}");
    assert_eq!(r["salt_state"], "unreachable", "{r}");
    assert!(!r["salt_detail"].as_str().unwrap_or("").is_empty(), "{r}");
    assert_eq!(r["migrations"]["state"], "ok", "{r}");
    let m = app.get("/metrics", None).await.body;
    assert!(
        sample(
            &m,
            "halite_salt_api_requests_total",
            &[("outcome", "unavailable")]
        )
        .is_some_and(|n| n >= 1.0),
        "salt-api being away shows as unavailable calls: {m}"
    );
    assert!(
        sample(
            &m,
            "halite_poller_runs_total",
            &[("poller", "salt.health"), ("outcome", "error")]
        )
        .is_some_and(|n| n >= 1.0),
        "{m}"
    );
    let status = app.call("settings/status", &[], Some(&cookie)).await.json();
    assert_eq!(status["connection"]["state"], "unreachable");
    let err = app
        .state
        .runtime
        .client()
        .unwrap()
        .manage_present()
        .await
        .unwrap_err();
    assert!(matches!(err, halite::salt::SaltError::Unavailable(_)));
    assert_eq!(halite::server::runtime::salt_error(err).status(), 503);

    // It comes back: the same client recovers (re-login on 401) without a Halite restart.
    l.sh(&["start-api"]);
    assert_eq!(wait_state(&app, "connected", 60).await, "connected");
    assert_eq!(app.get("/readyz", None).await.json()["salt"], "ok");
    let m = app.get("/metrics", None).await.body;
    assert!(
        sample(
            &m,
            "halite_poller_runs_total",
            &[("poller", "salt.health"), ("outcome", "ok")]
        )
        .is_some_and(|n| n >= 1.0),
        "{m}"
    );
    assert!(
        sample(
            &m,
            "halite_poller_last_success_timestamp_seconds",
            &[("poller", "salt.health")]
        )
        .is_some_and(|t| t > 1.7e9),
        "{m}"
    );
    let client = app.state.runtime.client().unwrap();
    assert_eq!(client.manage_present().await.unwrap().len(), 4);

    // Pollers section saves with range checks and reloads.
    let mut pollers = vec![
        ("minion_state_keys_interval_seconds", "300"),
        ("minion_state_presence_interval_seconds", "60"),
        ("minion_state_grains_interval_seconds", "300"),
        ("minion_state_initial_delay_seconds", "10"),
        ("jobs_poll_interval_seconds", "0"),
        ("fleet_poll_interval_seconds", "0"),
        ("inventory_refresh_minutes", "0"),
        ("inventory_refresh_initial_delay_s", "30"),
        ("event_stream_retention_days", "400"),
    ];
    let r = app.call("settings/pollers", &pollers, Some(&cookie)).await;
    assert_eq!(r.status.as_u16(), 422);
    assert_eq!(r.json()["Invalid"]["field"], "event_stream_retention_days");
    pollers.pop();
    pollers.push(("event_stream_retention_days", "14"));
    let r = app.call("settings/pollers", &pollers, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["pollers"]["event_stream_retention_days"], 14);
    let rt = app
        .call("settings/runtime", &[], Some(&cookie))
        .await
        .json();
    assert_eq!(rt["connection"]["state"], "connected");
    assert!(rt["pollers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "salt.health"));
    app.state.runtime.shutdown().await;
}

#[cfg(feature = "lab")]
#[tokio::test]
async fn boot_with_a_bad_stored_password_runs_degraded() {
    let _serial = LAB.lock().await;
    let l = lab();
    let app = TestApp::new().await;
    let bad = halite::server::settings::validate_salt(
        &l.url,
        &l.user,
        "not-the-password",
        &l.eauth,
        true,
        true,
    )
    .unwrap();
    halite::server::settings::save_salt(&app.state.db, &app.state.secrets, &bad)
        .await
        .unwrap();
    app.state.runtime.boot().await;
    let c = app.state.runtime.connection();
    assert_eq!(
        c.state,
        halite::model::settings::ConnectionState::LoginFailed,
        "{c:?}"
    );
    let e = app.state.runtime.client().unwrap_err();
    assert_eq!(e.status(), 503);
    assert!(e.to_string().contains("login failed"));
    let cookie = admin(&app).await;
    assert_eq!(
        app.get("/settings", Some(&cookie)).await.status,
        StatusCode::OK
    );

    // A changed COOKIE_SECRET makes the stored password unreadable: reported missing, no crash.
    let other = TestApp::new().await;
    let good =
        halite::server::settings::validate_salt(&l.url, &l.user, &l.password, &l.eauth, true, true)
            .unwrap();
    halite::server::settings::save_salt(
        &other.state.db,
        &halite::server::secrets::SecretsCipher::new("a-different-cookie-secret-0123456789"),
        &good,
    )
    .await
    .unwrap();
    other.state.runtime.boot().await;
    assert_eq!(
        other.state.runtime.connection().state,
        halite::model::settings::ConnectionState::Unconfigured
    );
    let missing =
        halite::server::settings::missing_salt_fields(&other.state.db, &other.state.secrets)
            .await
            .unwrap();
    assert_eq!(missing, vec!["salt.password"]);
    // The banner reads what the runtime found when its generation started: the same answer.
    assert_eq!(
        other.state.runtime.missing_salt_fields(),
        Some(vec!["salt.password".to_string()])
    );
}

#[tokio::test]
async fn viewer_cannot_touch_salt_settings() {
    let _serial = LAB.lock().await;
    let app = TestApp::new().await;
    app.create_user("vic", "vic-password", &["viewer"]).await;
    let cookie = app.login("vic", "vic-password").await;
    for ep in ["settings/test-salt-saved", "settings/runtime"] {
        assert_eq!(
            app.call(ep, &[], Some(&cookie)).await.status,
            StatusCode::FORBIDDEN,
            "{ep}"
        );
    }
    let r = app
        .call(
            "settings/salt",
            &[
                ("url", "http://127.0.0.1:1"),
                ("username", "x"),
                ("eauth", "file"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let url: (Option<String>,) = halite::with_db!(&app.state.db, p => {
            sqlx::query_as("SELECT salt_api_url FROM app_settings")
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!(url.0, None, "nothing saved");
}
