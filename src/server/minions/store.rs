//! SQL for `minion_snapshots`: batched writes for the pollers, paged reads for the pages.

use super::ingest::{GrainsUpdate, KeyDiff, PresenceChange, StoredPresence};
use crate::model::keys::KeyState;
use crate::model::minions::{MinionDetail, MinionRow, MinionStatus, StatusCounts, STALE_MINUTES};
use crate::server::db::{Db, Dialect, Engine, JsonText, Ts};
use crate::with_db;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use std::collections::HashMap;

/// Rows per multi-row statement (SQLite allows 32766 bound values).
const BATCH: usize = 500;

/// id -> key state.
pub async fn load_key_states(db: &Db) -> Result<HashMap<String, KeyState>, sqlx::Error> {
    let rows: Vec<(String, KeyState)> = with_db!(db, p => {
        sqlx::query_as("SELECT minion_id, key_status FROM minion_snapshots")
            .fetch_all(p)
            .await?
    });
    Ok(rows.into_iter().collect())
}

/// Write a keys reconcile in one transaction: batched upserts, one delete, one timestamp update.
pub async fn apply_keys(db: &Db, diff: &KeyDiff, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    with_db!(db, p, DB => {
        let mut tx = p.begin().await?;
        let changed: Vec<&(String, KeyState)> =
            diff.insert.iter().chain(diff.update.iter()).collect();
        for chunk in changed.chunks(BATCH) {
            let mut q: QueryBuilder<DB> = QueryBuilder::new(
                "INSERT INTO minion_snapshots (minion_id, key_status, keys_refreshed_at) ",
            );
            q.push_values(chunk, |mut b, (id, state)| {
                b.push_bind(id).push_bind(*state).push_bind(Ts(now));
            });
            q.push(
                " ON CONFLICT (minion_id) DO UPDATE SET key_status = excluded.key_status, \
                 online = CASE WHEN excluded.key_status = 'accepted' THEN minion_snapshots.online ELSE FALSE END",
            );
            q.build().execute(&mut *tx).await?;
        }
        if !diff.delete.is_empty() {
            let mut q: QueryBuilder<DB> =
                QueryBuilder::new("DELETE FROM minion_snapshots WHERE minion_id IN ");
            DB::push_string_list(&mut q, &diff.delete);
            q.build().execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE minion_snapshots SET keys_refreshed_at = $1")
            .bind(Ts(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    })
}

/// id -> (key state, online, ip).
pub async fn load_presence(db: &Db) -> Result<HashMap<String, StoredPresence>, sqlx::Error> {
    let rows: Vec<(String, KeyState, bool, Option<String>)> = with_db!(db, p => {
        sqlx::query_as("SELECT minion_id, key_status, online, primary_ip FROM minion_snapshots")
            .fetch_all(p)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|(id, k, o, ip)| (id, (k, o, ip)))
        .collect())
}

/// Write presence changes (batched) and stamp every row's presence time.
pub async fn apply_presence(
    db: &Db,
    changes: &[PresenceChange],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    with_db!(db, p, DB => {
        let mut tx = p.begin().await?;
        for chunk in changes.chunks(BATCH) {
            let mut q: QueryBuilder<DB> = QueryBuilder::new(
                "UPDATE minion_snapshots SET online = v.column2, primary_ip = v.column3 FROM (",
            );
            q.push_values(chunk, |mut b, c| {
                b.push_bind(&c.id).push_bind(c.online).push_bind(&c.ip);
            });
            q.push(") AS v WHERE minion_snapshots.minion_id = v.column1");
            q.build().execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE minion_snapshots SET presence_refreshed_at = $1")
            .bind(Ts(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    })
}

/// Grain hashes of accepted minions, online or not (the ones the grains poller reads from the
/// master's cache: an offline minion keeps its last-known facts).
pub async fn load_grain_hashes(db: &Db) -> Result<HashMap<String, Option<String>>, sqlx::Error> {
    let rows: Vec<(String, Option<String>)> = with_db!(db, p => {
        sqlx::query_as(
            "SELECT minion_id, grains_hash FROM minion_snapshots WHERE key_status = 'accepted'",
        )
        .fetch_all(p)
        .await?
    });
    Ok(rows.into_iter().collect())
}

/// Write changed grains (batched) and stamp the grains time of the minions that were polled.
pub async fn apply_grains(
    db: &Db,
    updates: &[GrainsUpdate],
    polled: &[String],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    with_db!(db, p, DB => {
        let mut tx = p.begin().await?;
        for chunk in updates.chunks(200) {
            let mut q: QueryBuilder<DB> = QueryBuilder::new(
                "UPDATE minion_snapshots SET os = v.column2, os_family = v.column3, osrelease = v.column4, \
                 kernel = v.column5, kernelrelease = v.column6, virtual_type = v.column7, num_cpus = v.column8, \
                 mem_total_mb = v.column9, saltversion = v.column10, cpu_model = v.column11, \
                 grains_hash = v.column12 FROM (",
            );
            q.push_values(chunk, |mut b, u| {
                let f = &u.facts;
                b.push_bind(&u.id)
                    .push_bind(&f.os)
                    .push_bind(&f.os_family)
                    .push_bind(&f.osrelease)
                    .push_bind(&f.kernel)
                    .push_bind(&f.kernelrelease)
                    .push_bind(&f.virtual_type)
                    .push_bind(f.num_cpus)
                    .push_bind(f.mem_total_mb)
                    .push_bind(&f.saltversion)
                    .push_bind(&f.cpu_model)
                    .push_bind(&u.hash);
            });
            q.push(") AS v WHERE minion_snapshots.minion_id = v.column1");
            q.build().execute(&mut *tx).await?;
            // The document itself lives apart (only the detail page reads it).
            // A minion whose key went since the poll started is skipped, not a failed poll.
            let mut g: QueryBuilder<DB> = QueryBuilder::new(
                "INSERT INTO minion_grains (minion_id, grains) SELECT v.column1, v.column2 FROM (",
            );
            g.push_values(chunk, |mut b, u| {
                b.push_bind(&u.id).push_bind(JsonText(u.grains_json.clone()));
            });
            g.push(
                ") AS v WHERE EXISTS (SELECT 1 FROM minion_snapshots s WHERE s.minion_id = v.column1) \
                 ON CONFLICT (minion_id) DO UPDATE SET grains = excluded.grains",
            );
            g.build().execute(&mut *tx).await?;
        }
        if !polled.is_empty() {
            let mut q: QueryBuilder<DB> =
                QueryBuilder::new("UPDATE minion_snapshots SET grains_refreshed_at = ");
            DB::push_ts(&mut q, now);
            q.push(" WHERE minion_id IN ");
            DB::push_string_list(&mut q, polled);
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await
    })
}

/// Filters for the minions list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub search: String,
    pub status: Option<MinionStatus>,
    pub sort: String,
    pub descending: bool,
    pub page: i64,
    pub per_page: i64,
    /// SQLite GLOB patterns over `minion:<id>` the user may view; `None` = everything.
    pub allowed_globs: Option<Vec<String>>,
}

/// When each facet of a snapshot row was last refreshed, read alongside a list row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Freshness {
    pub keys_refreshed_at: Option<DateTime<Utc>>,
    pub presence_refreshed_at: Option<DateTime<Utc>>,
    pub grains_refreshed_at: Option<DateTime<Utc>>,
}

/// Is a minion's data stale? Oldest of keys/presence (and grains for online minions) older
/// than [`STALE_MINUTES`].
pub fn is_stale(
    status: MinionStatus,
    keys: Option<DateTime<Utc>>,
    presence: Option<DateTime<Utc>>,
    grains: Option<DateTime<Utc>>,
) -> bool {
    let now = Utc::now();
    let old = |t: Option<DateTime<Utc>>| match t {
        Some(t) => (now - t).num_minutes() >= STALE_MINUTES,
        None => true,
    };
    old(keys) || old(presence) || (status == MinionStatus::Online && old(grains))
}

fn sort_column(sort: &str) -> &'static str {
    match sort {
        "status" => "status",
        "os" => "os",
        "ip" => "primary_ip",
        "salt" => "saltversion",
        "cpus" => "num_cpus",
        "mem" => "mem_total_mb",
        _ => "minion_id",
    }
}

/// What `ORDER BY <sort column>` means on `engine`. SQLite reads a bare `os` as the list's `os`
/// alias (os and release) and compares text bytewise; Postgres gets that expression spelled out
/// and `COLLATE "C"` (the database's own collation may not be bytewise).
fn sort_expr(col: &'static str, engine: Engine) -> &'static str {
    match (engine, col) {
        (Engine::Sqlite, _) => col,
        (Engine::Postgres, "os") => {
            "(CASE WHEN osrelease IS NULL THEN os ELSE os || ' ' || osrelease END) COLLATE \"C\""
        }
        (Engine::Postgres, "status") => "status COLLATE \"C\"",
        (Engine::Postgres, "primary_ip") => "primary_ip COLLATE \"C\"",
        (Engine::Postgres, "saltversion") => "saltversion COLLATE \"C\"",
        (Engine::Postgres, "minion_id") => "minion_id COLLATE \"C\"",
        (Engine::Postgres, other) => other,
    }
}

/// Lower-case `s` and escape it for `LIKE … ESCAPE '\\'`.
pub fn escape_like(s: &str) -> String {
    s.to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// ` WHERE 1 = 1`, and ` AND (<col> LIKE $n ESCAPE '\\' OR …)` over `columns` (lower-cased
/// expressions) when there is a `search`: the start of a list page's `WHERE`.
pub fn push_search_where<DB: Dialect>(
    q: &mut QueryBuilder<'_, DB>,
    search: &str,
    columns: &[&str],
) {
    q.push(" WHERE 1 = 1");
    if search.is_empty() {
        return;
    }
    let like = format!("%{}%", escape_like(search));
    q.push(" AND (");
    for (i, col) in columns.iter().enumerate() {
        if i > 0 {
            q.push(" OR ");
        }
        q.push(*col).push(" LIKE ");
        DB::push_str(q, like.clone());
        q.push(" ESCAPE '\\'");
    }
    q.push(")");
}

fn push_filters<DB: Dialect>(q: &mut QueryBuilder<'_, DB>, lq: &ListQuery, with_status: bool) {
    push_search_where(q, &lq.search, &["search_text"]);
    if let Some(status) = lq.status.filter(|_| with_status) {
        q.push(" AND status = ");
        DB::push_str(q, status.as_str().to_string());
    }
    push_allowed(q, "('minion:' || minion_id)", &lq.allowed_globs);
}

/// ` AND (<expr> matches one of the grants)` for a user limited to some resources (from
/// [`allowed_globs`]; each engine translates the fnmatch grants its own way, see
/// [`Dialect::push_grant_match`]): nothing for `None`, no rows for an empty list.
pub fn push_allowed<DB: Dialect>(
    q: &mut QueryBuilder<'_, DB>,
    expr: &'static str,
    globs: &Option<Vec<String>>,
) {
    let Some(globs) = globs else {
        return;
    };
    if globs.is_empty() {
        q.push(" AND 0 = 1");
        return;
    }
    q.push(" AND (");
    for (i, g) in globs.iter().enumerate() {
        if i > 0 {
            q.push(" OR ");
        }
        DB::push_grant_match(q, expr, g);
    }
    q.push(")");
}

/// The list's columns, as [`MinionRow`] and [`Freshness`] read them.
const LIST_SELECT: &str = "SELECT minion_id AS id, status, primary_ip AS ip, \
     CASE WHEN osrelease IS NULL THEN os ELSE os || ' ' || osrelease END AS os, \
     saltversion AS salt, num_cpus AS cpus, mem_total_mb AS mem_mb, virtual_type, \
     keys_refreshed_at, presence_refreshed_at, grains_refreshed_at FROM minion_snapshots";

/// `SELECT … WHERE <filters> ORDER BY <the list's order>`, without paging: the list page and
/// its export read the same rows in the same order.
fn select_sorted<'a, DB: Dialect>(lq: &ListQuery) -> QueryBuilder<'a, DB> {
    let mut q: QueryBuilder<DB> = QueryBuilder::new(LIST_SELECT);
    push_filters(&mut q, lq, true);
    let dir = if lq.descending { "DESC" } else { "ASC" };
    let col = sort_column(&lq.sort);
    let key = sort_expr(col, DB::ENGINE);
    let id = sort_expr("minion_id", DB::ENGINE);
    // NULLs last either way, then id for a stable order. The id is never NULL: sorted by
    // it alone, the primary key serves the page without a sort.
    if col == "minion_id" {
        q.push(format!(" ORDER BY {id} {dir}"));
    } else {
        q.push(format!(
            " ORDER BY ({col} IS NULL), {key} {dir}, {id} {dir}"
        ));
    }
    q
}

/// A list row with its staleness, from one result row of [`select_sorted`].
fn list_row<R>(r: &R) -> Result<MinionRow, sqlx::Error>
where
    R: sqlx::Row,
    MinionRow: for<'r> sqlx::FromRow<'r, R>,
    Freshness: for<'r> sqlx::FromRow<'r, R>,
{
    use sqlx::FromRow;
    let mut row = MinionRow::from_row(r)?;
    let f = Freshness::from_row(r)?;
    row.stale = is_stale(
        row.status,
        f.keys_refreshed_at,
        f.presence_refreshed_at,
        f.grains_refreshed_at,
    );
    Ok(row)
}

/// Every minion the list would show across all its pages, in its order, to `sink` (the
/// Minions export), read with a cursor.
pub async fn export(
    db: &Db,
    lq: &ListQuery,
    mut sink: crate::server::export::Sink,
) -> Result<crate::server::export::Sink, crate::server::export::ExportError> {
    with_db!(db, p, DB => {
        let mut q = select_sorted::<DB>(lq);
        sink.cursor(q.build().fetch(p), |r| Ok(list_row(&r)?)).await?;
    });
    Ok(sink)
}

/// One page of minions plus the total matching (before paging) and counts per status.
pub async fn list(
    db: &Db,
    lq: &ListQuery,
) -> Result<(Vec<MinionRow>, i64, StatusCounts), sqlx::Error> {
    let (rows, by_status) = with_db!(db, pool, DB => {
        // Both statements on one connection: one lend from the pool, not two.
        let mut conn = pool.acquire().await?;
        let p = &mut *conn;
        let mut q = select_sorted::<DB>(lq);
        q.push(" LIMIT ");
        q.push_bind(lq.per_page)
            .push(" OFFSET ")
            .push_bind((lq.page - 1).max(0) * lq.per_page);
        let rows = q
            .build()
            .fetch_all(&mut *p)
            .await?
            .iter()
            .map(list_row)
            .collect::<Result<Vec<_>, sqlx::Error>>()?;

        // Unfiltered, the counts are the ones the triggers keep; a search or a per-resource
        // role counts what it matches.
        let by_status: Vec<(MinionStatus, i64)> =
            if lq.search.is_empty() && lq.allowed_globs.is_none() {
                sqlx::query_as(counts_sql(DB::ENGINE)).fetch_all(&mut *p).await?
            } else {
                let mut c: QueryBuilder<DB> =
                    QueryBuilder::new("SELECT status, COUNT(*) FROM minion_snapshots");
                push_filters(&mut c, lq, false);
                c.push(" GROUP BY status");
                c.build_query_as().fetch_all(p).await?
            };
        (rows, by_status)
    });
    let mut counts = StatusCounts::default();
    for (status, n) in by_status {
        counts.add(status, n);
    }
    let total = match lq.status {
        None => counts.all(),
        Some(s) => counts.of(s),
    };
    Ok((rows, total, counts))
}

/// Minions per status. SQLite reads the counts the triggers of `minion_status_counts` keep
/// (migration 20261202000001; `tests/it/minions_store.rs` checks them against `COUNT(*)`);
/// Postgres counts (no counter rows for concurrent writers to deadlock on, see the migration).
fn counts_sql(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "SELECT status, n FROM minion_status_counts WHERE n <> 0",
        Engine::Postgres => "SELECT status, COUNT(*) FROM minion_snapshots GROUP BY status",
    }
}

/// How many stored minions there are in each status (the `/metrics` gauges).
pub async fn status_counts(db: &Db) -> Result<StatusCounts, sqlx::Error> {
    let by_status: Vec<(MinionStatus, i64)> = with_db!(db, p, DB => {
        sqlx::query_as(counts_sql(DB::ENGINE)).fetch_all(p).await?
    });
    let mut counts = StatusCounts::default();
    for (status, n) in by_status {
        counts.add(status, n);
    }
    Ok(counts)
}

/// One minion, as the detail page shows it.
pub async fn get(db: &Db, id: &str) -> Result<Option<MinionDetail>, sqlx::Error> {
    let row: Option<MinionDetail> = with_db!(db, p => {
        sqlx::query_as(
            "SELECT minion_id AS id, key_status, status, primary_ip AS ip, os, os_family, osrelease, kernel, \
             kernelrelease, virtual_type, num_cpus AS cpus, cpu_model, mem_total_mb AS mem_mb, \
             saltversion AS salt, CAST(g.grains AS TEXT) AS grains_json, keys_refreshed_at, presence_refreshed_at, \
             grains_refreshed_at FROM minion_snapshots m LEFT JOIN minion_grains g USING (minion_id) \
             WHERE m.minion_id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?
    });
    Ok(row.map(|mut d| {
        d.stale = is_stale(
            d.status,
            d.keys_refreshed_at,
            d.presence_refreshed_at,
            d.grains_refreshed_at,
        );
        d
    }))
}

/// Which resource kind a snapshot row is checked as: `minion:<id>` or `key:<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    Minion,
    Key,
}

/// (minion id, status) for every row whose `<kind>:<id>` the globs allow, ordered by id
/// (heatmap, keys).
pub async fn all_status(
    db: &Db,
    kind: SnapshotKind,
    allowed_globs: &Option<Vec<String>>,
) -> Result<Vec<(String, MinionStatus)>, sqlx::Error> {
    let expr = match kind {
        SnapshotKind::Minion => "('minion:' || minion_id)",
        SnapshotKind::Key => "('key:' || minion_id)",
    };
    with_db!(db, p, DB => {
        let mut q: QueryBuilder<DB> =
            QueryBuilder::new("SELECT minion_id, status FROM minion_snapshots WHERE 1 = 1");
        push_allowed(&mut q, expr, allowed_globs);
        q.push(" ORDER BY ").push(sort_expr("minion_id", DB::ENGINE));
        q.build_query_as().fetch_all(p).await
    })
}

/// Oldest keys or presence refresh time across all minions (for the stale banner); a facet
/// never refreshed counts as its other facet's time. `None` when no minion has either.
pub async fn oldest_refresh(db: &Db) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    // Portable per-row minimum of two nullable times (SQLite's scalar MIN(a, b) is NULL when
    // either is NULL; Postgres' LEAST skips NULLs), then the aggregate over the rows.
    const SQL: &str = "SELECT MIN(CASE WHEN keys_refreshed_at IS NULL THEN presence_refreshed_at \
         WHEN presence_refreshed_at IS NULL OR keys_refreshed_at < presence_refreshed_at \
         THEN keys_refreshed_at ELSE presence_refreshed_at END) FROM minion_snapshots";
    with_db!(db, p => sqlx::query_scalar(SQL).fetch_one(p).await)
}

/// The user's fnmatch resource grants for `verb` that can select a resource of `kind`
/// (matched against `'<kind>:' || id` as written, never rewritten to another kind; the engine
/// translates them when the SQL is built, see [`push_allowed`]): `None` when one of them covers
/// every resource of the kind, else only the grants that can match some resource of the kind.
pub fn allowed_globs(
    perms: &[crate::rbac::Permission],
    verb: &str,
    kind: &str,
) -> Option<Vec<String>> {
    use crate::server::sqlglob;
    let prefix = format!("{kind}:");
    let mut out = vec![];
    for p in perms.iter().filter(|p| crate::rbac::fnmatch(&p.verb, verb)) {
        let g = &p.resource_glob;
        if sqlglob::covers_prefix(g, &prefix) {
            return None;
        }
        if sqlglob::can_match_prefix(g, &prefix)
            && sqlglob::to_sqlite_glob(g).is_some()
            && !out.contains(g)
        {
            out.push(g.clone());
        }
    }
    Some(out)
}

/// Up to `limit` minion ids that start with `prefix` (case-insensitive) among those `globs`
/// allows, in id order (the command palette).
pub async fn id_prefix(
    db: &Db,
    prefix: &str,
    globs: &Option<Vec<String>>,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    with_db!(db, p, DB => {
        let mut q: QueryBuilder<DB> =
            QueryBuilder::new("SELECT minion_id FROM minion_snapshots WHERE lower(minion_id) LIKE ");
        DB::push_str(&mut q, format!("{}%", escape_like(&prefix.to_lowercase())));
        q.push(" ESCAPE '\\'");
        push_allowed(&mut q, "('minion:' || minion_id)", globs);
        q.push(" ORDER BY ").push(sort_expr("minion_id", DB::ENGINE));
        q.push(" LIMIT ").push_bind(limit);
        q.build_query_scalar().fetch_all(p).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::Permission;

    #[test]
    fn glob_translation() {
        assert_eq!(
            allowed_globs(&[Permission::new("view", "*")], "view", "minion"),
            None
        );
        assert_eq!(
            allowed_globs(&[Permission::new("*", "*")], "view", "minion"),
            None
        );
        assert_eq!(
            allowed_globs(&[Permission::new("view", "minion:*")], "view", "minion"),
            None
        );
        assert_eq!(
            allowed_globs(
                &[
                    Permission::new("view", "minion:web-*"),
                    Permission::new("view", "key:*")
                ],
                "view",
                "minion"
            ),
            Some(vec!["minion:web-*".to_string()])
        );
        assert_eq!(
            allowed_globs(
                &[Permission::new("view", "minion:db-[!0]*")],
                "view",
                "minion"
            ),
            // The grant as written: each engine translates it when the SQL is built.
            Some(vec!["minion:db-[!0]*".to_string()])
        );
        assert_eq!(
            allowed_globs(&[Permission::new("accept", "minion:*")], "view", "minion"),
            Some(vec![])
        );
    }
}
