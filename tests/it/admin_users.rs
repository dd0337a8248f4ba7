//! Users administration (issue 12): every rule of the server functions `users/*`, the sessions
//! and streams they end or re-scope, the audit rows they write, and the list's search, filter,
//! sort and paging. The CLI's commands share the service and are checked here too.

use crate::common::{self, TestApp};
use axum::http::StatusCode;
use http_body_util::BodyExt;
use serde_json::Value;
use std::time::Duration;

const PW: &str = "correct horse battery";

async fn role_id(app: &TestApp, name: &str) -> String {
    halite::with_db!(&app.state.db, p => sqlx::query_scalar("SELECT id FROM roles WHERE name_lower = $1")
        .bind(name.to_lowercase())
        .fetch_one(p)
        .await
        .unwrap())
}

async fn user_id(app: &TestApp, username: &str) -> String {
    halite::with_db!(&app.state.db, p => sqlx::query_scalar("SELECT id FROM users WHERE username_lower = $1")
        .bind(username.to_lowercase())
        .fetch_one(p)
        .await
        .unwrap())
}

/// An app with `root` (role admin) signed in; the bootstrap `admin` also holds `*:*`.
async fn admin_app() -> (TestApp, String) {
    let app = TestApp::new().await;
    app.create_user("root", PW, &["admin"]).await;
    let cookie = app.login("root", PW).await;
    (app, cookie)
}

async fn create(app: &TestApp, cookie: &str, form: &[(&str, &str)]) -> common::Reply {
    app.call("users/create", form, Some(cookie)).await
}

async fn set_active(app: &TestApp, cookie: &str, id: &str, active: bool) -> common::Reply {
    let v = if active { "true" } else { "false" };
    app.call(
        "users/update",
        &[("id", id), ("is_active", v)],
        Some(cookie),
    )
    .await
}

/// `users/role-add` or `users/role-remove` of `role` for `user`, as `cookie`.
async fn membership(
    app: &TestApp,
    cookie: &str,
    endpoint: &str,
    user: &str,
    role: &str,
) -> common::Reply {
    app.call(endpoint, &[("id", user), ("role_id", role)], Some(cookie))
        .await
}

fn usernames(r: &common::Reply) -> Vec<String> {
    r.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn create_with_roles_then_duplicate_is_409_case_insensitively() {
    let (app, cookie) = admin_app().await;
    let viewer = role_id(&app, "viewer").await;
    let operator = role_id(&app, "operator").await;
    let r = create(
        &app,
        &cookie,
        &[
            ("username", "Ann"),
            ("display_name", " Ann Example "),
            ("email", "Ann@Example.com"),
            ("password", PW),
            ("must_change_pw", "on"),
            ("role_ids", &viewer),
            ("role_ids", &operator),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let u = r.json();
    assert_eq!(u["username"], "Ann");
    assert_eq!(u["display_name"], "Ann Example");
    assert_eq!(u["email"], "Ann@Example.com");
    assert_eq!(u["must_change_pw"], true);
    assert_eq!(u["is_active"], true);
    let mut roles: Vec<&str> = u["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    roles.sort();
    assert_eq!(roles, ["operator", "viewer"]);
    // A single role and no must-change flag (an unchecked checkbox sends nothing).
    let r = create(
        &app,
        &cookie,
        &[("username", "bob"), ("password", PW), ("role_ids", &viewer)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["must_change_pw"], false);
    assert_eq!(r.json()["roles"].as_array().unwrap().len(), 1);

    let r = create(&app, &cookie, &[("username", "ANN"), ("password", PW)]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("already exists"), "{}", r.body);

    // The audit row names the roles and never the password.
    let rows = app.audit_rows("user.create").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let args = rows[0].2.clone().unwrap();
    assert!(
        args.contains("operator") && args.contains("viewer"),
        "{args}"
    );
    assert!(!args.contains(PW), "{args}");
    assert_eq!(rows[0].3.as_deref(), Some("root"));
}

#[tokio::test]
async fn invalid_fields_are_4xx_naming_the_field() {
    let (app, cookie) = admin_app().await;
    let long_name = "x".repeat(256);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("username", "carl"), ("password", "short")],
            "password",
        ),
        (
            vec![("username", "carl"), ("password", PW), ("email", "carl")],
            "email",
        ),
        (
            vec![("username", "carl"), ("password", PW), ("email", "a@b@c")],
            "email",
        ),
        (
            vec![
                ("username", "carl"),
                ("password", PW),
                ("email", "c arl@x.org"),
            ],
            "email",
        ),
        (
            vec![
                ("username", "carl"),
                ("password", PW),
                ("display_name", &long_name),
            ],
            "display_name",
        ),
        (vec![("username", &long_name), ("password", PW)], "username"),
        (
            vec![("username", "carl"), ("password", PW), ("role_ids", "nope")],
            "role_ids",
        ),
    ];
    for (form, field) in cases {
        let r = create(&app, &cookie, &form).await;
        assert_eq!(r.status, 422, "{form:?}: {}", r.body);
        assert!(
            r.body.contains(field),
            "{form:?} should name {field}: {}",
            r.body
        );
    }
    let carl: i64 = halite::with_db!(&app.state.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username_lower = 'carl'")
        .fetch_one(p)
        .await
        .unwrap());
    assert_eq!(carl, 0, "nothing was written");
    // Updates are checked the same way.
    let id = user_id(&app, "admin").await;
    for (k, v) in [
        ("display_name", long_name.as_str()),
        ("email", "nope"),
        ("is_active", "maybe"),
    ] {
        let r = app
            .call(
                "users/update",
                &[("id", &id), ("profile", "1"), (k, v)],
                Some(&cookie),
            )
            .await;
        assert_eq!(r.status, 422, "{k}: {}", r.body);
    }
    let r = app
        .call(
            "users/password",
            &[("id", &id), ("new_password", "short")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = app
        .call("users/get", &[("id", "no such id")], Some(&cookie))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = app
        .call("users/get", &[("id", "00000000-0000")], Some(&cookie))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test]
async fn nobody_deactivates_or_deletes_themselves() {
    let (app, cookie) = admin_app().await;
    let me = user_id(&app, "root").await;
    let r = set_active(&app, &cookie, &me, false).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("your own account"), "{}", r.body);
    let r = app
        .call("users/delete", &[("id", &me)], Some(&cookie))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    // Stripping your own *:* is refused too, while another admin exists.
    let admin_role = role_id(&app, "admin").await;
    let r = membership(&app, &cookie, "users/role-remove", &me, &admin_role).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("your own full access"), "{}", r.body);
    // Still signed in and active.
    let r = app.call("users/get", &[("id", &me)], Some(&cookie)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["is_active"], true);
    assert_eq!(r.json()["roles"][0]["name"], "admin");
}

#[tokio::test]
async fn the_last_active_superadmin_is_protected_until_there_is_a_second() {
    // Only a `*:*` holder (or the command line) may change another `*:*` holder at all (see
    // `nobody_passes_on_access_they_do_not_hold`), and such an actor is a holder themselves; so
    // "the last one" is reached from the command line, or by yourself.
    use halite::server::users::service::{self, Actor, UpdateUser};
    let (app, root_cookie) = admin_app().await;
    let db = &app.state.db;
    let cli = Actor::cli();
    let off = UpdateUser {
        is_active: Some(false),
        ..Default::default()
    };
    // Two holders (root and the bootstrap admin): one may go.
    let builtin = service::load_by_username(db, "admin").await.unwrap();
    service::update(db, &cli, &builtin, off.clone())
        .await
        .unwrap();
    // Now root is the last active holder of *:*: no deactivation, deletion or role removal.
    let root = service::load_by_username(db, "root").await.unwrap();
    let e = service::update(db, &cli, &root, off.clone())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("last active user"), "{e}");
    let e = service::delete(db, &cli, &root).await.unwrap_err();
    assert!(e.to_string().contains("last active user"), "{e}");
    let admin_role = service::role_by_name(db, "admin").await.unwrap();
    let e = service::remove_role(db, &cli, &root, &admin_role)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("last active user"), "{e}");
    // root makes ua a second active holder in the browser; then ua may take root's admin
    // role and deactivate root, and is the last holder in turn.
    app.create_user("ua", PW, &["viewer"]).await;
    let ua_id = user_id(&app, "ua").await;
    let r = membership(&app, &root_cookie, "users/role-add", &ua_id, &admin_role.id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ua = app.login("ua", PW).await;
    let r = membership(&app, &ua, "users/role-remove", &root.id, &admin_role.id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = set_active(&app, &ua, &root.id, false).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["is_active"], false);
    let r = app.call("users/delete", &[("id", &ua_id)], Some(&ua)).await;
    assert_eq!(r.status, 409);
    let r = membership(&app, &ua, "users/role-remove", &ua_id, &admin_role.id).await;
    assert_eq!(r.status, 409, "{}", r.body);
}

#[tokio::test]
async fn builtin_users_cannot_be_deleted_others_can_and_history_stays() {
    let (app, cookie) = admin_app().await;
    let builtin = user_id(&app, "admin").await;
    let r = app
        .call("users/delete", &[("id", &builtin)], Some(&cookie))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("built-in"), "{}", r.body);
    app.create_user("gone", PW, &["viewer"]).await;
    let gone_cookie = app.login("gone", PW).await;
    let id = user_id(&app, "gone").await;
    let r = app
        .call("users/delete", &[("id", &id)], Some(&cookie))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.call("users/get", &[("id", &id)], Some(&cookie)).await;
    assert_eq!(r.status, 404, "{}", r.body);
    // Their session went with them; the audit rows (their sign-in, the deletion) stay.
    let r = app.call("minions/list", &[], Some(&gone_cookie)).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let rows = app.audit_rows("user.delete").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].2.as_deref().unwrap().contains("viewer"));
    let logins: i64 = halite::with_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE user_id = $1 AND username = 'gone'",
    )
    .bind(&id)
    .fetch_one(p)
    .await
    .unwrap());
    assert!(logins >= 1, "the deleted user's own audit rows are kept");
}

/// Open `/api/auth/watch`; the returned receiver gets the body text as it arrives and is
/// closed when the server ends the stream.
async fn watch(
    app: &TestApp,
    cookie: &str,
) -> (StatusCode, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let res = app.open_stream("/api/auth/watch", cookie).await;
    let status = res.status();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut body = res.into_body();
    tokio::spawn(async move {
        while let Some(Ok(f)) = body.frame().await {
            if let Ok(chunk) = f.into_data() {
                if tx
                    .send(String::from_utf8_lossy(&chunk).to_string())
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    (status, rx)
}

/// Read the stream until `needle` arrives, within `within` (less than the 5 s periodic
/// re-check, so only the notifier can have been this quick).
async fn read_until(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    needle: &str,
    within: Duration,
) -> String {
    let mut seen = String::new();
    let found = tokio::time::timeout(within, async {
        while let Some(chunk) = rx.recv().await {
            seen.push_str(&chunk);
            if seen.contains(needle) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{needle:?} did not arrive; got {seen:?}");
    seen
}

#[tokio::test]
async fn deactivating_ends_sessions_and_the_open_watch_stream_at_once() {
    let (app, cookie) = admin_app().await;
    app.create_user("dana", PW, &["viewer"]).await;
    let dana = app.login("dana", PW).await;
    let (st, mut stream) = watch(&app, &dana).await;
    assert_eq!(st, StatusCode::OK);
    read_until(&mut stream, ": watching", Duration::from_secs(3)).await;
    let id = user_id(&app, "dana").await;
    let r = set_active(&app, &cookie, &id, false).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = read_until(&mut stream, "event: ended", Duration::from_secs(3)).await;
    assert!(seen.contains("event: ended"));
    // The stream then closes.
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        while stream.recv().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the watch stream stayed open");
    // The old cookie is signed out: 401 for server functions, a redirect for pages.
    let r = app.call("minions/list", &[], Some(&dana)).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = app.get("/minions", Some(&dana)).await;
    assert!(r.status.is_redirection(), "{}", r.status);
    assert_eq!(r.location(), Some("/login"));
    let (st, _) = watch(&app, &dana).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Signing in is refused while inactive; reactivated, it works again.
    let r = app
        .call(
            "auth/login",
            &[("username", "dana"), ("password", PW)],
            None,
        )
        .await;
    assert_ne!(r.status, 200, "{}", r.body);
    let r = set_active(&app, &cookie, &id, true).await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.login("dana", PW).await;
    // One user.update row per change, with before/after of the active flag.
    let rows = app.audit_rows("user.update").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let args: Value = serde_json::from_str(rows[0].2.as_deref().unwrap()).unwrap();
    assert_eq!(args["before"]["is_active"], true);
    assert_eq!(args["after"]["is_active"], false);
    assert_eq!(args["sessions_ended"], 1);
}

#[tokio::test]
async fn a_watch_stream_of_someone_else_stays_open() {
    let (app, cookie) = admin_app().await;
    app.create_user("erin", PW, &["viewer"]).await;
    app.create_user("finn", PW, &["viewer"]).await;
    let finn = app.login("finn", PW).await;
    let (_, mut stream) = watch(&app, &finn).await;
    read_until(&mut stream, ": watching", Duration::from_secs(3)).await;
    let erin = user_id(&app, "erin").await;
    assert_eq!(set_active(&app, &cookie, &erin, false).await.status, 200);
    // finn's session is untouched.
    let r = app.call("minions/list", &[], Some(&finn)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), async {
            let mut s = String::new();
            while let Some(c) = stream.recv().await {
                s.push_str(&c);
                if s.contains("ended") {
                    break;
                }
            }
        })
        .await
        .is_err(),
        "finn's stream must not end"
    );
}

#[tokio::test]
async fn reset_password_ends_sessions_and_forces_a_change() {
    let (app, cookie) = admin_app().await;
    app.create_user("gail", PW, &["viewer"]).await;
    let gail = app.login("gail", PW).await;
    let (_, mut stream) = watch(&app, &gail).await;
    read_until(&mut stream, ": watching", Duration::from_secs(3)).await;
    let id = user_id(&app, "gail").await;
    let new_pw = "another horse battery";
    let r = app
        .call(
            "users/password",
            &[("id", &id), ("new_password", new_pw)],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body.trim(), "1", "one session ended");
    read_until(&mut stream, "event: ended", Duration::from_secs(3)).await;
    let r = app.call("minions/list", &[], Some(&gail)).await;
    assert_eq!(r.status, 401, "{}", r.body);
    // The old password no longer works; the new one signs in to a forced change.
    let r = app
        .call(
            "auth/login",
            &[("username", "gail"), ("password", PW)],
            None,
        )
        .await;
    assert_ne!(r.status, 200);
    let fresh = app.login("gail", new_pw).await;
    let r = app.call("minions/list", &[], Some(&fresh)).await;
    assert_eq!(r.status, 403, "must change the password first: {}", r.body);
    let r = app.call("users/get", &[("id", &id)], Some(&cookie)).await;
    assert_eq!(r.json()["must_change_pw"], true);
    let rows = app.audit_rows("user.password_reset").await;
    assert_eq!(rows.len(), 1);
    let args = rows[0].2.as_deref().unwrap();
    assert!(!args.contains(new_pw) && !args.contains("horse"), "{args}");
}

#[tokio::test]
async fn role_changes_rescope_the_next_request() {
    let (app, cookie) = admin_app().await;
    app.create_role("minion-reader", &[("view", "minion:*")])
        .await;
    app.create_user("hal", PW, &["minion-reader"]).await;
    let hal = app.login("hal", PW).await;
    let id = user_id(&app, "hal").await;
    let reader = role_id(&app, "minion-reader").await;
    let viewer = role_id(&app, "viewer").await;
    assert_eq!(app.call("minions/list", &[], Some(&hal)).await.status, 200);
    assert_eq!(app.call("keys/list", &[], Some(&hal)).await.status, 403);
    let r = membership(&app, &cookie, "users/role-add", &id, &viewer).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.call("keys/list", &[], Some(&hal)).await.status, 200);
    // Adding a role held already is a 409.
    let r = membership(&app, &cookie, "users/role-add", &id, &viewer).await;
    assert_eq!(r.status, 409, "{}", r.body);
    for role in [&viewer, &reader] {
        let r = membership(&app, &cookie, "users/role-remove", &id, role).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(app.call("minions/list", &[], Some(&hal)).await.status, 403);
    let r = membership(&app, &cookie, "users/role-remove", &id, &viewer).await;
    assert_eq!(r.status, 404, "not held: {}", r.body);
    let r = membership(&app, &cookie, "users/role-add", &id, "r-nope").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(app.audit_rows("user.roles.add").await.len(), 1);
    let removed = app.audit_rows("user.roles.remove").await;
    assert_eq!(removed.len(), 2);
    assert!(removed[1].2.as_deref().unwrap().contains("minion-reader"));
}

#[tokio::test]
async fn a_viewer_may_read_but_not_manage_and_denials_are_audited() {
    let (app, _) = admin_app().await;
    app.create_role("user-viewer", &[("view", "user:*")]).await;
    app.create_user("ivy", PW, &["user-viewer"]).await;
    app.create_user("jack", PW, &["viewer"]).await;
    let ivy = app.login("ivy", PW).await;
    let jack = app.login("jack", PW).await;
    let target = user_id(&app, "jack").await;
    assert_eq!(app.call("users/list", &[], Some(&ivy)).await.status, 200);
    assert_eq!(
        app.call("users/get", &[("id", &target)], Some(&ivy))
            .await
            .status,
        200
    );
    let attempts: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("users/create", vec![("username", "kim"), ("password", PW)]),
        (
            "users/update",
            vec![("id", &target), ("is_active", "false")],
        ),
        (
            "users/password",
            vec![("id", &target), ("new_password", PW)],
        ),
        ("users/delete", vec![("id", &target)]),
        (
            "users/role-add",
            vec![("id", &target), ("role_id", "r-user-viewer")],
        ),
    ];
    for (endpoint, form) in &attempts {
        let r = app.call(endpoint, form, Some(&ivy)).await;
        assert_eq!(r.status, 403, "{endpoint}: {}", r.body);
    }
    let denied: Vec<(String, String)> = halite::with_db!(&app.state.db, p => sqlx::query_as(
        "SELECT resource, coalesce(CAST(args_json AS TEXT), '') FROM audit_log \
         WHERE action = 'permission.denied' AND username = 'ivy' ORDER BY id",
    )
    .fetch_all(p)
    .await
    .unwrap());
    assert_eq!(denied.len(), attempts.len(), "{denied:?}");
    assert_eq!(denied[0].0, "user:kim");
    assert_eq!(denied[1].0, "user:jack");
    assert!(denied[1].1.contains("manage_user"));
    // Someone without view:user:* cannot list or read users.
    assert_eq!(app.call("users/list", &[], Some(&jack)).await.status, 403);
    assert_eq!(
        app.call("users/roles-available", &[], Some(&jack))
            .await
            .status,
        403
    );
    // Nothing changed.
    let r = app.call("users/get", &[("id", &target)], Some(&ivy)).await;
    assert_eq!(r.json()["is_active"], true);
    // Signed out: 401.
    assert_eq!(app.call("users/list", &[], None).await.status, 401);
}

#[tokio::test]
async fn list_searches_filters_sorts_and_pages_in_sql() {
    let (app, cookie) = admin_app().await;
    for i in 0..55 {
        app.create_user(&format!("user{i:02}"), PW, &["viewer"])
            .await;
    }
    halite::with_db!(&app.state.db, p => {
    sqlx::query("UPDATE users SET display_name = 'Zed Quux', email = 'zed@corp.example', email_lower = 'zed@corp.example' WHERE username = 'user07'")
            .execute(p)
            .await
            .unwrap();
    });
    halite::with_db!(&app.state.db, p => {
    sqlx::query("UPDATE users SET is_active = FALSE WHERE username IN ('user01', 'user02')")
            .execute(p)
            .await
            .unwrap();
    });
    let list = |form: Vec<(&'static str, String)>| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call("users/list", &f, Some(&cookie)).await
        }
    };
    // 57 users: admin, root, user00..user54.
    let r = list(vec![]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["total"], 57);
    assert_eq!(j["rows"].as_array().unwrap().len(), 50);
    assert_eq!(j["counts"]["inactive"], 2);
    assert_eq!(usernames(&r)[0], "admin");
    let r = list(vec![("page", "2".into())]).await;
    assert_eq!(r.json()["rows"].as_array().unwrap().len(), 7);
    // Past the end: an empty page, not an error.
    let r = list(vec![("page", "9".into())]).await;
    assert_eq!(r.status, 200);
    assert!(usernames(&r).is_empty());
    // Search: case-insensitive over username, display name and e-mail; LIKE wildcards are text.
    assert_eq!(
        usernames(&list(vec![("q", "USER5".into())]).await),
        ["user50", "user51", "user52", "user53", "user54"]
    );
    assert_eq!(
        usernames(&list(vec![("q", "quux".into())]).await),
        ["user07"]
    );
    assert_eq!(
        usernames(&list(vec![("q", "CORP.example".into())]).await),
        ["user07"]
    );
    assert!(usernames(&list(vec![("q", "%".into())]).await).is_empty());
    assert!(usernames(&list(vec![("q", "r_0".into())]).await).is_empty());
    // Active filter, with counts of the search.
    let r = list(vec![("active", "inactive".into())]).await;
    assert_eq!(usernames(&r), ["user01", "user02"]);
    assert_eq!(r.json()["total"], 2);
    let r = list(vec![("active", "active".into()), ("q", "user0".into())]).await;
    assert_eq!(r.json()["total"], 8);
    assert_eq!(r.json()["counts"]["active"], 8);
    assert_eq!(r.json()["counts"]["inactive"], 2);
    // Sort: descending username; e-mail puts users without one last either way.
    let r = list(vec![("sort", "username".into()), ("dir", "desc".into())]).await;
    assert_eq!(usernames(&r)[0], "user54");
    for dir in ["asc", "desc"] {
        let r = list(vec![("sort", "email".into()), ("dir", dir.into())]).await;
        assert_eq!(usernames(&r)[0], "user07", "{dir}");
    }
    let r = list(vec![("sort", "last_login".into())]).await;
    assert_eq!(r.status, 200);
    assert_eq!(usernames(&r)[0], "root", "the only one who signed in");
    let r = list(vec![
        ("sort", "created".into()),
        ("dir", "desc".into()),
        ("per_page", "100".into()),
    ])
    .await;
    assert_eq!(r.json()["rows"].as_array().unwrap().len(), 57);
    // Edges: refused with 422.
    for (k, v) in [
        ("sort", "password".to_string()),
        ("dir", "up".into()),
        ("active", "yes".into()),
        ("per_page", "7".into()),
        ("page", "-1".into()),
        ("q", "x".repeat(201)),
    ] {
        let r = list(vec![(k, v)]).await;
        assert_eq!(r.status, 422, "{k}: {}", r.body);
    }
    // Rows carry their roles.
    let r = list(vec![("q", "root".into())]).await;
    assert_eq!(r.json()["rows"][0]["roles"][0]["name"], "admin");
    // The role picker lists every role.
    let r = app.call("users/roles-available", &[], Some(&cookie)).await;
    let names: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["admin", "operator", "viewer"]);
}

#[tokio::test]
async fn edits_record_only_what_changed() {
    let (app, cookie) = admin_app().await;
    app.create_user("kai", PW, &["viewer"]).await;
    let id = user_id(&app, "kai").await;
    let edit = |name: &'static str, email: &'static str| {
        let (app, id, cookie) = (&app, id.clone(), cookie.clone());
        async move {
            let form = [
                ("id", id.as_str()),
                ("profile", "1"),
                ("display_name", name),
                ("email", email),
            ];
            app.call("users/update", &form, Some(&cookie)).await
        }
    };
    let r = edit("Kai K", "kai@x.org").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["email"], "kai@x.org");
    // The same values again: nothing to record.
    let r = edit("Kai K", "kai@x.org").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Clearing the e-mail.
    let r = edit("Kai K", "").await;
    assert_eq!(r.json()["email"], Value::Null);
    assert_eq!(r.json()["display_name"], "Kai K");
    let rows = app.audit_rows("user.update").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let first: Value = serde_json::from_str(rows[0].2.as_deref().unwrap()).unwrap();
    assert_eq!(first["before"]["display_name"], "");
    assert_eq!(first["after"]["display_name"], "Kai K");
    assert!(first["before"].get("is_active").is_none());
    let second: Value = serde_json::from_str(rows[1].2.as_deref().unwrap()).unwrap();
    assert_eq!(second["after"]["email"], Value::Null);
    assert_eq!(rows[1].3.as_deref(), Some("root"));
}

#[tokio::test]
async fn cli_service_calls_follow_the_same_rules_and_audit_as_cli() {
    use halite::server::users::service::{self, Actor};
    let (app, _) = admin_app().await;
    let db = &app.state.db;
    app.create_user("lee", PW, &[]).await;
    let lee = service::load_by_username(db, "LEE").await.unwrap();
    let viewer = service::role_by_name(db, "viewer").await.unwrap();
    service::add_role(db, &Actor::cli(), &lee, &viewer)
        .await
        .unwrap();
    let rows = app.audit_rows("user.roles.add").await;
    assert_eq!(rows[0].3.as_deref(), Some("cli"));
    let user_id: Option<String> = halite::with_db!(db, p => sqlx::query_scalar("SELECT user_id FROM audit_log WHERE action = 'user.roles.add'")
            .fetch_one(p)
            .await
            .unwrap());
    assert_eq!(user_id, None);
    // The CLI is nobody: only the last-holder rule applies. Deactivate the bootstrap admin,
    // and root is the last one.
    let admin = service::load_by_username(db, "admin").await.unwrap();
    let off = service::UpdateUser {
        is_active: Some(false),
        ..Default::default()
    };
    service::update(db, &Actor::cli(), &admin, off.clone())
        .await
        .unwrap();
    let root = service::load_by_username(db, "root").await.unwrap();
    let e = service::update(db, &Actor::cli(), &root, off)
        .await
        .unwrap_err();
    assert!(matches!(e, halite::error::AppError::Conflict(_)), "{e:?}");
    assert!(service::delete(db, &Actor::cli(), &root).await.is_err());
    assert!(
        service::would_leave_no_superadmin(db, &root.id, service::UserChange::Delete)
            .await
            .unwrap()
    );
    assert!(
        !service::would_leave_no_superadmin(db, &lee.id, service::UserChange::Delete)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn pages_render_with_the_names_the_e2e_uses() {
    let (app, cookie) = admin_app().await;
    app.create_user("mia", PW, &["viewer"]).await;
    let r = app.get("/users?q=mi", Some(&cookie)).await;
    assert_eq!(r.status, 200);
    for needle in [
        r#"data-test="users-table""#,
        r#"data-test="user-row""#,
        r#"data-username="mia""#,
        r#"data-test="user-new""#,
    ] {
        assert!(r.body.contains(needle), "/users lacks {needle}");
    }
    assert!(
        !r.body.contains(r#"data-username="root""#),
        "the search applies"
    );
    let r = app.get("/users?new=1", Some(&cookie)).await;
    for needle in [
        r#"name="username""#,
        r#"name="display_name""#,
        r#"name="email""#,
        r#"name="password""#,
        r#"name="must_change_pw""#,
        r#"name="role_ids""#,
        r#"data-role-name="viewer""#,
        r#"data-test="user-create-submit""#,
    ] {
        assert!(r.body.contains(needle), "the new-user form lacks {needle}");
    }
    let id = user_id(&app, "mia").await;
    let r = app.get(&format!("/users/{id}"), Some(&cookie)).await;
    assert_eq!(r.status, 200);
    for needle in [
        r#"data-test="user-status""#,
        ">Active<",
        r#"data-test="user-deactivate""#,
        r#"name="new_password""#,
        r#"data-test="user-reset-password""#,
        r#"name="role_id""#,
        r#"data-test="user-role-add""#,
        r#"data-test="user-role""#,
        r#"data-test="user-role-remove""#,
        r#"data-test="user-delete""#,
    ] {
        assert!(r.body.contains(needle), "/users/:id lacks {needle}");
    }
    let r = app
        .get(&format!("/users/{id}?confirm=delete"), Some(&cookie))
        .await;
    assert!(r.body.contains(r#"data-test="user-delete-confirm""#));
    // Someone without view:user:* gets the page's designed refusal, not the table.
    let mia = app.login("mia", PW).await;
    let r = app.get("/users", Some(&mia)).await;
    assert!(!r.body.contains(r#"data-test="users-table""#));
    assert!(r.body.contains("Not allowed"), "{}", r.body.len());
    // Who may view but not manage users gets the detail page without its forms.
    app.create_role("user-viewer", &[("view", "user:*")]).await;
    app.create_user("ned", PW, &["user-viewer"]).await;
    let ned = app.login("ned", PW).await;
    let r = app.get(&format!("/users/{id}"), Some(&ned)).await;
    assert!(r.body.contains(r#"data-test="user-read-only""#));
    assert!(r.body.contains(r#"data-test="user-role""#));
    for absent in [
        "user-deactivate",
        "user-role-remove",
        "user-reset-password",
        "user-delete",
    ] {
        assert!(
            !r.body.contains(&format!(r#"data-test="{absent}""#)),
            "{absent} shown read-only"
        );
    }
    // The sign-in page explains an ended session.
    let r = app.get("/login?ended=1", None).await;
    assert!(
        r.body.contains("Your session was ended"),
        "the notice is missing"
    );
    let r = app.get("/login", None).await;
    assert!(!r.body.contains("Your session was ended"));
}

/// Security review: a delegated `manage_user` / `manage_role` grant must not be a way to `*:*`.
/// Nobody hands out, through a role, a new user or another account, access they do not hold.
#[tokio::test]
async fn nobody_passes_on_access_they_do_not_hold() {
    let app = TestApp::new().await;
    app.create_role(
        "helpdesk",
        &[
            ("manage_user", "user:*"),
            ("view", "*"),
            ("manage_role", "role:helpdesk"),
        ],
    )
    .await;
    app.create_user("hana", PW, &["helpdesk"]).await;
    app.create_user("root", PW, &["admin"]).await;
    app.create_user("vera", PW, &["viewer"]).await;
    let cookie = app.login("hana", PW).await;
    let (admin, viewer, helpdesk) = (
        role_id(&app, "admin").await,
        role_id(&app, "viewer").await,
        role_id(&app, "helpdesk").await,
    );
    let (hana, root, vera) = (
        user_id(&app, "hana").await,
        user_id(&app, "root").await,
        user_id(&app, "vera").await,
    );
    // Giving yourself (or anyone) the admin role: refused, and the refusal audited.
    let r = membership(&app, &cookie, "users/role-add", &hana, &admin).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("do not hold"), "{}", r.body);
    let r = create(
        &app,
        &cookie,
        &[
            ("username", "mallory"),
            ("password", PW),
            ("role_ids", &admin),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Taking over a stronger account: its password, its activation, its roles.
    let r = app
        .call(
            "users/password",
            &[("id", &root), ("new_password", "taken-over-123")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    app.login("root", PW).await; // root's password is unchanged
    assert_eq!(
        set_active(&app, &cookie, &root, false).await.status,
        StatusCode::FORBIDDEN
    );
    // Your own password goes through Change password (it asks for the current one).
    let r = app
        .call(
            "users/password",
            &[("id", &hana), ("new_password", "new-password-123")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // Adding *:* (or anything beyond what you hold) to a role you manage.
    let r = app
        .call(
            "roles/perm-add",
            &[
                ("role_id", &helpdesk),
                ("verb", "*"),
                ("resource_glob", "*"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let perms = halite::server::auth::load_permissions(&app.state.db, &hana)
        .await
        .unwrap();
    assert!(!perms.iter().any(|p| p.verb == "*"), "{perms:?}");
    // What they do hold they may pass on: the viewer role (all view grants) and a narrower grant.
    let r = membership(&app, &cookie, "users/role-add", &vera, &viewer).await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "vera holds it already: {}",
        r.body
    );
    let r = create(
        &app,
        &cookie,
        &[
            ("username", "victor"),
            ("password", PW),
            ("role_ids", &viewer),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .call(
            "roles/perm-add",
            &[
                ("role_id", &helpdesk),
                ("verb", "view"),
                ("resource_glob", "minion:web-*"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        set_active(&app, &cookie, &vera, false).await.status,
        StatusCode::OK
    );
    let denials: Vec<String> = app
        .audit_rows("permission.denied")
        .await
        .into_iter()
        .filter_map(|(_, _, args, user)| (user.as_deref() == Some("hana")).then_some(args?))
        .collect();
    assert!(
        denials.iter().filter(|a| a.contains("escalation")).count() >= 5,
        "{denials:?}"
    );
}

/// The audit log records `halite admin` changes as user `cli`: nobody may take that name.
#[tokio::test]
async fn the_cli_username_is_reserved() {
    let (app, cookie) = admin_app().await;
    for name in ["cli", "CLI"] {
        let r = create(&app, &cookie, &[("username", name), ("password", PW)]).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert!(r.body.contains("reserved"), "{}", r.body);
    }
}
