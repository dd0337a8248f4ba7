//! Finding 14: secrets in job arguments (positional `name=value` words and secret-like kwargs)
//! never reach `jobs_index.arguments`, the activity log's raw events, or the audit log.

use crate::common::TestApp;
use halite::salt::events::SaltEvent;
use halite::salt::JobSummary;
use halite::server::activity::normalize::{normalize, AuthDedup};
use halite::server::audit::{record, AuditEntry};
use serde_json::json;

const SECRETS: &[&str] = &["hunter2", "sesame", "s3cr3t-tok"];

fn salt_args() -> serde_json::Value {
    json!([
        "password=hunter2",
        "echo hello",
        {"__kwarg__": true, "passphrase": "sesame", "API_TOKEN": "s3cr3t-tok", "cwd": "/tmp"}
    ])
}

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} stores the secret {s:?}: {text}");
    }
}

async fn stored_arguments(app: &TestApp, jid: &str) -> String {
    halite::with_db!(&app.state.db, p => sqlx::query_scalar::<_, Option<String>>("SELECT CAST(arguments AS TEXT) FROM jobs_index WHERE jid = $1")
        .bind(jid)
        .fetch_one(p)
        .await
        .unwrap())
        .expect("arguments stored")
}

#[tokio::test]
async fn jobs_poller_ingest_redacts_arguments() {
    let app = TestApp::new().await;
    let jid = "20261130010203123456";
    let (rows, skipped) = halite::server::jobs::ingest::rows_from_list_jobs(&[JobSummary {
        jid: jid.into(),
        function: "cmd.run".into(),
        arguments: salt_args(),
        target: Some("web-1".into()),
        target_type: Some("glob".into()),
        user: Some("root".into()),
        start_time: None,
    }]);
    assert_eq!(skipped, 0);
    halite::server::jobs::store::upsert_jobs(&app.state.db, &rows, chrono::Utc::now())
        .await
        .unwrap();
    let stored = stored_arguments(&app, jid).await;
    assert_clean("jobs_index.arguments (poller)", &stored);
    assert!(stored.contains("password=[REDACTED]"), "{stored}");
    assert!(
        stored.contains("/tmp") && stored.contains("echo hello"),
        "{stored}"
    );
}

#[tokio::test]
async fn event_consumer_job_new_redacts_arguments_and_raw() {
    let app = TestApp::new().await;
    let jid = "20261130010204123456";
    let ev = SaltEvent {
        tag: format!("salt/job/{jid}/new"),
        data: json!({
            "jid": jid, "fun": "cmd.run", "tgt": "web-1", "tgt_type": "glob", "user": "alice",
            "minions": ["web-1"], "arg": salt_args(), "_stamp": "2026-11-30T01:02:04.123456",
        }),
    };
    let rows = normalize(&ev, &mut AuthDedup::default());
    assert_eq!(rows.len(), 1, "{rows:?}");
    halite::server::activity::store::insert_batch(&app.state.db, &rows, chrono::Utc::now())
        .await
        .unwrap();
    let stored = stored_arguments(&app, jid).await;
    assert_clean("jobs_index.arguments (events)", &stored);
    assert!(stored.contains("password=[REDACTED]"), "{stored}");
    let raw: Vec<Option<String>> = halite::with_db!(&app.state.db, p => sqlx::query_scalar("SELECT CAST(raw AS TEXT) FROM activity_events")
        .fetch_all(p)
        .await
        .unwrap());
    assert_eq!(raw.len(), 1);
    assert_clean("activity_events.raw", raw[0].as_deref().unwrap_or_default());
}

#[tokio::test]
async fn run_audit_payload_is_redacted() {
    let app = TestApp::new().await;
    // The payload `run/dispatch` audits: positional args as typed, kwargs as an object.
    record(
        &app.state.db,
        AuditEntry::new("salt.run", "salt:cmd.run").args(json!({
            "target": "web-1", "target_type": "glob", "fun": "cmd.run",
            "args": ["mysql --password=hunter2 -e 'select 1'", "password=hunter2"],
            "kwargs": {"passphrase": "sesame", "cwd": "/tmp"}, "batch": null,
        })),
    )
    .await;
    let rows = app.audit_rows("salt.run").await;
    let args = rows[0].2.clone().unwrap();
    assert_clean("audit_log.args_json", &args);
    assert!(
        args.contains("--password=[REDACTED]") && args.contains("/tmp"),
        "{args}"
    );
}
