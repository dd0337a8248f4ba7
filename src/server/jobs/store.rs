//! SQL for `jobs_index`: batched upserts for the poller, paged reads for the Jobs page.

use super::ingest::JobRow;
use crate::model::jobs::{JobListRow, JobStatus};
use crate::model::page::count_limit;
use crate::server::db::{Db, Dialect, Engine, JsonText, Ts};
use crate::with_db;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

const BATCH: usize = 500;

/// How many jobs there are, from the counts SQLite's triggers keep (migration 20261202000002).
const KEPT_TOTAL: &str = "SELECT CAST(COALESCE(SUM(n), 0) AS INTEGER) FROM jobs_counts";

/// Upsert rows in one transaction (500-row statements). Returns how many were new.
pub async fn upsert_jobs(db: &Db, rows: &[JobRow], now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    with_db!(db, p, DB => {
        let mut tx = p.begin().await?;
        // SQLite reads the counts its triggers keep rather than counting the table twice.
        let count_sql = match DB::ENGINE {
            Engine::Sqlite => KEPT_TOTAL,
            Engine::Postgres => "SELECT count(*) FROM jobs_index",
        };
        let before: i64 = sqlx::query_scalar(count_sql).fetch_one(&mut *tx).await?;
        for chunk in rows.chunks(BATCH) {
            let mut q: QueryBuilder<DB> = QueryBuilder::new(
                "INSERT INTO jobs_index (jid, function, target, target_type, salt_user, started_at, seen_at, arguments) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(&r.jid)
                    .push_bind(&r.function)
                    .push_bind(&r.target)
                    .push_bind(&r.target_type)
                    .push_bind(&r.salt_user)
                    .push_bind(Ts(r.started_at))
                    .push_bind(Ts(now))
                    .push_bind(r.arguments.clone().map(JsonText));
            });
            q.push(
                " ON CONFLICT (jid) DO UPDATE SET seen_at = excluded.seen_at, \
                 function = excluded.function, \
                 target = coalesce(excluded.target, jobs_index.target), \
                 target_type = coalesce(excluded.target_type, jobs_index.target_type), \
                 salt_user = coalesce(excluded.salt_user, jobs_index.salt_user), \
                 arguments = coalesce(excluded.arguments, jobs_index.arguments)",
            );
            q.build().execute(&mut *tx).await?;
        }
        let after: i64 = sqlx::query_scalar(count_sql).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok((after - before).max(0) as u64)
    })
}

/// Delete jobs that started before the cutoff (RFC 3339 text). Returns how many went.
pub async fn prune(db: &Db, cutoff: chrono::DateTime<chrono::Utc>) -> Result<u64, sqlx::Error> {
    crate::server::db::delete_before(db, "DELETE FROM jobs_index WHERE started_at < $1", cutoff)
        .await
}

/// A Jobs page query.
#[derive(Debug, Clone)]
pub struct JobQuery {
    /// Lower-cased substring over jid, function, target and user.
    pub search: Option<String>,
    /// Exact function (from a click on a function name).
    pub function: Option<String>,
    /// `None` = any status.
    pub status: Option<JobStatus>,
    pub include_system: bool,
    pub page: i64,
    pub per_page: i64,
    /// SQLite GLOB patterns over `job:<jid>` the user may view; `None` = everything.
    pub allowed_globs: Option<Vec<String>>,
}

fn push_filters<DB: Dialect>(q: &mut QueryBuilder<'_, DB>, jq: &JobQuery, active: &[String]) {
    q.push(" WHERE 1 = 1");
    if !jq.include_system {
        q.push(" AND NOT is_system");
    }
    if let Some(s) = &jq.search {
        let escaped = crate::server::minions::store::escape_like(s);
        q.push(" AND search_text LIKE ");
        DB::push_str(q, format!("%{escaped}%"));
        q.push(" ESCAPE '\\'");
    }
    if let Some(f) = &jq.function {
        q.push(" AND function = ");
        DB::push_str(q, f.clone());
    }
    match jq.status {
        None => {}
        Some(JobStatus::Running) => {
            q.push(" AND jid IN ");
            DB::push_string_list(q, active);
        }
        Some(JobStatus::Complete) => {
            q.push(" AND jid NOT IN ");
            DB::push_string_list(q, active);
        }
    }
    crate::server::minions::store::push_allowed(q, "('job:' || jid)", &jq.allowed_globs);
}

/// The jobs `jq` selects, newest first, without paging; `running` while the JID is in the
/// active cache (the same list the status filter uses).
fn select<'a, DB: Dialect>(jq: &JobQuery, active: &[String]) -> QueryBuilder<'a, DB> {
    let mut q: QueryBuilder<DB> = QueryBuilder::new(
        "SELECT jid, function, target, target_type, salt_user AS user, started_at, \
         CASE WHEN jid IN ",
    );
    DB::push_string_list(&mut q, active);
    q.push(format!(
        " THEN '{}' ELSE '{}' END AS status FROM jobs_index",
        JobStatus::Running,
        JobStatus::Complete
    ));
    push_filters(&mut q, jq, active);
    q.push(" ORDER BY started_at DESC, jid DESC");
    q
}

/// Every job `jq` selects across all its pages, newest first, to `sink` (the Jobs export),
/// read with a cursor.
pub async fn export(
    db: &Db,
    jq: &JobQuery,
    active: &[String],
    mut sink: crate::server::export::Sink,
) -> Result<crate::server::export::Sink, crate::server::export::ExportError> {
    with_db!(db, p, DB => {
        let mut q = select::<DB>(jq, active);
        sink.cursor(q.build_query_as::<JobListRow>().fetch(p), Ok).await?;
    });
    Ok(sink)
}

/// One page of jobs, newest first, the total matching, and whether that total is a lower bound
/// (a filtered count stops at [`count_limit`]).
pub async fn list(
    db: &Db,
    jq: &JobQuery,
    active: &[String],
) -> Result<(Vec<JobListRow>, i64, bool), sqlx::Error> {
    with_db!(db, p, DB => {
        let unfiltered = jq.search.is_none()
            && jq.function.is_none()
            && jq.status.is_none()
            && jq.allowed_globs.is_none();
        let (total, capped) = if unfiltered && DB::ENGINE == Engine::Sqlite {
            // The counts the triggers of `jobs_counts` keep (migration 20261202000002).
            let sql = if jq.include_system {
                KEPT_TOTAL.to_string()
            } else {
                format!("{KEPT_TOTAL} WHERE NOT is_system")
            };
            (sqlx::query_scalar::<_, i64>(&sql).fetch_one(p).await?, false)
        } else if unfiltered {
            let mut c: QueryBuilder<DB> = QueryBuilder::new("SELECT count(*) FROM jobs_index");
            push_filters(&mut c, jq, active);
            (c.build_query_scalar::<i64>().fetch_one(p).await?, false)
        } else {
            // A search or a per-resource role over 100,000 jobs: count up to the limit, not
            // every match for every page.
            let limit = count_limit(jq.page, jq.per_page);
            let mut c: QueryBuilder<DB> =
                QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM jobs_index");
            push_filters(&mut c, jq, active);
            c.push(" LIMIT ").push_bind(limit).push(") AS matched");
            let n: i64 = c.build_query_scalar().fetch_one(p).await?;
            if n >= limit {
                (limit - 1, true)
            } else {
                (n, false)
            }
        };
        let mut q = select::<DB>(jq, active);
        q.push(" LIMIT ")
            .push_bind(jq.per_page)
            .push(" OFFSET ")
            .push_bind((jq.page - 1).max(0) * jq.per_page);
        let rows = q.build_query_as::<JobListRow>().fetch_all(p).await?;
        Ok((rows, total, capped))
    })
}

/// One job by JID.
pub async fn get(db: &Db, jid: &str) -> Result<Option<JobRow>, sqlx::Error> {
    with_db!(db, p => {
        sqlx::query_as(
            "SELECT jid, function, target, target_type, salt_user, started_at, \
             CAST(arguments AS TEXT) AS arguments FROM jobs_index WHERE jid = $1",
        )
        .bind(jid)
        .fetch_optional(p)
        .await
    })
}

/// Up to `limit` jobs whose JID starts with the digits `prefix`, among those `globs` allows,
/// newest first (the command palette). A range over the primary key, not a scan.
pub async fn jid_prefix(
    db: &Db,
    prefix: &str,
    globs: &Option<Vec<String>>,
    limit: i64,
) -> Result<Vec<crate::model::palette::PaletteJob>, sqlx::Error> {
    // Only digits reach here; in byte order ':' sorts right after '9', so [prefix, prefix + ':')
    // holds every JID that starts with it (byte order on Postgres too: a locale's collation may
    // put ':' elsewhere or ignore it).
    with_db!(db, p, DB => {
        let c = DB::BYTE_ORDER;
        let mut q: QueryBuilder<DB> =
            QueryBuilder::new(format!("SELECT jid, function FROM jobs_index WHERE jid{c} >= "));
        DB::push_str(&mut q, prefix.to_string());
        q.push(format!(" AND jid{c} < "));
        DB::push_str(&mut q, format!("{prefix}:"));
        crate::server::minions::store::push_allowed(&mut q, "('job:' || jid)", globs);
        q.push(" ORDER BY jid DESC LIMIT ").push_bind(limit);
        q.build_query_as().fetch_all(p).await
    })
}
