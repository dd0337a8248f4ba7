//! Fleet health against the real Salt lab: a `state.apply` the master ran is found in the jobs
//! index, looked up and ingested with the right counts; broken-01 is unhealthy with its failing
//! state and Salt's comment; a stopped minion's run is blocked; with the event stream on, runs
//! arrive live from `job.ret` events without the fleet poller.
use crate::common::lab::{lab, LAB};
use crate::common::TestApp;
use chrono::Utc;
use halite::model::activity::StreamStatus;
use halite::model::fleet::{FleetFilters, HealthStatus};
use halite::model::list::{ListParams, ListQuery};
use halite::salt::replies::MinionReturn;
use halite::salt::LocalRequest;
use halite::server::fleet::{poller, store};
use halite::server::jobs::JobsCache;
use std::time::Duration;

async fn accepted(app: &TestApp, ids: &[&str]) {
    for id in ids {
        halite::with_db!(&app.state.db, p => sqlx::query(
            "INSERT INTO minion_snapshots (minion_id, key_status, online) \
             VALUES ($1, 'accepted', TRUE) ON CONFLICT (minion_id) DO UPDATE SET \
             key_status = excluded.key_status, online = excluded.online",
        )
        .bind(id)
        .execute(p)
        .await.map(|r| r.rows_affected()))
        .unwrap();
    }
}

fn all_rows() -> ListQuery<FleetFilters> {
    ListParams::<FleetFilters>::default().try_into().unwrap()
}

/// The run of `minion` in job `jid`: (blocked, pass, fail, change, total).
async fn run_of(app: &TestApp, minion: &str, jid: &str) -> Option<(bool, i64, i64, i64, i64)> {
    halite::with_db!(&app.state.db, p => sqlx::query_as(
        "SELECT blocked, pass_count, fail_count, change_count, total_count FROM highstate_runs \
         WHERE minion_id = $1 AND jid = $2",
    )
    .bind(minion)
    .bind(jid)
    .fetch_optional(p)
    .await)
    .unwrap()
}

#[tokio::test]
async fn a_state_apply_is_ingested_with_the_right_counts_and_a_stopped_minion_is_blocked() {
    let _lab = LAB.lock().await;
    let l = lab();
    let app = TestApp::new().await;
    let db = &app.state.db;
    let client = l.client();
    let cache = JobsCache::default();
    accepted(&app, &["web-01", "web-02", "db-01", "broken-01"]).await;

    let before = Utc::now();
    let reply = client
        .local(&LocalRequest::simple("*", "glob", "state.apply"))
        .await
        .unwrap();
    assert!(reply.contains_key("broken-01"), "{:?}", reply.keys());
    halite::server::jobs::poller::poll_jobs(&client, db, &cache, 90)
        .await
        .unwrap();
    let jid: String = halite::with_db!(db, p => sqlx::query_scalar(
        "SELECT jid FROM jobs_index WHERE function = 'state.apply' AND started_at >= $1 \
         ORDER BY started_at DESC LIMIT 1",
    )
    .bind(halite::server::db::Ts(before - chrono::Duration::seconds(5)))
    .fetch_one(p)
    .await)
    .expect("the state.apply job is in the jobs index");

    let summary = poller::poll_fleet(&client, db, &cache, Utc::now())
        .await
        .unwrap();
    assert!(summary.contains("runs written"), "{summary}");
    let (blocked, pass, fail, change, total) = run_of(&app, "broken-01", &jid).await.unwrap();
    assert!(!blocked);
    assert_eq!(
        (fail, total),
        (2, 4),
        "broken-01: lab.ok (2 states) + lab.broken (2 failing)"
    );
    assert!(pass >= 2 && change >= 1);
    let (_, _, fail, change, total) = run_of(&app, "web-01", &jid).await.unwrap();
    assert_eq!((fail, total), (0, 2));
    assert!(change >= 1, "lab-always-changes reports a change");

    let (rows, _, _) = store::list(db, &all_rows(), &None, Utc::now())
        .await
        .unwrap();
    let status = |id: &str| rows.iter().find(|r| r.minion_id == id).unwrap().status;
    assert_eq!(status("broken-01"), HealthStatus::Unhealthy);
    assert_eq!(status("web-01"), HealthStatus::Changed);
    let top = store::top_failures(db, &None, 10).await.unwrap();
    let cmd = top
        .iter()
        .find(|t| t.state_id == "lab-broken-command")
        .expect("the failing cmd.run state is a top failure");
    assert_eq!(cmd.fun, "cmd.run");
    assert!(cmd.comment.contains("broken on purpose"), "{}", cmd.comment);

    // Stop web-02, apply again: its run is blocked once the job has ended.
    l.sh(&["stop-minion", "web-02"]);
    let stopped = async {
        let reply = client
            .local(&LocalRequest::simple("web-*", "glob", "state.apply"))
            .await
            .unwrap();
        halite::server::jobs::poller::poll_jobs(&client, db, &cache, 90)
            .await
            .unwrap();
        let jid2: String = halite::with_db!(db, p => sqlx::query_scalar(
            "SELECT jid FROM jobs_index WHERE function = 'state.apply' AND jid > $1 \
             ORDER BY jid DESC LIMIT 1",
        )
        .bind(&jid)
        .fetch_one(p)
        .await)
        .unwrap();
        // "Later": past the grace after which a targeted minion without a return did not return.
        let later = Utc::now() + chrono::Duration::seconds(poller::MISSING_GRACE_SECS + 60);
        poller::poll_fleet(&client, db, &cache, later)
            .await
            .unwrap();
        (reply, jid2)
    }
    .await;
    l.sh(&["start-minion", "web-02"]);
    let (reply, jid2) = stopped;
    assert!(
        !matches!(reply.get("web-02"), Some(MinionReturn::Returned { ret, .. }) if ret.is_object()),
        "web-02 was stopped: {:?}",
        reply.get("web-02")
    );
    let (blocked, pass, fail, change, total) = run_of(&app, "web-02", &jid2)
        .await
        .expect("web-02 has a run for the job it missed");
    assert!(blocked);
    assert_eq!((pass, fail, change, total), (0, 0, 0, 0));
    assert_eq!(
        store::status_of(db, "web-02", Utc::now()).await.unwrap(),
        Some(HealthStatus::Blocked)
    );
    // The job is complete: the next poll does not look it up again.
    let pending = poller::pending_jobs(db, Utc::now()).await.unwrap();
    assert!(
        pending.iter().all(|(j, _, _)| j != &jid2 && j != &jid),
        "{pending:?}"
    );
}

#[tokio::test]
async fn with_the_event_stream_on_runs_arrive_live() {
    let _lab = LAB.lock().await;
    let l = lab();
    let app = TestApp::new().await;
    let db = &app.state.db;
    l.save_to(&app).await;
    // Only the event stream: no jobs poller, no fleet poller.
    let mut p = halite::server::settings::load_view(db)
        .await
        .unwrap()
        .pollers;
    p.event_stream_enabled = true;
    p.jobs_poll_interval_seconds = 0;
    p.fleet_poll_interval_seconds = 0;
    halite::server::settings::save_pollers(db, &p)
        .await
        .unwrap();
    app.state.runtime.boot().await;
    for _ in 0..120 {
        if app.state.runtime.hub().state().state == StreamStatus::Connected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        app.state.runtime.hub().state().state,
        StreamStatus::Connected
    );

    let client = l.client();
    let job = client
        .local_async(&LocalRequest::simple("broken-01", "glob", "state.apply"))
        .await
        .unwrap()
        .expect("a job");
    let mut got = None;
    for _ in 0..240 {
        got = run_of(&app, "broken-01", &job.jid).await;
        if got.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    app.state.runtime.shutdown().await;
    let (blocked, _, fail, _, total) = got.expect("the run arrived from the job.ret event");
    assert!(!blocked);
    assert_eq!((fail, total), (2, 4));
    assert_eq!(
        store::status_of(db, "broken-01", Utc::now()).await.unwrap(),
        Some(HealthStatus::Unhealthy)
    );
}
