//! The runtime hub (SPEC 2.3): owns the current Salt client and every background task of the
//! current generation. `reload()` cancels and awaits the old generation, re-reads the settings
//! row and starts a new one, so saving settings rewires Halite without a restart.

use crate::error::AppError;
use crate::model::settings::{ConnectionState, PollerStatus, SaltConnection};
use crate::salt::{SaltClient, SaltError};
use crate::server::db::{Db, Engine};
use crate::server::jobs::JobsCache;
use crate::server::poller::{PollError, PollResult, PollerCtx, PollerSpec, Repoll};
use crate::server::run::batch::BatchRuns;
use crate::server::secrets::SecretsCipher;
use crate::server::settings;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How often a follower re-reads new activity rows even without an announcement (a lost
/// notification, a half-open listening connection).
const RELAY_SAFETY_NET: Duration = Duration::from_secs(10);

struct Generation {
    id: u64,
    client: Option<Arc<SaltClient>>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// The hub itself; one per process (tests make one per app).
pub struct Runtime {
    db: Db,
    secrets: Arc<SecretsCipher>,
    registry: Vec<PollerSpec>,
    current: RwLock<Option<Arc<SaltClient>>>,
    generation: tokio::sync::Mutex<Generation>,
    connection: Mutex<SaltConnection>,
    pollers: Mutex<BTreeMap<String, PollerStatus>>,
    health_interval: Duration,
    jobs: Arc<JobsCache>,
    hub: Arc<crate::server::activity::hub::EventHub>,
    stream_enabled: std::sync::atomic::AtomicBool,
    /// Batch runs started from the Run page and their results.
    batches: Arc<BatchRuns>,
    /// Background work an action started (a batch run): not tied to a generation, cancelled
    /// and awaited by [`Runtime::shutdown`].
    tasks: Mutex<JoinSet<()>>,
    /// Salt-independent upkeep (audit and fleet retention), started once by [`Runtime::boot`].
    housekeeping: Mutex<Option<JoinHandle<()>>>,
    stop: CancellationToken,
    /// This process among the replicas: only the leader runs pollers, the event consumer and
    /// the retention upkeep ([`crate::server::cluster`]).
    cluster: Arc<crate::server::cluster::Cluster>,
    /// Set once this process has joined the election (the first boot or reload does).
    elected: std::sync::atomic::AtomicBool,
    /// Set while this replica follows: the next generation that leads is a takeover.
    followed: std::sync::atomic::AtomicBool,
    /// The settings row's `updated_at` the current generation started from.
    settings_seen: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// The Salt connection fields the current generation found unset (`salt.url`, ...), as
    /// the banner names them; `None` until a generation has read the settings row.
    salt_missing: Mutex<Option<Vec<String>>>,
}

fn connection(state: ConnectionState, detail: impl Into<String>) -> SaltConnection {
    SaltConnection {
        state,
        detail: detail.into(),
        since: Some(chrono::Utc::now()),
    }
}

impl Runtime {
    /// A hub with the given pollers registered; nothing runs until [`Runtime::boot`].
    pub fn new(
        db: Db,
        secrets: Arc<SecretsCipher>,
        registry: Vec<PollerSpec>,
        health_interval: Duration,
    ) -> Arc<Self> {
        Arc::new(Runtime {
            db,
            secrets,
            registry,
            current: RwLock::new(None),
            generation: tokio::sync::Mutex::new(Generation {
                id: 0,
                client: None,
                cancel: CancellationToken::new(),
                tasks: vec![],
            }),
            connection: Mutex::new(SaltConnection {
                state: ConnectionState::Starting,
                detail: "Connecting to salt-api…".into(),
                since: Some(chrono::Utc::now()),
            }),
            pollers: Mutex::new(BTreeMap::new()),
            health_interval,
            jobs: Arc::new(JobsCache::default()),
            hub: Arc::new(crate::server::activity::hub::EventHub::default()),
            stream_enabled: std::sync::atomic::AtomicBool::new(false),
            batches: Arc::default(),
            tasks: Mutex::new(JoinSet::new()),
            housekeeping: Mutex::new(None),
            stop: CancellationToken::new(),
            cluster: crate::server::cluster::Cluster::new(),
            elected: std::sync::atomic::AtomicBool::new(false),
            settings_seen: Mutex::new(None),
            salt_missing: Mutex::new(None),
            followed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The current client, or a 503 saying why there is none.
    pub fn client(&self) -> Result<Arc<SaltClient>, AppError> {
        if let Some(c) = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(c);
        }
        let conn = self.connection();
        Err(AppError::SaltUnavailable(
            match conn.state {
                ConnectionState::LoginFailed => format!("Salt API login failed: {}", conn.detail),
                ConnectionState::Starting => {
                    "Halite is still connecting to salt-api; try again in a moment.".into()
                }
                _ => "Salt API is not configured. An administrator can connect it in Settings."
                    .into(),
            }
            .into(),
        ))
    }

    /// The active-JID cache (running/complete) the jobs poller keeps.
    pub fn jobs(&self) -> Arc<JobsCache> {
        self.jobs.clone()
    }

    /// The batch runs of this process.
    pub fn batches(&self) -> Arc<BatchRuns> {
        self.batches.clone()
    }

    /// Run an action's background work (a batch run) as a task the runtime owns: it ends early
    /// when the process shuts down, and shutdown waits for it.
    pub fn spawn_task(&self, work: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        // Forget the ones that have ended.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = work => {}
            }
        });
    }

    /// The EventHub (always present; fed only while the event stream is enabled).
    pub fn hub(&self) -> Arc<crate::server::activity::hub::EventHub> {
        self.hub.clone()
    }

    /// The hub when the event stream is switched on and Salt is configured, else `None`.
    pub fn hub_if_enabled(&self) -> Option<Arc<crate::server::activity::hub::EventHub>> {
        self.stream_enabled
            .load(std::sync::atomic::Ordering::Relaxed)
            .then(|| self.hub.clone())
    }

    /// Connection state for the banner and the settings page.
    pub fn connection(&self) -> SaltConnection {
        self.connection
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The Salt connection fields the current generation found unset, read when it started
    /// (every save reloads the generation, here and, by notification, on the other replicas);
    /// `None` before the first generation has read the settings row.
    pub fn missing_salt_fields(&self) -> Option<Vec<String>> {
        self.salt_missing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Status of every poller of the current generation.
    pub fn poller_statuses(&self) -> Vec<PollerStatus> {
        self.pollers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn set_connection(&self, state: ConnectionState, detail: impl Into<String>) {
        let mut c = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let detail = detail.into();
        if c.state == state {
            c.detail = detail; // keep `since` from the first time we entered this state
        } else {
            *c = connection(state, detail);
        }
    }

    /// Record the outcome of any Salt call: transport failures mark salt-api unreachable.
    pub fn observe(&self, result: &Result<(), SaltError>) {
        match result {
            Ok(()) => self.set_connection(ConnectionState::Connected, "salt-api answers"),
            Err(SaltError::Unavailable(m)) => {
                self.set_connection(ConnectionState::Unreachable, m.clone())
            }
            Err(SaltError::Api { .. }) => {}
        }
    }

    /// Start the first generation from the settings row.
    pub async fn boot(self: &Arc<Self>) {
        // Leader or not decides what the upkeep and the first generation run.
        self.join_election().await;
        self.start_housekeeping();
        self.reload().await;
    }

    /// This process among the replicas.
    pub fn cluster(&self) -> Arc<crate::server::cluster::Cluster> {
        self.cluster.clone()
    }

    /// Start taking part in the leader election (once per process) and wait for its first
    /// attempt, so a lone replica leads from its first generation on. A later change of role
    /// reloads the runtime: a new leader starts the pollers, a replica that lost the lead stops
    /// them.
    async fn join_election(self: &Arc<Self>) {
        if self.elected.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let me = Arc::downgrade(self);
        let on_change: Arc<dyn Fn(bool) + Send + Sync> = Arc::new(move |_lead| {
            if let Some(rt) = me.upgrade() {
                tokio::spawn(reload_later(rt));
            }
        });
        tokio::spawn(crate::server::cluster::elect(
            self.cluster.clone(),
            self.db.clone(),
            self.stop.clone(),
            tx,
            on_change,
        ));
        let _ = tokio::time::timeout(Duration::from_secs(10), rx).await;
        self.follow_replicas().await;
    }

    /// On Postgres, listen to the other replicas for as long as the process runs: relay the
    /// leader's activity rows to this replica's hub and reload when another replica saved
    /// settings. The relay starts from the newest stored row, before any generation (and so any
    /// local consumer) runs.
    async fn follow_replicas(self: &Arc<Self>) {
        use crate::server::activity::relay;
        use crate::server::cluster::Notice;
        let Some(mut notices) = crate::server::cluster::listen(&self.db, self.stop.clone()) else {
            return;
        };
        if let Err(e) = relay::start(&self.db, &self.hub).await {
            tracing::warn!(error = %e, "activity relay: cannot read the newest row");
        }
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut connected_before = false;
            let mut tick = tokio::time::interval(RELAY_SAFETY_NET);
            loop {
                let notice = tokio::select! {
                    n = notices.recv() => match n {
                        Some(n) => Some(n),
                        None => return,
                    },
                    _ = tick.tick() => None,
                };
                let Some(rt) = me.upgrade() else { return };
                // Whether to catch up, and up to which id (`None`: everything stored).
                let catch_up = match notice {
                    Some(Notice::Connected) => {
                        // After a reconnect, settings may have changed unseen too.
                        if std::mem::replace(&mut connected_before, true)
                            && rt.settings_changed_elsewhere().await
                        {
                            tokio::spawn(reload_later(rt.clone()));
                        }
                        Some(None)
                    }
                    // Up to the announced id: later rows may still wait for the leader's re-poll.
                    Some(Notice::Activity { last }) => rt
                        .hub
                        .last_id()
                        .is_none_or(|l| last > l)
                        .then_some(Some(last)),
                    Some(Notice::Settings { from }) => {
                        if from != rt.cluster.replica_id() {
                            tracing::info!(from = %from, "settings saved on another replica; reloading");
                            tokio::spawn(reload_later(rt.clone()));
                        }
                        None
                    }
                    // The safety net, on followers only: the leader's own consumer publishes
                    // its rows after the re-polls they call for.
                    None => (!rt.cluster.is_leader()).then_some(None),
                };
                if let Some(upto) = catch_up {
                    if let Err(e) = relay::catch_up(&rt.db, &rt.hub, upto).await {
                        tracing::warn!(error = %e, "activity relay: cannot read new rows");
                    }
                }
            }
        });
    }

    /// Whether the settings row changed since this generation loaded it.
    async fn settings_changed_elsewhere(&self) -> bool {
        let seen = *self.settings_seen.lock().unwrap_or_else(|e| e.into_inner());
        match settings::updated_at(&self.db).await {
            Ok(now) => seen != Some(now),
            Err(_) => false,
        }
    }

    /// Settings were saved here: reload this replica and ask the others to reload too.
    pub async fn settings_changed(self: &Arc<Self>) {
        self.reload().await;
        if let Err(e) = crate::server::cluster::notify(
            &self.db,
            crate::server::cluster::SETTINGS_CHANNEL,
            self.cluster.replica_id(),
        )
        .await
        {
            tracing::warn!(error = %e, "the other replicas were not told to reload their settings");
        }
    }

    /// The current generation's number (each reload starts a new one).
    pub async fn generation(&self) -> u64 {
        self.generation.lock().await.id
    }

    /// Prune the audit log by `audit_retention_days` now and then hourly, whether or not Salt
    /// is configured (once per process; later calls do nothing).
    pub fn start_housekeeping(self: &Arc<Self>) {
        let mut slot = self.housekeeping.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        let (db, stop, cluster) = (self.db.clone(), self.stop.clone(), self.cluster.clone());
        *slot = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if !cluster.is_leader() {
                    continue;
                }
                match settings::prune_audit(&db).await {
                    Ok(n) if n > 0 => tracing::info!(pruned = n, "audit retention"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "audit prune failed"),
                }
                match crate::server::fleet::poller::prune(&db, chrono::Utc::now()).await {
                    Ok((raw, runs)) if raw + runs > 0 => {
                        tracing::info!(raw_dropped = raw, runs_pruned = runs, "fleet retention")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "fleet prune failed"),
                }
            }
        }));
    }

    /// Cancel and await every task of the current generation, then start a new one.
    pub async fn reload(self: &Arc<Self>) {
        self.join_election().await;
        let mut gen = self.generation.lock().await;
        if self.stop.is_cancelled() {
            // Shut down: a reload a change of role spawned starts nothing.
            return;
        }
        gen.cancel.cancel();
        for t in gen.tasks.drain(..) {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = None;
        self.pollers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        gen.client = None;
        self.jobs.reset();
        self.stream_enabled
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.hub.set_state(
            crate::model::activity::StreamStatus::Off,
            "event stream disabled",
        );
        gen.id += 1;
        gen.cancel = CancellationToken::new();
        let id = gen.id;

        *self.settings_seen.lock().unwrap_or_else(|e| e.into_inner()) =
            settings::updated_at(&self.db).await.ok();
        let loaded = match settings::load_salt_connection(&self.db, &self.secrets).await {
            Ok(salt) => settings::load_pollers(&self.db)
                .await
                .map(|pollers| (salt, pollers)),
            Err(e) => Err(e),
        };
        *self.salt_missing.lock().unwrap_or_else(|e| e.into_inner()) = loaded
            .as_ref()
            .ok()
            .map(|(salt, _)| settings::missing_fields(&salt.salt));
        let (salt, pollers) = match loaded {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "cannot read settings; Salt stays disconnected");
                self.set_connection(ConnectionState::Unconfigured, "settings could not be read");
                return;
            }
        };
        if salt.password_unreadable {
            tracing::error!(
                "the stored Salt password cannot be decrypted (COOKIE_SECRET changed?); \
                 enter it again in Settings"
            );
        }
        let Some(config) = salt.config() else {
            self.set_connection(
                ConnectionState::Unconfigured,
                "Salt API URL, username or password is not set",
            );
            tracing::info!(
                generation = id,
                "Salt API not configured; no pollers started"
            );
            return;
        };
        let client = match SaltClient::new(config) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                self.set_connection(ConnectionState::Unreachable, e.to_string());
                return;
            }
        };
        match client.login().await {
            Ok(_) => {
                self.set_connection(
                    ConnectionState::Connected,
                    format!("logged in to {}", client.url()),
                );
                tracing::info!(generation = id, url = %client.url(), "connected to salt-api");
            }
            Err(SaltError::Api {
                status: 401,
                message,
            }) => {
                tracing::error!(generation = id, %message, "salt-api refused the stored credentials; running degraded");
                self.set_connection(ConnectionState::LoginFailed, message);
                return;
            }
            Err(e) => {
                // Unreachable at start: keep the client so everything recovers when it returns.
                tracing::warn!(generation = id, error = %e, "salt-api not reachable yet; will keep trying");
                self.set_connection(ConnectionState::Unreachable, e.to_string());
            }
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(client.clone());
        gen.client = Some(client.clone());

        let ctx = PollerCtx {
            client: client.clone(),
            db: self.db.clone(),
            jobs: self.jobs.clone(),
        };
        // Built-in health probe keeps the banner honest even when every poller is off.
        let health = PollerSpec {
            name: "salt.health",
            interval: |_| 15,
            initial_delay: |_| 15,
            run: Arc::new(|ctx: PollerCtx| {
                Box::pin(async move {
                    ctx.client.ping().await?;
                    Ok("salt-api answers".to_string())
                })
            }),
        };
        // Followers keep their client (they run the actions they are asked for) and the
        // health probe (their banner), but leave polling and the event stream to the leader.
        let leader = self.cluster.is_leader();
        if !leader {
            tracing::info!(
                generation = id,
                "follower: pollers and the event stream run on the leader"
            );
        }
        // A follower that now leads took over from a leader that went away: its event stream
        // starts with a gap row from when that leader was last heard from.
        let takeover = if leader {
            self.followed
                .swap(false, std::sync::atomic::Ordering::SeqCst)
        } else {
            self.followed
                .store(true, std::sync::atomic::Ordering::SeqCst);
            false
        };
        let down_since = if takeover {
            // A leader heard from lately went away; an old row (a process gone for hours,
            // or none) is not a takeover's gap.
            let recent = chrono::Utc::now() - chrono::Duration::seconds(60);
            let seen =
                crate::server::cluster::last_seen_other_leader(&self.db, self.cluster.replica_id())
                    .await
                    .ok()
                    .flatten()
                    .filter(|t| *t >= recent);
            if let Some(seen) = seen {
                tracing::info!(generation = id, leader_last_seen = %seen, "took over as leader");
            }
            seen.map(crate::server::to_text)
        } else {
            None
        };
        if leader && self.db.engine() == Engine::Postgres {
            // Rows the previous leader stored but did not announce reach this replica's hub
            // before its own consumer publishes past them.
            if let Err(e) =
                crate::server::activity::relay::catch_up(&self.db, &self.hub, None).await
            {
                tracing::warn!(error = %e, "activity relay: cannot read new rows");
            }
        }
        if pollers.event_stream_enabled && leader {
            self.stream_enabled
                .store(true, std::sync::atomic::Ordering::Relaxed);
            let cctx = crate::server::activity::consumer::ConsumerCtx {
                client: client.clone(),
                db: self.db.clone(),
                hub: self.hub.clone(),
                jobs: self.jobs.clone(),
                retention_days: pollers.event_stream_retention_days,
                jobs_poller_on: pollers.jobs_poll_interval_seconds > 0,
                repoll: Repoll::new(self.registry.clone(), ctx.clone()),
                down_since,
            };
            let cancel = gen.cancel.clone();
            gen.tasks
                .push(tokio::spawn(crate::server::activity::consumer::run(
                    cctx, cancel,
                )));
        }
        if pollers.event_stream_enabled && !leader && self.db.engine() == Engine::Postgres {
            // A follower's browsers get the leader's rows through the relay.
            self.stream_enabled
                .store(true, std::sync::atomic::Ordering::Relaxed);
            self.hub.set_state(
                crate::model::activity::StreamStatus::Connected,
                "relayed from the leader through Postgres",
            );
        }
        let registry = if leader { &self.registry[..] } else { &[] };
        let specs = std::iter::once(health).chain(registry.iter().cloned());
        for spec in specs {
            let mut interval = (spec.interval)(&pollers);
            if spec.name == "salt.health" {
                interval = self.health_interval.as_secs() as i64;
            }
            if interval <= 0 {
                continue;
            }
            let mut delay = (spec.initial_delay)(&pollers).max(0) as u64;
            if spec.name == "salt.health" {
                delay = interval as u64;
            }
            self.pollers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(
                    spec.name.to_string(),
                    PollerStatus::new(spec.name, interval),
                );
            let me = Arc::clone(self);
            let cancel = gen.cancel.clone();
            let ctx = ctx.clone();
            gen.tasks.push(tokio::spawn(async move {
                me.poll_loop(
                    spec,
                    ctx,
                    Duration::from_secs(delay),
                    Duration::from_secs(interval as u64),
                    cancel,
                )
                .await
            }));
        }
    }

    async fn poll_loop(
        self: Arc<Self>,
        spec: PollerSpec,
        ctx: PollerCtx,
        delay: Duration,
        interval: Duration,
        cancel: CancellationToken,
    ) {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        loop {
            let started = Instant::now();
            let run = tracing::info_span!("poller", poller = spec.name);
            let result = tokio::select! {
                _ = cancel.cancelled() => return,
                r = (spec.run)(ctx.clone()).instrument(run.clone()) => r,
            };
            match &result {
                Ok(_) => self.observe(&Ok(())),
                // Only Salt's own failures say something about the connection.
                Err(PollError::Salt(e)) => self.observe(&Err(e.clone())),
                Err(_) => {}
            }
            crate::server::metrics::poller_run(spec.name, started.elapsed(), result.is_ok());
            {
                let mut map = self.pollers.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(st) = map.get_mut(spec.name) {
                    record_run(st, chrono::Utc::now(), started.elapsed(), &result);
                }
            }
            run.in_scope(|| match &result {
                Ok(_) => {}
                Err(e @ PollError::Salt(_)) => tracing::warn!(error = %e, "poller run failed"),
                Err(e) => tracing::error!(error = %e, "poller run failed"),
            });
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Stop every task (process shutdown).
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let housekeeping = self
            .housekeeping
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(t) = housekeeping {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        let mut gen = self.generation.lock().await;
        gen.cancel.cancel();
        for t in gen.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let drained = tokio::time::timeout(Duration::from_secs(5), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tasks.abort_all();
        }
    }
}

/// Put one run's outcome on a poller's status-board entry.
fn record_run(
    st: &mut PollerStatus,
    now: chrono::DateTime<chrono::Utc>,
    took: Duration,
    result: &PollResult,
) {
    st.runs += 1;
    st.last_run_at = Some(now);
    st.last_duration_ms = Some(took.as_millis() as i64);
    match result {
        Ok(summary) => {
            st.last_ok_at = Some(now);
            st.last_error = None;
            st.last_summary = Some(summary.clone());
        }
        Err(e) => st.last_error = Some(e.to_string()),
    }
}

/// `rt.reload()` as a boxed `Send` future: the election's callback spawns it from inside
/// `reload` (through `join_election`), and a named `Send` type breaks that cycle for the
/// compiler.
fn reload_later(rt: Arc<Runtime>) -> futures::future::BoxFuture<'static, ()> {
    Box::pin(async move { rt.reload().await })
}

/// Turn a Salt error into what a server function returns (503 transport, 502 salt said no).
pub fn salt_error(e: SaltError) -> AppError {
    let message = match &e {
        SaltError::Unavailable(m) => format!("Salt API unreachable: {m}"),
        SaltError::Api { status, message } => format!("Salt API error {status}: {message}"),
    };
    match e {
        SaltError::Unavailable(_) => AppError::SaltUnavailable(message.into()).with_source(e),
        SaltError::Api { .. } => AppError::SaltError(message.into()).with_source(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn shutdown_ends_and_awaits_action_tasks() {
        let db = crate::server::db::Db::Sqlite(
            sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap(),
        );
        let rt = Runtime::new(
            db,
            Arc::new(SecretsCipher::new("0123456789abcdef0123456789abcdef")),
            vec![],
            Duration::from_secs(15),
        );
        let finished = Arc::new(AtomicBool::new(false));
        let quick = finished.clone();
        rt.spawn_task(async move { quick.store(true, Ordering::SeqCst) });
        // A batch run that would outlive the process: shutdown must not wait for it.
        rt.spawn_task(std::future::pending());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(finished.load(Ordering::SeqCst));
        tokio::time::timeout(Duration::from_secs(2), rt.shutdown())
            .await
            .expect("shutdown cancels action tasks instead of waiting for them");
        assert!(rt.tasks.lock().unwrap().is_empty());
    }

    #[test]
    fn a_database_failure_shows_as_one_on_the_status_board() {
        let mut st = PollerStatus::new("minions.keys", 60);
        let failed: PollResult = Err(PollError::Db(sqlx::Error::PoolClosed));
        record_run(
            &mut st,
            chrono::Utc::now(),
            Duration::from_millis(5),
            &failed,
        );
        let shown = st.last_error.clone().unwrap();
        assert!(shown.starts_with("Database error: "), "{shown}");
        assert!(!shown.contains("Salt"), "{shown}");
        assert_eq!((st.runs, st.last_ok_at), (1, None));

        let salt: PollResult = Err(PollError::Salt(SaltError::Api {
            status: 500,
            message: "boom".into(),
        }));
        record_run(&mut st, chrono::Utc::now(), Duration::from_millis(5), &salt);
        assert_eq!(st.last_error.as_deref(), Some("Salt API error 500: boom"));

        record_run(
            &mut st,
            chrono::Utc::now(),
            Duration::ZERO,
            &Ok("3 keys".into()),
        );
        assert_eq!((st.last_error.clone(), st.runs), (None, 3));
    }
}
