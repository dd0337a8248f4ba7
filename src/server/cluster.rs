//! Replicas: several Halite processes on one Postgres, exactly one of them the leader.
//!
//! The leader runs the pollers, the upstream `/events` consumer and the retention upkeep; the
//! others (followers) serve pages and server functions from the same database and keep their
//! own Salt client for the actions they are asked to run. Leadership is a Postgres session-level
//! advisory lock held on a connection of its own: when the leader dies or loses that
//! connection, Postgres releases the lock with the session and the next follower to try (every
//! [`TRY_EVERY`]) takes over. A leader that finds its connection gone steps down at once.
//!
//! On SQLite there is one process by construction: it is the leader from the start.
//! Each replica writes a heartbeat row (`replicas`) for the status shown on `/readyz`.

use crate::server::db::{Db, Ts};
use crate::with_db;
use chrono::{DateTime, Utc};
use sqlx::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The advisory lock key ("Halite" + 1); advisory locks are per database.
pub const LEADER_LOCK: i64 = 0x4861_6c69_7465_0001;
/// How often a follower tries for the lock and a leader checks its connection.
pub const TRY_EVERY: Duration = Duration::from_secs(2);
/// Heartbeat rows older than this are dropped from the replica list.
const FORGET_AFTER_HOURS: i64 = 24;

/// This process's place among the replicas.
pub struct Cluster {
    replica_id: String,
    host: String,
    started_at: DateTime<Utc>,
    leader: AtomicBool,
    leader_since: Mutex<Option<DateTime<Utc>>>,
}

/// One replica as its heartbeat row shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ReplicaRow {
    pub id: String,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub is_leader: bool,
    pub leader_since: Option<DateTime<Utc>>,
}

impl Cluster {
    /// A replica that is not (yet) the leader.
    pub fn new() -> Arc<Cluster> {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
            })
            .unwrap_or_else(|| "localhost".into());
        let replica_id = format!(
            "{host}:{}:{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Arc::new(Cluster {
            replica_id,
            host,
            started_at: Utc::now(),
            leader: AtomicBool::new(false),
            leader_since: Mutex::new(None),
        })
    }

    pub fn replica_id(&self) -> &str {
        &self.replica_id
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::SeqCst)
    }

    pub fn leader_since(&self) -> Option<DateTime<Utc>> {
        *self.leader_since.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record a change of role; true when it changed.
    fn set_leader(&self, lead: bool) -> bool {
        let was = self.leader.swap(lead, Ordering::SeqCst);
        if was != lead {
            *self.leader_since.lock().unwrap_or_else(|e| e.into_inner()) = lead.then(Utc::now);
            tracing::info!(replica = %self.replica_id, leader = lead, "replica role changed");
        }
        was != lead
    }

    /// Write this replica's heartbeat row and forget replicas silent for a day.
    pub async fn heartbeat(&self, db: &Db) -> Result<(), sqlx::Error> {
        let now = Utc::now();
        let old = now - chrono::Duration::hours(FORGET_AFTER_HOURS);
        let since = self.leader_since().map(Ts);
        with_db!(db, p => {
            sqlx::query(
                "INSERT INTO replicas (id, host, started_at, heartbeat_at, is_leader, leader_since) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
                 heartbeat_at = excluded.heartbeat_at, is_leader = excluded.is_leader, \
                 leader_since = excluded.leader_since",
            )
            .bind(&self.replica_id)
            .bind(&self.host)
            .bind(Ts(self.started_at))
            .bind(Ts(now))
            .bind(self.is_leader())
            .bind(since)
            .execute(p)
            .await?;
            sqlx::query("DELETE FROM replicas WHERE heartbeat_at < $1")
                .bind(Ts(old))
                .execute(p)
                .await?;
            Ok(())
        })
    }
}

/// The replica list, leader first, then by last heartbeat.
pub async fn replicas(db: &Db) -> Result<Vec<ReplicaRow>, sqlx::Error> {
    with_db!(db, p => sqlx::query_as(
        "SELECT id, host, started_at, heartbeat_at, is_leader, leader_since FROM replicas \
         ORDER BY is_leader DESC, heartbeat_at DESC, id",
    )
    .fetch_all(p)
    .await)
}

/// The replica whose heartbeat says it leads (and is fresh: within three tries), if any.
pub async fn current_leader(db: &Db) -> Result<Option<String>, sqlx::Error> {
    let fresh = Utc::now() - chrono::Duration::from_std(TRY_EVERY * 3).unwrap_or_default();
    with_db!(db, p => sqlx::query_scalar(
        "SELECT id FROM replicas WHERE is_leader AND heartbeat_at >= $1 \
         ORDER BY heartbeat_at DESC LIMIT 1",
    )
    .bind(Ts(fresh))
    .fetch_optional(p)
    .await)
}

/// Take part in the election until `stop`: on SQLite become the leader at once; on Postgres
/// try for the lock now (so a lone process leads before its first reload) and then every
/// [`TRY_EVERY`]. `on_change(lead)` is called after every change of role, never concurrently.
///
/// `first` is told when the first attempt is over (won, lost or failed); the role it settled is
/// not reported through `on_change` (the caller reads [`Cluster::is_leader`] after `first`).
pub async fn elect(
    cluster: Arc<Cluster>,
    db: Db,
    stop: CancellationToken,
    first: tokio::sync::oneshot::Sender<()>,
    on_change: Arc<dyn Fn(bool) + Send + Sync>,
) {
    let opts = match &db {
        Db::Sqlite(_) => {
            cluster.set_leader(true);
            let _ = first.send(());
            return heartbeats(cluster, db, stop).await;
        }
        Db::Postgres(p) => p.connect_options().as_ref().clone(),
    };
    let mut first = Some(first);
    // The role the first attempt settles is read by the caller once told; any later change,
    // or one the caller stopped waiting for, goes through `on_change`.
    let changed = |lead: bool, first: &mut Option<tokio::sync::oneshot::Sender<()>>| {
        let caller_waits = first.as_ref().is_some_and(|tx| !tx.is_closed());
        if cluster.set_leader(lead) && !caller_waits {
            on_change(lead);
        }
    };
    // Every round trip is bounded: a half-open connection (a failover, a moved address) must
    // not keep a leader that cannot see the database leading.
    let bound = TRY_EVERY * 2;
    loop {
        let connected = tokio::select! {
            _ = stop.cancelled() => return,
            c = tokio::time::timeout(bound * 5, sqlx::PgConnection::connect_with(&opts)) => {
                c.unwrap_or_else(|_| Err(sqlx::Error::PoolTimedOut))
            }
        };
        let mut conn = match connected {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "leader election: cannot connect to Postgres");
                if let Some(tx) = first.take() {
                    let _ = tx.send(());
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(TRY_EVERY) => continue,
                }
            }
        };
        loop {
            let alive = if cluster.is_leader() {
                let ping = sqlx::query("SELECT 1").execute(&mut conn);
                matches!(tokio::time::timeout(bound, ping).await, Ok(Ok(_)))
            } else {
                let attempt = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                    .bind(LEADER_LOCK)
                    .fetch_one(&mut conn);
                match tokio::time::timeout(bound, attempt)
                    .await
                    .unwrap_or_else(|_| Err(sqlx::Error::PoolTimedOut))
                {
                    Ok(true) => {
                        changed(true, &mut first);
                        true
                    }
                    Ok(false) => true,
                    Err(_) => false,
                }
            };
            if let Some(tx) = first.take() {
                let _ = tx.send(());
            }
            if !alive {
                break;
            }
            if let Err(e) = cluster.heartbeat(&db).await {
                tracing::warn!(error = %e, "replica heartbeat not written");
            }
            tokio::select! {
                _ = stop.cancelled() => {
                    // Leaving: the lock goes with the session.
                    let _ = conn.close().await;
                    cluster.set_leader(false);
                    return;
                }
                _ = tokio::time::sleep(TRY_EVERY) => {}
            }
        }
        // The connection is gone, and with it the lock: step down now.
        tracing::warn!("leader election: lost the Postgres session");
        changed(false, &mut first);
    }
}

async fn heartbeats(cluster: Arc<Cluster>, db: Db, stop: CancellationToken) {
    loop {
        if let Err(e) = cluster.heartbeat(&db).await {
            tracing::warn!(error = %e, "replica heartbeat not written");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
        }
    }
}
