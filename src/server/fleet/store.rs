//! The fleet reads: each minion's health computed in SQL (one query over `minion_snapshots`,
//! `minion_latest_run` and `highstate_runs`, no per-minion work in Rust), the per-job sums of
//! the compliance chart, the top failures, one run and a minion's history. Every read takes the
//! caller's allowed `minion:<id>` globs (`None`: all minions).

use crate::model::fleet::{
    ComplianceBucket, FleetFilters, FleetRow, FleetSort, HealthCounts, HealthStatus, HealthTile,
    RunSummary, TopFailure, STALE_DAYS,
};
use crate::model::list::{ListQuery, SortDir};
use crate::server::db::{Db, Dialect, Engine};
use crate::server::minions::store::push_allowed;
use crate::with_db;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

/// The fleet: accepted minions (online or offline; one whose presence was never polled counts
/// as online) with their latest run; before the first key poll (no accepted minion known) the
/// minions that have runs, counted as online.
/// Split where the stale cutoff is bound (see [`fleet_query`]).
const FLEET_HEAD: &str = "WITH fleet AS ( \
      SELECT minion_id, (status = 'online' OR presence_refreshed_at IS NULL) AS online \
        FROM minion_snapshots \
       WHERE status IN ('online', 'offline') \
      UNION ALL \
      SELECT l.minion_id, TRUE FROM minion_latest_run l \
       WHERE NOT EXISTS (SELECT 1 FROM minion_snapshots WHERE status IN ('online', 'offline')) \
    ), health AS ( \
      SELECT f.minion_id, f.online, \
        CASE WHEN NOT f.online THEN 'unhealthy' \
             WHEN r.id IS NULL THEN 'unknown' \
             WHEN r.blocked THEN 'blocked' \
             WHEN r.fail_count > 0 THEN 'unhealthy' \
             WHEN r.completed_at < ";
const FLEET_TAIL: &str = " THEN 'stale' \
             WHEN r.change_count > 0 THEN 'changed' \
             ELSE 'healthy' END AS status, \
        r.id AS run_id, r.jid, r.fun, r.completed_at, \
        COALESCE(r.pass_count, 0) AS pass_count, COALESCE(r.fail_count, 0) AS fail_count, \
        COALESCE(r.change_count, 0) AS change_count, COALESCE(r.total_count, 0) AS total_count, \
        COALESCE(r.duration_ms, 0.0) AS duration_ms \
      FROM fleet f \
      LEFT JOIN minion_latest_run l ON l.minion_id = f.minion_id \
      LEFT JOIN highstate_runs r ON r.id = l.run_id \
    ) ";

/// Worst first: the order of the status sort.
const SEVERITY: &str = "CASE status WHEN 'unhealthy' THEN 0 WHEN 'blocked' THEN 1 \
    WHEN 'stale' THEN 2 WHEN 'changed' THEN 3 WHEN 'unknown' THEN 4 ELSE 5 END";

/// `WITH fleet AS (...), health AS (...) ` with the stale cutoff for `now` bound: the caller
/// goes on with `SELECT ... FROM health`.
fn fleet_query<'a, DB: Dialect>(now: DateTime<Utc>) -> QueryBuilder<'a, DB> {
    let mut q = QueryBuilder::new(FLEET_HEAD);
    DB::push_ts(&mut q, now - chrono::Duration::days(STALE_DAYS));
    q.push(FLEET_TAIL);
    q
}

/// A stored status string as its enum (read as text: the enums are not Postgres types).
fn parse_status<T: std::str::FromStr>(s: &str) -> Result<T, sqlx::Error>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    s.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A [`FleetRow`] as read, its status as text.
#[derive(sqlx::FromRow)]
struct FleetRowText {
    minion_id: String,
    online: bool,
    status: String,
    run_id: Option<String>,
    jid: Option<String>,
    fun: Option<String>,
    completed_at: Option<DateTime<Utc>>,
    pass_count: i64,
    fail_count: i64,
    change_count: i64,
    total_count: i64,
    duration_ms: f64,
}

impl TryFrom<FleetRowText> for FleetRow {
    type Error = sqlx::Error;
    fn try_from(r: FleetRowText) -> Result<Self, sqlx::Error> {
        Ok(FleetRow {
            status: parse_status(&r.status)?,
            minion_id: r.minion_id,
            online: r.online,
            run_id: r.run_id,
            jid: r.jid,
            fun: r.fun,
            completed_at: r.completed_at,
            pass_count: r.pass_count,
            fail_count: r.fail_count,
            change_count: r.change_count,
            total_count: r.total_count,
            duration_ms: r.duration_ms,
        })
    }
}

/// A [`RunSummary`] as read, its status as text.
#[derive(sqlx::FromRow)]
struct RunSummaryText {
    id: String,
    minion_id: String,
    jid: String,
    fun: String,
    completed_at: DateTime<Utc>,
    pass_count: i64,
    fail_count: i64,
    change_count: i64,
    total_count: i64,
    duration_ms: f64,
    blocked: bool,
    render_error: bool,
    status: String,
}

impl TryFrom<RunSummaryText> for RunSummary {
    type Error = sqlx::Error;
    fn try_from(r: RunSummaryText) -> Result<Self, sqlx::Error> {
        Ok(RunSummary {
            status: parse_status(&r.status)?,
            id: r.id,
            minion_id: r.minion_id,
            jid: r.jid,
            fun: r.fun,
            completed_at: r.completed_at,
            pass_count: r.pass_count,
            fail_count: r.fail_count,
            change_count: r.change_count,
            total_count: r.total_count,
            duration_ms: r.duration_ms,
            blocked: r.blocked,
            render_error: r.render_error,
        })
    }
}

fn convert<T, U: TryFrom<T, Error = sqlx::Error>>(rows: Vec<T>) -> Result<Vec<U>, sqlx::Error> {
    rows.into_iter().map(U::try_from).collect()
}

/// The `WHERE` of the fleet table without the status filter: search, failing state, scope.
fn push_where<DB: Dialect>(
    q: &mut QueryBuilder<'_, DB>,
    search: &str,
    failing: &Option<String>,
    globs: &Option<Vec<String>>,
) {
    q.push(" WHERE 1 = 1");
    if !search.is_empty() {
        let like = format!(
            "%{}%",
            search
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        // SQLite's LIKE ignores ASCII case; Postgres's ILIKE does the same.
        q.push(match DB::ENGINE {
            Engine::Sqlite => " AND minion_id LIKE ",
            Engine::Postgres => " AND minion_id ILIKE ",
        });
        DB::push_str(q, like);
        q.push(" ESCAPE '\\'");
    }
    if let Some(state_id) = failing {
        q.push(" AND run_id IN (SELECT run_id FROM highstate_failures WHERE state_id = ");
        DB::push_str(q, state_id.clone());
        q.push(")");
    }
    push_allowed(q, "('minion:' || minion_id)", globs);
}

/// One page of the fleet table, the total after filters, and the counts per status (search,
/// failing state and scope applied; not the status filter).
pub async fn list(
    db: &Db,
    lq: &ListQuery<FleetFilters>,
    globs: &Option<Vec<String>>,
    now: DateTime<Utc>,
) -> Result<(Vec<FleetRow>, i64, HealthCounts), sqlx::Error> {
    let rows: Vec<FleetRowText> = with_db!(db, p, DB => {
        let mut q = fleet_query::<DB>(now);
        q.push("SELECT * FROM health");
        push_where(&mut q, &lq.q, &lq.filters.failing, globs);
        if let Some(s) = lq.filters.status {
            q.push(" AND status = ");
            DB::push_str(&mut q, s.as_str().to_string());
        }
        let dir = match lq.dir {
            SortDir::Asc => "ASC",
            SortDir::Desc => "DESC",
        };
        let id = format!("minion_id{} {dir}", DB::BYTE_ORDER);
        let order = match lq.sort {
            None => format!("{SEVERITY} {dir}, {id}"),
            Some(FleetSort::Minion) => id,
            Some(FleetSort::Status) => format!("{SEVERITY} {dir}, {id}"),
            Some(FleetSort::Completed) => {
                format!("(completed_at IS NULL), completed_at {dir}, {id}")
            }
            Some(FleetSort::Failures) => format!("fail_count {dir}, {id}"),
            Some(FleetSort::Changes) => format!("change_count {dir}, {id}"),
        };
        q.push(format!(" ORDER BY {order} LIMIT "));
        DB::push_i64(&mut q, lq.per_page);
        q.push(" OFFSET ");
        DB::push_i64(&mut q, (lq.page - 1).max(0) * lq.per_page);
        q.build_query_as().fetch_all(p).await?
    });
    let rows = convert(rows)?;
    let counts = counts_where(db, &lq.q, &lq.filters.failing, globs, now).await?;
    let total = match lq.filters.status {
        None => counts.all(),
        Some(s) => counts.of(s),
    };
    Ok((rows, total, counts))
}

/// Counts per status of the minions the search, failing state and scope let through.
async fn counts_where(
    db: &Db,
    search: &str,
    failing: &Option<String>,
    globs: &Option<Vec<String>>,
    now: DateTime<Utc>,
) -> Result<HealthCounts, sqlx::Error> {
    let by_status: Vec<(String, i64)> = with_db!(db, p, DB => {
        let mut c = fleet_query::<DB>(now);
        c.push("SELECT status, COUNT(*) FROM health");
        push_where(&mut c, search, failing, globs);
        c.push(" GROUP BY status");
        c.build_query_as().fetch_all(p).await?
    });
    let mut counts = HealthCounts::default();
    for (s, n) in by_status {
        counts.add(parse_status::<HealthStatus>(&s)?, n);
    }
    Ok(counts)
}

/// Counts per status over the minions `globs` allows.
pub async fn counts(
    db: &Db,
    globs: &Option<Vec<String>>,
    now: DateTime<Utc>,
) -> Result<HealthCounts, sqlx::Error> {
    counts_where(db, "", &None, globs, now).await
}

/// Every allowed minion's status, ordered by id (the health grid).
pub async fn tiles(
    db: &Db,
    globs: &Option<Vec<String>>,
    now: DateTime<Utc>,
) -> Result<Vec<HealthTile>, sqlx::Error> {
    let rows: Vec<(String, String)> = with_db!(db, p, DB => {
        let mut q = fleet_query::<DB>(now);
        q.push("SELECT minion_id, status FROM health");
        push_where(&mut q, "", &None, globs);
        q.push(" ORDER BY minion_id");
        q.push(DB::BYTE_ORDER);
        q.build_query_as().fetch_all(p).await?
    });
    rows.into_iter()
        .map(|(minion_id, s)| {
            Ok(HealthTile {
                minion_id,
                status: parse_status(&s)?,
            })
        })
        .collect()
}

/// One minion's status now; `None` when it is not in the fleet (not accepted, no run).
pub async fn status_of(
    db: &Db,
    minion_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<HealthStatus>, sqlx::Error> {
    let s: Option<String> = with_db!(db, p, DB => {
        let mut q = fleet_query::<DB>(now);
        q.push("SELECT status FROM health WHERE minion_id = ");
        DB::push_str(&mut q, minion_id.to_string());
        q.build_query_scalar().fetch_optional(p).await?
    });
    s.as_deref().map(parse_status).transpose()
}

/// The last `limit` state jobs, oldest first, summed over the allowed minions.
pub async fn compliance(
    db: &Db,
    globs: &Option<Vec<String>>,
    limit: i64,
) -> Result<Vec<ComplianceBucket>, sqlx::Error> {
    let mut rows: Vec<ComplianceBucket> = if globs.is_none() {
        with_db!(db, p => sqlx::query_as(
            "SELECT jid, fun, completed_at, minions, passed, changed, failed, blocked \
             FROM highstate_jobs WHERE minions > 0 ORDER BY completed_at DESC, jid DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(p)
        .await?)
    } else {
        with_db!(db, p, DB => {
            // The newest jobs among the caller's minions' runs (not the fleet's newest jobs,
            // which may have run elsewhere).
            let mut q = QueryBuilder::<DB>::new(
                "SELECT jid, MIN(fun) AS fun, MAX(completed_at) AS completed_at, \
                 COUNT(*) AS minions, \
                 SUM(CASE WHEN NOT blocked AND fail_count = 0 AND change_count = 0 THEN 1 ELSE 0 END) \
                 AS passed, \
                 SUM(CASE WHEN NOT blocked AND fail_count = 0 AND change_count > 0 THEN 1 ELSE 0 END) \
                 AS changed, \
                 SUM(CASE WHEN NOT blocked AND fail_count > 0 THEN 1 ELSE 0 END) AS failed, \
                 SUM(CASE WHEN blocked THEN 1 ELSE 0 END) AS blocked \
                 FROM highstate_runs WHERE minion_id IN \
                 (SELECT minion_id FROM minion_latest_run WHERE 1 = 1",
            );
            // The scope is matched once per minion (its latest-run row), then its runs are read
            // through the (minion_id, completed_at) index, not matched run by run.
            push_allowed(&mut q, "('minion:' || minion_id)", globs);
            q.push(") GROUP BY jid ORDER BY MAX(completed_at) DESC, jid DESC LIMIT ");
            DB::push_i64(&mut q, limit);
            q.build_query_as().fetch_all(p).await?
        })
    };
    rows.reverse();
    Ok(rows)
}

/// The states failing on most allowed minions' latest run (minions still in the fleet).
pub async fn top_failures(
    db: &Db,
    globs: &Option<Vec<String>>,
    limit: i64,
) -> Result<Vec<TopFailure>, sqlx::Error> {
    with_db!(db, p, DB => {
        let mut q = QueryBuilder::<DB>::new(
            "SELECT f.state_id, f.fun, MIN(f.name) AS name, COUNT(DISTINCT f.minion_id) AS minions, \
             MIN(f.comment) AS comment FROM highstate_failures f \
             JOIN minion_latest_run l ON l.run_id = f.run_id \
             WHERE (f.minion_id IN (SELECT minion_id FROM minion_snapshots \
                                    WHERE status IN ('online', 'offline')) \
                 OR NOT EXISTS (SELECT 1 FROM minion_snapshots WHERE status IN ('online', 'offline')))",
        );
        push_allowed(&mut q, "('minion:' || f.minion_id)", globs);
        q.push(" GROUP BY f.state_id, f.fun ORDER BY minions DESC, f.state_id");
        q.push(DB::BYTE_ORDER);
        q.push(" LIMIT ");
        DB::push_i64(&mut q, limit);
        q.build_query_as().fetch_all(p).await
    })
}

/// When the last run was ingested.
pub async fn last_ingest(db: &Db) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    with_db!(db, p => sqlx::query_scalar("SELECT MAX(ingested_at) FROM highstate_jobs")
        .fetch_one(p)
        .await)
}

const RUN_COLUMNS: &str = "id, minion_id, jid, fun, completed_at, pass_count, fail_count, \
    change_count, total_count, duration_ms, blocked, render_error, \
    CASE WHEN blocked THEN 'blocked' WHEN fail_count > 0 THEN 'unhealthy' \
         WHEN change_count > 0 THEN 'changed' ELSE 'healthy' END AS status";

/// One run and its raw return (if still kept).
pub async fn run(db: &Db, id: &str) -> Result<Option<(RunSummary, Option<String>)>, sqlx::Error> {
    use sqlx::{FromRow, Row};
    let sql = format!(
        "SELECT {RUN_COLUMNS}, CAST(raw_result AS TEXT) AS raw_result FROM highstate_runs \
         WHERE id = $1"
    );
    with_db!(db, p => {
        let row = sqlx::query(&sql).bind(id).fetch_optional(p).await?;
        row.map(|r| {
            let raw: Option<String> = r.try_get("raw_result")?;
            Ok((RunSummary::try_from(RunSummaryText::from_row(&r)?)?, raw))
        })
        .transpose()
    })
}

/// A minion's last `limit` runs, newest first, and how many it has.
pub async fn minion_runs(
    db: &Db,
    minion_id: &str,
    limit: i64,
) -> Result<(Vec<RunSummary>, i64), sqlx::Error> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM highstate_runs WHERE minion_id = $1 \
         ORDER BY completed_at DESC LIMIT $2"
    );
    let (runs, total): (Vec<RunSummaryText>, i64) = with_db!(db, p => {
        let runs = sqlx::query_as(&sql)
            .bind(minion_id)
            .bind(limit)
            .fetch_all(p)
            .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM highstate_runs WHERE minion_id = $1")
                .bind(minion_id)
                .fetch_one(p)
                .await?;
        (runs, total)
    });
    Ok((convert(runs)?, total))
}
