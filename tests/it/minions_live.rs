//! Minion pollers and key actions against the real Salt lab.

use crate::common::lab::{lab, LAB};
use crate::common::TestApp;
use axum::http::StatusCode;
use halite::model::keys::KeyState;
use halite::model::minions::MinionStatus;
use halite::server::minions::{poller, store};

#[tokio::test]
async fn pollers_fill_the_snapshot_from_the_real_master_and_key_actions_change_it() {
    let _g = LAB.lock().await;
    let l = lab();
    l.sh(&["reset-keys"]); // new-01 pending, the others accepted, whatever ran before
    let app = TestApp::new().await;
    let c = l.client();
    let db = &app.state.db;
    poller::poll_keys(&c, db).await.unwrap();
    poller::poll_presence(&c, db).await.unwrap();
    let summary = poller::poll_grains(&c, db).await.unwrap();
    assert!(summary.starts_with("4 minions"), "{summary}");
    let (rows, total, counts) = store::list(
        db,
        &store::ListQuery {
            per_page: 50,
            page: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(total, 5);
    assert_eq!(counts.online, 4);
    assert_eq!(counts.pending, 1);
    let web = store::get(db, "web-01").await.unwrap().unwrap();
    assert!(web.os.is_some() && web.salt.is_some() && web.cpus.is_some());
    let grains: serde_json::Value =
        serde_json::from_str(web.grains_json.as_deref().unwrap()).unwrap();
    assert_eq!(grains["id"], "web-01");
    assert!(rows
        .iter()
        .any(|r| r.id == "new-01" && r.status == MinionStatus::Pending));
    // Polling again changes nothing (idempotent) and rewrites no grains.
    let again = poller::poll_grains(&c, db).await.unwrap();
    assert!(again.ends_with("0 changed"), "{again}");

    // Accept the pending key through the server function: the master changes, the page data too.
    l.save_to(&app).await;
    app.state.runtime.boot().await;
    halite::with_db!(db, p => {
            sqlx::query("UPDATE users SET must_change_pw = FALSE")
            .execute(p)
            .await
            .unwrap();
    });
    let cookie = app.login("admin", "changeme").await;
    let fp = app
        .call("keys/finger", &[("id", "new-01")], Some(&cookie))
        .await;
    assert_eq!(fp.status, StatusCode::OK, "{}", fp.body);
    assert!(fp.json().as_str().unwrap().contains(':'));
    let r = app
        .call(
            "keys/action",
            &[("action", "accept"), ("ids", "new-01")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()[0]["ok"], true, "{}", r.body);
    assert_eq!(
        store::get(db, "new-01").await.unwrap().unwrap().key_status,
        KeyState::Accepted,
        "re-polled at once"
    );
    let keys = c.key_list_all().await.unwrap();
    assert!(
        keys.accepted.contains(&"new-01".to_string()),
        "the real master accepted it"
    );
    let audit: i64 = halite::with_db!(db, p => {
            sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'key.accept' AND resource = 'key:new-01'",
        )
        .fetch_one(p)
        .await
        .unwrap()
    });
    assert_eq!(audit, 1);
    // Put the lab back as it was.
    let r = app
        .call(
            "keys/action",
            &[("action", "delete"), ("ids", "new-01")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.json()[0]["ok"], true, "{}", r.body);
    l.sh(&["reset-keys"]);
    app.state.runtime.shutdown().await;
}
