//! The two engines' migrations stay in step: same versions, same tables, same columns, same
//! indexes (Postgres may add `*_trgm` trigram indexes, which SQLite has no use for; SQLite has
//! its maintained counts and one covering index, listed below, that Postgres does without).
//!
//! The file comparison runs everywhere; the schema comparison needs the throwaway Postgres of
//! `scripts/with-postgres.sh`, which `make test` provides.

use crate::common::{on_postgres, pg_database};
use std::collections::{BTreeMap, BTreeSet};

fn migration_files(engine: &str) -> Vec<String> {
    let dir = format!("{}/migrations/{engine}", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

#[test]
fn both_engines_have_the_same_migrations() {
    let sqlite = migration_files("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite,
        migration_files("postgres"),
        "every migration needs its twin in migrations/postgres (same file name)"
    );
}

type Schema = BTreeMap<String, BTreeSet<String>>;

async fn sqlite_schema() -> (Schema, BTreeSet<String>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/s.db?mode=rwc", dir.path().display());
    let db = halite::server::db::connect(&url).await.unwrap();
    let pool = db.sqlite().unwrap();
    let cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    // Generated columns are hidden from pragma_table_info; table_xinfo lists them.
    let gen: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for (t, c) in cols.into_iter().chain(gen) {
        schema.entry(t).or_default().insert(c);
    }
    (schema, indexes.into_iter().collect())
}

async fn postgres_schema(url: &str) -> (Schema, BTreeSet<String>) {
    let db = halite::server::db::connect(url).await.unwrap();
    let halite::server::db::Db::Postgres(pool) = &db else {
        panic!("not Postgres")
    };
    let cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' \
         AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key' \
         AND indexname NOT LIKE '%\\_trgm'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for (t, c) in cols {
        schema.entry(t).or_default().insert(c);
    }
    (schema, indexes.into_iter().collect())
}

#[tokio::test]
async fn both_engines_build_the_same_schema() {
    if !on_postgres() {
        // The SQLite-only run has no Postgres to compare with; `make test` runs this file again
        // under scripts/with-postgres.sh, where the comparison below happens.
        eprintln!("schema comparison runs under scripts/with-postgres.sh");
        return;
    }
    let url = pg_database().await.unwrap();
    let (pg_tables, pg_indexes) = postgres_schema(&url).await;
    let (mut lite_tables, mut lite_indexes) = sqlite_schema().await;
    // SQLite only (issue 17): the counts its triggers keep (one writer at a time, so counter
    // rows cannot deadlock there), and the covering index its search counts read (Postgres
    // has trigram indexes for that).
    for t in ["minion_status_counts", "jobs_counts"] {
        assert!(lite_tables.remove(t).is_some(), "{t} is gone from SQLite");
    }
    assert!(lite_indexes.remove("ix_minions_status_search"));
    assert_eq!(
        lite_tables.keys().collect::<Vec<_>>(),
        pg_tables.keys().collect::<Vec<_>>(),
        "the engines have different tables"
    );
    for (table, cols) in &lite_tables {
        assert_eq!(
            cols, &pg_tables[table],
            "table {table} has different columns on the two engines"
        );
    }
    assert_eq!(
        lite_indexes, pg_indexes,
        "the engines have different indexes"
    );
}
