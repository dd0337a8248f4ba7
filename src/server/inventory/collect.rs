//! Collecting packages from minions: `pkg.list_pkgs` (`versions_as_list`) and `grains.get
//! os_family` on a list of minion ids, [`CHUNK`] minions per call and [`PARALLEL`] calls at a
//! time, so a 10k fleet is ~50 calls of a few MB each instead of one reply of ~600 MB that would
//! time out. Each chunk is stored as soon as it is back ([`super::store::store_minions`]); a
//! minion that did not answer keeps its previous rows. One collection at a time
//! ([`Writes`], which [`collect`] takes; exclusive across replicas on Postgres): the poller waits its turn, a manual refresh
//! is refused while a collection runs.

use super::store::{self, Catalog, MinionPackages};
use crate::model::inventory::{PackageSource, RefreshSummary};
use crate::salt::packages::parse_list_pkgs;
use crate::salt::replies::MinionReturn;
use crate::salt::{LocalRequest, SaltClient, SaltError};
use crate::server::db::Db;
use crate::server::poller::PollError;
use chrono::Utc;
use futures::StreamExt;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// Minions per salt-api call.
pub const CHUNK: usize = 200;
/// Calls in flight at once.
pub const PARALLEL: usize = 2;
/// Salt's `timeout` for one call (seconds): how long it waits before asking the minions that
/// have not answered whether they still run the job (those that do are waited for; a minion
/// that is down costs about this long plus the master's `gather_job_timeout`).
pub const CALL_TIMEOUT_SECS: u64 = 30;

/// The write locks, one per database (tests run several apps in one process).
static WRITES: LazyLock<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// The Postgres advisory lock key that makes collections exclusive across replicas.
const INVENTORY_LOCK: i64 = crate::server::cluster::LEADER_LOCK + 1;

/// The right to write the inventory: one collection at a time in this process and, on Postgres,
/// among all replicas of the database (a session-level advisory lock on a connection of its own,
/// released when this guard drops the connection, or when the process dies).
pub struct Writes {
    _local: tokio::sync::OwnedMutexGuard<()>,
    _session: Option<sqlx::PgConnection>,
}

fn local_lock(db: &Db) -> Arc<tokio::sync::Mutex<()>> {
    let key = db.identity();
    let mut map = WRITES.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(key).or_default().clone()
}

/// A connection of its own holding the inventory lock (`wait`: until it is free), or `None`
/// when another replica holds it and `wait` is false.
async fn session_lock(
    db: &Db,
    wait: bool,
) -> Result<Option<Option<sqlx::PgConnection>>, sqlx::Error> {
    let Db::Postgres(pool) = db else {
        return Ok(Some(None));
    };
    let mut conn = pool.acquire().await?.detach();
    let got = if wait {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(INVENTORY_LOCK)
            .execute(&mut conn)
            .await?;
        true
    } else {
        sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
            .bind(INVENTORY_LOCK)
            .fetch_one(&mut conn)
            .await?
    };
    Ok(got.then_some(Some(conn)))
}

/// Wait for the inventory's write lock (the poller: a manual refresh may be running).
pub async fn lock_writes(db: &Db) -> Result<Writes, sqlx::Error> {
    let local = local_lock(db).lock_owned().await;
    let session = session_lock(db, true).await?.flatten();
    Ok(Writes {
        _local: local,
        _session: session,
    })
}

/// The inventory's write lock if no collection runs now, here or on another replica.
pub async fn try_lock_writes(db: &Db) -> Result<Option<Writes>, sqlx::Error> {
    let Ok(local) = local_lock(db).try_lock_owned() else {
        return Ok(None);
    };
    Ok(session_lock(db, false).await?.map(|session| Writes {
        _local: local,
        _session: session,
    }))
}

/// Called after each chunk with (minions answered so far, minions stored so far).
pub type OnProgress<'a> = &'a (dyn Fn(i64, i64) + Send + Sync);

fn request(ids: &[String], fun: &str, arg: Vec<Value>, kwarg: Map<String, Value>) -> LocalRequest {
    LocalRequest {
        tgt: Value::from(ids.to_vec()),
        tgt_type: "list".into(),
        fun: fun.into(),
        arg,
        kwarg,
        timeout_secs: Some(CALL_TIMEOUT_SECS),
    }
}

/// Ask one chunk of minions for their packages and OS family.
async fn fetch(
    client: &SaltClient,
    ids: Vec<String>,
) -> (
    Vec<String>,
    Result<
        (
            crate::salt::replies::LocalReturns,
            crate::salt::replies::LocalReturns,
        ),
        SaltError,
    >,
) {
    let mut kw = Map::new();
    kw.insert("versions_as_list".into(), Value::Bool(true));
    let pkgs = request(&ids, "pkg.list_pkgs", vec![], kw);
    let fam = request(
        &ids,
        "grains.get",
        vec![Value::from("os_family")],
        Map::new(),
    );
    let (p, f) = tokio::join!(client.local(&pkgs), client.local(&fam));
    let r = match (p, f) {
        (Ok(p), Ok(f)) => Ok((p, f)),
        // Without the grain the snapshot's os_family is used.
        (Ok(p), Err(_)) => Ok((p, Default::default())),
        (Err(e), _) => Err(e),
    };
    (ids, r)
}

/// Collect the packages of `minions` and store them, holding the [`Writes`] (`_writes`);
/// minions whose key is gone are forgotten first. Fails only when every call failed (salt-api
/// down) or the database did.
pub async fn collect(
    client: &SaltClient,
    db: &Db,
    minions: Vec<String>,
    on_progress: Option<OnProgress<'_>>,
    _writes: Writes,
) -> Result<RefreshSummary, PollError> {
    let started = std::time::Instant::now();
    let forgotten = forget_gone(db).await? as i64;
    let mut catalog = Catalog::load(db).await?;
    let families: Vec<(String, String)> = crate::with_db!(db, p => sqlx::query_as(
        "SELECT minion_id, os_family FROM minion_snapshots WHERE os_family IS NOT NULL",
    )
    .fetch_all(p)
    .await?);
    let families: HashMap<String, String> = families.into_iter().collect();
    let mut summary = RefreshSummary {
        minions_targeted: minions.len() as i64,
        forgotten,
        ..Default::default()
    };
    let chunks: Vec<Vec<String>> = minions.chunks(CHUNK).map(<[String]>::to_vec).collect();
    let calls = chunks.len();
    let mut failed: Vec<SaltError> = vec![];
    let mut answered = 0i64;
    let mut results = futures::stream::iter(chunks)
        .map(|ids| fetch(client, ids))
        .buffer_unordered(PARALLEL);
    while let Some((ids, r)) = results.next().await {
        answered += ids.len() as i64;
        let (pkgs, fams) = match r {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(minions = ids.len(), error = %e, "inventory: a collection call failed");
                summary.no_answer.extend(ids);
                failed.push(e);
                continue;
            }
        };
        let mut batch = vec![];
        for id in ids {
            match pkgs.get(&id) {
                Some(MinionReturn::Returned { ret, .. }) => {
                    let os_family = match fams.get(&id) {
                        Some(MinionReturn::Returned {
                            ret: Value::String(s),
                            ..
                        }) => s.clone(),
                        _ => families.get(&id).cloned().unwrap_or_default(),
                    };
                    let source = PackageSource::from_os_family(&os_family);
                    match parse_list_pkgs(ret, source) {
                        Ok(packages) => batch.push(MinionPackages {
                            minion_id: id,
                            os_family,
                            source,
                            packages,
                        }),
                        Err(e) => {
                            summary.errors.insert(id, e.0);
                        }
                    }
                }
                _ => summary.no_answer.push(id),
            }
        }
        if !batch.is_empty() {
            for (id, n) in store::store_minions(db, &mut catalog, &batch, Utc::now()).await? {
                summary.package_counts.insert(id, n);
            }
        }
        summary.minions_refreshed = summary.package_counts.len() as i64;
        if let Some(f) = on_progress {
            f(answered, summary.minions_refreshed);
        }
    }
    store::sweep(db).await?;
    summary.no_answer.sort();
    summary.duration_ms = started.elapsed().as_millis() as i64;
    if calls > 0 && failed.len() == calls {
        if let Some(e) = failed.pop() {
            return Err(e.into());
        }
    }
    Ok(summary)
}

/// Forget the packages of minions whose key is no longer accepted (the caller holds the
/// [`Writes`]).
async fn forget_gone(db: &Db) -> Result<usize, sqlx::Error> {
    let gone = store::gone_minions(db).await?;
    if gone.is_empty() {
        return Ok(0);
    }
    let mut catalog = Catalog::load(db).await?;
    store::forget_minions(db, &mut catalog, &gone).await?;
    store::sweep(db).await?;
    Ok(gone.len())
}
