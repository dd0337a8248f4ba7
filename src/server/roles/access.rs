//! Effective access: every grant a user holds with the role it comes from, and which of them
//! (if any) decides "may this user do `verb` on `resource`?" the way the server's own checks do.

use crate::model::roles::{AccessCheck, UserGrant, PICKER_LIMIT};
use crate::rbac::{allowed, may_execute, Permission};
use crate::server::db::{Db, Dialect, Engine};
use crate::server::minions::store::{escape_like, push_allowed};
use crate::with_db;
use sqlx::QueryBuilder;

/// The user an access check is about.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Subject {
    pub id: String,
    pub username: String,
    pub is_active: bool,
}

/// A user by id.
pub async fn subject(db: &Db, user_id: &str) -> Result<Option<Subject>, sqlx::Error> {
    with_db!(db, p => {
        sqlx::query_as("SELECT id, username, is_active FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(p)
            .await
    })
}

/// Every grant the user holds, in the order a check reads them: role name, verb, glob.
pub async fn user_grants(db: &Db, user_id: &str) -> Result<Vec<UserGrant>, sqlx::Error> {
    with_db!(db, pool => {
        sqlx::query_as(
            "SELECT r.id AS role_id, r.name AS role_name, p.verb, p.resource_glob \
             FROM user_roles ur JOIN roles r ON r.id = ur.role_id JOIN permissions p ON p.role_id = r.id \
             WHERE ur.user_id = $1 ORDER BY r.name_lower, p.verb, p.resource_glob",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await
    })
}

/// Whether one grant allows `verb` on `resource`, with the rule `execute:salt:<fun>` follows
/// for functions that run other functions (see `rbac::may_execute`).
fn grant_allows(g: &UserGrant, verb: &str, resource: &str) -> bool {
    let p = [Permission::new(&g.verb, &g.resource_glob)];
    match (verb, resource.strip_prefix("salt:")) {
        ("execute", Some(fun)) => may_execute(&p, fun),
        _ => allowed(&p, verb, resource),
    }
}

/// The verdict for `subject` and its grants: the first grant that allows it, or why not.
pub fn decide(subject: &Subject, grants: &[UserGrant], verb: &str, resource: &str) -> AccessCheck {
    if !subject.is_active {
        return AccessCheck {
            allowed: false,
            decided_by: None,
            reason: "Denied: user inactive".into(),
        };
    }
    match grants.iter().find(|g| grant_allows(g, verb, resource)) {
        Some(g) => AccessCheck {
            allowed: true,
            decided_by: Some(g.clone()),
            reason: format!("Allowed by role {} grant {}", g.role_name, g.label()),
        },
        None => AccessCheck {
            allowed: false,
            decided_by: None,
            reason: "Denied: no grant matches".into(),
        },
    }
}

/// Minion ids starting with `prefix` (case-insensitive) among those the globs allow, first
/// [`PICKER_LIMIT`] by id.
pub async fn minion_ids(
    db: &Db,
    prefix: &str,
    allowed: &Option<Vec<String>>,
) -> Result<Vec<String>, sqlx::Error> {
    with_db!(db, p, DB => {
        // SQLite's LIKE ignores ASCII case; Postgres's does not, ILIKE does.
        let like = match DB::ENGINE {
            Engine::Sqlite => " LIKE ",
            Engine::Postgres => " ILIKE ",
        };
        let mut q: QueryBuilder<DB> =
            QueryBuilder::new(format!("SELECT minion_id FROM minion_snapshots WHERE minion_id{like}"));
        q.push_bind(format!("{}%", escape_like(prefix)))
            .push(" ESCAPE '\\'");
        push_allowed(&mut q, "('minion:' || minion_id)", allowed);
        q.push(" ORDER BY minion_id LIMIT ").push_bind(PICKER_LIMIT);
        q.build_query_scalar().fetch_all(p).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(role: &str, verb: &str, glob: &str) -> UserGrant {
        UserGrant {
            role_id: format!("id-{role}"),
            role_name: role.into(),
            verb: verb.into(),
            resource_glob: glob.into(),
        }
    }

    #[test]
    fn first_matching_grant_decides() {
        let who = Subject {
            id: "u".into(),
            username: "ann".into(),
            is_active: true,
        };
        let grants = [
            g("a-keys", "accept", "key:new-*"),
            g("b-all", "*", "key:*"),
            g("c-exec", "execute", "salt:test.*"),
        ];
        let c = decide(&who, &grants, "accept", "key:new-01");
        assert!(c.allowed);
        assert_eq!(c.reason, "Allowed by role a-keys grant accept:key:new-*");
        let c = decide(&who, &grants, "accept", "key:old-01");
        assert_eq!(c.decided_by.unwrap().role_name, "b-all");
        assert!(!decide(&who, &grants, "view", "minion:x").allowed);
        assert!(decide(&who, &grants, "execute", "salt:test.ping").allowed);
        let c = decide(&who, &grants, "execute", "salt:test.cross_test");
        assert_eq!(c.reason, "Denied: no grant matches");
        let off = Subject {
            is_active: false,
            ..who
        };
        assert_eq!(
            decide(&off, &grants, "accept", "key:new-01").reason,
            "Denied: user inactive"
        );
    }
}
