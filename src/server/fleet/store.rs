//! The fleet reads: each minion's health computed in SQL (one query over `minion_snapshots`,
//! `minion_latest_run` and `highstate_runs`, no per-minion work in Rust), the per-job sums of
//! the compliance chart, the top failures, one run and a minion's history. Every read takes the
//! caller's allowed `minion:<id>` globs (`None`: all minions).

use crate::model::fleet::{
    ComplianceBucket, FleetFilters, FleetRow, FleetSort, HealthCounts, HealthStatus, HealthTile,
    RunSummary, TopFailure, STALE_DAYS,
};
use crate::model::list::{ListQuery, SortDir};
use crate::server::db::Db;
use crate::server::minions::store::push_allowed;
use crate::server::to_text;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};

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
fn fleet_query<'a>(now: DateTime<Utc>) -> QueryBuilder<'a, Sqlite> {
    let mut q = QueryBuilder::new(FLEET_HEAD);
    q.push_bind(to_text(now - chrono::Duration::days(STALE_DAYS)));
    q.push(FLEET_TAIL);
    q
}

/// The `WHERE` of the fleet table without the status filter: search, failing state, scope.
fn push_where<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    search: &str,
    failing: &Option<String>,
    globs: &'a Option<Vec<String>>,
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
        q.push(" AND minion_id LIKE ")
            .push_bind(like)
            .push(" ESCAPE '\\'");
    }
    if let Some(state_id) = failing {
        q.push(" AND run_id IN (SELECT run_id FROM highstate_failures WHERE state_id = ")
            .push_bind(state_id.clone())
            .push(")");
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
    let mut q = fleet_query(now);
    q.push("SELECT * FROM health");
    push_where(&mut q, &lq.q, &lq.filters.failing, globs);
    if let Some(s) = lq.filters.status {
        q.push(" AND status = ").push_bind(s.as_str());
    }
    let dir = match lq.dir {
        SortDir::Asc => "ASC",
        SortDir::Desc => "DESC",
    };
    let order = match lq.sort {
        None => format!("{SEVERITY} {dir}, minion_id {dir}"),
        Some(FleetSort::Minion) => format!("minion_id {dir}"),
        Some(FleetSort::Status) => format!("{SEVERITY} {dir}, minion_id {dir}"),
        Some(FleetSort::Completed) => {
            format!("(completed_at IS NULL), completed_at {dir}, minion_id {dir}")
        }
        Some(FleetSort::Failures) => format!("fail_count {dir}, minion_id {dir}"),
        Some(FleetSort::Changes) => format!("change_count {dir}, minion_id {dir}"),
    };
    q.push(format!(" ORDER BY {order} LIMIT "))
        .push_bind(lq.per_page)
        .push(" OFFSET ")
        .push_bind((lq.page - 1).max(0) * lq.per_page);
    let rows: Vec<FleetRow> = q.build_query_as().fetch_all(db.sqlite()?).await?;

    let mut c = fleet_query(now);
    c.push("SELECT status, COUNT(*) FROM health");
    push_where(&mut c, &lq.q, &lq.filters.failing, globs);
    c.push(" GROUP BY status");
    let counts = collect_counts(c.build_query_as().fetch_all(db.sqlite()?).await?);
    let total = match lq.filters.status {
        None => counts.all(),
        Some(s) => counts.of(s),
    };
    Ok((rows, total, counts))
}

fn collect_counts(by_status: Vec<(HealthStatus, i64)>) -> HealthCounts {
    let mut counts = HealthCounts::default();
    for (s, n) in by_status {
        counts.add(s, n);
    }
    counts
}

/// Counts per status over the minions `globs` allows.
pub async fn counts(
    db: &Db,
    globs: &Option<Vec<String>>,
    now: DateTime<Utc>,
) -> Result<HealthCounts, sqlx::Error> {
    let mut c = fleet_query(now);
    c.push("SELECT status, COUNT(*) FROM health");
    push_where(&mut c, "", &None, globs);
    c.push(" GROUP BY status");
    Ok(collect_counts(
        c.build_query_as().fetch_all(db.sqlite()?).await?,
    ))
}

/// Every allowed minion's status, ordered by id (the health grid).
pub async fn tiles(
    db: &Db,
    globs: &Option<Vec<String>>,
    now: DateTime<Utc>,
) -> Result<Vec<HealthTile>, sqlx::Error> {
    let mut q = fleet_query(now);
    q.push("SELECT minion_id, status FROM health");
    push_where(&mut q, "", &None, globs);
    q.push(" ORDER BY minion_id");
    q.build_query_as().fetch_all(db.sqlite()?).await
}

/// One minion's status now; `None` when it is not in the fleet (not accepted, no run).
pub async fn status_of(
    db: &Db,
    minion_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<HealthStatus>, sqlx::Error> {
    let mut q = fleet_query(now);
    q.push("SELECT status FROM health WHERE minion_id = ")
        .push_bind(minion_id.to_string());
    q.build_query_scalar().fetch_optional(db.sqlite()?).await
}

/// The last `limit` state jobs, oldest first, summed over the allowed minions.
pub async fn compliance(
    db: &Db,
    globs: &Option<Vec<String>>,
    limit: i64,
) -> Result<Vec<ComplianceBucket>, sqlx::Error> {
    let mut rows: Vec<ComplianceBucket> = if globs.is_none() {
        sqlx::query_as(
            "SELECT jid, fun, completed_at, minions, passed, changed, failed, blocked \
             FROM highstate_jobs WHERE minions > 0 ORDER BY completed_at DESC, jid DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(db.sqlite()?)
        .await?
    } else {
        // The newest jobs among the caller's minions' runs (not the fleet's newest jobs, which
        // may have run elsewhere).
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT jid, MIN(fun) AS fun, MAX(completed_at) AS completed_at, COUNT(*) AS minions, \
             SUM(NOT blocked AND fail_count = 0 AND change_count = 0) AS passed, \
             SUM(NOT blocked AND fail_count = 0 AND change_count > 0) AS changed, \
             SUM(NOT blocked AND fail_count > 0) AS failed, SUM(blocked) AS blocked \
             FROM highstate_runs WHERE minion_id IN \
             (SELECT minion_id FROM minion_latest_run WHERE 1 = 1",
        );
        // The scope is matched once per minion (its latest-run row), then its runs are read
        // through the (minion_id, completed_at) index, not matched run by run.
        push_allowed(&mut q, "('minion:' || minion_id)", globs);
        q.push(") GROUP BY jid ORDER BY MAX(completed_at) DESC, jid DESC LIMIT ")
            .push_bind(limit);
        q.build_query_as().fetch_all(db.sqlite()?).await?
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
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT f.state_id, f.fun, MIN(f.name) AS name, COUNT(DISTINCT f.minion_id) AS minions, \
         MIN(f.comment) AS comment FROM highstate_failures f \
         JOIN minion_latest_run l ON l.run_id = f.run_id \
         WHERE (f.minion_id IN (SELECT minion_id FROM minion_snapshots \
                                WHERE status IN ('online', 'offline')) \
             OR NOT EXISTS (SELECT 1 FROM minion_snapshots WHERE status IN ('online', 'offline')))",
    );
    push_allowed(&mut q, "('minion:' || f.minion_id)", globs);
    q.push(" GROUP BY f.state_id, f.fun ORDER BY minions DESC, f.state_id LIMIT ")
        .push_bind(limit);
    q.build_query_as().fetch_all(db.sqlite()?).await
}

/// When the last run was ingested.
pub async fn last_ingest(db: &Db) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let t: Option<String> = sqlx::query_scalar("SELECT MAX(ingested_at) FROM highstate_jobs")
        .fetch_one(db.sqlite()?)
        .await?;
    Ok(t.as_deref().and_then(crate::server::from_text))
}

const RUN_COLUMNS: &str = "id, minion_id, jid, fun, completed_at, pass_count, fail_count, \
    change_count, total_count, duration_ms, blocked, render_error, \
    CASE WHEN blocked THEN 'blocked' WHEN fail_count > 0 THEN 'unhealthy' \
         WHEN change_count > 0 THEN 'changed' ELSE 'healthy' END AS status";

/// One run and its raw return (if still kept).
pub async fn run(db: &Db, id: &str) -> Result<Option<(RunSummary, Option<String>)>, sqlx::Error> {
    use sqlx::{FromRow, Row};
    let row = sqlx::query(&format!(
        "SELECT {RUN_COLUMNS}, raw_result FROM highstate_runs WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(db.sqlite()?)
    .await?;
    row.map(|r| Ok((RunSummary::from_row(&r)?, r.try_get("raw_result")?)))
        .transpose()
}

/// A minion's last `limit` runs, newest first, and how many it has.
pub async fn minion_runs(
    db: &Db,
    minion_id: &str,
    limit: i64,
) -> Result<(Vec<RunSummary>, i64), sqlx::Error> {
    let runs: Vec<RunSummary> = sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM highstate_runs WHERE minion_id = ? \
         ORDER BY completed_at DESC LIMIT ?"
    ))
    .bind(minion_id)
    .bind(limit)
    .fetch_all(db.sqlite()?)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM highstate_runs WHERE minion_id = ?")
        .bind(minion_id)
        .fetch_one(db.sqlite()?)
        .await?;
    Ok((runs, total))
}
