//! Live activity on every replica (issue 16): the leader stores each batch of events, publishes
//! it to its own hub and then announces the id range with `NOTIFY`; every replica reads the new
//! rows from the database and feeds its own hub, so a browser on any replica sees every event,
//! in order, once. A replica that missed announcements (its listening connection dropped)
//! catches up from the last id its hub published.
//!
//! The hub skips rows it has already published, so the leader's own announcement (and a
//! catch-up racing the consumer) publishes nothing twice.

use super::hub::EventHub;
use super::store;
use crate::model::activity::ActivityEvent;
use crate::server::cluster::{self, ACTIVITY_CHANNEL};
use crate::server::db::Db;

/// Rows read per catch-up query.
const CHUNK: i64 = 500;
/// A catch-up longer than this many rows (a replica cut off for long) skips to the newest rows
/// instead of flooding its browsers: their pages read the rest from the database.
const MAX_CATCH_UP: usize = 10_000;

/// Publish stored rows to this replica's hub, then tell the other replicas (after the local
/// publish, so the leader's own relay finds nothing new; after any re-poll the rows call for,
/// so a browser on another replica that refetches reads the re-polled state too).
pub async fn publish(db: &Db, hub: &EventHub, rows: Vec<ActivityEvent>) {
    let range = rows.first().zip(rows.last()).map(|(a, b)| (a.id, b.id));
    hub.publish(rows);
    if let Some((first, last)) = range {
        if let Err(e) = cluster::notify(db, ACTIVITY_CHANNEL, &format!("{first}-{last}")).await {
            tracing::warn!(error = %e, first, last, "activity rows not announced to the other replicas");
        }
    }
}

/// Start relaying from the newest stored row (history is the page's to read, not the stream's).
pub async fn start(db: &Db, hub: &EventHub) -> Result<(), sqlx::Error> {
    hub.skip_to(store::max_id(db).await?);
    Ok(())
}

/// Publish the stored rows the hub has not published yet, in id order, up to `upto` (the last
/// id an announcement named: rows after it may still wait for the leader's re-poll) or all of
/// them; returns how many.
pub async fn catch_up(db: &Db, hub: &EventHub, upto: Option<i64>) -> Result<usize, sqlx::Error> {
    if hub.last_id().is_none() {
        // The start did not know where the table ended: begin there now, not at its first row.
        start(db, hub).await?;
        return Ok(0);
    }
    let mut published = 0;
    let mut read = 0;
    loop {
        let after = hub.last_id().unwrap_or(0);
        let mut rows = store::after(db, after, CHUNK).await?;
        let n = rows.len();
        read += n;
        let past = upto.is_some_and(|u| rows.last().is_some_and(|r| r.id > u));
        if let Some(u) = upto {
            rows.retain(|r| r.id <= u);
        }
        published += hub.publish(rows);
        if (n as i64) < CHUNK || past {
            return Ok(published);
        }
        if read >= MAX_CATCH_UP {
            let newest = store::max_id(db).await?;
            tracing::warn!(
                from = after,
                to = newest,
                "activity relay fell far behind; skipping to the newest rows"
            );
            hub.skip_to(newest);
            return Ok(published);
        }
    }
}
