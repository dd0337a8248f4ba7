//! Package inventory against the real Salt lab: a refresh stores each lab minion's real
//! `pkg.list_pkgs` (every package Salt reports, source apt from its os_family grain); a package
//! installed on one minion (into that minion's own dpkg database, `lab.sh pkg-install`) shows
//! up there after a refresh and nowhere else; a minion that does not answer keeps its rows and
//! a refresh where nobody answered is a 502; the poller collects the online minions.
use crate::common::lab::{lab, LAB};
use crate::common::TestApp;
use axum::http::StatusCode;
use halite::model::inventory::PackageSource;
use halite::salt::packages::parse_list_pkgs;
use halite::salt::replies::MinionReturn;
use halite::salt::LocalRequest;
use halite::server::poller::PollerCtx;
use serde_json::{Map, Value};
use std::sync::Arc;

const ACCEPTED: [&str; 4] = ["broken-01", "db-01", "web-01", "web-02"];
const MARKER: &str = "halite-lab-marker";

async fn collected_at(app: &TestApp, id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    halite::with_db!(&app.state.db, p => sqlx::query_scalar("SELECT collected_at FROM inventory_minions WHERE minion_id = $1")
        .bind(id)
        .fetch_optional(p)
        .await)
        .unwrap()
}

async fn marker_minions(app: &TestApp, cookie: &str) -> Vec<(String, String)> {
    let r = app
        .call("inventory/search", &[("name", MARKER)], Some(cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["minion_id"].as_str().unwrap().to_string(),
                h["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn refresh_and_poller_store_the_lab_minions_real_packages() {
    let _lab = LAB.lock().await;
    let l = lab();
    // Leftover from an interrupted run.
    l.sh(&["pkg-remove", "web-02", MARKER]);
    let app = TestApp::new().await;
    let db = &app.state.db;
    l.save_to(&app).await;
    // The test drives collections itself.
    halite::with_db!(db, p => sqlx::query("UPDATE app_settings SET inventory_refresh_minutes = 0")
        .execute(p)
        .await.map(|r| r.rows_affected()))
    .unwrap();
    app.state.runtime.boot().await;
    let admin = app.login_bootstrap_admin().await;

    // What web-01 itself reports, asked directly.
    let client = l.client();
    let mut kw = Map::new();
    kw.insert("versions_as_list".into(), Value::Bool(true));
    let direct = client
        .local(&LocalRequest {
            kwarg: kw,
            ..LocalRequest::simple("web-01", "glob", "pkg.list_pkgs")
        })
        .await
        .unwrap();
    let Some(MinionReturn::Returned { ret, .. }) = direct.get("web-01") else {
        panic!("web-01 did not answer pkg.list_pkgs: {direct:?}");
    };
    let web01 = parse_list_pkgs(ret, Some(PackageSource::Apt)).unwrap();
    assert!(
        web01.len() > 100,
        "a real Debian host has hundreds of packages"
    );
    let bash = web01
        .iter()
        .find(|p| p.name == "bash")
        .expect("bash is installed")
        .version
        .clone();

    // Refresh everything.
    let r = app
        .call("inventory/refresh", &[("target", "*")], Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let s = r.json();
    assert_eq!(s["minions_refreshed"], 4, "{s}");
    for id in ACCEPTED {
        assert!(s["package_counts"][id].as_i64().unwrap() > 100, "{id}: {s}");
    }
    assert_eq!(s["package_counts"]["web-01"], web01.len() as i64);
    let audit = app.audit_rows("inventory.refresh").await;
    assert_eq!(audit.last().unwrap().1, 200, "{audit:?}");

    // bash on every accepted minion, at the version Salt reported, compared by dpkg's rules.
    let r = app
        .call(
            "inventory/search",
            &[("name", "bash"), ("version_op", "lt"), ("version", "99")],
            Some(&admin),
        )
        .await;
    let hits = r.json();
    let ids: Vec<&str> = hits["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["minion_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ACCEPTED, "{hits}");
    assert!(hits["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["version"] == bash.as_str() && h["source"] == "apt"));
    let r = app
        .call("inventory/versions", &[("name", "bash")], Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["versions"][0]["version"], bash.as_str());
    assert_eq!(r.json()["versions"][0]["minion_count"], 4);

    // While another collection runs a refresh is refused (409), audited, and nothing waits.
    let held = halite::server::inventory::collect::lock_writes(db)
        .await
        .unwrap();
    let r = app
        .call("inventory/refresh", &[("target", "*")], Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("already running"), "{}", r.body);
    drop(held);
    let audit = app.audit_rows("inventory.refresh").await;
    assert_eq!(audit.last().unwrap().1, 409, "{audit:?}");

    // A package installed on web-02 only shows up there after refreshing web-02.
    assert!(marker_minions(&app, &admin).await.is_empty());
    l.sh(&["pkg-install", "web-02", MARKER, "1.2.3"]);
    let r = app
        .call("inventory/refresh", &[("target", "web-02")], Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["minions_refreshed"], 1);
    assert_eq!(
        marker_minions(&app, &admin).await,
        vec![("web-02".to_string(), "1.2.3".to_string())]
    );

    // The poller collects the online accepted minions (from the snapshots) and keeps the marker.
    for id in ACCEPTED {
        halite::with_db!(db, p => sqlx::query(
            "INSERT INTO minion_snapshots (minion_id, key_status, online) \
             VALUES ($1, 'accepted', TRUE) ON CONFLICT (minion_id) DO UPDATE SET \
             key_status = excluded.key_status, online = excluded.online",
        )
        .bind(id)
        .execute(p)
        .await.map(|r| r.rows_affected()))
        .unwrap();
    }
    let ctx = PollerCtx {
        client: Arc::new(l.client()),
        db: db.clone(),
        jobs: Arc::default(),
    };
    let summary = halite::server::inventory::poller::poll_inventory(&ctx)
        .await
        .unwrap();
    assert!(summary.starts_with("4 of 4 minions refreshed"), "{summary}");
    assert_eq!(marker_minions(&app, &admin).await.len(), 1);

    // Removed from web-02: gone after the next refresh.
    l.sh(&["pkg-remove", "web-02", MARKER]);
    let r = app
        .call("inventory/refresh", &[("target", "web-0*")], Some(&admin))
        .await;
    assert_eq!(r.json()["minions_refreshed"], 2, "{}", r.body);
    assert!(marker_minions(&app, &admin).await.is_empty());

    // web-01 down: a refresh of it alone is a 502 that says so, and its rows stay.
    let before = collected_at(&app, "web-01").await.unwrap();
    l.sh(&["stop-minion", "web-01"]);
    let r = app
        .call("inventory/refresh", &[("target", "web-01")], Some(&admin))
        .await;
    l.sh(&["start-minion", "web-01"]);
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);
    assert!(
        r.body.contains("No minion returned a package list"),
        "{}",
        r.body
    );
    assert_eq!(collected_at(&app, "web-01").await.unwrap(), before);
    let r = app
        .call("inventory/search", &[("minion", "web-01")], Some(&admin))
        .await;
    assert_eq!(r.json()["total"], web01.len() as i64);
    let audit = app.audit_rows("inventory.refresh").await;
    assert_eq!(audit.last().unwrap().1, 502, "{audit:?}");
    app.state.runtime.shutdown().await;
}
