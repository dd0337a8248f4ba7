//! Roles administration (issue 12): create and its 409s, built-in immutability, delete refused
//! while assigned, verb/glob validation, `*:*` self-strip and last-holder protection, the live
//! preview scoped to what the asker may view, effective access, audit rows and denials.

use crate::common::{Reply, TestApp};
use serde_json::Value;

const PW: &str = "correct horse battery";

async fn admin(app: &TestApp) -> String {
    app.login_bootstrap_admin().await
}

/// One value from a query with one text argument.
async fn scalar<T>(app: &TestApp, sql: &str, arg: &str) -> T
where
    T: Send
        + Unpin
        + for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>,
{
    halite::with_db!(&app.state.db, p => {
        sqlx::query_scalar(sql)
            .bind(arg.to_string())
            .fetch_one(p)
            .await
            .unwrap()
    })
}

/// Run a statement with text arguments.
async fn exec(app: &TestApp, sql: &str, args: &[&str]) {
    halite::with_db!(&app.state.db, p => {
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(a.to_string());
        }
        q.execute(p).await.unwrap();
    });
}

async fn role_id(app: &TestApp, name: &str) -> String {
    scalar(
        app,
        "SELECT id FROM roles WHERE name_lower = $1",
        &name.to_lowercase(),
    )
    .await
}

async fn user_id(app: &TestApp, name: &str) -> String {
    scalar(
        app,
        "SELECT id FROM users WHERE username_lower = $1",
        &name.to_lowercase(),
    )
    .await
}

async fn create(app: &TestApp, cookie: &str, name: &str) -> Reply {
    app.call(
        "roles/create",
        &[("name", name), ("description", "test role")],
        Some(cookie),
    )
    .await
}

async fn add(app: &TestApp, cookie: &str, role: &str, verb: &str, glob: &str) -> Reply {
    app.call(
        "roles/perm-add",
        &[("role_id", role), ("verb", verb), ("resource_glob", glob)],
        Some(cookie),
    )
    .await
}

fn conflict(r: &Reply) -> String {
    assert_eq!(r.status, 409, "{}", r.body);
    r.json()["Conflict"].as_str().unwrap().to_string()
}

fn invalid(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 422, "{}", r.body);
    let j = r.json();
    (
        j["Invalid"]["field"].as_str().unwrap_or("").to_string(),
        j["Invalid"]["message"].as_str().unwrap().to_string(),
    )
}

async fn insert_minions(app: &TestApp, rows: &[(&str, &str)]) {
    for (id, state) in rows {
        exec(
            app,
            "INSERT INTO minion_snapshots (minion_id, key_status) VALUES ($1, $2)",
            &[id, state],
        )
        .await;
    }
}

#[tokio::test]
async fn create_list_get_and_name_rules() {
    let app = TestApp::new().await;
    let c = admin(&app).await;
    let r = create(&app, &c, "key-ops").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["is_builtin"], false);

    let msg = conflict(&create(&app, &c, "KEY-OPS").await);
    assert!(msg.contains("already exists"), "{msg}");
    for bad in ["", "has space", "semi;colon", &"x".repeat(65)] {
        let (field, _) = invalid(&create(&app, &c, bad).await);
        assert_eq!(field, "name", "{bad:?}");
    }
    let r = app
        .call(
            "roles/create",
            &[("name", "longdesc"), ("description", &"d".repeat(256))],
            Some(&c),
        )
        .await;
    assert_eq!(invalid(&r).0, "description");

    // List: built-ins plus ours, with counts; search on name and description.
    let r = app.call("roles/list", &[], Some(&c)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["total"], 4);
    let names: Vec<&str> = j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "key-ops", "operator", "viewer"]);
    let admin_row = &j["rows"][0];
    assert_eq!(admin_row["member_count"], 1);
    assert_eq!(admin_row["permission_count"], 1);
    assert_eq!(admin_row["is_builtin"], true);
    let r = app
        .call("roles/list", &[("q", "read-only")], Some(&c))
        .await;
    assert_eq!(r.json()["total"], 1);
    assert_eq!(r.json()["rows"][0]["name"], "viewer");
    let r = app
        .call(
            "roles/list",
            &[("sort", "members"), ("dir", "desc")],
            Some(&c),
        )
        .await;
    assert_eq!(r.json()["rows"][0]["name"], "admin");
    let r = app.call("roles/list", &[("sort", "bogus")], Some(&c)).await;
    assert_eq!(invalid(&r).0, "sort");

    let r = app.call("roles/get", &[("id", &id)], Some(&c)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["role"]["name"], "key-ops");
    assert_eq!(r.json()["permissions"], Value::Array(vec![]));
    let r = app.call("roles/get", &[("id", "nope")], Some(&c)).await;
    assert_eq!(r.status, 404, "{}", r.body);

    let rows = app.audit_rows("role.create").await;
    assert_eq!(
        rows.len(),
        1,
        "only the successful create is a role.create row"
    );
    assert_eq!(rows[0].3.as_deref(), Some("admin"));
}

#[tokio::test]
async fn builtin_roles_are_read_only() {
    let app = TestApp::new().await;
    let c = admin(&app).await;
    let viewer = role_id(&app, "viewer").await;
    let msg = conflict(&add(&app, &c, &viewer, "view", "audit:*").await);
    assert_eq!(msg, "Built-in roles cannot be changed.");
    let perm: String = scalar(
        &app,
        "SELECT id FROM permissions WHERE role_id = $1 LIMIT 1",
        &viewer,
    )
    .await;
    let r = app
        .call(
            "roles/perm-remove",
            &[("role_id", &viewer), ("permission_id", &perm)],
            Some(&c),
        )
        .await;
    assert_eq!(conflict(&r), "Built-in roles cannot be changed.");
    let r = app
        .call(
            "roles/update",
            &[("id", &viewer), ("description", "mine now")],
            Some(&c),
        )
        .await;
    conflict(&r);
    let r = app.call("roles/delete", &[("id", &viewer)], Some(&c)).await;
    conflict(&r);
    let count: i64 = scalar(
        &app,
        "SELECT COUNT(*) FROM permissions WHERE role_id = $1",
        &viewer,
    )
    .await;
    assert_eq!(count, 8, "nothing changed");
}

#[tokio::test]
async fn delete_is_refused_while_assigned_and_names_the_members() {
    let app = TestApp::new().await;
    let c = admin(&app).await;
    app.create_role("doomed", &[("view", "minion:*")]).await;
    app.create_user("ann", PW, &["doomed"]).await;
    app.create_user("bob", PW, &["doomed"]).await;
    let id = role_id(&app, "doomed").await;
    let msg = conflict(&app.call("roles/delete", &[("id", &id)], Some(&c)).await);
    assert!(msg.contains("ann, bob"), "{msg}");
    exec(&app, "DELETE FROM user_roles WHERE role_id = $1", &[&id]).await;
    let r = app.call("roles/delete", &[("id", &id)], Some(&c)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let left: i64 = scalar(&app, "SELECT COUNT(*) FROM roles WHERE id = $1", &id).await;
    assert_eq!(left, 0);
    let rows = app.audit_rows("role.delete").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].2.as_deref().unwrap().contains("doomed"));
}

#[tokio::test]
async fn permission_rows_are_validated() {
    let app = TestApp::new().await;
    let c = admin(&app).await;
    create(&app, &c, "checked").await;
    let id = role_id(&app, "checked").await;
    let (field, msg) = invalid(&add(&app, &c, &id, "acept", "key:*").await);
    assert_eq!(field, "verb");
    assert!(
        msg.starts_with("Unknown verb \"acept\": use one of view, run, accept"),
        "{msg}"
    );
    let (field, msg) = invalid(&add(&app, &c, &id, "accept", "key:web-[0-9").await);
    assert_eq!(field, "resource_glob");
    assert!(msg.contains("never closed"), "{msg}");
    let (_, msg) = invalid(&add(&app, &c, &id, "accept", "kye:web-*").await);
    assert!(msg.contains("Unknown resource kind \"kye\""), "{msg}");
    let (_, msg) = invalid(&add(&app, &c, &id, "accept", "key:[z-a]").await);
    assert!(msg.contains("match nothing"), "{msg}");
    invalid(&add(&app, &c, &id, "accept", "key:a b").await);
    invalid(&add(&app, &c, &id, "", "key:*").await);

    for (verb, glob) in [("accept", "key:new-*"), ("manage_*", "*"), ("view", "m*")] {
        let r = add(&app, &c, &id, verb, glob).await;
        assert_eq!(r.status, 200, "{verb} {glob}: {}", r.body);
        assert_eq!(r.json()["resource_glob"], glob);
    }
    let msg = conflict(&add(&app, &c, &id, "accept", "key:new-*").await);
    assert!(msg.contains("already holds accept:key:new-*"), "{msg}");
    let rows = app.audit_rows("role.permission.add").await;
    assert_eq!(rows.len(), 3);
    assert!(rows[0].2.as_deref().unwrap().contains("key:new-*"));
}

#[tokio::test]
async fn full_access_is_never_stripped_from_yourself_or_the_last_holder() {
    let app = TestApp::new().await;
    let c = admin(&app).await;
    // A custom full-access role held by `root2` only.
    app.create_role("full", &[("*", "*")]).await;
    app.create_user("root2", PW, &["full"]).await;
    let full = role_id(&app, "full").await;
    let star: String = scalar(&app, "SELECT id FROM permissions WHERE role_id = $1", &full).await;
    let remove = |cookie: String| {
        let (full, star) = (full.clone(), star.clone());
        let app = &app;
        async move {
            app.call(
                "roles/perm-remove",
                &[("role_id", &full), ("permission_id", &star)],
                Some(&cookie),
            )
            .await
        }
    };
    // root2 may not strip their own *:* (admin's built-in role does not cover root2).
    let r2 = app.login("root2", PW).await;
    let msg = conflict(&remove(r2.clone()).await);
    assert!(msg.contains("you would lose full access"), "{msg}");

    // With admin deactivated, root2 is the last active holder: admin's own removal is refused.
    let admin_id = user_id(&app, "admin").await;
    exec(
        &app,
        "UPDATE users SET is_active = FALSE WHERE id = $1",
        &[&admin_id],
    )
    .await;
    app.create_user("helper", PW, &[]).await;
    app.create_role("role-admin", &[("manage_role", "role:*")])
        .await;
    let (helper, role_admin) = (
        user_id(&app, "helper").await,
        role_id(&app, "role-admin").await,
    );
    exec(
        &app,
        "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)",
        &[&helper, &role_admin],
    )
    .await;
    let h = app.login("helper", PW).await;
    let msg = conflict(&remove(h.clone()).await);
    assert!(msg.contains("No active user would hold *:*"), "{msg}");

    // Admin active again: someone else keeps *:*, so the removal goes through.
    exec(
        &app,
        "UPDATE users SET is_active = TRUE WHERE id = $1",
        &[&admin_id],
    )
    .await;
    let r = remove(h).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = app.audit_rows("role.permission.remove").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].3.as_deref(), Some("helper"));
    let _ = c;
}

#[tokio::test]
async fn preview_counts_only_what_the_asker_may_view() {
    let app = TestApp::new().await;
    let c = admin(&app).await;
    let mut rows: Vec<(String, &str)> = (1..=12)
        .map(|i| (format!("web-{i:02}"), "accepted"))
        .collect();
    rows.push(("web-13".into(), "pending"));
    rows.push(("db-01".into(), "accepted"));
    let refs: Vec<(&str, &str)> = rows.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    insert_minions(&app, &refs).await;
    exec(
        &app,
        "INSERT INTO jobs_index (jid, function, target, started_at, seen_at) \
         VALUES ('20261130070000000001', 'test.ping', '*', '2026-11-30T07:00:00.000Z', '2026-11-30T07:00:00.000Z')",
        &[],
    )
    .await;

    let preview = |cookie: String, glob: &'static str| {
        let app = &app;
        async move {
            let r = app
                .call(
                    "roles/preview",
                    &[("verb", "view"), ("resource_glob", glob)],
                    Some(&cookie),
                )
                .await;
            assert_eq!(r.status, 200, "{glob}: {}", r.body);
            r.json()
        }
    };
    let p = preview(c.clone(), "minion:web-*").await;
    assert_eq!(p["minions"]["count"], 13);
    assert_eq!(p["minions"]["samples"].as_array().unwrap().len(), 10);
    assert_eq!(p["minions"]["samples"][0], "web-01");
    assert_eq!(p["keys"]["count"], 0);
    assert_eq!(p["jobs"]["count"], 0);
    let p = preview(c.clone(), "key:web-1*").await;
    assert_eq!(p["keys"]["count"], 4);
    assert_eq!(p["keys"]["samples"][3], "web-13 (pending)");
    let p = preview(c.clone(), "*").await;
    assert_eq!(
        (
            p["minions"]["count"].clone(),
            p["keys"]["count"].clone(),
            p["jobs"]["count"].clone()
        ),
        (14.into(), 14.into(), 1.into())
    );
    let p = preview(c.clone(), "job:2026*").await;
    assert_eq!(p["jobs"]["samples"][0], "20261130070000000001");

    // A role admin who may view only db-* minions and no keys or jobs sees only those.
    app.create_role("scoped", &[("view", "role:*"), ("view", "minion:db-*")])
        .await;
    app.create_user("scoped", PW, &["scoped"]).await;
    let s = app.login("scoped", PW).await;
    let p = preview(s.clone(), "*").await;
    assert_eq!(p["minions"]["count"], 1);
    assert_eq!(p["minions"]["samples"][0], "db-01");
    assert_eq!(p["keys"]["count"], 0);
    assert_eq!(p["jobs"]["count"], 0);

    let r = app
        .call(
            "roles/preview",
            &[("verb", "view"), ("resource_glob", "minion:[")],
            Some(&c),
        )
        .await;
    assert_eq!(invalid(&r).0, "resource_glob");
}

#[tokio::test]
async fn effective_access_names_the_deciding_role_and_grant() {
    let app = TestApp::new().await;
    let c = admin(&app).await;
    insert_minions(&app, &[("web-01", "accepted"), ("new-01", "pending")]).await;
    app.create_role("a-keys", &[("accept", "key:new-*")]).await;
    app.create_role("b-view", &[("view", "*")]).await;
    app.create_user("kim", PW, &["a-keys", "b-view"]).await;
    let kim = user_id(&app, "kim").await;
    let check = |verb: &'static str, resource: &'static str| {
        let (app, kim, c) = (&app, kim.clone(), c.clone());
        async move {
            let r = app
                .call(
                    "access/check",
                    &[("user_id", &kim), ("verb", verb), ("resource", resource)],
                    Some(&c),
                )
                .await;
            assert_eq!(r.status, 200, "{verb} {resource}: {}", r.body);
            r.json()
        }
    };
    let v = check("accept", "key:new-01").await;
    assert_eq!(v["allowed"], true);
    assert_eq!(v["reason"], "Allowed by role a-keys grant accept:key:new-*");
    assert_eq!(v["decided_by"]["role_name"], "a-keys");
    let v = check("accept", "key:web-01").await;
    assert_eq!(v["allowed"], false);
    assert_eq!(v["reason"], "Denied: no grant matches");
    let v = check("view", "minion:web-01").await;
    assert_eq!(v["reason"], "Allowed by role b-view grant view:*");

    let r = app
        .call("access/grants", &[("user_id", &kim)], Some(&c))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let grants: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            format!(
                "{}/{}:{}",
                g["role_name"].as_str().unwrap(),
                g["verb"].as_str().unwrap(),
                g["resource_glob"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(grants, ["a-keys/accept:key:new-*", "b-view/view:*"]);

    let r = app
        .call(
            "access/check",
            &[("user_id", &kim), ("verb", "acept"), ("resource", "key:x")],
            Some(&c),
        )
        .await;
    assert_eq!(invalid(&r).0, "verb");
    let r = app
        .call("access/minion-ids", &[("prefix", "we")], Some(&c))
        .await;
    assert_eq!(r.json(), serde_json::json!(["web-01"]));

    exec(
        &app,
        "UPDATE users SET is_active = FALSE WHERE id = $1",
        &[&kim],
    )
    .await;
    let v = check("accept", "key:new-01").await;
    assert_eq!(v["reason"], "Denied: user inactive");
}

#[tokio::test]
async fn permission_changes_apply_on_the_members_next_request() {
    let app = TestApp::new().await;
    let c = admin(&app).await;
    create(&app, &c, "growing").await;
    let id = role_id(&app, "growing").await;
    app.create_user("gina", PW, &["growing"]).await;
    let g = app.login("gina", PW).await;
    let r = app.call("minions/list", &[], Some(&g)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = add(&app, &c, &id, "view", "minion:*").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let perm = r.json()["id"].as_str().unwrap().to_string();
    let r = app.call("minions/list", &[], Some(&g)).await;
    assert_eq!(r.status, 200, "same session, new grant: {}", r.body);
    let r = app
        .call(
            "roles/perm-remove",
            &[("role_id", &id), ("permission_id", &perm)],
            Some(&c),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.call("minions/list", &[], Some(&g)).await;
    assert_eq!(r.status, 403, "grant gone: {}", r.body);
}

#[tokio::test]
async fn viewers_are_refused_and_the_denials_audited() {
    let app = TestApp::new().await;
    let c = admin(&app).await;
    create(&app, &c, "target").await;
    let id = role_id(&app, "target").await;
    app.create_role("role-reader", &[("view", "role:*")]).await;
    app.create_user("vic", PW, &["role-reader", "viewer"]).await;
    let v = app.login("vic", PW).await;
    // Reads work.
    let r = app.call("roles/list", &[], Some(&v)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.call("roles/get", &[("id", &id)], Some(&v)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Every change is a 403 and a permission.denied row.
    let before = app.audit_rows("permission.denied").await.len();
    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("roles/create", vec![("name", "sneaky")]),
        ("roles/update", vec![("id", &id), ("description", "x")]),
        ("roles/delete", vec![("id", &id)]),
        (
            "roles/perm-add",
            vec![("role_id", &id), ("verb", "view"), ("resource_glob", "*")],
        ),
        (
            "roles/perm-remove",
            vec![("role_id", &id), ("permission_id", "x")],
        ),
    ];
    for (endpoint, form) in &calls {
        let r = app.call(endpoint, form, Some(&v)).await;
        assert_eq!(r.status, 403, "{endpoint}: {}", r.body);
    }
    let denied = app.audit_rows("permission.denied").await;
    assert_eq!(denied.len(), before + calls.len());
    assert!(denied
        .iter()
        .skip(before)
        .all(|d| d.0 == "deny" && d.1 == 403 && d.3.as_deref() == Some("vic")));
    // A plain viewer (no role grants) may not even list roles.
    app.create_user("plain", PW, &["viewer"]).await;
    let p = app.login("plain", PW).await;
    assert_eq!(app.call("roles/list", &[], Some(&p)).await.status, 403);
    let r = app
        .call(
            "access/grants",
            &[("user_id", &user_id(&app, "vic").await)],
            Some(&p),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test]
async fn every_change_is_audited_with_before_and_after() {
    let app = TestApp::new().await;
    let c = admin(&app).await;
    let r = create(&app, &c, "audited").await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            "roles/update",
            &[("id", &id), ("description", "new words")],
            Some(&c),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["description"], "new words");
    let perm = add(&app, &c, &id, "kill", "job:*").await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.call(
        "roles/perm-remove",
        &[("role_id", &id), ("permission_id", &perm)],
        Some(&c),
    )
    .await;
    app.call("roles/delete", &[("id", &id)], Some(&c)).await;
    let update = app.audit_rows("role.update").await;
    assert_eq!(update.len(), 1);
    let args: Value = serde_json::from_str(update[0].2.as_deref().unwrap()).unwrap();
    assert_eq!(args["before"]["description"], "test role");
    assert_eq!(args["after"]["description"], "new words");
    for action in [
        "role.create",
        "role.update",
        "role.permission.add",
        "role.permission.remove",
        "role.delete",
    ] {
        let rows = app.audit_rows(action).await;
        assert_eq!(rows.len(), 1, "{action}");
        assert_eq!((rows[0].0.as_str(), rows[0].1), ("allow", 200), "{action}");
    }
    let resource: Vec<String> = halite::with_db!(&app.state.db, p => {
        sqlx::query_scalar("SELECT DISTINCT resource FROM audit_log WHERE action LIKE 'role.%'")
            .fetch_all(p)
            .await
            .unwrap()
    });
    assert_eq!(resource, ["role:audited"]);
}

#[tokio::test]
async fn pages_render_on_the_server_with_their_test_hooks() {
    let app = TestApp::new().await;
    let c = admin(&app).await;
    let r = create(&app, &c, "rendered").await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    add(&app, &c, &id, "accept", "key:new-*").await;
    app.create_user("rita", PW, &["rendered"]).await;

    let list = app.get("/roles", Some(&c)).await;
    assert_eq!(list.status, 200, "{}", list.body);
    for hook in [
        "data-test=\"roles-table\"",
        "data-role-name=\"rendered\"",
        "data-role-name=\"admin\"",
        "data-test=\"role-new\"",
        "data-test=\"role-create-submit\"",
        "name=\"description\"",
    ] {
        assert!(list.body.contains(hook), "/roles lacks {hook}");
    }
    let page = app.get(&format!("/roles/{id}"), Some(&c)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for hook in [
        "data-test=\"perm-row\"",
        "data-perm=\"accept:key:new-*\"",
        "data-test=\"perm-remove\"",
        "name=\"verb\"",
        "name=\"resource_glob\"",
        "data-test=\"perm-add\"",
        "data-test=\"perm-preview\"",
        "data-test=\"role-delete\"",
        "data-test=\"role-delete-confirm\"",
        "data-member=\"rita\"",
    ] {
        assert!(page.body.contains(hook), "/roles/:id lacks {hook}");
    }
    let builtin = app
        .get(
            &format!("/roles/{}", role_id(&app, "viewer").await),
            Some(&c),
        )
        .await;
    assert!(builtin.body.contains("Built-in roles cannot be changed."));
    assert!(!builtin.body.contains("data-test=\"perm-add\""));
    assert!(!builtin.body.contains("data-test=\"perm-remove\""));
}

#[tokio::test]
async fn the_list_shows_only_roles_the_caller_may_view() {
    let app = TestApp::new().await;
    let c = admin(&app).await;
    for name in ["key-ops", "key-audit", "db-ops"] {
        create(&app, &c, name).await;
    }
    app.create_role("key-reader", &[("view", "role:key-*")])
        .await;
    app.create_user("kira", PW, &["key-reader"]).await;
    let k = app.login("kira", PW).await;
    let r = app.call("roles/list", &[], Some(&k)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<String> = r.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["key-audit", "key-ops", "key-reader"]);
    assert_eq!(r.json()["total"], 3);
    let db_ops = role_id(&app, "db-ops").await;
    let r = app.call("roles/get", &[("id", &db_ops)], Some(&k)).await;
    assert_eq!(r.status, 403, "{}", r.body);
}

/// Security review: role pages and pickers name only the users and roles the caller may view.
#[tokio::test]
async fn role_members_and_pickers_show_only_what_the_caller_may_view() {
    let app = TestApp::new().await;
    app.create_role("rolereader", &[("view", "role:*")]).await;
    app.create_role("userreader", &[("view", "user:*"), ("view", "role:viewer")])
        .await;
    app.create_user("rita", "correct horse battery", &["rolereader"])
        .await;
    app.create_user("uma", "correct horse battery", &["userreader", "viewer"])
        .await;
    let viewer: String = scalar(&app, "SELECT id FROM roles WHERE name = $1", "viewer").await;
    // rita may view roles but no user: the viewer role's members are hidden, the count is not.
    let rita = app.login("rita", "correct horse battery").await;
    let r = app.call("roles/get", &[("id", &viewer)], Some(&rita)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["members"].as_array().unwrap().len(),
        0,
        "{}",
        r.body
    );
    assert_eq!(r.json()["role"]["member_count"], 1, "{}", r.body);
    // uma may view users and only the viewer role: the picker offers only that role.
    let uma = app.login("uma", "correct horse battery").await;
    let r = app.call("users/roles-available", &[], Some(&uma)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["viewer"], "{}", r.body);
}
