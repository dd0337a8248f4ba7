//! The Audit log: `audit/list` filters and paging, `audit/get`, the streamed CSV / JSON export,
//! who may read it, the page itself and `halite admin audit`'s options.

use crate::common::{Reply, TestApp};
use axum::http::{header, StatusCode};
use halite::server::db::{JsonText, Ts};
use serde_json::Value;

const PW: &str = "correct horse battery";

/// Insert a row as the audit writer would have, at a given time; returns its id.
#[allow(clippy::too_many_arguments)]
async fn row(
    app: &TestApp,
    at: &str,
    username: &str,
    action: &str,
    resource: &str,
    decision: &str,
    args: Option<&str>,
) -> i64 {
    let code = if decision == "deny" { 403 } else { 200 };
    let at = Ts(halite::server::from_text(at).expect("an RFC 3339 time"));
    let args = args.map(|a| JsonText(a.to_string()));
    halite::with_db!(&app.state.db, p => sqlx::query_scalar(
        "INSERT INTO audit_log (at, user_id, username, action, resource, args_json, salt_jid, \
         decision, result_code, duration_ms, ip) VALUES ($1, 'uid', $2, $3, $4, $5, $6, $7, $8, 12, '10.0.0.9') \
         RETURNING id",
    )
    .bind(at)
    .bind(username)
    .bind(action)
    .bind(resource)
    .bind(&args)
    .bind((action == "salt.run").then_some("20261101120000123456"))
    .bind(decision)
    .bind(code)
    .fetch_one(p)
    .await
    .unwrap())
}

async fn admin(app: &TestApp) -> String {
    app.create_user("boss", PW, &["admin"]).await;
    app.login("boss", PW).await
}

async fn list(app: &TestApp, cookie: &str, form: &[(&str, &str)]) -> Reply {
    app.call("audit/list", form, Some(cookie)).await
}

/// The ids of a successful `audit/list` answer, and its total.
async fn ids(app: &TestApp, cookie: &str, form: &[(&str, &str)]) -> (Vec<i64>, i64) {
    let r = list(app, cookie, form).await;
    assert_eq!(r.status, StatusCode::OK, "{form:?}: {}", r.body);
    let j = r.json();
    let ids = j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    (ids, j["total"].as_i64().unwrap())
}

fn field_of(r: &Reply) -> String {
    r.json()["Invalid"]["field"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Five rows on 2026-11-01, an hour apart (the test's sign-in rows are later).
async fn seed(app: &TestApp) -> [i64; 5] {
    [
        row(
            app,
            "2026-11-01T10:00:00.000Z",
            "Alice",
            "key.accept",
            "key:web-01",
            "allow",
            None,
        )
        .await,
        row(
            app,
            "2026-11-01T11:00:00.000Z",
            "bob",
            "key.accept",
            "key:db-01",
            "allow",
            None,
        )
        .await,
        row(
            app,
            "2026-11-01T12:00:00.000Z",
            "alice",
            "salt.run",
            "salt:test.ping",
            "allow",
            Some(r#"{"tgt":"*"}"#),
        )
        .await,
        row(
            app,
            "2026-11-01T13:00:00.000Z",
            "mallory",
            "permission.denied",
            "minion:web-02",
            "deny",
            None,
        )
        .await,
        row(
            app,
            "2026-11-01T14:00:00.000Z",
            "alice",
            "permission.denied",
            "key:web-03",
            "deny",
            None,
        )
        .await,
    ]
}

#[tokio::test]
async fn each_filter_and_their_combination() {
    let app = TestApp::new().await;
    let cookie = admin(&app).await;
    let [r1, r2, r3, r4, r5] = seed(&app).await;

    // User: exact, case-insensitive.
    assert_eq!(
        ids(&app, &cookie, &[("user", "ALICE")]).await,
        (vec![r5, r3, r1], 3)
    );
    assert_eq!(ids(&app, &cookie, &[("user", "ali")]).await, (vec![], 0));
    // Action: exact.
    assert_eq!(
        ids(&app, &cookie, &[("action", "key.accept")]).await,
        (vec![r2, r1], 2)
    );
    assert_eq!(ids(&app, &cookie, &[("action", "key")]).await.1, 0);
    // Decision.
    assert_eq!(
        ids(&app, &cookie, &[("decision", "deny")]).await,
        (vec![r5, r4], 2)
    );
    // Resource contains (LIKE metacharacters taken literally).
    assert_eq!(
        ids(&app, &cookie, &[("resource", "web-0")]).await,
        (vec![r5, r4, r1], 3)
    );
    assert_eq!(ids(&app, &cookie, &[("resource", "web_0")]).await.1, 0);
    // Since inclusive (a datetime-local value, UTC), until exclusive (RFC 3339).
    let window = [
        ("since", "2026-11-01T11:00"),
        ("until", "2026-11-01T13:00:00Z"),
    ];
    assert_eq!(ids(&app, &cookie, &window).await, (vec![r3, r2], 2));
    // Combined.
    let combo = [
        ("user", "alice"),
        ("decision", "deny"),
        ("resource", "key:"),
    ];
    assert_eq!(ids(&app, &cookie, &combo).await, (vec![r5], 1));
    let combo = [
        ("user", "alice"),
        ("action", "key.accept"),
        ("until", "2026-11-01T10:00:00Z"),
    ];
    assert_eq!(ids(&app, &cookie, &combo).await, (vec![], 0));

    // Newest first over everything, and the action picker lists what exists, sorted.
    let r = list(&app, &cookie, &[]).await;
    let j = r.json();
    let all: Vec<i64> = j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(all, sorted);
    assert!(all.len() >= 6, "the sign-in row too: {all:?}");
    let actions: Vec<&str> = j["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["auth.login", "key.accept", "permission.denied", "salt.run"]
    );
    // A row carries what the drawer shows.
    let salt = &j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == r3)
        .unwrap()
        .clone();
    assert_eq!(salt["salt_jid"], "20261101120000123456");
    assert_eq!(salt["at"], "2026-11-01T12:00:00.000Z");
    assert_eq!(salt["ip"], "10.0.0.9");
    assert_eq!(salt["decision"], "allow");
}

#[tokio::test]
async fn paging_edges_and_bad_filters() {
    let app = TestApp::new().await;
    let cookie = admin(&app).await;
    let mut made = vec![];
    for i in 0..120 {
        let at = format!("2026-11-02T10:{:02}:{:02}.000Z", i / 60, i % 60);
        made.push(
            row(
                &app,
                &at,
                "pager",
                "bulk.test",
                &format!("thing:{i}"),
                "allow",
                None,
            )
            .await,
        );
    }
    made.reverse();
    let bulk = |page: &'static str| [("action", "bulk.test"), ("page", page)];
    // Page 0 is the first page.
    let (p0, total) = ids(&app, &cookie, &bulk("0")).await;
    assert_eq!((p0.as_slice(), total), (&made[..50], 120));
    assert_eq!(ids(&app, &cookie, &bulk("1")).await.0, p0);
    assert_eq!(
        ids(&app, &cookie, &bulk("3")).await,
        (made[100..].to_vec(), 120)
    );
    // Past the end: no rows, the right total.
    assert_eq!(ids(&app, &cookie, &bulk("4")).await, (vec![], 120));
    let r = list(
        &app,
        &cookie,
        &[("action", "bulk.test"), ("page", "2"), ("per_page", "100")],
    )
    .await;
    assert_eq!(r.json()["rows"].as_array().unwrap().len(), 20);
    // The deepest page is served (empty here); one beyond it, a page size not offered, bad
    // times: 422 naming the field.
    let deepest = (halite::model::list::MAX_LIST_OFFSET / 50 + 1).to_string();
    assert_eq!(
        ids(&app, &cookie, &[("page", deepest.as_str())]).await,
        (vec![], 121)
    );
    let beyond = (halite::model::list::MAX_LIST_OFFSET / 50 + 2).to_string();
    for (form, field) in [
        (vec![("page", beyond.as_str())], "page"),
        (vec![("page", "-1")], "page"),
        (vec![("per_page", "7")], "per_page"),
        (vec![("since", "yesterday")], "since"),
        (vec![("until", "2026-02-30T10:00")], "until"),
        (
            vec![("since", "2026-11-02T10:00"), ("until", "2026-11-02T09:00")],
            "until",
        ),
        (
            vec![("since", "2026-11-02T10:00"), ("until", "2026-11-02T10:00")],
            "until",
        ),
        (vec![("decision", "maybe")], "decision"),
    ] {
        let r = list(&app, &cookie, &form).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{form:?}: {}",
            r.body
        );
        assert_eq!(field_of(&r), field, "{form:?}");
    }
    let long = "x".repeat(300);
    let r = list(&app, &cookie, &[("resource", long.as_str())]).await;
    assert_eq!(
        (r.status, field_of(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "resource".into())
    );
}

#[tokio::test]
async fn one_entry_for_the_drawer() {
    let app = TestApp::new().await;
    let cookie = admin(&app).await;
    // An old row written before redaction existed: it is redacted when read.
    let id = row(
        &app,
        "2026-11-01T10:00:00.000Z",
        "alice",
        "settings.salt.update",
        "settings:salt",
        "allow",
        Some(r#"{"url":"https://salt","password":"hunter2"}"#),
    )
    .await;
    let r = app
        .call("audit/get", &[("id", &id.to_string())], Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let args: Value = serde_json::from_str(r.json()["args_json"].as_str().unwrap()).unwrap();
    assert_eq!(args["password"], "[REDACTED]");
    assert_eq!(args["url"], "https://salt");
    assert!(!r.body.contains("hunter2"));
    let r = app
        .call("audit/get", &[("id", "999999")], Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.call("audit/get", &[("id", "0")], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The list redacts too.
    assert!(!list(&app, &cookie, &[]).await.body.contains("hunter2"));
}

async fn export(app: &TestApp, ext: &str, query: &str, cookie: Option<&str>) -> Reply {
    app.get(&format!("/api/audit/export.{ext}{query}"), cookie)
        .await
}

/// Rows written only for the export tests: formula-looking cells and a stored secret.
async fn seed_export(app: &TestApp) -> Vec<i64> {
    let mut ids = vec![
        row(
            app,
            "2026-11-03T10:00:00.000Z",
            "=cmd|' /C calc'!A0",
            "export.test",
            "minion:web-01",
            "allow",
            None,
        )
        .await,
        row(
            app,
            "2026-11-03T10:01:00.000Z",
            "eve",
            "export.test",
            "+SUM(A1:A9)",
            "deny",
            Some(r#"{"token":"s3cr3t-token","note":"-1"}"#),
        )
        .await,
        row(
            app,
            "2026-11-03T10:02:00.000Z",
            "eve",
            "export.test",
            "@import",
            "allow",
            // Text that is not JSON (an old or hand-edited SQLite row); Postgres's jsonb column
            // cannot hold that, so there it is the same text as a JSON string.
            Some(if crate::common::on_postgres() {
                r#""password=hunter2 other=x""#
            } else {
                "password=hunter2 other=x"
            }),
        )
        .await,
        row(
            app,
            "2026-11-03T10:03:00.000Z",
            "eve",
            "export.test",
            "-2+3",
            "allow",
            None,
        )
        .await,
        row(
            app,
            "2026-11-03T10:04:00.000Z",
            "eve",
            "export.test",
            "key:a,\"quoted\"\nline",
            "allow",
            None,
        )
        .await,
    ];
    ids.reverse();
    ids
}

#[tokio::test]
async fn csv_export_streams_the_filtered_rows_safely() {
    let app = TestApp::new().await;
    let cookie = admin(&app).await;
    let ids = seed_export(&app).await;
    row(
        &app,
        "2026-11-03T10:05:00.000Z",
        "eve",
        "other.action",
        "minion:web-01",
        "allow",
        None,
    )
    .await;

    let r = export(&app, "csv", "?action=export.test", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let disposition = r.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"halite-audit-")
            && disposition.ends_with("Z.csv\""),
        "{disposition}"
    );
    let mut rd = csv::Reader::from_reader(r.body.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, halite::server::audit::export::CSV_HEADER);
    let recs: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(recs.len(), ids.len(), "exactly the filtered rows");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let got: Vec<i64> = recs.iter().map(|r| r[col("id")].parse().unwrap()).collect();
    assert_eq!(got, ids, "newest first");
    assert!(recs.iter().all(|r| &r[col("action")] == "export.test"));
    // Formula cells get a leading quote; a quoted, multi-line cell survives.
    let res: Vec<&str> = recs
        .iter()
        .map(|r| r.get(col("resource")).unwrap())
        .collect();
    assert_eq!(
        res,
        [
            "key:a,\"quoted\"\nline",
            "'-2+3",
            "'@import",
            "'+SUM(A1:A9)",
            "minion:web-01"
        ]
    );
    assert_eq!(&recs[4][col("username")], "'=cmd|' /C calc'!A0");
    // No secret leaves, even from rows stored unredacted.
    assert!(
        !r.body.contains("s3cr3t-token") && !r.body.contains("hunter2"),
        "{}",
        r.body
    );
    assert!(r.body.contains("[REDACTED]"));
    assert_eq!(&recs[3][col("decision")], "deny");

    // The export itself is audited, with its filters.
    let rows = app.audit_rows("export.audit").await;
    assert_eq!(rows.len(), 1);
    let (decision, code, args, user) = &rows[0];
    assert_eq!(
        (decision.as_str(), *code, user.as_deref()),
        ("allow", 200, Some("boss"))
    );
    let args: Value = serde_json::from_str(args.as_deref().unwrap()).unwrap();
    assert_eq!(args["action"], "export.test");
    assert_eq!(args["format"], "csv");

    // Unfiltered: every row, the header first.
    let r = export(&app, "csv", "", Some(&cookie)).await;
    let total: i64 = halite::with_db!(&app.state.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(p)
        .await
        .unwrap());
    let n = csv::Reader::from_reader(r.body.as_bytes())
        .records()
        .count() as i64;
    assert_eq!(n, total);
    // A bad filter is a 422 before anything streams.
    let r = export(&app, "csv", "?since=soon", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_of(&r), "since");
}

#[tokio::test]
async fn json_export_is_one_array_of_the_rows() {
    let app = TestApp::new().await;
    let cookie = admin(&app).await;
    let ids = seed_export(&app).await;
    let r = export(&app, "json", "?action=export.test&user=EVE", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    assert!(r.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .ends_with(".json\""));
    let rows: Vec<halite::model::audit::AuditRow> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), ids[..4]);
    assert!(rows.iter().all(|r| r.username.as_deref() == Some("eve")));
    assert!(!r.body.contains("s3cr3t-token") && !r.body.contains("hunter2"));
    // No match: an empty array.
    let r = export(&app, "json", "?action=nothing.here", Some(&cookie)).await;
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&r.body).unwrap().len(),
        0
    );
}

#[tokio::test]
async fn only_holders_of_view_audit_may_read_it() {
    let app = TestApp::new().await;
    app.create_user("vic", PW, &["viewer"]).await;
    app.create_user("ops", PW, &["operator"]).await;
    let viewer = app.login("vic", PW).await;
    let operator = app.login("ops", PW).await;

    let r = list(&app, &viewer, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app.call("audit/get", &[("id", "1")], Some(&viewer)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = export(&app, "csv", "", Some(&viewer)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.body.contains("auth.login"), "no rows leak: {}", r.body);
    let r = export(&app, "json", "", Some(&viewer)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Every denial is audited, against the audit log.
    let denied: Vec<(String, i64, String)> = halite::with_db!(&app.state.db, p => sqlx::query_as(
        "SELECT decision, result_code, resource FROM audit_log WHERE action = 'permission.denied' AND username = 'vic'",
    )
    .fetch_all(p)
    .await
    .unwrap());
    assert_eq!(denied.len(), 4, "{denied:?}");
    assert!(denied
        .iter()
        .all(|(d, c, res)| d == "deny" && *c == 403 && res == "audit:*"));
    assert!(app.audit_rows("export.audit").await.is_empty());

    // Without a session: 401.
    assert_eq!(
        export(&app, "csv", "", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.call("audit/list", &[], None).await.status,
        StatusCode::UNAUTHORIZED
    );

    // An operator holds view:* and may read and export.
    let (rows, total) = ids(&app, &operator, &[("user", "vic")]).await;
    assert!(total >= 5 && rows.len() as i64 == total, "{rows:?} {total}");
    assert_eq!(
        export(&app, "csv", "", Some(&operator)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_page_renders_rows_filters_drawer_and_exports() {
    let app = TestApp::new().await;
    let cookie = admin(&app).await;
    let [_, _, r3, _, _] = seed(&app).await;
    let r = app
        .get("/audit?user=alice&decision=allow", Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for needle in [
        r#"data-test="audit-table""#,
        r#"data-action="salt.run""#,
        r#"data-username="alice""#,
        r#"name="user""#,
        r#"name="action""#,
        r#"name="decision""#,
        r#"name="resource""#,
        r#"name="since""#,
        r#"name="until""#,
        r#"data-test="audit-apply""#,
        r#"href="/api/audit/export.csv?user=alice&amp;decision=allow""#,
        r#"data-test="audit-export-json""#,
    ] {
        assert!(r.body.contains(needle), "missing {needle}");
    }
    assert_eq!(r.body.matches(r#"data-test="audit-row""#).count(), 2);
    assert!(!r.body.contains(r#"data-test="audit-drawer""#));
    // `?id=` opens the drawer with the job link.
    let r = app
        .get(&format!("/audit?user=alice&id={r3}"), Some(&cookie))
        .await;
    assert!(r.body.contains(r#"data-test="audit-drawer""#));
    assert!(r.body.contains(r#"href="/jobs/20261101120000123456""#));
    // Nothing matches: the designed empty state.
    let r = app.get("/audit?user=nobody", Some(&cookie)).await;
    assert!(r.body.contains("No audit entries match these filters"));
}

#[test]
fn cli_options_share_the_page_validation() {
    use halite::model::list::ListFilters;
    use halite::server::cli::{parse_audit_args, write_audit, AUDIT_DEFAULT_LIMIT};
    let args = |a: &[&str]| parse_audit_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let a = args(&[
        "--since",
        "24h",
        "--user",
        "alice",
        "--action",
        "key.accept",
        "--json",
    ])
    .unwrap();
    assert_eq!((a.limit, a.json), (AUDIT_DEFAULT_LIMIT, true));
    let f = a.filters.validate().unwrap();
    assert_eq!(f.user.as_deref(), Some("alice"));
    assert!(f.since.is_some());
    assert_eq!(args(&["--limit", "100000"]).unwrap().limit, 100_000);
    for bad in [
        &["--limit", "0"][..],
        &["--limit", "100001"],
        &["--limit"],
        &["--bogus"],
    ] {
        assert!(args(bad).is_err(), "{bad:?}");
    }
    let e = args(&["--since", "last week"])
        .unwrap()
        .filters
        .validate()
        .unwrap_err();
    assert_eq!(e.field(), Some("since"));

    let row: halite::model::audit::AuditRow = serde_json::from_value(serde_json::json!({
        "id": 3, "at": "2026-11-01T12:00:00.000Z", "user_id": null, "username": "alice",
        "action": "salt.run", "resource": "salt:test.ping", "args_json": null, "salt_jid": null,
        "decision": "allow", "result_code": 200, "duration_ms": 5, "ip": ""
    }))
    .unwrap();
    let mut out = vec![];
    write_audit(&mut out, &[row.clone(), row.clone()], true).unwrap();
    let parsed: Vec<halite::model::audit::AuditRow> = serde_json::from_slice(&out).unwrap();
    assert_eq!(parsed, vec![row.clone(), row.clone()]);
    let mut out = vec![];
    write_audit(&mut out, &[row], false).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("TIME (UTC)"));
    assert!(text.contains("2026-11-01T12:00:00.000Z alice"), "{text}");
    assert!(text.contains(" allow    200"), "columns line up: {text}");
}

/// Security review: each export holds a database connection while it runs, so at most
/// `MAX_EXPORTS` run at once (a 429 tells the third to wait); a finished or dropped download
/// frees its place.
#[tokio::test]
async fn exports_running_at_once_are_capped() {
    use halite::server::export::MAX_EXPORTS;
    let app = TestApp::new().await;
    let cookie = admin(&app).await;
    // Open downloads whose bodies nobody reads yet.
    let mut open = Vec::new();
    for _ in 0..MAX_EXPORTS {
        let r = app.open_stream("/api/audit/export.csv", &cookie).await;
        assert_eq!(r.status(), StatusCode::OK);
        open.push(r);
    }
    let r = export(&app, "json", "", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("running already"), "{}", r.body);
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    // Reading one to the end frees its place.
    let done = open.pop().unwrap();
    let body = http_body_util::BodyExt::collect(done.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(body.starts_with(b"id,"), "a CSV with its header");
    let r = export(&app, "json", "", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Dropping an unread download frees its place too.
    drop(open);
    let r = export(&app, "csv", "", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
