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
//! Each replica writes a heartbeat row (`replicas`) for the status shown on `/readyz` and the
//! Settings page.
//!
//! Replicas tell each other what changed through Postgres `NOTIFY` ([`listen`], [`notify`]): the
//! leader announces each stored batch of activity rows (the id range, [`ACTIVITY_CHANNEL`]) so
//! every replica feeds its own browsers, and a replica that saved settings asks the others to
//! reload ([`SETTINGS_CHANNEL`]).

use crate::model::settings::{ClusterView, Replica};
use crate::server::db::{Db, Ts};
use crate::with_db;
use chrono::{DateTime, Utc};
use sqlx::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The advisory lock key ("Halite" + 1); advisory locks are per database. The next keys are
/// the inventory collection's (+1) and the activity writes' (+2).
pub const LEADER_LOCK: i64 = 0x4861_6c69_7465_0001;
/// How often a follower tries for the lock and a leader checks its connection.
pub const TRY_EVERY: Duration = Duration::from_secs(2);
/// A replica not heard from for this long is shown as gone (replicas on Postgres write their
/// heartbeat every [`TRY_EVERY`]).
pub const SILENT_AFTER: Duration = Duration::from_secs(10);
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
pub async fn replicas(db: &Db) -> Result<Vec<Replica>, sqlx::Error> {
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

/// When another replica that led was last heard from (the gap a takeover leaves starts then).
pub async fn last_seen_other_leader(
    db: &Db,
    me: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    with_db!(db, p => sqlx::query_scalar(
        "SELECT heartbeat_at FROM replicas WHERE is_leader AND id <> $1 \
         ORDER BY heartbeat_at DESC LIMIT 1",
    )
    .bind(me)
    .fetch_optional(p)
    .await)
}

/// This replica's role, the leader and since when it leads (from its heartbeat row when it is
/// another replica), and the replica list.
pub async fn view(cluster: &Cluster, db: &Db) -> Result<ClusterView, sqlx::Error> {
    let mut replicas = replicas(db).await?;
    let quiet_since = Utc::now() - chrono::Duration::from_std(SILENT_AFTER).unwrap_or_default();
    for r in &mut replicas {
        r.silent = r.id != cluster.replica_id() && r.heartbeat_at < quiet_since;
    }
    let (leader, leader_since) = if cluster.is_leader() {
        (
            Some(cluster.replica_id().to_string()),
            cluster.leader_since(),
        )
    } else {
        match current_leader(db).await? {
            Some(id) => {
                let since = replicas
                    .iter()
                    .find(|r| r.id == id)
                    .and_then(|r| r.leader_since);
                (Some(id), since)
            }
            None => (None, None),
        }
    };
    Ok(ClusterView {
        this_replica: cluster.replica_id().to_string(),
        is_leader: cluster.is_leader(),
        leader,
        leader_since,
        replicas,
    })
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

/// SQLite: one process by construction, so the rows earlier runs left behind are dropped.
async fn heartbeats(cluster: Arc<Cluster>, db: Db, stop: CancellationToken) {
    let earlier = with_db!(&db, p => sqlx::query("DELETE FROM replicas WHERE id <> $1")
        .bind(cluster.replica_id())
        .execute(p)
        .await
        .map(|_| ()));
    if let Err(e) = earlier {
        tracing::warn!(error = %e, "replica rows of earlier runs not dropped");
    }
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

/// Channel of the leader's "activity rows stored" announcements (payload `first-last` ids).
pub const ACTIVITY_CHANNEL: &str = "halite_activity";
/// Channel of "settings saved, reload" (payload: the replica id that saved them).
pub const SETTINGS_CHANNEL: &str = "halite_settings";

/// What another replica (or this one) announced.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// The listening connection is (re)established: anything announced while it was down was
    /// missed, so the receiver catches up from what it last saw.
    Connected,
    /// Activity rows up to this id are stored.
    Activity { last: i64 },
    /// A replica saved settings.
    Settings { from: String },
}

impl Notice {
    /// Read a notification; `None` for a channel or payload this version does not know.
    pub fn parse(channel: &str, payload: &str) -> Option<Notice> {
        match channel {
            ACTIVITY_CHANNEL => {
                let last = payload.rsplit('-').next()?.parse().ok()?;
                Some(Notice::Activity { last })
            }
            SETTINGS_CHANNEL => Some(Notice::Settings {
                from: payload.to_string(),
            }),
            _ => None,
        }
    }
}

/// Announce on `channel` (Postgres `NOTIFY`; nothing on SQLite, where there is one process).
/// A payload must stay under Postgres's 8,000 bytes: ids and replica ids only.
pub async fn notify(db: &Db, channel: &str, payload: &str) -> Result<(), sqlx::Error> {
    match db {
        Db::Postgres(p) => sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(p)
            .await
            .map(|_| ()),
        Db::Sqlite(_) => Ok(()),
    }
}

/// `LISTEN` on both channels until `stop`, on a connection of its own that is re-opened when it
/// breaks; every (re)connection is reported as [`Notice::Connected`] before the notices that
/// follow it. `None` on SQLite.
pub fn listen(db: &Db, stop: CancellationToken) -> Option<tokio::sync::mpsc::Receiver<Notice>> {
    let Db::Postgres(pool) = db else {
        return None;
    };
    let pool = pool.clone();
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            let opened = tokio::select! {
                _ = stop.cancelled() => return,
                l = open_listener(&pool) => l,
            };
            match opened {
                Ok(mut listener) => {
                    if tx.send(Notice::Connected).await.is_err() {
                        return;
                    }
                    loop {
                        let got = tokio::select! {
                            _ = stop.cancelled() => return,
                            n = listener.try_recv() => n,
                        };
                        let notice = match got {
                            Ok(Some(n)) => Notice::parse(n.channel(), n.payload()),
                            // The connection dropped and was re-opened (listening again):
                            // whatever came meanwhile was missed.
                            Ok(None) => Some(Notice::Connected),
                            Err(e) => {
                                tracing::warn!(error = %e, "replica notices: connection lost");
                                break;
                            }
                        };
                        if let Some(n) = notice {
                            if tx.send(n).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "replica notices: cannot LISTEN"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(TRY_EVERY) => {}
            }
        }
    });
    Some(rx)
}

async fn open_listener(pool: &sqlx::PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
    l.listen_all([ACTIVITY_CHANNEL, SETTINGS_CHANNEL]).await?;
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_parse() {
        assert_eq!(
            Notice::parse(ACTIVITY_CHANNEL, "12-40"),
            Some(Notice::Activity { last: 40 })
        );
        assert_eq!(
            Notice::parse(ACTIVITY_CHANNEL, "7"),
            Some(Notice::Activity { last: 7 })
        );
        assert_eq!(Notice::parse(ACTIVITY_CHANNEL, "x-y"), None);
        assert_eq!(
            Notice::parse(SETTINGS_CHANNEL, "h:1:ab"),
            Some(Notice::Settings {
                from: "h:1:ab".into()
            })
        );
        assert_eq!(Notice::parse("other", "1"), None);
    }
}
