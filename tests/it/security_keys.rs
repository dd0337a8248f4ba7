//! Security finding 1 (critical), against the real Salt lab: a per-resource key grant can only
//! ever act on exact, existing minion ids; glob and list syntax never reaches salt-api's `match`.

use crate::common::lab::{lab, LAB};
use crate::common::TestApp;
use axum::http::StatusCode;
use halite::salt::KeyLists;

fn sorted(mut k: KeyLists) -> KeyLists {
    for v in [
        &mut k.accepted,
        &mut k.pending,
        &mut k.rejected,
        &mut k.denied,
    ] {
        v.sort();
    }
    k
}

#[tokio::test]
async fn a_per_resource_key_grant_cannot_reach_other_keys() {
    let _g = LAB.lock().await;
    let l = lab();
    l.sh(&["reset-keys"]); // new-01 pending, web-01 web-02 db-01 broken-01 accepted
    let c = l.client();
    let app = TestApp::new().await;
    let db = &app.state.db;
    l.save_to(&app).await;
    app.state.runtime.boot().await;
    app.create_role(
        "web-keys",
        &[
            ("view", "key:*"),
            ("reject", "key:web-*"),
            ("delete", "key:web-*"),
            ("accept", "key:new-*"),
        ],
    )
    .await;
    app.create_user("webkeys", "webkeys-password-1", &["web-keys"])
        .await;
    let cookie = app.login("webkeys", "webkeys-password-1").await;
    let before = sorted(c.key_list_all().await.unwrap());
    assert!(before.accepted.contains(&"db-01".to_string()));

    // The attack from the review: an allowed prefix, then a list or a glob.
    for (action, ids) in [
        ("reject", "web-x,db-01"),
        ("delete", "web-x,*"),
        ("delete", "web-*"),
        ("reject", "web-0[12]"),
        ("reject", "web-0?"),
        ("delete", "web-01\nweb-x,*"),
        ("reject", "web-01 db-01"),
    ] {
        let r = app
            .call(
                "keys/action",
                &[("action", action), ("ids", ids)],
                Some(&cookie),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{action} {ids:?}: {}",
            r.body
        );
        assert!(
            r.body.contains("minion id"),
            "a message a person understands: {}",
            r.body
        );
    }
    assert_eq!(
        sorted(c.key_list_all().await.unwrap()),
        before,
        "salt-key -L is unchanged"
    );

    // An exact id the master does not have: nothing moves, and the reply says so.
    let r = app
        .call(
            "keys/action",
            &[("action", "reject"), ("ids", "web-99")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()[0]["ok"], false);
    assert!(
        r.json()[0]["message"].as_str().unwrap().contains("no key"),
        "{}",
        r.body
    );
    assert_eq!(sorted(c.key_list_all().await.unwrap()), before);

    // Outside the grant: refused before anything is sent.
    let r = app
        .call(
            "keys/action",
            &[("action", "reject"), ("ids", "db-01")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // A real, allowed action reports what really moved, judged by the master's lists.
    let r = app
        .call(
            "keys/action",
            &[("action", "accept"), ("ids", "new-01")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()[0]["ok"], true, "{}", r.body);
    let after = sorted(c.key_list_all().await.unwrap());
    assert!(after.accepted.contains(&"new-01".to_string()));
    assert!(after.pending.is_empty());
    assert_eq!(after.accepted.len(), before.accepted.len() + 1);
    // Accepting it again changes nothing, and the reply does not pretend otherwise.
    let r = app
        .call(
            "keys/action",
            &[("action", "accept"), ("ids", "new-01")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()[0]["ok"], false, "{}", r.body);
    assert!(r.body.contains("already"), "{}", r.body);
    let audit: Vec<(String, i64)> = halite::with_db!(db, p => {
            sqlx::query_as(
            "SELECT resource, result_code FROM audit_log WHERE action = 'key.accept' ORDER BY id",
        )
        .fetch_all(p)
        .await
        .unwrap()
    });
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0], ("key:new-01".to_string(), 200));
    assert_eq!(audit[1], ("key:new-01".to_string(), 409));

    l.sh(&["reset-keys"]);
    app.state.runtime.shutdown().await;
}
