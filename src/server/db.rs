//! The database: SQLite (the embedded default, WAL mode, a busy timeout) or Postgres (production
//! and replicas), chosen by the URL; embedded migrations for each engine applied at start.
//!
//! Store code is written once for both engines: [`with_db!`](crate::with_db) runs a body with
//! the concrete pool (and, if asked, its `sqlx::Database` type), so the body is type-checked for
//! each engine. Where the SQL differs, the body asks the [`Dialect`] of that database type. Two
//! value types keep their native column type on each engine: [`Ts`] (RFC 3339 text on SQLite,
//! `timestamptz` on Postgres) and [`JsonText`] (text on SQLite, `jsonb` on Postgres).

use chrono::{DateTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, QueryBuilder, Sqlite, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine a `DATABASE_URL` names, if it is one Halite supports.
    pub fn of_url(url: &str) -> Option<Engine> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// The pool used everywhere: one engine per process.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Run `$body` with `$pool` bound to the concrete pool of a [`Db`] (and `$DB` to its
/// `sqlx::Database` type when given), once per engine:
/// `with_db!(db, pool => sqlx::query("…").execute(pool).await)` or
/// `with_db!(db, pool, DB => { let mut q = QueryBuilder::<DB>::new("…"); … })`.
#[macro_export]
macro_rules! with_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::server::db::Db::Sqlite($pool) => $body,
            $crate::server::db::Db::Postgres($pool) => $body,
        }
    };
    ($db:expr, $pool:ident, $DB:ident => $body:expr) => {
        match $db {
            $crate::server::db::Db::Sqlite($pool) => {
                #[allow(dead_code, non_camel_case_types)]
                type $DB = ::sqlx::Sqlite;
                $body
            }
            $crate::server::db::Db::Postgres($pool) => {
                #[allow(dead_code, non_camel_case_types)]
                type $DB = ::sqlx::Postgres;
                $body
            }
        }
    };
}

impl Db {
    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// The SQLite pool, for code not yet written for both engines: on Postgres it is an error
    /// that names the engine, never a wrong query.
    pub fn sqlite(&self) -> Result<&SqlitePool, sqlx::Error> {
        match self {
            Db::Sqlite(p) => Ok(p),
            Db::Postgres(_) => Err(sqlx::Error::Configuration(
                "this operation is not available on Postgres yet".into(),
            )),
        }
    }

    /// Which database this is (the SQLite file, or Postgres host, port and database), for
    /// per-database state such as a process-wide write lock.
    pub fn identity(&self) -> String {
        match self {
            Db::Sqlite(p) => p
                .connect_options()
                .get_filename()
                .to_string_lossy()
                .into_owned(),
            Db::Postgres(p) => {
                let o = p.connect_options();
                format!(
                    "{}:{}/{}",
                    o.get_host(),
                    o.get_port(),
                    o.get_database().unwrap_or("")
                )
            }
        }
    }

    /// Close every connection of the pool.
    pub async fn close(&self) {
        with_db!(self, p => p.close().await)
    }
}

/// Open the database at `url` (SQLite: creating the file if needed) and apply every migration.
pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
    match Engine::of_url(url) {
        Some(Engine::Sqlite) => connect_sqlite(url).await.map(Db::Sqlite),
        Some(Engine::Postgres) => connect_postgres(url).await.map(Db::Postgres),
        None => Err(sqlx::Error::Configuration(
            "DATABASE_URL must start with sqlite:, postgres:// or postgresql://".into(),
        )),
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlitePool, sqlx::Error> {
    let opts = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(15))
        .foreign_keys(true);
    if let Some(parent) = opts.get_filename().parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
        }
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        // sqlx pings a connection before lending it (by default): for SQLite that is one more
        // round trip to the connection's worker thread per statement, and there is no server
        // that could have hung up. A connection whose worker died fails its statement instead.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(20))
        .connect_with(opts)
        .await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    Ok(pool)
}

async fn connect_postgres(url: &str) -> Result<PgPool, sqlx::Error> {
    let opts = PgConnectOptions::from_str(url)?.application_name("halite");
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(20))
        .connect_with(opts)
        .await?;
    // Replicas starting together: the migrator takes an advisory lock, so one applies them.
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(pool)
}

/// Run `sql`, a `DELETE … WHERE <time> < $1`, with the cutoff bound to the `$1`; returns how
/// many rows went (the retention pruning of the stores).
pub async fn delete_before(
    db: &Db,
    sql: &'static str,
    cutoff: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    with_db!(db, p => Ok(sqlx::query(sql).bind(Ts(cutoff)).execute(p).await?.rows_affected()))
}

/// The newest migration this build carries, and the newest one applied to the database
/// (`None` when the database cannot be read). Equal once the start-up migration has run.
pub async fn migration_versions(db: &Db) -> (i64, Option<i64>) {
    let expected = match db {
        Db::Sqlite(_) => sqlx::migrate!("./migrations/sqlite")
            .iter()
            .map(|m| m.version)
            .max(),
        Db::Postgres(_) => sqlx::migrate!("./migrations/postgres")
            .iter()
            .map(|m| m.version)
            .max(),
    }
    .unwrap_or(0);
    let applied = with_db!(db, p => sqlx::query_scalar::<_, Option<i64>>(
        "SELECT MAX(version) FROM _sqlx_migrations WHERE success"
    )
    .fetch_one(p)
    .await);
    (expected, applied.ok().map(|v| v.unwrap_or(0)))
}

/// The database's size on disk (SQLite: pages in use times page size; Postgres:
/// `pg_database_size`), `None` when it cannot be read.
pub async fn size_bytes(db: &Db) -> Option<u64> {
    let n: Result<i64, sqlx::Error> = match db {
        Db::Sqlite(p) => {
            sqlx::query_scalar(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            )
            .fetch_one(p)
            .await
        }
        Db::Postgres(p) => {
            sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(p)
                .await
        }
    };
    n.ok().and_then(|n| u64::try_from(n).ok())
}

/// The SQLite write-ahead log's size (`<file>-wal`); `None` on Postgres (its WAL is the
/// server's business) or when there is no such file.
pub fn wal_bytes(db: &Db) -> Option<u64> {
    match db {
        Db::Sqlite(_) => std::fs::metadata(format!("{}-wal", db.identity()))
            .ok()
            .map(|m| m.len()),
        Db::Postgres(_) => None,
    }
}

/// Copy a SQLite database to `file` while it is in use (`VACUUM INTO`: one consistent
/// snapshot, compacted; the running server keeps reading and writing). Refuses to overwrite
/// anything, and refuses Postgres (whose tool is `pg_dump`). Returns the copy's size.
pub async fn backup_sqlite(db: &Db, file: &std::path::Path) -> Result<u64, String> {
    let Db::Sqlite(pool) = db else {
        return Err(
            "this database is Postgres: back it up with pg_dump (see docs/deploy.md)".into(),
        );
    };
    if file.exists() {
        return Err(format!("{} exists: give a new file name", file.display()));
    }
    let name = file
        .to_str()
        .ok_or_else(|| format!("{} is not a UTF-8 path", file.display()))?;
    sqlx::query("VACUUM INTO ?1")
        .bind(name)
        .execute(pool)
        .await
        .map_err(|e| format!("backup to {name} failed: {e}"))?;
    std::fs::metadata(file)
        .map(|m| m.len())
        .map_err(|e| format!("backup written but unreadable: {e}"))
}

/// True when the database answers a trivial query.
pub async fn ping(db: &Db) -> bool {
    with_db!(db, p => sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(p).await.is_ok())
}

/// What differs between the engines' SQL, asked by store code for its `DB` type.
pub trait Dialect: sqlx::Database {
    const ENGINE: Engine;

    /// Appended to a text expression that orders rows: byte order on both engines
    /// (SQLite's BINARY already is; Postgres gets `COLLATE "C"`).
    const BYTE_ORDER: &'static str;

    /// Push `<expr> <matches> <grant>`: true when `expr` (a `'<kind>:' || id` expression)
    /// matches the fnmatch resource grant exactly as [`crate::rbac::fnmatch`] would. Pushes a
    /// false condition for a grant that can match nothing.
    fn push_grant_match(q: &mut QueryBuilder<'_, Self>, expr: &str, grant: &str);

    /// Push a subquery (`(SELECT … )`) yielding the strings of `ids`, for `x IN <it>`.
    fn push_string_list(q: &mut QueryBuilder<'_, Self>, ids: &[String]);

    /// Push `$n`, bound to `s`.
    fn push_str(q: &mut QueryBuilder<'_, Self>, s: String);

    /// Push `$n`, bound to `v`.
    fn push_i64(q: &mut QueryBuilder<'_, Self>, v: i64);

    /// Push `$n`, bound to the time `t`.
    fn push_ts(q: &mut QueryBuilder<'_, Self>, t: DateTime<Utc>);

    /// Push a subquery (`(SELECT … )`) yielding the integers of `ids`, for `x IN <it>`.
    fn push_i64_list(q: &mut QueryBuilder<'_, Self>, ids: &[i64]);
}

fn json_list(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

impl Dialect for Sqlite {
    const ENGINE: Engine = Engine::Sqlite;
    const BYTE_ORDER: &'static str = "";

    fn push_grant_match(q: &mut QueryBuilder<'_, Self>, expr: &str, grant: &str) {
        match crate::server::sqlglob::to_sqlite_glob(grant) {
            Some(g) => {
                q.push(expr).push(" GLOB ").push_bind(g);
            }
            None => {
                q.push("1 = 0");
            }
        }
    }

    fn push_string_list(q: &mut QueryBuilder<'_, Self>, ids: &[String]) {
        q.push("(SELECT value FROM json_each(")
            .push_bind(json_list(ids))
            .push("))");
    }

    fn push_str(q: &mut QueryBuilder<'_, Self>, s: String) {
        q.push_bind(s);
    }

    fn push_i64(q: &mut QueryBuilder<'_, Self>, v: i64) {
        q.push_bind(v);
    }

    fn push_ts(q: &mut QueryBuilder<'_, Self>, t: DateTime<Utc>) {
        q.push_bind(Ts(t));
    }

    fn push_i64_list(q: &mut QueryBuilder<'_, Self>, ids: &[i64]) {
        q.push("(SELECT value FROM json_each(")
            .push_bind(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
            .push("))");
    }
}

impl Dialect for Postgres {
    const ENGINE: Engine = Engine::Postgres;
    const BYTE_ORDER: &'static str = " COLLATE \"C\"";

    fn push_grant_match(q: &mut QueryBuilder<'_, Self>, expr: &str, grant: &str) {
        match crate::server::sqlglob::to_pg_regex(grant) {
            Some(re) => {
                q.push(expr).push(" ~ ").push_bind(re);
            }
            None => {
                q.push("1 = 0");
            }
        }
    }

    fn push_string_list(q: &mut QueryBuilder<'_, Self>, ids: &[String]) {
        q.push("(SELECT unnest(")
            .push_bind(ids.to_vec())
            .push("::text[]))");
    }

    fn push_str(q: &mut QueryBuilder<'_, Self>, s: String) {
        q.push_bind(s);
    }

    fn push_i64(q: &mut QueryBuilder<'_, Self>, v: i64) {
        q.push_bind(v);
    }

    fn push_ts(q: &mut QueryBuilder<'_, Self>, t: DateTime<Utc>) {
        q.push_bind(t);
    }

    fn push_i64_list(q: &mut QueryBuilder<'_, Self>, ids: &[i64]) {
        q.push("(SELECT unnest(")
            .push_bind(ids.to_vec())
            .push("::bigint[]))");
    }
}

/// A point in time as a bind value: the RFC 3339 text every SQLite row holds (millisecond
/// precision, `Z`, so text order is time order) or a Postgres `timestamptz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ts(pub DateTime<Utc>);

impl Ts {
    pub fn now() -> Ts {
        Ts(Utc::now())
    }
}

impl From<DateTime<Utc>> for Ts {
    fn from(t: DateTime<Utc>) -> Ts {
        Ts(t)
    }
}

impl sqlx::Type<Sqlite> for Ts {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <String as sqlx::Type<Sqlite>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, Sqlite> for Ts {
    fn encode_by_ref(
        &self,
        buf: &mut Vec<sqlx::sqlite::SqliteArgumentValue<'q>>,
    ) -> Result<IsNull, BoxDynError> {
        <String as sqlx::Encode<'q, Sqlite>>::encode(crate::server::to_text(self.0), buf)
    }
}

impl sqlx::Type<Postgres> for Ts {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <DateTime<Utc> as sqlx::Type<Postgres>>::type_info()
    }
}

impl sqlx::Encode<'_, Postgres> for Ts {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as sqlx::Encode<'_, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

/// JSON kept as its text: a `TEXT` column on SQLite, `jsonb` on Postgres (which stores it
/// parsed, so what comes back is the same value, not always the same bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonText(pub String);

impl From<JsonText> for String {
    fn from(j: JsonText) -> String {
        j.0
    }
}

impl sqlx::Type<Sqlite> for JsonText {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <String as sqlx::Type<Sqlite>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, Sqlite> for JsonText {
    fn encode_by_ref(
        &self,
        buf: &mut Vec<sqlx::sqlite::SqliteArgumentValue<'q>>,
    ) -> Result<IsNull, BoxDynError> {
        <String as sqlx::Encode<'q, Sqlite>>::encode(self.0.clone(), buf)
    }
}

impl<'r> sqlx::Decode<'r, Sqlite> for JsonText {
    fn decode(value: sqlx::sqlite::SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        <String as sqlx::Decode<'r, Sqlite>>::decode(value).map(JsonText)
    }
}

impl sqlx::Type<Postgres> for JsonText {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <serde_json::Value as sqlx::Type<Postgres>>::type_info()
    }
    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <serde_json::Value as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, Postgres> for JsonText {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        // jsonb's binary format: a version byte, then the text.
        buf.push(1);
        buf.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for JsonText {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, BoxDynError> {
        use sqlx::{TypeInfo, ValueRef};
        let is_jsonb = value.type_info().name().eq_ignore_ascii_case("jsonb");
        let bytes = match value.format() {
            sqlx::postgres::PgValueFormat::Binary if is_jsonb => {
                let b = value.as_bytes()?;
                match b.split_first() {
                    Some((1, rest)) => rest,
                    _ => return Err("unsupported jsonb version".into()),
                }
            }
            _ => value.as_bytes()?,
        };
        Ok(JsonText(std::str::from_utf8(bytes)?.to_string()))
    }
}
