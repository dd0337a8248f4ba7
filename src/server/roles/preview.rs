//! The live preview of a grant being typed: what its resource glob matches among the current
//! minions, keys and jobs, counted in SQL (the grant matched against `'<kind>:' || id`: SQLite `GLOB`, a Postgres regex) with a LIMIT for the
//! samples, and only among the rows the asking user may view.

use crate::model::roles::{KindMatch, MatchPreview, PREVIEW_SAMPLES};
use crate::rbac::Permission;
use crate::server::db::{Db, Dialect};
use crate::server::minions::store::{allowed_globs, push_allowed};
use crate::server::sqlglob::can_match_prefix;
use crate::with_db;
use sqlx::QueryBuilder;

/// How one kind's rows are read: the resource kind, the table, the resource expression, the
/// sample text and its order.
struct KindSource {
    kind: &'static str,
    table: &'static str,
    resource: &'static str,
    sample: &'static str,
    order: &'static str,
}

const MINIONS: KindSource = KindSource {
    kind: "minion",
    table: "minion_snapshots",
    resource: "('minion:' || minion_id)",
    sample: "minion_id",
    order: "minion_id",
};
const KEYS: KindSource = KindSource {
    kind: "key",
    table: "minion_snapshots",
    resource: "('key:' || minion_id)",
    sample: "minion_id || ' (' || key_status || ')'",
    order: "minion_id",
};
const JOBS: KindSource = KindSource {
    kind: "job",
    table: "jobs_index",
    resource: "('job:' || jid)",
    sample: "jid",
    order: "started_at DESC, jid DESC",
};

fn push_where<DB: Dialect>(
    q: &mut QueryBuilder<'_, DB>,
    src: &KindSource,
    grant: &str,
    scope: &Option<Vec<String>>,
) {
    q.push(format!(" FROM {} WHERE ", src.table));
    DB::push_grant_match(q, src.resource, grant);
    push_allowed(q, src.resource, scope);
}

async fn match_kind(
    db: &Db,
    src: &KindSource,
    resource_glob: &str,
    asker: &[Permission],
) -> Result<KindMatch, sqlx::Error> {
    if !can_match_prefix(resource_glob, &format!("{}:", src.kind)) {
        return Ok(KindMatch::default());
    }
    let scope = allowed_globs(asker, "view", src.kind);
    if scope.as_ref().is_some_and(|s| s.is_empty()) {
        return Ok(KindMatch::default());
    }
    with_db!(db, p, DB => {
        let mut c: QueryBuilder<DB> = QueryBuilder::new("SELECT COUNT(*)");
        push_where(&mut c, src, resource_glob, &scope);
        let count: i64 = c.build_query_scalar().fetch_one(p).await?;
        if count == 0 {
            return Ok(KindMatch::default());
        }
        let mut q: QueryBuilder<DB> = QueryBuilder::new(format!("SELECT {}", src.sample));
        push_where(&mut q, src, resource_glob, &scope);
        q.push(format!(" ORDER BY {} LIMIT ", src.order))
            .push_bind(PREVIEW_SAMPLES as i64);
        let samples: Vec<String> = q.build_query_scalar().fetch_all(p).await?;
        Ok(KindMatch { count, samples })
    })
}

/// What `resource_glob` (already validated) matches among the minions, keys and jobs that a
/// user holding `asker` may view.
pub async fn preview(
    db: &Db,
    resource_glob: &str,
    asker: &[Permission],
) -> Result<MatchPreview, sqlx::Error> {
    Ok(MatchPreview {
        minions: match_kind(db, &MINIONS, resource_glob, asker).await?,
        keys: match_kind(db, &KEYS, resource_glob, asker).await?,
        jobs: match_kind(db, &JOBS, resource_glob, asker).await?,
    })
}
