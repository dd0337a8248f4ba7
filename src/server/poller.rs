//! What a poller is: the context a run gets, the spec a feature registers with the runtime, and
//! the on-demand re-poll features use to ask for each other's data to be read again.

use crate::model::settings::PollerSettings;
use crate::salt::{SaltClient, SaltError};
use crate::server::db::Db;
use crate::server::jobs::JobsCache;
use futures::future::BoxFuture;
use std::sync::Arc;

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
    pub run: Arc<dyn Fn(PollerCtx) -> BoxFuture<'static, Result<String, SaltError>> + Send + Sync>,
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
    pub async fn poke(&self, name: &str) -> Option<Result<String, SaltError>> {
        let spec = self.registry.iter().find(|s| s.name == name)?;
        Some((spec.run)(self.ctx.clone()).await)
    }
}
