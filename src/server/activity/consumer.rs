//! EventStreamConsumer (SPEC 7.2): ONE upstream `/events` connection per process, reconnecting
//! with backoff (1 s doubling to 30 s, reset after a healthy connection), events normalised and
//! written in batched transactions, then published to the hub. After a gap it writes a marker
//! row and re-syncs keys and jobs by polling.

use super::hub::EventHub;
use super::normalize::{normalize, AuthDedup, NewActivity};
use super::store;
use crate::model::activity::{EventCategory, StreamStatus};
use crate::salt::SaltClient;
use crate::server::db::Db;
use crate::server::fleet::ingest::NewRun;
use crate::server::jobs::JobsCache;
use crate::server::now_text;
use crate::server::poller::Repoll;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Rows per write transaction at most; a burst is written in slices of this.
const MAX_BATCH: usize = 1000;
/// How long events wait for company at most before being written (the writer usually takes them
/// sooner, as soon as it is idle: [`WriterIdle`]).
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Batches read but not yet written before the reader waits for the writer.
const WRITE_QUEUE: usize = 8;
/// A connection that lived this long resets the backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// What the consumer needs.
pub struct ConsumerCtx {
    pub client: Arc<SaltClient>,
    pub db: Db,
    pub hub: Arc<EventHub>,
    pub jobs: Arc<JobsCache>,
    pub retention_days: i64,
    pub jobs_poller_on: bool,
    /// Re-polls through the runtime (keys after a key event; keys and jobs after a gap).
    pub repoll: Repoll,
    /// Set when this replica took over from a leader that went away (RFC 3339: when that
    /// leader was last seen): the first connection writes the gap row and re-syncs, as after
    /// any reconnect.
    pub down_since: Option<String>,
}

/// Run a registered poller now and wait for it, logging a failure as `what`.
async fn repoll(ctx: &ConsumerCtx, poller: &str, what: &str) {
    match ctx.repoll.poke(poller).await {
        Some(Ok(_)) => {}
        Some(Err(e)) => tracing::warn!(error = %e, "{what} failed"),
        None => tracing::warn!(poller, "{what} skipped: no such poller"),
    }
}

/// Write the state runs among the events (fleet health, live), then the activity rows, then
/// tell the browsers: a page that refetches on the event already reads the new run.
async fn flush(ctx: &ConsumerCtx, buf: &mut Vec<NewActivity>, runs: &mut Vec<NewRun>) {
    if !runs.is_empty() {
        let batch = std::mem::take(runs);
        if let Err(e) =
            crate::server::fleet::ingest::write_live(&ctx.db, &batch, chrono::Utc::now()).await
        {
            tracing::error!(error = %e, runs = batch.len(), "cannot store state runs from events");
        }
    }
    if buf.is_empty() {
        return;
    }
    let batch = std::mem::take(buf);
    for chunk in batch.chunks(MAX_BATCH) {
        match store::insert_batch(&ctx.db, chunk, chrono::Utc::now()).await {
            Ok(rows) => {
                metrics::counter!("halite_events_stored_total").increment(rows.len() as u64);
                // A key event (a new minion pending, an accept made elsewhere) changes the keys
                // table the Keys and Minions pages read: re-poll keys now (at most once per
                // batch), before the browsers are told to refetch.
                if rows.iter().any(|r| r.category == EventCategory::Key) {
                    repoll(ctx, "minions.keys", "keys re-poll after a key event").await;
                }
                for r in rows.iter().filter(|r| r.event_type == "job.new") {
                    if let Some(j) = &r.jid {
                        ctx.jobs.mark_running(j);
                    }
                }
                super::relay::publish(&ctx.db, &ctx.hub, rows).await;
            }
            Err(e) => {
                tracing::error!(error = %e, rows = chunk.len(), "cannot store activity events")
            }
        }
    }
}

/// Events read and not yet written.
#[derive(Default)]
struct Pending {
    acts: Vec<NewActivity>,
    runs: Vec<NewRun>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.acts.is_empty() && self.runs.is_empty()
    }
}

/// Whether the writer waits for work. The reader hands a batch over as soon as the writer is
/// idle instead of at the next [`FLUSH_EVERY`] tick: a burst's first events are written while the
/// rest is read, and what arrives during a write is written next, together. Under sustained load
/// the writer is rarely idle, so batches stay large.
#[derive(Default)]
struct WriterIdle {
    flag: std::sync::atomic::AtomicBool,
    wake: tokio::sync::Notify,
}

impl WriterIdle {
    fn set(&self, idle: bool) {
        self.flag.store(idle, std::sync::atomic::Ordering::Release);
        if idle {
            self.wake.notify_one();
        }
    }

    fn get(&self) -> bool {
        self.flag.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Write what the reader hands over, in order, joining batches that wait behind a write
/// (up to [`MAX_BATCH`] rows), until the reader closes the channel.
async fn write_loop(
    ctx: &ConsumerCtx,
    mut rx: tokio::sync::mpsc::Receiver<Pending>,
    idle: &WriterIdle,
) {
    loop {
        idle.set(true);
        let Some(mut p) = rx.recv().await else { break };
        idle.set(false);
        while p.acts.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => {
                    p.acts.extend(more.acts);
                    p.runs.extend(more.runs);
                }
                Err(_) => break,
            }
        }
        flush(ctx, &mut p.acts, &mut p.runs).await;
    }
}

async fn prune(ctx: &ConsumerCtx) {
    let cutoff = chrono::Utc::now() - chrono::Duration::days(ctx.retention_days.max(1));
    match store::prune(&ctx.db, cutoff).await {
        Ok(n) if n > 0 => tracing::info!(pruned = n, "activity retention"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "activity prune failed"),
    }
}

/// Re-read what may have been missed while the stream was down.
async fn resync(ctx: &ConsumerCtx) {
    repoll(ctx, "minions.keys", "re-sync of keys after a stream gap").await;
    if ctx.jobs_poller_on {
        repoll(ctx, "jobs.index", "re-sync of jobs after a stream gap").await;
    }
}

/// Run until cancelled.
pub async fn run(ctx: ConsumerCtx, cancel: CancellationToken) {
    let mut backoff = Duration::from_secs(1);
    let mut dedup = AuthDedup::default();
    let mut last_prune = std::time::Instant::now();
    let mut down_since: Option<String> = ctx.down_since.clone();
    let mut first = true;
    prune(&ctx).await;
    loop {
        if cancel.is_cancelled() {
            break;
        }
        ctx.hub
            .set_state(StreamStatus::Connecting, "opening salt-api /events");
        let opened = tokio::select! {
            _ = cancel.cancelled() => break,
            r = ctx.client.events() => r,
        };
        match opened {
            Ok(mut stream) => {
                let connected_at = std::time::Instant::now();
                ctx.hub
                    .set_state(StreamStatus::Connected, "receiving events");
                tracing::info!("event stream connected");
                if let Some(since) = down_since.take() {
                    let now = chrono::Utc::now();
                    let summary = format!(
                        "Event stream was down from {} to {}; keys and jobs re-synced by polling",
                        crate::model::time::short_time(&since),
                        crate::model::time::short_utc(&now)
                    );
                    if let Ok(row) = store::insert_system(&ctx.db, &summary, now).await {
                        super::relay::publish(&ctx.db, &ctx.hub, vec![row]).await;
                    }
                    resync(&ctx).await;
                } else if !first {
                    resync(&ctx).await;
                }
                first = false;
                // Read and normalise here; write (and publish) in `write_loop` at the same
                // time, so a write transaction does not hold up the reading of the next events.
                let (tx, rx) = tokio::sync::mpsc::channel::<Pending>(WRITE_QUEUE);
                let idle = WriterIdle::default();
                let reader = async {
                    let mut p = Pending::default();
                    let mut tick = tokio::time::interval(FLUSH_EVERY);
                    let ended: Option<String> = loop {
                        tokio::select! {
                            _ = cancel.cancelled() => break None,
                            // The writer finished: hand it what came in meanwhile.
                            _ = idle.wake.notified(), if !p.is_empty() => {
                                if tx.send(std::mem::take(&mut p)).await.is_err() {
                                    break Some("the event writer stopped".to_string());
                                }
                            }
                            _ = tick.tick() => {
                                if !p.is_empty() && tx.send(std::mem::take(&mut p)).await.is_err() {
                                    break Some("the event writer stopped".to_string());
                                }
                                if last_prune.elapsed() > Duration::from_secs(3600) {
                                    last_prune = std::time::Instant::now();
                                    prune(&ctx).await;
                                }
                            }
                            ev = stream.next() => match ev {
                                Some(Ok(ev)) => {
                                    metrics::counter!("halite_events_consumed_total").increment(1);
                                    if let Some(run) = crate::server::fleet::ingest::run_from_event(&ev) {
                                        p.runs.push(run);
                                    }
                                    p.acts.extend(normalize(&ev, &mut dedup));
                                    if (p.acts.len() >= MAX_BATCH || (idle.get() && !p.is_empty()))
                                        && tx.send(std::mem::take(&mut p)).await.is_err()
                                    {
                                        break Some("the event writer stopped".to_string());
                                    }
                                }
                                Some(Err(e)) => break Some(e.to_string()),
                                None => break Some("salt-api closed the stream".to_string()),
                            }
                        }
                    };
                    // What was read is written before the writer ends (the channel closes
                    // when `tx` drops with this block).
                    let pending = p.acts.len();
                    if !p.is_empty() {
                        let _ = tx.send(p).await;
                    }
                    drop(tx);
                    (ended, pending)
                };
                let ((ended, pending), ()) = tokio::join!(reader, write_loop(&ctx, rx, &idle));
                let Some(ended) = ended else {
                    ctx.hub.set_state(StreamStatus::Off, "stopped");
                    tracing::info!(pending, "event consumer stopped; pending events written");
                    return;
                };
                if connected_at.elapsed() >= HEALTHY_AFTER {
                    backoff = Duration::from_secs(1);
                }
                tracing::warn!(reason = %ended, retry_in = ?backoff, "event stream ended");
                ctx.hub.set_state(StreamStatus::Down, ended);
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "cannot open the event stream");
                ctx.hub.set_state(StreamStatus::Down, e.to_string());
            }
        }
        if down_since.is_none() {
            down_since = Some(now_text());
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
    ctx.hub.set_state(StreamStatus::Off, "stopped");
}
