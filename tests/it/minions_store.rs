//! The minion snapshot store and the minions/keys server functions against a real database.

use crate::common::TestApp;
use axum::http::StatusCode;
use halite::salt::KeyLists;
use halite::server::minions::{ingest, store};
use serde_json::json;
use std::collections::BTreeMap;

fn lists(acc: &[String], pend: &[String]) -> KeyLists {
    KeyLists {
        accepted: acc.to_vec(),
        pending: pend.to_vec(),
        rejected: vec![],
        denied: vec![],
    }
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    halite::server::from_text(s).unwrap()
}

async fn seed(app: &TestApp, n: usize) {
    let db = &app.state.db;
    let acc: Vec<String> = (0..n)
        .map(|i| format!("{}-{i:05}", if i % 2 == 0 { "web" } else { "db" }))
        .collect();
    let pend = vec!["new-00001".to_string()];
    let existing = store::load_key_states(db).await.unwrap();
    store::apply_keys(
        db,
        &ingest::reconcile_keys(&existing, &lists(&acc, &pend)),
        at("2026-11-27T08:00:00.000Z"),
    )
    .await
    .unwrap();
    // Every third minion offline.
    let present: BTreeMap<String, String> = acc
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(i, id)| (id.clone(), format!("10.0.{}.{}", i / 250, i % 250)))
        .collect();
    let existing = store::load_presence(db).await.unwrap();
    store::apply_presence(
        db,
        &ingest::reconcile_presence(&existing, &present),
        at("2026-11-27T08:00:01.000Z"),
    )
    .await
    .unwrap();
    let mut grains = serde_json::Map::new();
    for (i, id) in acc.iter().enumerate() {
        let os = if i % 4 == 0 { "Rocky" } else { "Debian" };
        grains.insert(id.clone(), json!({"os": os, "osrelease": "12", "num_cpus": (i % 8) + 1, "mem_total": 2048, "saltversion": "3008.4"}));
    }
    let hashes = store::load_grain_hashes(db).await.unwrap();
    let polled: Vec<String> = grains
        .keys()
        .filter(|k| hashes.contains_key(*k))
        .cloned()
        .collect();
    store::apply_grains(
        db,
        &ingest::reconcile_grains(&hashes, &grains),
        &polled,
        at("2026-11-27T08:00:02.000Z"),
    )
    .await
    .unwrap();
}

async fn admin(app: &TestApp) -> String {
    halite::with_db!(&app.state.db, p => {
        sqlx::query("UPDATE users SET must_change_pw = FALSE")
            .execute(p)
            .await
            .unwrap();
    });
    app.login("admin", "changeme").await
}

#[tokio::test]
async fn reconcile_sequence_and_status_counts() {
    let app = TestApp::new().await;
    seed(&app, 1200).await;
    let page = store::list(
        &app.state.db,
        &store::ListQuery {
            per_page: 50,
            page: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (rows, total, counts) = page;
    assert_eq!(total, 1201);
    assert_eq!(rows.len(), 50);
    assert_eq!(counts.online, 800);
    assert_eq!(counts.offline, 400);
    assert_eq!(counts.pending, 1);
    // Key moved: accepted -> rejected; vanished: deleted.
    let db = &app.state.db;
    let existing = store::load_key_states(db).await.unwrap();
    let mut acc: Vec<String> = existing
        .keys()
        .filter(|k| k.starts_with("web") || k.starts_with("db"))
        .cloned()
        .collect();
    acc.sort();
    let removed = acc.pop().unwrap();
    let moved = acc.remove(0);
    let l = KeyLists {
        accepted: acc.clone(),
        pending: vec!["new-00001".into()],
        rejected: vec![moved.clone()],
        denied: vec![],
    };
    let diff = ingest::reconcile_keys(&existing, &l);
    assert_eq!(diff.delete, vec![removed.clone()]);
    store::apply_keys(db, &diff, at("2026-11-27T08:05:00.000Z"))
        .await
        .unwrap();
    let d = store::get(db, &moved).await.unwrap().unwrap();
    assert_eq!(
        (d.key_status.as_str(), d.status.as_str()),
        ("rejected", "rejected")
    );
    assert!(store::get(db, &removed).await.unwrap().is_none());
    // Grains survive a presence change; unchanged grains are not rewritten.
    let hashes = store::load_grain_hashes(db).await.unwrap();
    assert!(hashes.values().all(|h| h.is_some()));
    // An offline minion keeps its last-known facts (the master's cache), grains included.
    let offline = store::get(db, "web-00000").await.unwrap().unwrap();
    assert_eq!(offline.status.as_str(), "offline");
    assert_eq!(offline.os.as_deref(), Some("Rocky"));
    assert!(offline.grains_json.as_deref().unwrap().contains("Rocky"));

    // Everyone goes offline but two, one comes back: the counts the triggers keep are the
    // table's own count after inserts, key moves, deletes and presence flips.
    let existing = store::load_presence(db).await.unwrap();
    let present: BTreeMap<String, String> = [("web-00002", "10.0.0.1"), ("web-00000", "10.0.0.2")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    store::apply_presence(
        db,
        &ingest::reconcile_presence(&existing, &present),
        at("2026-11-27T08:06:00.000Z"),
    )
    .await
    .unwrap();
    let kept = store::status_counts(db).await.unwrap();
    let counted: Vec<(String, i64)> = halite::with_db!(db, p => {
        sqlx::query_as("SELECT status, COUNT(*) FROM minion_snapshots GROUP BY status")
            .fetch_all(p)
            .await
            .unwrap()
    });
    let counted: BTreeMap<String, i64> = counted.into_iter().collect();
    assert_eq!(kept.online, 2);
    for (status, n) in [
        ("online", kept.online),
        ("offline", kept.offline),
        ("pending", kept.pending),
        ("rejected", kept.rejected),
        ("denied", kept.denied),
    ] {
        assert_eq!(counted.get(status).copied().unwrap_or(0), n, "{status}");
    }
    // The deleted minion's grains went with its row.
    let orphans: i64 = halite::with_db!(db, p => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM minion_grains g WHERE NOT EXISTS \
             (SELECT 1 FROM minion_snapshots s WHERE s.minion_id = g.minion_id)",
        )
        .fetch_one(p)
        .await
        .unwrap()
    });
    assert_eq!(orphans, 0);
}

#[tokio::test]
async fn paging_search_sort_and_filters_over_http() {
    let app = TestApp::new().await;
    seed(&app, 1200).await;
    let cookie = admin(&app).await;
    let call = |form: Vec<(&'static str, String)>| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call("minions/list", &f, Some(&cookie)).await
        }
    };
    let r = call(vec![("per_page", "100".into()), ("page", "13".into())]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let j = r.json();
    assert_eq!(j["total"], 1201);
    assert_eq!(
        j["rows"].as_array().unwrap().len(),
        1,
        "last page holds the remainder"
    );
    let r = call(vec![("page", "99".into())]).await.json();
    assert_eq!(
        r["rows"].as_array().unwrap().len(),
        0,
        "past the end: empty page, same total"
    );
    assert_eq!(r["total"], 1201);
    // Search by id, OS and IP (case-insensitive), combined with a status filter.
    let r = call(vec![("q", "WEB-0001".into())]).await.json();
    assert!(r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["id"].as_str().unwrap().starts_with("web-0001")));
    assert_eq!(r["total"], 5, "web-00010..web-00018, even indices only");
    let r = call(vec![("q", "rocky".into()), ("status", "online".into())])
        .await
        .json();
    assert!(r["rows"].as_array().unwrap().iter().all(|m| m["os"]
        .as_str()
        .unwrap()
        .starts_with("Rocky")
        && m["status"] == "online"));
    let r = call(vec![("q", "10.0.2.".into())]).await.json();
    assert!(r["total"].as_i64().unwrap() > 0);
    assert!(r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["ip"].as_str().unwrap().starts_with("10.0.2.")));
    let r = call(vec![("q", "100%_".into())]).await.json();
    assert_eq!(r["total"], 0, "LIKE wildcards in the search are literal");
    // Sort by CPUs descending.
    let r = call(vec![("sort", "cpus".into()), ("dir", "desc".into())])
        .await
        .json();
    assert_eq!(r["rows"][0]["cpus"], 8);
    // Validation: a clear 422, never a 500.
    for bad in [
        vec![("per_page", "7".to_string())],
        vec![("status", "sleepy".to_string())],
        vec![("sort", "password_hash".to_string())],
        vec![("dir", "sideways".to_string())],
        vec![("page", "-3".to_string())],
        vec![("q", "x".repeat(201))],
    ] {
        let r = call(bad.clone()).await;
        assert_eq!(r.status.as_u16(), 422, "{bad:?}: {}", r.body);
    }
    let r = call(vec![("page", "not-a-number".into())]).await;
    assert!(r.status.is_client_error(), "{}", r.status);
}

#[tokio::test]
async fn per_resource_roles_see_only_their_minions_and_keys() {
    let app = TestApp::new().await;
    seed(&app, 40).await;
    let db = &app.state.db;
    halite::with_db!(db, p => {
        sqlx::query("INSERT INTO roles (id, name, name_lower, description) VALUES ('r-web', 'web-viewers', 'web-viewers', '')")
            .execute(p)
            .await
            .unwrap();
    });
    for (id, verb, res) in [
        ("p1", "view", "minion:web-*"),
        ("p2", "view", "key:web-*"),
        ("p3", "accept", "key:web-*"),
    ] {
        halite::with_db!(db, p => {
            sqlx::query(
                "INSERT INTO permissions (id, role_id, verb, resource_glob) VALUES ($1, 'r-web', $2, $3)",
            )
            .bind(id)
            .bind(verb)
            .bind(res)
            .execute(p)
            .await
            .unwrap();
        });
    }
    app.create_user("wendy", "wendy-password", &["web-viewers"])
        .await;
    let cookie = app.login("wendy", "wendy-password").await;
    let r = app
        .call("minions/list", &[("per_page", "500")], Some(&cookie))
        .await
        .json();
    assert_eq!(r["total"], 20);
    assert!(r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["id"].as_str().unwrap().starts_with("web-")));
    assert_eq!(
        app.call("minions/get", &[("id", "web-00000")], Some(&cookie))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call("minions/get", &[("id", "db-00001")], Some(&cookie))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let keys = app.call("keys/list", &[], Some(&cookie)).await.json();
    assert_eq!(keys["accepted_total"], 20);
    assert!(keys["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["can_accept"] == true && k["can_delete"] == false));
    // A key outside the glob is refused before salt-api is even asked, and audited.
    let r = app
        .call(
            "keys/action",
            &[("action", "accept"), ("ids", "db-00001")],
            Some(&cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let denied: i64 = halite::with_db!(db, p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'permission.denied' AND resource = 'key:db-00001'")
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!(denied, 1);
    // A viewer cannot act on any key; a bad action name is a 422.
    app.create_user("vera", "vera-password", &["viewer"]).await;
    let v = app.login("vera", "vera-password").await;
    let r = app
        .call(
            "keys/action",
            &[("action", "accept"), ("ids", "new-00001")],
            Some(&v),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            "keys/action",
            &[("action", "explode"), ("ids", "new-00001")],
            Some(&v),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422);
    let r = app
        .call(
            "keys/action",
            &[("action", "accept"), ("ids", "")],
            Some(&v),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422);
}

#[tokio::test]
async fn overview_counts_and_heatmap() {
    let app = TestApp::new().await;
    seed(&app, 30).await;
    let cookie = admin(&app).await;
    let r = app
        .call("overview/summary", &[], Some(&cookie))
        .await
        .json();
    assert_eq!(r["minions"]["online"], 20);
    assert_eq!(r["minions"]["offline"], 10);
    assert_eq!(r["keys"]["pending"], 1);
    assert_eq!(r["heatmap_count"], 31);
    assert_eq!(
        r["heatmap_svg"].as_str().unwrap().matches("<rect").count(),
        31
    );
    // A user without minion/key views gets "—" tiles (None), not an error.
    halite::with_db!(&app.state.db, p => {
        sqlx::query("INSERT INTO roles (id, name, name_lower, description) VALUES ('r-none', 'nothing', 'nothing', '')")
            .execute(p)
            .await
            .unwrap();
    });
    app.create_user("nobody", "nobody-password", &["nothing"])
        .await;
    let c = app.login("nobody", "nobody-password").await;
    let r = app.call("overview/summary", &[], Some(&c)).await.json();
    assert!(r["minions"].is_null() && r["keys"].is_null() && r["heatmap_svg"].is_null());
}

/// The same order on either engine: NULLs last both ways, the `os` column sorted as shown (os
/// and release), ids bytewise; the oldest keys/presence refresh is a time.
#[tokio::test]
async fn sort_order_and_oldest_refresh() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    assert_eq!(store::oldest_refresh(db).await.unwrap(), None);
    seed(&app, 12).await;
    assert_eq!(
        store::oldest_refresh(db).await.unwrap(),
        Some(at("2026-11-27T08:00:00.000Z")),
        "keys were stamped before presence"
    );
    let ids = |rows: &[halite::model::minions::MinionRow]| {
        rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    };
    let q = |sort: &str, descending: bool| store::ListQuery {
        sort: sort.into(),
        descending,
        page: 1,
        per_page: 100,
        ..Default::default()
    };
    for desc in [false, true] {
        let (rows, _, _) = store::list(db, &q("os", desc)).await.unwrap();
        // Offline and pending minions have no grains: last either way.
        let known: Vec<_> = rows.iter().take_while(|r| r.os.is_some()).collect();
        assert!(rows[known.len()..].iter().all(|r| r.os.is_none()));
        let mut want: Vec<_> = known.iter().map(|r| (r.os.clone(), r.id.clone())).collect();
        want.sort();
        if desc {
            want.reverse();
        }
        let got: Vec<_> = known.iter().map(|r| (r.os.clone(), r.id.clone())).collect();
        assert_eq!(got, want);
    }
    let (rows, _, _) = store::list(db, &q("", false)).await.unwrap();
    let mut want = ids(&rows);
    want.sort();
    assert_eq!(ids(&rows), want, "ids in byte order");
    assert_eq!(rows[0].id, "db-00001");
}

/// `GET /api/minions/export.csv|json|ndjson`: every page of exactly what the list's search,
/// filters and order select, only the caller's minions, formula cells neutralised; denied,
/// bad and anonymous requests refused; each export audited.
#[tokio::test]
async fn the_export_carries_every_page_of_the_filtered_list_in_its_order() {
    use halite::model::minions::MinionRow;
    use halite::server::export::ExportRow;
    let app = TestApp::new().await;
    seed(&app, 1200).await;
    // A fact a spreadsheet would run as a formula.
    halite::with_db!(&app.state.db, p => {
        sqlx::query("UPDATE minion_snapshots SET os = '=2+5' WHERE minion_id = 'web-00002'")
            .execute(p)
            .await
            .unwrap();
    });
    let admin = admin(&app).await;

    // Everything, CSV: the header, then 1,201 rows in id order (more than any page holds).
    let r = app.get("/api/minions/export.csv", Some(&admin)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["content-type"], "text/csv; charset=utf-8");
    let disposition = r.headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"halite-minions-")
            && disposition.ends_with("Z.csv\""),
        "{disposition}"
    );
    let mut rd = csv::Reader::from_reader(r.body.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, MinionRow::COLUMNS);
    let recs: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(recs.len(), 1201);
    let ids: Vec<&str> = recs.iter().map(|r| &r[0]).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "the list's default order: by id");
    let formula = recs.iter().find(|r| &r[0] == "web-00002").unwrap();
    assert_eq!(
        &formula[3], "'=2+5 12",
        "a formula-like cell is neutralised"
    );

    // What a browser gets: the same file, gzip-compressed (the compression layer polls the
    // body once more after its end; a stream that panicked there cut every download short).
    let req = axum::http::Request::get("/api/minions/export.csv")
        .header("host", "halite.test")
        .header("cookie", &admin)
        .header("accept-encoding", "gzip")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(app.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let gz = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let mut csv_text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut csv_text)
        .unwrap();
    assert_eq!(csv_text, r.body);

    // Search, status and a sort: the same rows, in the same order, as the list's pages.
    let filters = store::ListQuery {
        search: "web".into(),
        status: Some(halite::model::minions::MinionStatus::Online),
        sort: "cpus".into(),
        descending: true,
        page: 1,
        per_page: 10_000,
        allowed_globs: None,
    };
    let (want, total, _) = store::list(&app.state.db, &filters).await.unwrap();
    assert!(total > 300, "{total}");
    let r = app
        .get(
            "/api/minions/export.json?q=web&status=online&sort=cpus&dir=desc&page=3&per_page=25",
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/json");
    let got: Vec<MinionRow> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(got, want, "every page, whatever page the table showed");

    // NDJSON: one object a line.
    let r = app
        .get("/api/minions/export.ndjson?status=pending", Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/x-ndjson");
    let lines: Vec<serde_json::Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], "new-00001");

    // A per-resource role exports only its minions.
    app.create_role("webview", &[("view", "minion:web-*")])
        .await;
    app.create_user("wendy", "wendy-password-1", &["webview"])
        .await;
    let wendy = app.login("wendy", "wendy-password-1").await;
    let r = app.get("/api/minions/export.csv", Some(&wendy)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let rows: Vec<&str> = r.body.lines().skip(1).collect();
    assert_eq!(rows.len(), 600);
    assert!(rows.iter().all(|l| l.starts_with("web-")), "{}", r.body);

    // Each export is audited with its filters and format.
    let audited = app.audit_rows("export.minions").await;
    assert_eq!(audited.len(), 5);
    let args: serde_json::Value = serde_json::from_str(audited[2].2.as_deref().unwrap()).unwrap();
    assert_eq!(
        (
            &args["format"],
            &args["q"],
            &args["status"],
            &args["sort"],
            &args["dir"]
        ),
        (
            &json!("json"),
            &json!("web"),
            &json!("online"),
            &json!("cpus"),
            &json!("desc")
        )
    );
    assert_eq!(audited[4].3.as_deref(), Some("wendy"));

    // Refused: no minion to view (audited), a filter that does not check, no session.
    app.create_role("jobsonly", &[("view", "job:*")]).await;
    app.create_user("jo", "jo-password-12345", &["jobsonly"])
        .await;
    let jo = app.login("jo", "jo-password-12345").await;
    let before = app.audit_rows("permission.denied").await.len();
    let r = app.get("/api/minions/export.csv", Some(&jo)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(app.audit_rows("permission.denied").await.len(), before + 1);
    let r = app
        .get("/api/minions/export.csv?status=nope", Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Status must be one of"), "{}", r.body);
    let r = app
        .get(
            &format!("/api/minions/export.csv?q={}", "x".repeat(300)),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app.get("/api/minions/export.csv", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit_rows("export.minions").await.len(), 5);
}
