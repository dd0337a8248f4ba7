//! SQL for `activity_events`: one transaction per batch for the consumer (with the `job.new`
//! upsert into `jobs_index`), paged and filtered reads for the page and the widget.

use super::normalize::NewActivity;
use crate::model::activity::{ActivityEvent, EventCategory};
use crate::model::list::{ActivityFilters, ListQuery};
use crate::server::db::{Db, Dialect, Engine, JsonText, Ts};
use crate::with_db;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

/// Insert a batch in one transaction; initiator/target are back-filled from `jobs_index` by JID
/// when the event lacks them; `job.new` upserts the job. Returns the stored rows (with ids) in
/// order.
pub async fn insert_batch(
    db: &Db,
    rows: &[NewActivity],
    now: DateTime<Utc>,
) -> Result<Vec<ActivityEvent>, sqlx::Error> {
    with_db!(db, p, DB => {
        let mut tx = p.begin().await?;
        if db.engine() == Engine::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(ACTIVITY_WRITE_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        // The jobs first: an event of the batch that lacks its initiator or target finds them
        // in `jobs_index` (a `job.ret` right behind its `job.new`).
        for r in rows.iter().filter(|r| r.event.event_type == "job.new") {
            if let (Some(jid), Some(started)) = (
                r.event.jid.as_deref(),
                r.event
                    .jid
                    .as_deref()
                    .and_then(crate::server::jobs::ingest::parse_jid),
            ) {
                sqlx::query(
                    "INSERT INTO jobs_index (jid, function, target, target_type, salt_user, started_at, seen_at, arguments) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (jid) DO UPDATE SET seen_at = excluded.seen_at",
                )
                .bind(jid)
                .bind(r.event.fun.as_deref().unwrap_or("").chars().take(128).collect::<String>())
                .bind(&r.event.target)
                .bind(&r.target_type)
                .bind(&r.event.initiator)
                .bind(Ts(started))
                .bind(Ts(now))
                .bind(r.arguments.clone().map(JsonText))
                .execute(&mut *tx)
                .await?;
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        // Many rows per statement (one round trip to the database for each slice, not each
        // row); 13 parameters a row stays far below either engine's limit.
        for chunk in rows.chunks(INSERT_ROWS) {
            let mut q: QueryBuilder<DB> = QueryBuilder::new(
                "INSERT INTO activity_events (ts, category, event_type, minion_id, jid, fun, success, changed, \
                 initiator, target, duration_ms, summary, raw) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(Ts(now))
                    .push_bind(r.event.category)
                    .push_bind(&r.event.event_type)
                    .push_bind(&r.event.minion_id)
                    .push_bind(&r.event.jid)
                    .push_bind(&r.event.fun)
                    .push_bind(r.event.success)
                    .push_bind(r.event.changed)
                    .push("coalesce(")
                    .push_bind_unseparated(&r.event.initiator)
                    .push_unseparated(", (SELECT salt_user FROM jobs_index WHERE jid = ")
                    .push_bind_unseparated(&r.event.jid)
                    .push_unseparated("))")
                    .push("coalesce(")
                    .push_bind_unseparated(&r.event.target)
                    .push_unseparated(", (SELECT target FROM jobs_index WHERE jid = ")
                    .push_bind_unseparated(&r.event.jid)
                    .push_unseparated("))")
                    .push_bind(r.event.duration_ms)
                    .push_bind(&r.event.summary)
                    .push_bind(JsonText(r.raw.clone()));
            });
            q.push(" RETURNING id, initiator, target");
            let mut ids: Vec<(i64, Option<String>, Option<String>)> =
                q.build_query_as().fetch_all(&mut *tx).await?;
            // RETURNING's order is unspecified; the ids are given in VALUES order.
            ids.sort_unstable_by_key(|r| r.0);
            debug_assert_eq!(ids.len(), chunk.len());
            for (r, (id, initiator, target)) in chunk.iter().zip(ids) {
                out.push(ActivityEvent {
                    id,
                    ts: now,
                    initiator,
                    target,
                    ..r.event.clone()
                });
            }
        }
        tx.commit().await?;
        Ok(out)
    })
}

/// Rows per `INSERT` statement in [`insert_batch`].
const INSERT_ROWS: usize = 200;

/// Delete rows older than the cutoff.
pub async fn prune(db: &Db, cutoff: chrono::DateTime<chrono::Utc>) -> Result<u64, sqlx::Error> {
    crate::server::db::delete_before(db, "DELETE FROM activity_events WHERE ts < $1", cutoff).await
}

/// What the reader may see: SQLite GLOB patterns per category (`None` = everything of it,
/// empty = nothing of it).
#[derive(Debug, Clone, Default)]
pub struct Visibility {
    pub job: Option<Vec<String>>,
    pub key: Option<Vec<String>>,
    pub minion: Option<Vec<String>>,
}

impl Visibility {
    /// From the user's grants (per resource: `view:minion:web-*` sees only web minions).
    pub fn of(perms: &[crate::rbac::Permission]) -> Self {
        let g = |k| crate::server::minions::store::allowed_globs(perms, "view", k);
        Visibility {
            job: g("job"),
            key: g("key"),
            minion: g("minion"),
        }
    }
    /// Categories with anything visible.
    pub fn categories(&self) -> Vec<EventCategory> {
        [
            (EventCategory::Job, &self.job),
            (EventCategory::Key, &self.key),
            (EventCategory::Minion, &self.minion),
        ]
        .into_iter()
        .filter(|(_, g)| g.as_ref().is_none_or(|g| !g.is_empty()))
        .map(|(c, _)| c)
        .collect()
    }
}

/// Filters of the Activity page and widget.
#[derive(Debug, Clone, Default)]
pub struct ActivityQuery {
    pub category: Option<EventCategory>,
    pub event_type: Option<String>,
    pub minion_id: Option<String>,
    pub search: Option<String>,
    pub hide_routine: bool,
    pub hide_dispatch: bool,
    /// Only rows with `ts >= since`.
    pub since: Option<DateTime<Utc>>,
    /// Only rows with `ts < until`.
    pub until: Option<DateTime<Utc>>,
    /// Only rows with `id > after_id` (the live tail's "what is new").
    pub after_id: Option<i64>,
    pub page: i64,
    pub per_page: i64,
}

impl ActivityQuery {
    /// The page's checked query (search, filters, range, paging); `since_minutes` > 0 replaces
    /// the range (the Overview widget's heartbeat).
    pub fn of_list(lq: ListQuery<ActivityFilters>, since_minutes: i64) -> Self {
        let f = lq.filters;
        let minutes = if since_minutes > 0 {
            Some(since_minutes)
        } else {
            f.range_minutes()
        };
        let some = |s: String| (!s.is_empty()).then_some(s);
        ActivityQuery {
            category: f.category(),
            event_type: some(f.event_type),
            minion_id: some(f.minion),
            search: some(lq.q),
            hide_routine: f.hide_routine,
            hide_dispatch: f.hide_dispatch,
            since: minutes.map(|m| chrono::Utc::now() - chrono::Duration::minutes(m)),
            until: None,
            after_id: None,
            page: lq.page,
            per_page: lq.per_page,
        }
    }
}

fn push_filters<DB: Dialect>(q: &mut QueryBuilder<'_, DB>, aq: &ActivityQuery, vis: &Visibility) {
    q.push(format!(" WHERE (category = '{}'", EventCategory::System));
    for (cat, globs, col) in [
        (EventCategory::Job, &vis.job, "jid"),
        (EventCategory::Key, &vis.key, "minion_id"),
        (EventCategory::Minion, &vis.minion, "minion_id"),
    ] {
        match globs {
            None => {
                q.push(format!(" OR category = '{cat}'"));
            }
            Some(g) if g.is_empty() => {}
            Some(g) => {
                q.push(format!(" OR (category = '{cat}' AND ("));
                for (i, p) in g.iter().enumerate() {
                    if i > 0 {
                        q.push(" OR ");
                    }
                    DB::push_grant_match(q, &format!("('{cat}:' || coalesce({col}, ''))"), p);
                }
                q.push("))");
            }
        }
    }
    q.push(")");
    if let Some(c) = aq.category {
        q.push(" AND category = ");
        DB::push_str(q, c.as_str().to_string());
    }
    if let Some(t) = &aq.event_type {
        q.push(" AND event_type = ");
        DB::push_str(q, t.clone());
    }
    if let Some(m) = &aq.minion_id {
        q.push(" AND minion_id = ");
        DB::push_str(q, m.clone());
    }
    if let Some(s) = &aq.search {
        let escaped = crate::server::minions::store::escape_like(s);
        q.push(" AND search_text LIKE ");
        DB::push_str(q, format!("%{escaped}%"));
        q.push(" ESCAPE '\\'");
    }
    if aq.hide_routine {
        q.push(" AND NOT (event_type = 'job.ret' AND coalesce(success, TRUE) AND NOT coalesce(changed, FALSE))");
    }
    if aq.hide_dispatch {
        q.push(" AND event_type <> 'job.new'");
    }
    if let Some(s) = aq.since {
        q.push(" AND ts >= ");
        DB::push_ts(q, s);
    }
    if let Some(u) = aq.until {
        q.push(" AND ts < ");
        DB::push_ts(q, u);
    }
    if let Some(a) = aq.after_id {
        q.push(" AND id > ");
        DB::push_i64(q, a);
    }
}

const SELECT: &str = "SELECT id, ts, category, event_type, minion_id, jid, fun, success, changed, \
     initiator, target, duration_ms, summary FROM activity_events";

/// Every row the page's query selects across all its pages, newest first, to `sink` (the
/// Activity export), read with a cursor.
pub async fn export(
    db: &Db,
    aq: &ActivityQuery,
    vis: &Visibility,
    mut sink: crate::server::export::Sink,
) -> Result<crate::server::export::Sink, crate::server::export::ExportError> {
    with_db!(db, p, DB => {
        let mut q: QueryBuilder<DB> = QueryBuilder::new(SELECT);
        push_filters(&mut q, aq, vis);
        q.push(" ORDER BY id DESC");
        sink.cursor(q.build_query_as::<ActivityEvent>().fetch(p), Ok).await?;
    });
    Ok(sink)
}

/// One page, newest first, and the total matching.
pub async fn list(
    db: &Db,
    aq: &ActivityQuery,
    vis: &Visibility,
) -> Result<(Vec<ActivityEvent>, i64), sqlx::Error> {
    with_db!(db, p, DB => {
        let mut c: QueryBuilder<DB> = QueryBuilder::new("SELECT count(*) FROM activity_events");
        push_filters(&mut c, aq, vis);
        let total: i64 = c.build_query_scalar().fetch_one(p).await?;
        let mut q: QueryBuilder<DB> = QueryBuilder::new(SELECT);
        push_filters(&mut q, aq, vis);
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(aq.per_page)
            .push(" OFFSET ")
            .push_bind((aq.page - 1).max(0) * aq.per_page);
        let rows: Vec<ActivityEvent> = q.build_query_as().fetch_all(p).await?;
        Ok((rows, total))
    })
}

/// Up to `limit` rows after `after_id`, oldest first (a replica catching up with the leader).
pub async fn after(db: &Db, after_id: i64, limit: i64) -> Result<Vec<ActivityEvent>, sqlx::Error> {
    with_db!(db, p => sqlx::query_as(
        "SELECT id, ts, category, event_type, minion_id, jid, fun, success, changed, initiator, \
         target, duration_ms, summary FROM activity_events WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after_id)
    .bind(limit)
    .fetch_all(p)
    .await)
}

/// The newest row's id (0 when there is none).
pub async fn max_id(db: &Db) -> Result<i64, sqlx::Error> {
    with_db!(db, p => sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM activity_events")
        .fetch_one(p)
        .await)
}

/// `(category, minion_id, jid, raw)` of one row.
pub type RawRow = (
    EventCategory,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// `(category, minion_id, jid, raw)` of one row.
pub async fn raw(db: &Db, id: i64) -> Result<Option<RawRow>, sqlx::Error> {
    with_db!(db, p => {
        sqlx::query_as(
            "SELECT category, minion_id, jid, CAST(raw AS TEXT) AS raw FROM activity_events WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await
    })
}

/// On Postgres every activity write holds an advisory lock until its transaction ends, so ids
/// are taken and committed in the same order even if two processes write at once (an old leader
/// that has not yet noticed it lost the lead): a replica reading `id > last` never skips a late
/// commit.
const ACTIVITY_WRITE_LOCK: i64 = crate::server::cluster::LEADER_LOCK + 2;

/// Insert a `system` row (stream gap marker) and return it.
pub async fn insert_system(
    db: &Db,
    summary: &str,
    now: DateTime<Utc>,
) -> Result<ActivityEvent, sqlx::Error> {
    let id: i64 = with_db!(db, p => {
        let mut tx = p.begin().await?;
        if db.engine() == Engine::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(ACTIVITY_WRITE_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let id = sqlx::query_scalar(
            "INSERT INTO activity_events (ts, category, event_type, summary) VALUES ($1, $2, 'stream.gap', $3) RETURNING id",
        )
        .bind(Ts(now))
        .bind(EventCategory::System)
        .bind(summary)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        id
    });
    Ok(ActivityEvent {
        id,
        ts: now,
        ..ActivityEvent::new(EventCategory::System, "stream.gap", summary.to_string())
    })
}
