//! Package inventory against a real SQLite file: storing a minion's packages replaces exactly
//! its rows and keeps every count equal to a recount of the facts; the search (name ops,
//! version ops by the source's rules, minion, scope), the drift view's order, the server
//! functions' validation and permissions, and the export.
use crate::common::TestApp;
use axum::http::StatusCode;
use chrono::Utc;
use halite::model::inventory::{NameOp, PackageSearch, PackageSource, VersionOp};
use halite::salt::packages::InstalledPackage;
use halite::server::inventory::store::{self, Catalog, MinionPackages};

fn pkg(name: &str, version: &str, arch: &str) -> InstalledPackage {
    InstalledPackage {
        name: name.into(),
        version: version.into(),
        arch: arch.into(),
    }
}

fn minion(id: &str, source: Option<PackageSource>, pkgs: &[(&str, &str, &str)]) -> MinionPackages {
    MinionPackages {
        minion_id: id.into(),
        os_family: match source {
            Some(PackageSource::Apt) => "Debian",
            Some(PackageSource::Rpm) => "RedHat",
            Some(PackageSource::Pacman) => "Arch",
            None => "Solaris",
        }
        .into(),
        source,
        packages: pkgs.iter().map(|(n, v, a)| pkg(n, v, a)).collect(),
    }
}

async fn store(app: &TestApp, batch: &[MinionPackages]) {
    let _w = halite::server::inventory::collect::lock_writes(&app.state.db)
        .await
        .unwrap();
    let mut catalog = Catalog::load(&app.state.db).await.unwrap();
    store::store_minions(&app.state.db, &mut catalog, batch, Utc::now())
        .await
        .unwrap();
    store::sweep(&app.state.db).await.unwrap();
}

/// Every kept count equals a recount of the facts.
async fn assert_counts_consistent(app: &TestApp) {
    let db = &app.state.db;
    let bad_versions: i64 = halite::with_db!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM inventory_versions v WHERE v.minion_count <> \
         (SELECT COUNT(*) FROM inventory_installed i WHERE i.version_id = v.id)",
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(bad_versions, 0, "version minion counts drifted");
    let bad_packages: i64 = halite::with_db!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM inventory_packages p WHERE p.minion_count <> \
         (SELECT COUNT(DISTINCT i.minion_ref) FROM inventory_installed i \
          JOIN inventory_versions v ON v.id = i.version_id WHERE v.package_id = p.id) \
         OR p.version_count <> (SELECT COUNT(*) FROM inventory_versions v \
          WHERE v.package_id = p.id AND v.minion_count > 0)",
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(bad_packages, 0, "package counts drifted");
    let bad_minions: i64 = halite::with_db!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM inventory_minions m WHERE m.package_count <> \
         (SELECT COUNT(*) FROM inventory_installed i WHERE i.minion_ref = m.id)",
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(bad_minions, 0, "minion package counts drifted");
    let zero: i64 =
        halite::with_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM inventory_versions WHERE minion_count <= 0")
            .fetch_one(p)
            .await)
            .unwrap();
    assert_eq!(zero, 0, "versions nobody has are swept");
}

async fn facts_of(app: &TestApp, id: &str) -> Vec<(String, String, String)> {
    halite::with_db!(&app.state.db, p => sqlx::query_as(
        "SELECT p.name, v.version, v.arch FROM inventory_installed i \
         JOIN inventory_minions m ON m.id = i.minion_ref JOIN inventory_versions v ON v.id = i.version_id \
         JOIN inventory_packages p ON p.id = v.package_id WHERE m.minion_id = $1 \
         ORDER BY p.name, v.version, v.arch",
    )
    .bind(id)
    .fetch_all(p)
    .await)
    .unwrap()
}

const APT: Option<PackageSource> = Some(PackageSource::Apt);
const RPM: Option<PackageSource> = Some(PackageSource::Rpm);

async fn seeded() -> TestApp {
    let app = TestApp::new().await;
    store(
        &app,
        &[
            minion(
                "deb-a",
                APT,
                &[
                    ("bash", "5.1-2+deb11u1", ""),
                    ("openssl", "3.0.11-1~deb12u2", ""),
                    ("libc6", "2.36-9+deb12u4", ""),
                    ("libc6", "2.36-9+deb12u4", "i386"),
                ],
            ),
            minion(
                "deb-b",
                APT,
                &[
                    ("bash", "5.2.15-2+b2", ""),
                    ("openssl", "3.0.13-1~deb12u1", ""),
                    ("libc6", "2.36-9+deb12u4", ""),
                ],
            ),
            minion(
                "deb-c",
                APT,
                &[("bash", "5.2.15-2+b2", ""), ("openssl", "3.0.9-1", "")],
            ),
            minion(
                "rh-a",
                RPM,
                &[
                    ("bash", "5.1.8-6.el9", ""),
                    ("openssl", "1:3.0.7-25.el9_3", ""),
                    ("kernel", "5.14.0-362.8.1.el9_3", ""),
                    ("kernel", "5.14.0-362.13.1.el9_3", ""),
                ],
            ),
        ],
    )
    .await;
    app
}

#[tokio::test]
async fn storing_replaces_a_minions_rows_and_keeps_the_counts() {
    let app = seeded().await;
    assert_counts_consistent(&app).await;
    assert_eq!(facts_of(&app, "deb-a").await.len(), 4);
    assert_eq!(facts_of(&app, "rh-a").await.len(), 4, "both kernels kept");

    // deb-a upgrades bash, drops openssl, gains curl; nothing else changes.
    store(
        &app,
        &[minion(
            "deb-a",
            APT,
            &[
                ("bash", "5.2.15-2+b2", ""),
                ("libc6", "2.36-9+deb12u4", ""),
                ("libc6", "2.36-9+deb12u4", "i386"),
                ("curl", "7.88.1-10+deb12u5", ""),
            ],
        )],
    )
    .await;
    assert_counts_consistent(&app).await;
    assert_eq!(
        facts_of(&app, "deb-a").await,
        vec![
            ("bash".into(), "5.2.15-2+b2".into(), String::new()),
            ("curl".into(), "7.88.1-10+deb12u5".into(), String::new()),
            ("libc6".into(), "2.36-9+deb12u4".into(), String::new()),
            ("libc6".into(), "2.36-9+deb12u4".into(), "i386".into()),
        ]
    );
    // bash 5.1-2+deb11u1 is gone everywhere: swept.
    let old_bash: i64 = halite::with_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM inventory_versions WHERE version = '5.1-2+deb11u1'",
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(old_bash, 0);
    // The other minions are untouched.
    assert_eq!(facts_of(&app, "deb-b").await.len(), 3);

    // A minion that did not answer is simply not stored: its rows and collected_at stay.
    let before: chrono::DateTime<chrono::Utc> =
        halite::with_db!(&app.state.db, p => sqlx::query_scalar("SELECT collected_at FROM inventory_minions WHERE minion_id = 'deb-c'")
            .fetch_one(p)
            .await)
            .unwrap();
    store(
        &app,
        &[minion("deb-b", APT, &[("bash", "5.2.15-2+b2", "")])],
    )
    .await;
    let after: chrono::DateTime<chrono::Utc> =
        halite::with_db!(&app.state.db, p => sqlx::query_scalar("SELECT collected_at FROM inventory_minions WHERE minion_id = 'deb-c'")
            .fetch_one(p)
            .await)
            .unwrap();
    assert_eq!(before, after);
    assert_eq!(facts_of(&app, "deb-c").await.len(), 2);
    assert_counts_consistent(&app).await;

    // Forgetting a minion (key deleted) removes its facts and counts.
    {
        let _w = halite::server::inventory::collect::lock_writes(&app.state.db)
            .await
            .unwrap();
        let mut c = Catalog::load(&app.state.db).await.unwrap();
        store::forget_minions(&app.state.db, &mut c, &["deb-c".to_string()])
            .await
            .unwrap();
        store::sweep(&app.state.db).await.unwrap();
    }
    assert!(facts_of(&app, "deb-c").await.is_empty());
    let openssl_109: i64 =
        halite::with_db!(&app.state.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM inventory_versions WHERE version = '3.0.9-1'")
            .fetch_one(p)
            .await)
            .unwrap();
    assert_eq!(openssl_109, 0);
    assert_counts_consistent(&app).await;
}

fn search(name: Option<(NameOp, &str)>, version: Option<(VersionOp, &str)>) -> PackageSearch {
    PackageSearch {
        name: name.map(|(op, n)| (op, n.to_string())),
        version: version.map(|(op, v)| (op, v.to_string())),
        source: None,
        minion: None,
    }
}

async fn hit_minions(app: &TestApp, s: &PackageSearch) -> Vec<String> {
    let page = store::search(&app.state.db, s, &None, 1, 500)
        .await
        .unwrap();
    assert_eq!(page.list.total, page.list.rows.len() as i64);
    page.list.rows.into_iter().map(|h| h.minion_id).collect()
}

#[tokio::test]
async fn search_compares_versions_by_the_sources_rules() {
    let app = seeded().await;
    // 3.0.9 < 3.0.11 < 3.0.13 (not text order); rpm's epoch 1: makes 3.0.7 newer than any 3.0.13.
    assert_eq!(
        hit_minions(
            &app,
            &search(
                Some((NameOp::Eq, "openssl")),
                Some((VersionOp::Lt, "3.0.13"))
            )
        )
        .await,
        vec!["deb-a", "deb-c"]
    );
    assert_eq!(
        hit_minions(
            &app,
            &search(
                Some((NameOp::Eq, "openssl")),
                Some((VersionOp::Gte, "3.0.13"))
            )
        )
        .await,
        vec!["deb-b", "rh-a"]
    );
    assert_eq!(
        hit_minions(
            &app,
            &search(
                Some((NameOp::Eq, "openssl")),
                Some((VersionOp::Eq, "3.0.13-1~deb12u1"))
            )
        )
        .await,
        vec!["deb-b"]
    );
    assert_eq!(
        hit_minions(
            &app,
            &search(
                Some((NameOp::Eq, "bash")),
                Some((VersionOp::Ne, "5.2.15-2+b2"))
            )
        )
        .await,
        vec!["deb-a", "rh-a"]
    );
    assert_eq!(
        hit_minions(
            &app,
            &search(Some((NameOp::Eq, "bash")), Some((VersionOp::Lt, "99")))
        )
        .await,
        vec!["deb-a", "deb-b", "deb-c", "rh-a"]
    );
    // Name ops; an unknown name finds nothing; LIKE wildcards in the text are literal.
    assert_eq!(
        hit_minions(&app, &search(Some((NameOp::Prefix, "open")), None))
            .await
            .len(),
        4
    );
    assert_eq!(
        hit_minions(&app, &search(Some((NameOp::Contains, "IBC")), None)).await,
        vec!["deb-a", "deb-a", "deb-b"],
        "contains is case-insensitive; libc6 is on deb-a twice (two arches)"
    );
    assert!(
        hit_minions(&app, &search(Some((NameOp::Contains, "%")), None))
            .await
            .is_empty()
    );
    assert!(
        hit_minions(&app, &search(Some((NameOp::Eq, "nosuch")), None))
            .await
            .is_empty()
    );
    // Source filter.
    let mut s = search(Some((NameOp::Eq, "openssl")), None);
    s.source = RPM;
    assert_eq!(hit_minions(&app, &s).await, vec!["rh-a"]);
    // A minion's packages, with a version filter across its packages.
    let mut s = search(None, Some((VersionOp::Gt, "5")));
    s.minion = Some("rh-a".into());
    let page = store::search(&app.state.db, &s, &None, 1, 50)
        .await
        .unwrap();
    let names: Vec<String> = page.list.rows.iter().map(|h| h.name.clone()).collect();
    // openssl 1:3.0.7 is newer than 5: its epoch (rpm.vercmp agrees).
    assert_eq!(names, vec!["bash", "kernel", "kernel", "openssl"]);
    // A minion and a name: that minion's packages filtered by name (not the fleet's versions).
    let mut s = search(Some((NameOp::Contains, "SSL")), None);
    s.minion = Some("deb-a".into());
    let page = store::search(&app.state.db, &s, &None, 1, 50)
        .await
        .unwrap();
    assert_eq!(page.list.rows.len(), 1);
    assert_eq!(page.list.rows[0].version, "3.0.11-1~deb12u2");
    let mut s = search(
        Some((NameOp::Prefix, "LIBC")),
        Some((VersionOp::Eq, "2.36-9+deb12u4")),
    );
    s.minion = Some("deb-a".into());
    let page = store::search(&app.state.db, &s, &None, 1, 50)
        .await
        .unwrap();
    assert_eq!(page.list.total, 2, "both arches of libc6");
    // Paging.
    let s = search(Some((NameOp::Prefix, "")), None);
    let p1 = store::search(&app.state.db, &s, &None, 1, 5).await.unwrap();
    let p3 = store::search(&app.state.db, &s, &None, 3, 5).await.unwrap();
    assert_eq!(p1.list.total, 13);
    assert_eq!(p1.list.rows.len(), 5);
    assert_eq!(p3.list.rows.len(), 3);
    // Scope: only the minions the globs allow.
    let globs = Some(vec!["minion:deb-*".to_string()]);
    let page = store::search(
        &app.state.db,
        &search(Some((NameOp::Eq, "bash")), None),
        &globs,
        1,
        50,
    )
    .await
    .unwrap();
    assert_eq!(page.list.total, 3);
}

#[tokio::test]
async fn drift_lists_versions_newest_first() {
    let app = seeded().await;
    let v = store::versions(&app.state.db, "openssl", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.minion_count, 4);
    let order: Vec<(&str, &str)> = v
        .versions
        .iter()
        .map(|r| (r.source.as_str(), r.version.as_str()))
        .collect();
    // apt (3 minions) before rpm (1); within apt newest first by dpkg's rules.
    assert_eq!(
        order,
        vec![
            ("apt", "3.0.13-1~deb12u1"),
            ("apt", "3.0.11-1~deb12u2"),
            ("apt", "3.0.9-1"),
            ("rpm", "1:3.0.7-25.el9_3"),
        ]
    );
    let only_rpm = store::versions(&app.state.db, "openssl", RPM)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(only_rpm.versions.len(), 1);
    assert!(store::versions(&app.state.db, "nosuch", None)
        .await
        .unwrap()
        .is_none());
    let kernels = store::versions(&app.state.db, "kernel", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kernels.versions[0].version, "5.14.0-362.13.1.el9_3");
    let id = v.versions[1].id;
    let m = store::version_minions(&app.state.db, id, &None, 1, 50)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.name, "openssl");
    assert_eq!(
        m.list
            .rows
            .iter()
            .map(|r| r.minion_id.as_str())
            .collect::<Vec<_>>(),
        vec!["deb-a"]
    );
    assert!(store::version_minions(&app.state.db, 999_999, &None, 1, 50)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn server_functions_validate_scope_and_export() {
    let app = seeded().await;
    let admin = app.login_bootstrap_admin().await;

    // Packages page: counts over names, sources, sort and filter.
    let r = app
        .call("inventory/packages", &[("sort", "name")], Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let j = r.json();
    let names: Vec<&str> = j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["bash", "kernel", "libc6", "openssl"]);
    let openssl = &j["rows"][3];
    assert_eq!(openssl["minion_count"], 4);
    assert_eq!(openssl["version_count"], 4);
    assert_eq!(j["status"]["minions"], 4);
    assert_eq!(j["status"]["can_refresh"], true);
    let r = app
        .call(
            "inventory/packages",
            &[("source", "rpm"), ("q", "KER")],
            Some(&admin),
        )
        .await;
    assert_eq!(r.json()["total"], 1);
    for (k, v) in [
        ("source", "deb"),
        ("sort", "size"),
        ("per_page", "7"),
        ("q", &"x".repeat(201)),
    ] {
        let r = app
            .call("inventory/packages", &[(k, v)], Some(&admin))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{k}={v}: {}",
            r.body
        );
    }

    // Search through the server function, and its 422s.
    let r = app
        .call(
            "inventory/search",
            &[
                ("name", "openssl"),
                ("version_op", "lt"),
                ("version", "3.0.13"),
            ],
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["total"], 2);
    for form in [
        vec![],
        vec![("name", "bash"), ("version_op", "lt")],
        vec![("name", "bash"), ("name_op", "regex")],
        vec![("minion", "a\u{1}b")],
    ] {
        let r = app.call("inventory/search", &form, Some(&admin)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{form:?}: {}",
            r.body
        );
    }
    let r = app
        .call("inventory/versions", &[("name", "nosuch")], Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call("inventory/version-minions", &[("id", "0")], Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A role that sees only deb-* minions (and the inventory) gets only their hits; one without
    // view:inventory is refused (audited); the viewer may not refresh.
    app.create_role("debs", &[("view", "minion:deb-*"), ("view", "inventory:*")])
        .await;
    app.create_user("dora", "dora-password-1", &["debs"]).await;
    app.create_role("nothing", &[("view", "job:*")]).await;
    app.create_user("ned", "ned-password-1", &["nothing"]).await;
    app.create_user("vic", "vic-password-1", &["viewer"]).await;
    let dora = app.login("dora", "dora-password-1").await;
    let ned = app.login("ned", "ned-password-1").await;
    let vic = app.login("vic", "vic-password-1").await;
    let r = app
        .call("inventory/search", &[("name", "bash")], Some(&dora))
        .await;
    assert_eq!(r.json()["total"], 3);
    let r = app
        .call("inventory/search", &[("minion", "rh-a")], Some(&dora))
        .await;
    assert_eq!(
        r.json()["total"],
        0,
        "a minion outside the scope shows nothing"
    );
    let r = app.call("inventory/packages", &[], Some(&ned)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call("inventory/refresh", &[("target", "*")], Some(&vic))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let denials = app.audit_rows("permission.denied").await;
    assert!(denials.len() >= 2, "{denials:?}");
    let r = app.call("inventory/packages", &[], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Export: CSV and JSON with the search's query, scoped.
    let r = app
        .get(
            "/api/inventory/search.csv?name=openssl&version_op=lt&version=3.0.13",
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(lines[0], "minion_id,name,version,arch,source,collected_at");
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1].starts_with("deb-a,openssl,3.0.11-1~deb12u2,,apt,"),
        "{}",
        lines[1]
    );
    let r = app
        .get("/api/inventory/search.json?name=bash", Some(&dora))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    assert_eq!(r.headers["x-halite-truncated"], "false");
    let r = app
        .get("/api/inventory/search.ndjson?name=bash", Some(&dora))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.lines().count(), 3, "{}", r.body);
    assert_eq!(app.audit_rows("export.inventory").await.len(), 3);
    let r = app.get("/api/inventory/search.csv", Some(&admin)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .get("/api/inventory/search.csv?name=bash", Some(&ned))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get("/api/inventory/search.csv?name=bash", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // The packages table's export: the rows the page lists for the same query, in its order,
    // every page (the page shows 50 at a time); audited as export.packages.
    let page = app
        .call(
            "inventory/packages",
            &[("sort", "name"), ("dir", "desc"), ("per_page", "500")],
            Some(&admin),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let listed: Vec<String> = page.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert!(listed.len() > 2, "{listed:?}");
    let r = app
        .get("/api/inventory/export.csv?sort=name&dir=desc", Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(lines[0], "name,minions,versions,sources");
    let exported: Vec<String> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    assert_eq!(exported, listed);
    let r = app
        .get("/api/inventory/export.json?q=bash&source=apt", Some(&dora))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let rows = r.json();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["name"], "bash");
    assert!(rows[0]["minion_count"].as_i64().unwrap() >= 1);
    assert_eq!(app.audit_rows("export.packages").await.len(), 2);
    let r = app.get("/api/inventory/export.csv", Some(&ned)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .get("/api/inventory/export.csv?source=dpkg", Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app.get("/api/inventory/export.ndjson", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit_rows("export.packages").await.len(), 2);
}

/// One collection at a time across processes too: a second pool on the same database (another
/// replica) cannot take the inventory's write lock while the first holds it, and can once it
/// is dropped (on Postgres through an advisory lock, on SQLite through the per-file lock).
#[tokio::test]
async fn collections_are_exclusive_across_replicas() {
    use halite::server::inventory::collect::{lock_writes, try_lock_writes};
    let app = TestApp::new().await;
    let other = halite::server::db::connect(&app.state.config.database_url)
        .await
        .unwrap();
    let held = lock_writes(&app.state.db).await.unwrap();
    assert!(
        try_lock_writes(&other).await.unwrap().is_none(),
        "a second replica waits"
    );
    drop(held);
    let mut got = None;
    for _ in 0..100 {
        got = try_lock_writes(&other).await.unwrap();
        if got.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(got.is_some(), "free once the first lets go");
    assert!(try_lock_writes(&app.state.db).await.unwrap().is_none());
}
