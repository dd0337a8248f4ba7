//! Auth, RBAC and audit over HTTP against a real temp SQLite database.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};

#[tokio::test]
async fn pages_redirect_to_login_without_a_session() {
    let app = TestApp::new().await;
    let r = app.get("/", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/login"));
    let r = app.get("/minions/web01.example.com", None).await;
    assert_eq!(r.location(), Some("/login"));
    let r = app.get("/login", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Sign in"),
        "login page renders on the server"
    );
}

#[tokio::test]
async fn bootstrap_admin_must_change_password_first() {
    let app = TestApp::new().await;
    let cookie = app.login("admin", "changeme").await;

    // Every page sends the user to the change-password page until done.
    let r = app.get("/", Some(&cookie)).await;
    assert_eq!(r.location(), Some("/change-password"));
    let r = app.get("/change-password", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("temporary password"));
    // Server functions refuse too.
    let r = app.call("settings/get", &[], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Wrong current password, too-short new one, same as current: clear 422s.
    let r = app
        .call(
            "auth/change-password",
            &[
                ("current_password", "nope"),
                ("new_password", "newpassword1"),
                ("confirm_password", "newpassword1"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422);
    assert!(r.body.contains("current password is wrong"), "{}", r.body);
    let r = app
        .call(
            "auth/change-password",
            &[
                ("current_password", "changeme"),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422);
    assert!(r.body.contains("at least 8"), "{}", r.body);
    let r = app
        .call(
            "auth/change-password",
            &[
                ("current_password", "changeme"),
                ("new_password", "changeme"),
                ("confirm_password", "changeme"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422);

    // A second session exists; changing the password ends it but keeps this one.
    let other = app.login("admin", "changeme").await;
    let r = app
        .call(
            "auth/change-password",
            &[
                ("current_password", "changeme"),
                ("new_password", "a-better-pw-42"),
                ("confirm_password", "a-better-pw-42"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.get("/", Some(&cookie)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "overview renders after the change"
    );
    assert!(r.body.contains("Overview"));
    let me = app.call("auth/me", &[], Some(&other)).await;
    assert_eq!(me.json(), serde_json::Value::Null, "other session ended");

    // The audit trail has the change and never the password.
    let rows = app.audit_rows("auth.change_password").await;
    assert!(rows.iter().any(|r| r.0 == "allow"));
    assert!(rows.iter().filter(|r| r.0 == "deny").count() >= 3);
    let all: Vec<(String,)> = halite::with_db!(&app.state.db, p => sqlx::query_as("SELECT COALESCE(CAST(args_json AS TEXT), '') FROM audit_log")
        .fetch_all(p)
        .await
        .unwrap());
    assert!(all
        .iter()
        .all(|(a,)| !a.contains("a-better-pw-42") && !a.contains("changeme")));
}

#[tokio::test]
async fn login_failures_share_one_message_and_are_audited() {
    let app = TestApp::new().await;
    app.create_user("carol", "carol-password", &["viewer"])
        .await;
    halite::with_db!(&app.state.db, p => {
    sqlx::query("UPDATE users SET is_active = FALSE WHERE username = 'carol'")
            .execute(p)
            .await
            .unwrap();
    });
    let wrong = app
        .call(
            "auth/login",
            &[("username", "admin"), ("password", "bad-password")],
            None,
        )
        .await;
    let unknown = app
        .call(
            "auth/login",
            &[("username", "nobody"), ("password", "bad-password")],
            None,
        )
        .await;
    let inactive = app
        .call(
            "auth/login",
            &[("username", "carol"), ("password", "carol-password")],
            None,
        )
        .await;
    for r in [&wrong, &unknown, &inactive] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.json()["Unauthorized"], "Invalid username or password.");
        assert!(r.session_cookie().is_none());
    }
    let rows = app.audit_rows("auth.login").await;
    assert_eq!(
        rows.iter().filter(|r| r.0 == "deny" && r.1 == 401).count(),
        3
    );
    let empty = app
        .call("auth/login", &[("username", ""), ("password", "")], None)
        .await;
    assert_eq!(empty.status.as_u16(), 422);
    let long = "x".repeat(300);
    let too_long = app
        .call(
            "auth/login",
            &[("username", &long), ("password", "x")],
            None,
        )
        .await;
    assert_eq!(too_long.status.as_u16(), 422);
    // Username lookup is case-insensitive.
    let r = app
        .call(
            "auth/login",
            &[("username", "ADMIN"), ("password", "changeme")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn login_is_throttled_after_five_failures() {
    let app = TestApp::new().await;
    for _ in 0..5 {
        let r = app
            .call(
                "auth/login",
                &[("username", "admin"), ("password", "wrong-one")],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app
        .call(
            "auth/login",
            &[("username", "admin"), ("password", "changeme")],
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry: u64 = r
        .headers
        .get(header::RETRY_AFTER)
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    assert!(r.body.contains("Too many failed sign-in attempts"));
    assert!(app
        .audit_rows("auth.login")
        .await
        .iter()
        .any(|r| r.1 == 429));
}

#[tokio::test]
async fn viewer_cannot_read_settings_and_the_denial_is_audited() {
    let app = TestApp::new().await;
    app.create_user("vera", "vera-password", &["viewer"]).await;
    let cookie = app.login("vera", "vera-password").await;
    let me = app.call("auth/me", &[], Some(&cookie)).await.json();
    assert_eq!(me["username"], "vera");
    assert!(me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["verb"] == "view"));
    let r = app.call("settings/get", &[], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["Forbidden"]
        .as_str()
        .unwrap()
        .contains("permission"));
    let denied = app.audit_rows("permission.denied").await;
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].3.as_deref(), Some("vera"));
    // The page itself renders for the viewer (with the error panel), and the sidebar has no Settings.
    let page = app.get("/", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains(r#"data-nav="/settings""#));
    assert!(page.body.contains(r#"data-nav="/minions""#));
    // An admin can.
    let admin = app.login("admin", "changeme").await;
    halite::with_db!(&app.state.db, p => {
    sqlx::query("UPDATE users SET must_change_pw = FALSE WHERE username = 'admin'")
            .execute(p)
            .await
            .unwrap();
    });
    let r = app.call("settings/get", &[], Some(&admin)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["salt"]["password_set"], false);
    assert!(app
        .get("/", Some(&admin))
        .await
        .body
        .contains(r#"data-nav="/settings""#));
}

#[tokio::test]
async fn logout_ends_the_session_for_good() {
    let app = TestApp::new().await;
    app.create_user("olga", "olga-password", &["operator"])
        .await;
    let cookie = app.login("olga", "olga-password").await;
    assert_eq!(app.get("/", Some(&cookie)).await.status, StatusCode::OK);
    let r = app.call("auth/logout", &[], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    let cleared = r
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cleared.contains("Max-Age=0"));
    // Replaying the old cookie does not work.
    assert_eq!(app.get("/", Some(&cookie)).await.location(), Some("/login"));
    assert_eq!(
        app.call("auth/me", &[], Some(&cookie)).await.json(),
        serde_json::Value::Null
    );
    assert_eq!(
        app.call("settings/status", &[], Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.audit_rows("auth.logout").await.len(), 1);
}

#[tokio::test]
async fn tampered_cookie_is_refused() {
    let app = TestApp::new().await;
    app.create_user("tim", "tim-password", &["viewer"]).await;
    let cookie = app.login("tim", "tim-password").await;
    let forged = format!("{}x", cookie);
    assert_eq!(app.get("/", Some(&forged)).await.location(), Some("/login"));
    let (name, value) = cookie.split_once('=').unwrap();
    let sid = value.split('.').next().unwrap();
    let unsigned = format!("{name}={sid}.AAAA");
    assert_eq!(
        app.get("/", Some(&unsigned)).await.location(),
        Some("/login")
    );
}

#[tokio::test]
async fn cross_origin_mutations_are_rejected_and_audited() {
    let app = TestApp::new().await;
    let req = Request::post("/api/auth/login")
        .header(header::HOST, "halite.test")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=admin&password=changeme"))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.session_cookie().is_none());
    assert_eq!(app.audit_rows("request.cross_origin").await.len(), 1);
}

#[tokio::test]
async fn security_headers_health_and_readiness() {
    let app = TestApp::new().await;
    let r = app.get("/login", None).await;
    let csp = r
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("'nonce-") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(
        r.body.contains(&format!("nonce=\"{nonce}\"")),
        "hydration script carries the nonce"
    );
    assert_eq!(r.headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
    assert_eq!(
        r.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
        "nosniff"
    );
    assert_eq!(
        r.headers.get(header::REFERRER_POLICY).unwrap(),
        "same-origin"
    );
    let h = app.get("/healthz", None).await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.json()["status"], "ok");
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["db"], "ok");
    assert_eq!(ready.json()["salt"], "unconfigured");
}

#[tokio::test]
async fn bootstrap_and_role_seeding_are_idempotent() {
    let app = TestApp::new().await;
    halite::server::users::seed_builtin_roles(&app.state.db)
        .await
        .unwrap();
    halite::server::users::seed_builtin_roles(&app.state.db)
        .await
        .unwrap();
    let created = halite::server::users::bootstrap_admin(&app.state.db, "admin", "changeme")
        .await
        .unwrap();
    assert!(!created, "no second admin when users exist");
    let (roles, perms, users): (i64, i64, i64) = halite::with_db!(&app.state.db, p => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM roles), (SELECT COUNT(*) FROM permissions), (SELECT COUNT(*) FROM users)",
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!((roles, perms, users), (3, 17, 1));
    let dup = halite::server::users::create_user(
        &app.state.db,
        "ADMIN",
        "",
        "whatever-pw",
        false,
        &["viewer"],
    )
    .await;
    assert!(matches!(dup, Err(halite::error::AppError::Conflict(_))));
}

#[tokio::test]
async fn server_function_paths_are_stable() {
    use leptos::server_fn::ServerFn;
    assert_eq!(
        <halite::app::api::auth::Login as ServerFn>::PATH,
        "/api/auth/login"
    );
    assert_eq!(
        <halite::app::api::settings::GetSettings as ServerFn>::PATH,
        "/api/settings/get"
    );
}
