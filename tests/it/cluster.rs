//! Replicas on one database: exactly one leader, and a takeover within 10 s when it goes
//! (src/server/cluster.rs). On Postgres two replicas run the real election on one database; on
//! SQLite the one process leads from its first generation.

use crate::common::{on_postgres, pg_database, TestApp};
use halite::server::cluster::{self, Cluster};
use halite::server::db::{self, Db};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
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
