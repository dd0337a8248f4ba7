//! Command templates through the real router: ownership scoping (non-owners get 404, never 403),
//! sharing, case-insensitive duplicate names, validation with field names, audit, cascade.

use crate::common::TestApp;
use axum::http::StatusCode;
use serde_json::Value;

/// Two ordinary users (viewers: templates need no permission) and their session cookies.
async fn two_users(app: &TestApp) -> (String, String) {
    app.create_user("alice", "alice-password", &["viewer"])
        .await;
    app.create_user("bob", "bob-password", &["viewer"]).await;
    (
        app.login("alice", "alice-password").await,
        app.login("bob", "bob-password").await,
    )
}

async fn create(app: &TestApp, cookie: &str, name: &str, shared: bool) -> Value {
    let mut form = vec![
        ("name", name),
        ("description", "Install the web server"),
        ("target", "web-*"),
        ("target_type", "glob"),
        ("fun", "pkg.install"),
        ("args_json", r#"["nginx"]"#),
        ("kwargs_json", r#"{"refresh":"True"}"#),
    ];
    if shared {
        form.push(("is_shared", "on"));
    }
    let r = app.call("templates/create", &form, Some(cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "create {name}: {}", r.body);
    r.json()
}

async fn list(app: &TestApp, cookie: &str) -> Value {
    let r = app.call("templates/list", &[], Some(cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

fn names(list: &Value) -> Vec<String> {
    list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn create_list_and_get_round_trip() {
    let app = TestApp::new().await;
    let (alice, _) = two_users(&app).await;
    assert_eq!(list(&app, &alice).await["total"], 0);

    let t = create(&app, &alice, "  Install nginx  ", false).await;
    let id = t["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "uuid id: {id}");
    assert_eq!(t["name"], "Install nginx", "name is trimmed");
    assert_eq!(t["description"], "Install the web server");
    assert_eq!(t["target"], "web-*");
    assert_eq!(t["target_type"], "glob");
    assert_eq!(t["fun"], "pkg.install");
    assert_eq!(t["args"], serde_json::json!(["nginx"]));
    assert_eq!(t["kwargs"], serde_json::json!({"refresh": "True"}));
    assert_eq!(t["is_shared"], false);
    assert_eq!(t["is_mine"], true);
    assert_eq!(t["owner_username"], "alice");
    assert_eq!(t["created_at"], t["updated_at"]);

    // Defaults: no description, target type, args or kwargs.
    let r = app
        .call(
            "templates/create",
            &[("name", "ping"), ("target", "*"), ("fun", "test.ping")],
            Some(&alice),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = r.json();
    assert_eq!(p["target_type"], "glob");
    assert_eq!(p["args"], serde_json::json!([]));
    assert_eq!(p["kwargs"], serde_json::json!({}));
    assert_eq!(p["description"], "");

    let l = list(&app, &alice).await;
    assert_eq!(l["total"], 2);
    assert_eq!(names(&l), vec!["Install nginx", "ping"], "by name");

    let r = app
        .call("templates/get", &[("id", &id)], Some(&alice))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json(), t);

    let audit = app.audit_rows("template.create").await;
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].0, "allow");
    assert_eq!(audit[0].3.as_deref(), Some("alice"));
    let args: Value = serde_json::from_str(audit[0].2.as_deref().unwrap()).unwrap();
    assert_eq!(args["fun"], "pkg.install");
    assert_eq!(args["name"], "Install nginx");
    let resource: String = halite::with_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT resource FROM audit_log WHERE action = 'template.create' ORDER BY id LIMIT 1",
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(resource, format!("template:{id}"));
}

#[tokio::test]
async fn shared_templates_are_visible_to_others_private_ones_are_not() {
    let app = TestApp::new().await;
    let (alice, bob) = two_users(&app).await;
    let private = create(&app, &alice, "alice private", false).await;
    let shared = create(&app, &alice, "alice shared", true).await;
    assert_eq!(shared["is_shared"], true);
    create(&app, &bob, "zz bob own", false).await;

    // Bob: his own first, then shared ones by name; never Alice's private one.
    let l = list(&app, &bob).await;
    assert_eq!(l["total"], 2);
    assert_eq!(names(&l), vec!["zz bob own", "alice shared"]);
    let theirs = &l["templates"][1];
    assert_eq!(theirs["is_mine"], false);
    assert_eq!(theirs["owner_username"], "alice");
    assert_eq!(theirs["owner_user_id"], shared["owner_user_id"]);

    // Get: shared yes, private is "not found" (not "forbidden"), unknown id the same.
    let r = app
        .call(
            "templates/get",
            &[("id", shared["id"].as_str().unwrap())],
            Some(&bob),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["is_mine"], false);
    for id in [private["id"].as_str().unwrap(), "no-such-id", ""] {
        let r = app.call("templates/get", &[("id", id)], Some(&bob)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}: {}", r.body);
        assert_eq!(r.json()["NotFound"], "Template not found");
    }

    // Alice sees both of hers, mine first, by name.
    let l = list(&app, &alice).await;
    assert_eq!(names(&l), vec!["alice private", "alice shared"]);
}

#[tokio::test]
async fn only_the_owner_may_share_or_delete_others_get_404() {
    let app = TestApp::new().await;
    let (alice, bob) = two_users(&app).await;
    let t = create(&app, &alice, "restart web", false).await;
    let id = t["id"].as_str().unwrap().to_string();

    for (endpoint, form) in [
        (
            "templates/share",
            vec![("id", id.as_str()), ("is_shared", "true")],
        ),
        ("templates/delete", vec![("id", id.as_str())]),
    ] {
        let r = app.call(endpoint, &form, Some(&bob)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{endpoint}: {}", r.body);
        assert_eq!(r.json()["NotFound"], "Template not found");
    }
    assert_eq!(list(&app, &bob).await["total"], 0, "still private");
    assert_eq!(list(&app, &alice).await["total"], 1, "still there");

    // Owner shares: Bob sees it, read-only (his share/delete still 404).
    let r = app
        .call(
            "templates/share",
            &[("id", &id), ("is_shared", "true")],
            Some(&alice),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["is_shared"], true);
    assert_eq!(names(&list(&app, &bob).await), vec!["restart web"]);
    let r = app
        .call(
            "templates/share",
            &[("id", &id), ("is_shared", "false")],
            Some(&bob),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call("templates/delete", &[("id", &id)], Some(&bob))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Owner unshares: gone for Bob again.
    let r = app
        .call(
            "templates/share",
            &[("id", &id), ("is_shared", "false")],
            Some(&alice),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["is_shared"], false);
    assert_eq!(list(&app, &bob).await["total"], 0);

    // Owner deletes; a second delete and a get are 404.
    let r = app
        .call("templates/delete", &[("id", &id)], Some(&alice))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .call("templates/delete", &[("id", &id)], Some(&alice))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call("templates/get", &[("id", &id)], Some(&alice))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(list(&app, &alice).await["total"], 0);

    // Only the owner's successful changes are audited.
    let shares = app.audit_rows("template.share").await;
    assert_eq!(shares.len(), 2);
    assert!(shares.iter().all(|s| s.3.as_deref() == Some("alice")));
    let deletes = app.audit_rows("template.delete").await;
    assert_eq!(deletes.len(), 1);
    assert!(deletes[0].2.as_deref().unwrap().contains("restart web"));
}

#[tokio::test]
async fn duplicate_names_per_owner_are_a_conflict_case_insensitively() {
    let app = TestApp::new().await;
    let (alice, bob) = two_users(&app).await;
    create(&app, &alice, "Ping All", false).await;
    let r = app
        .call(
            "templates/create",
            &[
                ("name", " ping ALL "),
                ("target", "*"),
                ("fun", "test.ping"),
            ],
            Some(&alice),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(
        r.json()["Conflict"],
        "You already have a template named \"ping ALL\"."
    );
    // Another user may use the same name.
    create(&app, &bob, "Ping All", true).await;
    // Alice now sees her own and Bob's shared one with the same name: hers first.
    let l = list(&app, &alice).await;
    assert_eq!(l["total"], 2);
    assert_eq!(l["templates"][0]["is_mine"], true);
    assert_eq!(l["templates"][1]["owner_username"], "bob");
}

#[tokio::test]
async fn invalid_input_is_422_naming_the_field() {
    let app = TestApp::new().await;
    let (alice, _) = two_users(&app).await;
    let long_name = "n".repeat(101);
    let long_desc = "d".repeat(501);
    let long_target = "t".repeat(1025);
    let long_fun = format!("a.{}", "b".repeat(127));
    let many_args =
        serde_json::to_string(&(0..65).map(|i| i.to_string()).collect::<Vec<_>>()).unwrap();
    let long_arg = serde_json::to_string(&vec!["x".repeat(4097)]).unwrap();
    let many_kwargs = serde_json::to_string(
        &(0..65)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
    .unwrap();
    let cases: Vec<(&str, &str, &str)> = vec![
        ("name", "", "name"),
        ("name", "   ", "name"),
        ("name", &long_name, "name"),
        ("name", "two\nlines", "name"),
        ("description", &long_desc, "description"),
        ("target", "", "target"),
        ("target", &long_target, "target"),
        ("target_type", "regex", "target_type"),
        ("fun", "ping", "fun"),
        ("fun", "test.", "fun"),
        ("fun", "1test.ping", "fun"),
        ("fun", "test.ping; rm -rf /", "fun"),
        ("fun", &long_fun, "fun"),
        ("args_json", "not json", "args"),
        ("args_json", "[1, 2]", "args"),
        ("args_json", r#"{"a":"b"}"#, "args"),
        ("args_json", &many_args, "args"),
        ("args_json", &long_arg, "args"),
        ("kwargs_json", "[]", "kwargs"),
        ("kwargs_json", r#"{"a": 1}"#, "kwargs"),
        ("kwargs_json", r#"{"1bad": "v"}"#, "kwargs"),
        ("kwargs_json", r#"{"has-dash": "v"}"#, "kwargs"),
        ("kwargs_json", &many_kwargs, "kwargs"),
    ];
    for (key, value, field) in cases {
        let mut form = vec![
            ("name", "valid"),
            ("target", "*"),
            ("target_type", "glob"),
            ("fun", "test.ping"),
        ];
        form.retain(|(k, _)| *k != key);
        form.push((key, value));
        let r = app.call("templates/create", &form, Some(&alice)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{key}={value:.40}: {}",
            r.body
        );
        assert_eq!(
            r.json()["Invalid"]["field"],
            field,
            "{key}={value:.40}: {}",
            r.body
        );
    }
    // Limits themselves are fine.
    let ok_name = "n".repeat(100);
    let ok_fun = format!("a.{}", "b".repeat(126));
    let r = app
        .call(
            "templates/create",
            &[
                ("name", &ok_name),
                ("description", &"d".repeat(500)),
                ("target", &"t".repeat(1024)),
                ("target_type", "compound"),
                ("fun", &ok_fun),
            ],
            Some(&alice),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A missing required field is a client error too.
    let r = app
        .call("templates/create", &[("name", "x")], Some(&alice))
        .await;
    assert!(r.status.is_client_error(), "{}: {}", r.status, r.body);
    assert_eq!(
        list(&app, &alice).await["total"],
        1,
        "nothing invalid was stored"
    );
}

#[tokio::test]
async fn every_template_route_needs_a_session() {
    let app = TestApp::new().await;
    for (endpoint, form) in [
        ("templates/list", vec![]),
        ("templates/get", vec![("id", "x")]),
        (
            "templates/create",
            vec![("name", "n"), ("target", "*"), ("fun", "test.ping")],
        ),
        ("templates/share", vec![("id", "x"), ("is_shared", "true")]),
        ("templates/delete", vec![("id", "x")]),
    ] {
        let r = app.call(endpoint, &form, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{endpoint}: {}", r.body);
    }
    // The bootstrap admin must change the password first.
    let admin = app.login("admin", "changeme").await;
    let r = app.call("templates/list", &[], Some(&admin)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test]
async fn deleting_the_owner_deletes_their_templates() {
    let app = TestApp::new().await;
    let (alice, bob) = two_users(&app).await;
    create(&app, &alice, "shared by alice", true).await;
    assert_eq!(list(&app, &bob).await["total"], 1);
    halite::with_db!(&app.state.db, p => {
    sqlx::query("DELETE FROM users WHERE username_lower = 'alice'")
            .execute(p)
            .await
            .unwrap();
    });
    assert_eq!(list(&app, &bob).await["total"], 0);
    let left: i64 = halite::with_db!(&app.state.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM command_templates")
        .fetch_one(p)
        .await
        .unwrap());
    assert_eq!(left, 0);
}

#[tokio::test]
async fn the_page_renders_on_the_server_for_owner_and_reader() {
    let app = TestApp::new().await;
    let (alice, bob) = two_users(&app).await;
    // Empty state first.
    let page = app.get("/templates", Some(&bob)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(r#"data-test="templates-empty""#),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("No templates yet. Save one from the Run page."));

    let t = create(&app, &alice, "Install <nginx>", true).await;
    let id = t["id"].as_str().unwrap();
    let mine = app.get("/templates", Some(&alice)).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(mine.body.contains(r#"data-test="templates-table""#));
    assert!(mine.body.contains("Install &lt;nginx&gt;"), "escaped name");
    assert!(mine.body.contains(&format!(r#"href="/run?template={id}""#)));
    assert!(mine.body.contains(r#"data-test="unshare""#));
    assert!(mine.body.contains(r#"data-test="delete""#));
    assert!(mine.body.contains("nginx refresh=True"));

    let theirs = app.get("/templates", Some(&bob)).await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert!(theirs.body.contains("by alice"));
    assert!(theirs
        .body
        .contains(&format!(r#"href="/run?template={id}""#)));
    assert!(!theirs.body.contains(r#"data-test="delete""#));
    assert!(!theirs.body.contains(r#"data-test="unshare""#));
}
