//! Package inventory (SPEC 2.6 InventoryScheduler, 3.9, 6.9): collecting `pkg.list_pkgs` from
//! the fleet ([`collect`], from the poller in [`poller`] and the manual refresh here), the
//! tables and the reads the pages make ([`store`]), and the search export ([`export`]).

pub mod collect;
pub mod export;
pub mod poller;
pub mod store;

use crate::error::AppError;
use crate::model::inventory::{
    PackageFilters, PackagesPage, RefreshProgress, RefreshSummary, SearchFilters, SearchPage,
};
use crate::model::list::ListQuery;
use crate::model::page::Page;
use crate::model::run::Command;
use crate::server::audit::{record, AuditEntry};
use crate::server::auth::CurrentUser;
use crate::server::poller::PollError;
use crate::server::runtime::salt_error;
use crate::server::state::AppState;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// A refresh's progress is remembered this long after it started.
const PROGRESS_TTL: Duration = Duration::from_secs(3600);
/// At most this many refreshes are followed at once.
const PROGRESS_CAP: usize = 1000;

/// The refreshes pages are following, by the id the page chose (and owned by its user).
#[derive(Debug, Default)]
pub struct Progresses {
    map: Mutex<HashMap<(String, String), (RefreshProgress, Instant)>>,
}

impl Progresses {
    fn set(&self, id: &str, owner: &str, p: RefreshProgress) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, (_, at)| now.duration_since(*at) < PROGRESS_TTL);
        let key = (owner.to_string(), id.to_string());
        if map.len() >= PROGRESS_CAP && !map.contains_key(&key) {
            return;
        }
        let at = map.get(&key).map(|(_, at)| *at).unwrap_or(now);
        map.insert(key, (p, at));
    }

    /// The progress of `owner`'s refresh `id`.
    pub fn get(&self, id: &str, owner: &str) -> Option<RefreshProgress> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(owner.to_string(), id.to_string()))
            .map(|(p, _)| p.clone())
    }
}

static PROGRESS: LazyLock<Progresses> = LazyLock::new(Progresses::default);

/// The refreshes being followed in this process.
pub fn progress() -> &'static Progresses {
    &PROGRESS
}

/// The packages page: a page of names and what the inventory holds.
pub async fn packages_page(
    state: &AppState,
    user: &CurrentUser,
    lq: &ListQuery<PackageFilters>,
) -> Result<PackagesPage, AppError> {
    let (rows, total) = store::packages(&state.db, lq).await?;
    let mut status = store::status(&state.db).await?;
    status.refresh_minutes = crate::server::settings::load_pollers(&state.db)
        .await?
        .inventory_refresh_minutes;
    status.can_refresh = user.can("collect", "inventory:*");
    Ok(PackagesPage {
        list: Page::new(rows, total, lq.page, lq.per_page),
        status,
    })
}

/// One page of search hits, over the minions the user may view.
pub async fn search_page(
    state: &AppState,
    user: &CurrentUser,
    lq: &ListQuery<SearchFilters>,
) -> Result<SearchPage, AppError> {
    let globs = crate::server::minions::store::allowed_globs(&user.permissions, "view", "minion");
    store::search(&state.db, &lq.filters, &globs, lq.page, lq.per_page).await
}

/// The manual refresh: resolve the target (only minions the user may view), collect their
/// packages, audit `inventory.refresh`. 409 while another collection runs (the poller's or
/// another refresh); 502 when no minion returned a package list. The collection and its audit
/// run as a task of their own, so a browser that goes away does not cut them short.
pub async fn refresh(
    state: &AppState,
    user: &CurrentUser,
    ip: &str,
    cmd: &Command,
    progress_id: Option<String>,
) -> Result<RefreshSummary, AppError> {
    let client = state.runtime.client()?;
    let minions = crate::server::run::target_minions(state, user, &client, cmd).await?;
    let started = Instant::now();
    let audit = {
        let (user, cmd, ip, targeted) = (user.clone(), cmd.clone(), ip.to_string(), minions.len());
        move |code: u16, summary: Option<&RefreshSummary>| {
            AuditEntry::new("inventory.refresh", "inventory:*")
                .user(&user.id, &user.username)
                .args(serde_json::json!({
                    "target": cmd.target,
                    "target_type": cmd.target_type,
                    "minions_targeted": targeted,
                    "minions_refreshed": summary.map(|s| s.minions_refreshed),
                    "no_answer": summary.map(|s| s.no_answer.len()),
                }))
                .code(code)
                .duration_ms(started.elapsed().as_millis() as i64)
                .ip(&ip)
        }
    };
    if minions.is_empty() {
        record(&state.db, audit(422, None)).await;
        return Err(AppError::invalid(
            "target",
            "No accepted minion you may view matches this target.",
        ));
    }
    let Some(writes) = collect::try_lock_writes(&state.db).await? else {
        record(&state.db, audit(409, None)).await;
        return Err(AppError::Conflict(
            "A package collection is already running (the inventory poller or another \
             refresh); try again when it has finished."
                .into(),
        ));
    };
    let total = minions.len() as i64;
    let owner = user.id.clone();
    let db = state.db.clone();
    let task = tokio::spawn(async move {
        let show = |answered: i64, refreshed: i64, done: bool| {
            if let Some(id) = &progress_id {
                progress().set(
                    id,
                    &owner,
                    RefreshProgress {
                        targeted: total,
                        answered,
                        refreshed,
                        done,
                    },
                );
            }
        };
        show(0, 0, false);
        let on_progress = |a: i64, r: i64| show(a, r, false);
        let r = collect::collect(&client, &db, minions, Some(&on_progress), writes).await;
        let summary = match r {
            Ok(s) => s,
            Err(e) => {
                show(total, 0, true);
                let err = match e {
                    PollError::Salt(e) => salt_error(e),
                    PollError::Db(e) => AppError::from(e),
                    PollError::Internal(m) => AppError::Internal(m.into()),
                };
                record(&db, audit(err.status(), None)).await;
                return Err(err);
            }
        };
        show(total, summary.minions_refreshed, true);
        if summary.minions_refreshed == 0 {
            record(&db, audit(502, Some(&summary))).await;
            let why = match summary.errors.values().next() {
                Some(e) => format!(" One answered: {e}"),
                None => String::new(),
            };
            return Err(AppError::SaltError(
                format!(
                    "No minion returned a package list ({} targeted, {} did not answer).{why}",
                    total,
                    summary.no_answer.len()
                )
                .into(),
            ));
        }
        record(&db, audit(200, Some(&summary))).await;
        Ok(summary)
    });
    task.await
        .map_err(|e| AppError::Internal(format!("The refresh stopped unexpectedly: {e}").into()))?
}
