//! The live preview of a grant being typed: what its resource glob matches among the current
//! minions, keys and jobs, counted in SQL (`GLOB` on `'<kind>:' || id`) with a LIMIT for the
//! samples, and only among the rows the asking user may view.

use crate::model::roles::{KindMatch, MatchPreview, PREVIEW_SAMPLES};
use crate::rbac::Permission;
use crate::server::db::Db;
use crate::server::minions::store::{allowed_globs, push_allowed};
use crate::server::sqlglob::{can_match_prefix, to_sqlite_glob};
use sqlx::{QueryBuilder, Sqlite};

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

fn push_where<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    src: &KindSource,
    glob: String,
    scope: &'a Option<Vec<String>>,
) {
    q.push(format!(" FROM {} WHERE {} GLOB ", src.table, src.resource))
        .push_bind(glob);
    push_allowed(q, src.resource, scope);
}

async fn match_kind(
    db: &Db,
    src: &KindSource,
    resource_glob: &str,
    asker: &[Permission],
) -> Result<KindMatch, sqlx::Error> {
    let glob = match to_sqlite_glob(resource_glob) {
        Some(g) if can_match_prefix(resource_glob, &format!("{}:", src.kind)) => g,
        _ => return Ok(KindMatch::default()),
    };
    let scope = allowed_globs(asker, "view", src.kind);
    if scope.as_ref().is_some_and(|s| s.is_empty()) {
        return Ok(KindMatch::default());
    }
    let mut c: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT COUNT(*)");
    push_where(&mut c, src, glob.clone(), &scope);
    let count: i64 = c.build_query_scalar().fetch_one(db.sqlite()?).await?;
    if count == 0 {
        return Ok(KindMatch::default());
    }
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!("SELECT {}", src.sample));
    push_where(&mut q, src, glob, &scope);
    q.push(format!(" ORDER BY {} LIMIT ", src.order))
        .push_bind(PREVIEW_SAMPLES as i64);
    let samples: Vec<String> = q.build_query_scalar().fetch_all(db.sqlite()?).await?;
    Ok(KindMatch { count, samples })
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
