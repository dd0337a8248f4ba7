//! The command palette's server half (`palette/search`): minion ids and JIDs by prefix, only
//! what the caller may view, bad input refused.

use crate::common::TestApp;
use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use halite::server::jobs::ingest::JobRow;
use halite::server::minions::{ingest, store};

#[tokio::test]
async fn palette_suggestions_are_prefixes_within_the_callers_grants() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let ids: Vec<String> = (0..40)
        .map(|i| format!("{}-{i:02}", if i % 2 == 0 { "web" } else { "db" }))
        .chain(["Web_Odd%".to_string()])
        .collect();
    let lists = halite::salt::KeyLists {
        accepted: ids,
        pending: vec![],
        rejected: vec![],
        denied: vec![],
    };
    let existing = store::load_key_states(db).await.unwrap();
    store::apply_keys(db, &ingest::reconcile_keys(&existing, &lists), Utc::now())
        .await
        .unwrap();
    let t = Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap();
    let jobs: Vec<JobRow> = (0..30u32)
        .map(|i| JobRow {
            jid: format!("2026112708{i:02}00{i:06}"),
            function: "test.ping".into(),
            target: None,
            target_type: None,
            salt_user: None,
            started_at: t,
            arguments: None,
        })
        .collect();
    halite::server::jobs::store::upsert_jobs(db, &jobs, Utc::now())
        .await
        .unwrap();
    let admin = app.login_bootstrap_admin().await;
    let search = |q: &str, cookie: &str| {
        let (q, cookie) = (q.to_string(), cookie.to_string());
        let app = &app;
        async move {
            app.call("palette/search", &[("q", &q)], Some(&cookie))
                .await
        }
    };

    // A prefix, case-insensitive, in id order, at most 8; `%` and `_` are literal.
    let r = search("WEB-", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    let minions: Vec<&str> = v["minions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(
        minions,
        ["web-00", "web-02", "web-04", "web-06", "web-08", "web-10", "web-12", "web-14"]
    );
    assert_eq!(
        search("web_", &admin).await.json()["minions"],
        serde_json::json!(["Web_Odd%"])
    );
    assert_eq!(
        search("b-0", &admin).await.json()["minions"],
        serde_json::json!([])
    );
    // Four digits or more look up JIDs, newest first.
    let v = search("2026112708", &admin).await.json();
    let jids: Vec<&str> = v["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jid"].as_str().unwrap())
        .collect();
    assert_eq!(jids.len(), 5);
    assert_eq!(jids[0], "20261127082900000029");
    assert_eq!(
        search("2026112708050", &admin).await.json()["jobs"][0]["function"],
        "test.ping"
    );
    assert_eq!(
        search("202", &admin).await.json()["jobs"],
        serde_json::json!([])
    );

    // A per-resource role: only its minions, and no jobs without a job grant.
    app.create_role("dbs", &[("view", "minion:db-*")]).await;
    app.create_user("dora", "dora-password-12", &["dbs"]).await;
    let dora = app.login("dora", "dora-password-12").await;
    assert_eq!(
        search("web", &dora).await.json()["minions"],
        serde_json::json!([])
    );
    assert_eq!(
        search("db-0", &dora).await.json()["minions"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        search("2026112708", &dora).await.json()["jobs"],
        serde_json::json!([])
    );

    // Too long: a 422 naming the field; no session: 401.
    let r = search(&"x".repeat(300), &admin).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app.call("palette/search", &[("q", "web")], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
