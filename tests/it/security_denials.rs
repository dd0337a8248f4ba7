//! Finding 12 (list part): list and read endpoints that refuse with 403 record a
//! `permission.denied` audit row, as single-resource checks always did.

use crate::common::TestApp;

async fn denied_rows(app: &TestApp, resource: &str) -> Vec<(String, i64, String, String)> {
    halite::with_db!(&app.state.db, p => sqlx::query_as(
        "SELECT decision, result_code, coalesce(username, ''), coalesce(CAST(args_json AS TEXT), '') \
         FROM audit_log WHERE action = 'permission.denied' AND resource = $1",
    )
    .bind(resource)
    .fetch_all(p)
    .await
    .unwrap())
}

#[tokio::test]
async fn keys_list_denial_is_audited() {
    let app = TestApp::new().await;
    app.create_role("minions-only", &[("view", "minion:*")])
        .await;
    app.create_user("mo", "correct horse battery", &["minions-only"])
        .await;
    let cookie = app.login("mo", "correct horse battery").await;
    let r = app.call("keys/list", &[], Some(&cookie)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let rows = denied_rows(&app, "key:*").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].1), ("deny", 403));
    assert_eq!(rows[0].2, "mo");
    assert!(rows[0].3.contains("\"view\""), "{:?}", rows[0]);
    // The same user may list minions: no denial for that.
    let r = app.call("minions/list", &[], Some(&cookie)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(denied_rows(&app, "minion:*").await.is_empty());
}

#[tokio::test]
async fn every_list_denial_is_audited() {
    let app = TestApp::new().await;
    app.create_role("settings-only", &[("view", "setting:*")])
        .await;
    app.create_user("so", "correct horse battery", &["settings-only"])
        .await;
    let cookie = app.login("so", "correct horse battery").await;
    for (endpoint, resource) in [
        ("minions/list", "minion:*"),
        ("keys/list", "key:*"),
        ("jobs/list", "job:*"),
        ("activity/list", "event:*"),
        ("timeline/get", "job:*"),
        ("jobs/activity", "job:*"),
    ] {
        let before = denied_rows(&app, resource).await.len();
        let r = app.call(endpoint, &[], Some(&cookie)).await;
        assert_eq!(r.status, 403, "{endpoint}: {}", r.body);
        assert_eq!(
            denied_rows(&app, resource).await.len(),
            before + 1,
            "{endpoint} records one permission.denied row"
        );
    }
}
