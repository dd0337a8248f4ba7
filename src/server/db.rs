//! Database pool: SQLite in WAL mode with a busy timeout; embedded migrations applied at start.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

/// The pool type used everywhere.
pub type Db = SqlitePool;

/// Open (creating if needed) the database at `url` and apply every migration.
pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
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
        .acquire_timeout(Duration::from_secs(20))
        .connect_with(opts)
        .await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    Ok(pool)
}

/// Run `sql`, a `DELETE … WHERE <time> < ?`, with the cutoff (RFC 3339 text) bound to the `?`;
/// returns how many rows went (the retention pruning of the stores).
pub async fn delete_before(db: &Db, sql: &'static str, cutoff: &str) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(sql)
        .bind(cutoff)
        .execute(db)
        .await?
        .rows_affected())
}

/// True when the database answers a trivial query.
pub async fn ping(db: &Db) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(db)
        .await
        .is_ok()
}
