//! What a poller is: the context a run gets, the spec a feature registers with the runtime, and
//! the on-demand re-poll features use to ask for each other's data to be read again.

use crate::model::settings::PollerSettings;
use crate::salt::{SaltClient, SaltError};
use crate::server::db::Db;
use crate::server::jobs::JobsCache;
use futures::future::BoxFuture;
use std::sync::Arc;

/// Why a poller run failed. Kept apart from [`SaltError`] so that a failure of our own database
/// is not reported (on the status board, in the log, in the connection state) as Salt's.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// salt-api could not be reached or answered with an error.
    #[error(transparent)]
    Salt(#[from] SaltError),
    /// Reading or writing Halite's own database failed.
    #[error("Database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Anything else on our side (a worker task that panicked).
    #[error("{0}")]
    Internal(String),
}

/// What one poller run returns: a short summary for the status board, or why it failed.
pub type PollResult = Result<String, PollError>;

/// What a poller gets each run.
#[derive(Clone)]
pub struct PollerCtx {
    pub client: Arc<SaltClient>,
    pub db: Db,
    /// The active-JID cache the jobs poller keeps.
    pub jobs: Arc<JobsCache>,
}

/// A periodic task registered with the runtime (pollers of the feature modules).
#[derive(Clone)]
pub struct PollerSpec {
    pub name: &'static str,
    /// Seconds between runs from the settings; 0 turns the poller off.
    pub interval: fn(&PollerSettings) -> i64,
    /// Seconds to wait before the first run.
    pub initial_delay: fn(&PollerSettings) -> i64,
    /// One run; `Ok` carries a short summary for the status board.
    pub run: Arc<dyn Fn(PollerCtx) -> BoxFuture<'static, PollResult> + Send + Sync>,
}

/// One generation's registered pollers, to run on demand by name: how a feature asks for another
/// feature's data to be read again now (the event consumer after a key event or a stream gap)
/// without calling that feature's poller itself.
#[derive(Clone)]
pub struct Repoll {
    registry: Arc<[PollerSpec]>,
    ctx: PollerCtx,
}

impl Repoll {
    /// The pollers of `registry`, each run with `ctx` when poked.
    pub fn new(registry: Vec<PollerSpec>, ctx: PollerCtx) -> Self {
        Repoll {
            registry: registry.into(),
            ctx,
        }
    }

    /// Run the poller `name` once and wait for it; `None` when no poller has that name.
    pub async fn poke(&self, name: &str) -> Option<PollResult> {
        let spec = self.registry.iter().find(|s| s.name == name)?;
        Some((spec.run)(self.ctx.clone()).await)
    }
}
