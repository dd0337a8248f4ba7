//! Reading the audit log: one filtered, newest-first query shared by the Audit page, its export
//! and `halite admin audit`; the total; the action picker.
//!
//! Newest first is `ORDER BY id DESC` (ids grow with time), which every filter's index serves
//! in order: `id` itself, `(username COLLATE NOCASE)`, `(action)` and `(decision)` (each index
//! ends in the row id), so a first page stops after `LIMIT` rows whatever the table's size.

use super::redact_json_text;
use crate::model::audit::{AuditQuery, AuditRow};
use crate::server::db::{Db, Dialect, Engine};
use crate::with_db;
use sqlx::QueryBuilder;

const SELECT: &str = "SELECT id, at, user_id, username, action, resource, \
                      CAST(args_json AS TEXT) AS args_json, salt_jid, \
                      decision, result_code, duration_ms, ip FROM audit_log";

/// `%text%` for `LIKE … ESCAPE '\'`, the text's own `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// ` WHERE …` for the filters (nothing when there are none).
/// (Postgres: the username compared as `lower(…)`, its indexes' expression, and the resource
/// with `ILIKE`, as case-blind for ASCII as SQLite's `COLLATE NOCASE` and `LIKE`.)
fn push_where<DB: Dialect>(qb: &mut QueryBuilder<'_, DB>, f: &AuditQuery) {
    let pg = DB::ENGINE == Engine::Postgres;
    let mut sep = " WHERE ";
    let mut next = |qb: &mut QueryBuilder<'_, DB>, sql: &str| {
        qb.push(sep).push(sql);
        sep = " AND ";
    };
    if let Some(u) = &f.user {
        if pg {
            next(qb, "lower(username) = lower(");
            DB::push_str(qb, u.clone());
            qb.push(")");
        } else {
            next(qb, "username = ");
            DB::push_str(qb, u.clone());
            qb.push(" COLLATE NOCASE");
        }
    }
    if let Some(a) = &f.action {
        next(qb, "action = ");
        DB::push_str(qb, a.clone());
    }
    if let Some(d) = f.decision {
        next(qb, "decision = ");
        DB::push_str(qb, d.as_str().to_string());
    }
    if let Some(r) = &f.resource {
        next(
            qb,
            if pg {
                "resource ILIKE "
            } else {
                "resource LIKE "
            },
        );
        DB::push_str(qb, contains_pattern(r));
        qb.push(" ESCAPE '\\'");
    }
    if let Some(s) = f.since {
        next(qb, "at >= ");
        DB::push_ts(qb, s);
    }
    if let Some(u) = f.until {
        next(qb, "at < ");
        DB::push_ts(qb, u);
    }
}

/// The rows matching `f`, newest first, from `offset` on (`limit` of them; all when `None`).
pub fn select<DB: Dialect>(
    f: &AuditQuery,
    limit: Option<i64>,
    offset: i64,
) -> QueryBuilder<'static, DB> {
    let mut qb = QueryBuilder::new(SELECT);
    push_where(&mut qb, f);
    qb.push(" ORDER BY id DESC");
    if let Some(limit) = limit {
        qb.push(" LIMIT ");
        DB::push_i64(&mut qb, limit);
        qb.push(" OFFSET ");
        DB::push_i64(&mut qb, offset);
    }
    qb
}

/// A row as it leaves the server: its arguments redacted once more.
pub fn redacted(mut row: AuditRow) -> AuditRow {
    row.args_json = row.args_json.as_deref().map(redact_json_text);
    row
}

/// One page of rows matching `f`, newest first.
pub async fn page(
    db: &Db,
    f: &AuditQuery,
    limit: i64,
    offset: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let rows = with_db!(db, p, DB => {
        select::<DB>(f, Some(limit), offset)
            .build_query_as::<AuditRow>()
            .fetch_all(p)
            .await?
    });
    Ok(rows.into_iter().map(redacted).collect())
}

/// How many rows match `f`.
pub async fn count(db: &Db, f: &AuditQuery) -> Result<i64, sqlx::Error> {
    with_db!(db, p, DB => {
        let mut qb = QueryBuilder::<DB>::new("SELECT COUNT(*) FROM audit_log");
        push_where(&mut qb, f);
        qb.build_query_scalar::<i64>().fetch_one(p).await
    })
}

/// One row by id.
pub async fn get(db: &Db, id: i64) -> Result<Option<AuditRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE id = $1");
    let row = with_db!(db, p => {
        sqlx::query_as::<_, AuditRow>(&sql)
            .bind(id)
            .fetch_optional(p)
            .await?
    });
    Ok(row.map(redacted))
}

/// Every action that occurs in the log, sorted: one index seek per distinct action (a skip
/// scan of the action index) rather than a walk over every row.
pub async fn actions(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    with_db!(db, p => {
        sqlx::query_scalar(
            "WITH RECURSIVE a(action) AS (\
                 SELECT MIN(action) FROM audit_log \
                 UNION ALL \
                 SELECT (SELECT MIN(action) FROM audit_log WHERE action > a.action) FROM a \
                 WHERE a.action IS NOT NULL) \
             SELECT action FROM a WHERE action IS NOT NULL",
        )
        .fetch_all(p)
        .await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_are_literal() {
        assert_eq!(contains_pattern("web"), "%web%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
