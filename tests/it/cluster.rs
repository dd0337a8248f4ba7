//! Replicas on one database: exactly one leader, and a takeover within 10 s when it goes
//! (src/server/cluster.rs). On Postgres two replicas run the real election on one database; on
//! SQLite the one process leads from its first generation. Activity rows and settings saves
//! reach every replica through `NOTIFY`.

use crate::common::{on_postgres, pg_database, TestApp};
use halite::model::activity::{ActivityEvent, EventCategory};
use halite::server::activity::{self, normalize::NewActivity};
use halite::server::cluster::{self, Cluster};
use halite::server::db::{self, Db};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::Receiver;
use tokio_util::sync::CancellationToken;

async fn until(what: &str, limit: Duration, mut ok: impl AsyncFnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !ok().await {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    t0.elapsed()
}

/// Start a replica's election; returns once its first attempt is over.
async fn replica(db: &Db, stop: &CancellationToken) -> (Arc<Cluster>, Arc<Mutex<Vec<bool>>>) {
    let c = Cluster::new();
    let changes = Arc::new(Mutex::new(vec![]));
    let seen = changes.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(cluster::elect(
        c.clone(),
        db.clone(),
        stop.clone(),
        tx,
        Arc::new(move |lead| seen.lock().unwrap().push(lead)),
    ));
    rx.await.unwrap();
    (c, changes)
}

#[tokio::test]
async fn one_leader_then_a_takeover_when_it_goes() {
    if !on_postgres() {
        let app = TestApp::new().await;
        app.state.runtime.boot().await;
        assert!(
            app.state.runtime.cluster().is_leader(),
            "a lone SQLite process leads"
        );
        let r = app.get("/readyz", None).await;
        assert_eq!(r.json()["replica"]["role"], "leader", "{}", r.body);
        return;
    }
    let url = pg_database().await.unwrap();
    let (db_a, db_b) = (
        db::connect(&url).await.unwrap(),
        db::connect(&url).await.unwrap(),
    );
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let (a, changes_a) = replica(&db_a, &stop_a).await;
    let (b, changes_b) = replica(&db_b, &stop_b).await;
    assert!(a.is_leader(), "the first replica leads at once");
    assert!(!b.is_leader(), "the second follows");

    // Both heartbeat; the list names the leader.
    until("two replicas listed", Duration::from_secs(10), async || {
        cluster::replicas(&db_b).await.unwrap().len() == 2
    })
    .await;
    assert_eq!(
        cluster::current_leader(&db_b).await.unwrap().as_deref(),
        Some(a.replica_id())
    );

    // The leader's process dies: its session is cut (as a kill -9 cuts it) and it runs no more.
    let Db::Postgres(pool) = &db_b else {
        unreachable!()
    };
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(killed, vec![true], "one session holds the leader lock");
    stop_a.cancel();
    let took = until(
        "the follower takes over",
        Duration::from_secs(10),
        async || b.is_leader(),
    )
    .await;
    eprintln!("takeover after {took:?}");
    assert!(!a.is_leader(), "the dead leader leads no more");
    assert_eq!(*changes_b.lock().unwrap(), vec![true]);
    assert!(
        changes_a.lock().unwrap().iter().all(|l| !l),
        "a never re-took the lead"
    );
    until(
        "the new leader is listed",
        Duration::from_secs(10),
        async || cluster::current_leader(&db_b).await.unwrap().as_deref() == Some(b.replica_id()),
    )
    .await;
    stop_b.cancel();
}

/// Rows as the event consumer stores them (`minion.start` of `m-<n>`).
fn starts(from: usize, n: usize) -> Vec<NewActivity> {
    (from..from + n)
        .map(|i| NewActivity {
            event: ActivityEvent {
                minion_id: Some(format!("m-{i}")),
                ..ActivityEvent::new(
                    EventCategory::Minion,
                    "minion.start",
                    format!("m-{i} started"),
                )
            },
            raw: "{}".into(),
            arguments: None,
            target_type: None,
        })
        .collect()
}

/// Drain what a hub subscriber has received so far into `got`.
fn drain(rx: &mut Receiver<Arc<halite::server::activity::hub::HubEvent>>, got: &mut Vec<i64>) {
    while let Ok(e) = rx.try_recv() {
        got.push(e.id);
    }
}

#[tokio::test]
async fn activity_and_settings_reach_every_replica() {
    if !on_postgres() {
        // One process: a settings save reloads it; there is nobody else to tell.
        let app = TestApp::new().await;
        app.state.runtime.boot().await;
        let before = app.state.runtime.generation().await;
        app.state.runtime.settings_changed().await;
        assert_eq!(app.state.runtime.generation().await, before + 1);
        return;
    }
    let url = pg_database().await.unwrap();
    let a = TestApp::with_env(&[("DATABASE_URL", &url)]).await;
    a.state.runtime.boot().await;
    // History before B joins is the page's to read, not B's stream's.
    let old = activity::store::insert_batch(&a.state.db, &starts(0, 3), chrono::Utc::now())
        .await
        .unwrap();
    let b = TestApp::with_env(&[("DATABASE_URL", &url)]).await;
    b.state.runtime.boot().await;
    let (rta, rtb) = (&a.state.runtime, &b.state.runtime);
    assert!(rta.cluster().is_leader() && !rtb.cluster().is_leader());
    let (replay, mut rx) = rtb.hub().subscribe();
    assert!(replay.is_empty());

    // A stores two batches and publishes them as its consumer does: B's hub gets both, in order.
    let mut stored: Vec<i64> = vec![];
    for batch in [starts(10, 5), starts(20, 40)] {
        let rows = activity::store::insert_batch(&a.state.db, &batch, chrono::Utc::now())
            .await
            .unwrap();
        stored.extend(rows.iter().map(|r| r.id));
        activity::relay::publish(&a.state.db, &rta.hub(), rows).await;
    }
    let mut got = vec![];
    let took = until("B relays A's rows", Duration::from_secs(5), async || {
        drain(&mut rx, &mut got);
        got.len() >= stored.len()
    })
    .await;
    eprintln!("relayed {} rows in {took:?}", got.len());
    assert_eq!(got, stored, "every row once, in order, none of the history");
    assert!(got[0] > old.last().unwrap().id);

    // A stores rows whose announcement never comes (as if it went unheard), then the replicas'
    // listening connections are cut (A's and B's: both `LISTEN`): on reconnecting, B catches up
    // from the last id it saw, sooner than its 10 s safety net.
    let unheard = activity::store::insert_batch(&a.state.db, &starts(100, 7), chrono::Utc::now())
        .await
        .unwrap();
    stored.extend(unheard.iter().map(|r| r.id));
    let Db::Postgres(pool) = &a.state.db else {
        unreachable!()
    };
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(
        cut.len() >= 2,
        "both replicas' listening sessions were found"
    );
    let took = until(
        "B catches up after reconnecting",
        Duration::from_secs(3),
        async || {
            drain(&mut rx, &mut got);
            got.len() >= stored.len()
        },
    )
    .await;
    eprintln!("caught up {took:?} after the cut");
    // And the relay goes on: one more announced batch.
    let rows = activity::store::insert_batch(&a.state.db, &starts(200, 2), chrono::Utc::now())
        .await
        .unwrap();
    stored.extend(rows.iter().map(|r| r.id));
    activity::relay::publish(&a.state.db, &rta.hub(), rows).await;
    until(
        "B relays after the reconnect",
        Duration::from_secs(5),
        async || {
            drain(&mut rx, &mut got);
            got.len() >= stored.len()
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drain(&mut rx, &mut got);
    assert_eq!(got, stored, "no row lost or repeated across the reconnect");
    // The leader's own hub published each row once too.
    let (ring, _) = rta.hub().subscribe();
    let ids: Vec<i64> = ring.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // Settings saved on B reload A (and B itself).
    let (ga, gb) = (rta.generation().await, rtb.generation().await);
    rtb.settings_changed().await;
    assert_eq!(rtb.generation().await, gb + 1);
    let took = until("A reloads", Duration::from_secs(10), async || {
        rta.generation().await > ga
    })
    .await;
    eprintln!("settings reload reached the leader in {took:?}");
    rta.shutdown().await;
    rtb.shutdown().await;
}
