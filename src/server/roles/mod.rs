//! Roles in the database: the paged list with member and permission counts, one role with its
//! grants and members, and the rules of every change (built-in roles are read-only, a role still
//! assigned is not deleted, nobody strips `*:*` from themselves or from the last active holder).
//! The server functions in `app::api::roles` authorise, audit and call these; the CLI too.

pub mod access;
pub mod export;
pub mod preview;
pub mod validate;

use crate::error::AppError;
use crate::model::list::{ListQuery, SortDir};
use crate::model::page::Page;
use crate::model::roles::{
    validate_description, validate_role_name, Grant, RoleDetail, RoleFilters, RoleMember, RoleSort,
    RoleSummary,
};
use crate::server::db::{Db, Dialect};
use crate::server::minions::store::{push_allowed, push_search_where};
use crate::with_db;
use sqlx::QueryBuilder;

/// The answer when a change touches a built-in role.
pub const BUILTIN_READ_ONLY: &str = "Built-in roles cannot be changed.";

const SUMMARY_SELECT: &str = "SELECT r.id, r.name, r.description, r.is_builtin, \
     (SELECT COUNT(*) FROM user_roles ur WHERE ur.role_id = r.id) AS member_count, \
     (SELECT COUNT(*) FROM permissions p WHERE p.role_id = r.id) AS permission_count \
     FROM roles r";

fn push_list_filters<DB: Dialect>(
    q: &mut QueryBuilder<'_, DB>,
    search: &str,
    allowed: &Option<Vec<String>>,
) {
    push_search_where(q, search, &["r.name_lower", "lower(r.description)"]);
    push_allowed(q, "('role:' || r.name)", allowed);
}

/// One page of roles the globs allow (`None`: every role), searched by name and description.
pub async fn list(
    db: &Db,
    lq: &ListQuery<RoleFilters>,
    allowed: &Option<Vec<String>>,
) -> Result<Page<RoleSummary>, sqlx::Error> {
    let col = match lq.sort {
        Some(RoleSort::Members) => "member_count",
        Some(RoleSort::Permissions) => "permission_count",
        Some(RoleSort::Name) | None => "r.name_lower",
    };
    let dir = if lq.dir == SortDir::Desc {
        "DESC"
    } else {
        "ASC"
    };
    let (rows, total): (Vec<RoleSummary>, i64) = with_db!(db, p, DB => {
        let mut q: QueryBuilder<DB> = QueryBuilder::new(SUMMARY_SELECT);
        push_list_filters(&mut q, &lq.q, allowed);
        q.push(format!(" ORDER BY {col} {dir}, r.name_lower {dir} LIMIT "))
            .push_bind(lq.per_page)
            .push(" OFFSET ")
            .push_bind((lq.page - 1).max(0) * lq.per_page);
        let rows: Vec<RoleSummary> = q.build_query_as().fetch_all(p).await?;
        let mut c: QueryBuilder<DB> = QueryBuilder::new("SELECT COUNT(*) FROM roles r");
        push_list_filters(&mut c, &lq.q, allowed);
        let total: i64 = c.build_query_scalar().fetch_one(p).await?;
        (rows, total)
    });
    Ok(Page::new(rows, total, lq.page, lq.per_page))
}

/// One role's summary row.
pub async fn summary(db: &Db, id: &str) -> Result<Option<RoleSummary>, sqlx::Error> {
    let sql = format!("{SUMMARY_SELECT} WHERE r.id = $1");
    with_db!(db, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await)
}

/// One role's summary row by name (case-insensitive).
pub async fn summary_by_name(db: &Db, name: &str) -> Result<Option<RoleSummary>, sqlx::Error> {
    let sql = format!("{SUMMARY_SELECT} WHERE r.name_lower = $1");
    with_db!(db, p => {
        sqlx::query_as(&sql)
            .bind(name.to_lowercase())
            .fetch_optional(p)
            .await
    })
}

/// A role's grants, ordered by verb and glob.
pub async fn grants(db: &Db, role_id: &str) -> Result<Vec<Grant>, sqlx::Error> {
    with_db!(db, p => {
        sqlx::query_as(
            "SELECT id, verb, resource_glob FROM permissions WHERE role_id = $1 \
             ORDER BY verb, resource_glob",
        )
        .bind(role_id)
        .fetch_all(p)
        .await
    })
}

/// The users holding a role, by username.
pub async fn members(db: &Db, role_id: &str) -> Result<Vec<RoleMember>, sqlx::Error> {
    with_db!(db, p => {
        sqlx::query_as(
            "SELECT u.id, u.username, u.is_active FROM user_roles ur JOIN users u ON u.id = ur.user_id \
             WHERE ur.role_id = $1 ORDER BY u.username_lower",
        )
        .bind(role_id)
        .fetch_all(p)
        .await
    })
}

/// A role with its grants and members.
pub async fn detail(db: &Db, role: RoleSummary) -> Result<RoleDetail, sqlx::Error> {
    let permissions = grants(db, &role.id).await?;
    let members = members(db, &role.id).await?;
    Ok(RoleDetail {
        role,
        permissions,
        members,
    })
}

/// A role by id, or 404.
pub async fn require_role(db: &Db, id: &str) -> Result<RoleSummary, AppError> {
    let id = id.trim();
    let found = if id.is_empty() || id.len() > 64 {
        None
    } else {
        summary(db, id).await?
    };
    found.ok_or_else(|| AppError::NotFound("There is no such role.".into()))
}

fn writable(role: &RoleSummary) -> Result<(), AppError> {
    if role.is_builtin {
        return Err(AppError::Conflict(BUILTIN_READ_ONLY.into()));
    }
    Ok(())
}

/// Create a custom role; 409 when the name is taken (case-insensitively).
pub async fn create(db: &Db, name: &str, description: &str) -> Result<RoleSummary, AppError> {
    let name = validate_role_name(name)?;
    let description = validate_description(description)?;
    let taken = || AppError::Conflict(format!("A role named {name:?} already exists."));
    if summary_by_name(db, &name).await?.is_some() {
        return Err(taken());
    }
    let id = uuid::Uuid::new_v4().to_string();
    let r = with_db!(db, p => {
        sqlx::query(
            "INSERT INTO roles (id, name, name_lower, is_builtin, description) VALUES ($1, $2, $3, FALSE, $4)",
        )
        .bind(&id)
        .bind(&name)
        .bind(name.to_lowercase())
        .bind(&description)
        .execute(p)
        .await
        .map(|_| ())
    });
    match r {
        Ok(_) => {}
        // Two creates raced past the check above: the unique index decides.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(taken()),
        Err(e) => return Err(e.into()),
    }
    Ok(RoleSummary {
        id,
        name,
        description,
        is_builtin: false,
        member_count: 0,
        permission_count: 0,
    })
}

/// Set a custom role's description; returns the one it replaced.
pub async fn update_description(
    db: &Db,
    role: &RoleSummary,
    description: &str,
) -> Result<String, AppError> {
    writable(role)?;
    let description = validate_description(description)?;
    with_db!(db, p => {
        sqlx::query("UPDATE roles SET description = $1 WHERE id = $2")
            .bind(&description)
            .bind(&role.id)
            .execute(p)
            .await?;
    });
    Ok(description)
}

/// Delete a custom role nobody holds; 409 names the members otherwise.
pub async fn delete(db: &Db, role: &RoleSummary) -> Result<(), AppError> {
    writable(role)?;
    let holders = members(db, &role.id).await?;
    if !holders.is_empty() {
        let names: Vec<&str> = holders.iter().map(|m| m.username.as_str()).collect();
        return Err(AppError::Conflict(format!(
            "The role {:?} is still assigned to {}: take it away from them first.",
            role.name,
            names.join(", ")
        )));
    }
    with_db!(db, p => {
        sqlx::query("DELETE FROM roles WHERE id = $1")
            .bind(&role.id)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// Add a grant to a custom role (already validated); 409 when the role has it already.
pub async fn add_permission(
    db: &Db,
    role: &RoleSummary,
    verb: &str,
    resource_glob: &str,
) -> Result<Grant, AppError> {
    writable(role)?;
    let g = Grant {
        id: uuid::Uuid::new_v4().to_string(),
        verb: verb.to_string(),
        resource_glob: resource_glob.to_string(),
    };
    let n = with_db!(db, p => {
        sqlx::query(
            "INSERT INTO permissions (id, role_id, verb, resource_glob) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (role_id, verb, resource_glob) DO NOTHING",
        )
        .bind(&g.id)
        .bind(&role.id)
        .bind(&g.verb)
        .bind(&g.resource_glob)
        .execute(p)
        .await?
        .rows_affected()
    });
    if n == 0 {
        return Err(AppError::Conflict(format!(
            "The role {:?} already holds {}.",
            role.name,
            g.label()
        )));
    }
    Ok(g)
}

/// Active users holding a `*:*` grant through a permission row other than `except` (`$1`).
const FULL_ACCESS_HOLDERS: &str =
    "SELECT DISTINCT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id \
     JOIN permissions p ON p.role_id = ur.role_id \
     WHERE u.is_active AND p.verb = '*' AND p.resource_glob = '*' AND p.id != $1";

/// Remove a grant from a custom role. Removing a `*:*` grant is refused when `actor_id` would
/// lose `*:*` by it, or when no active user would hold `*:*` afterwards.
pub async fn remove_permission(
    db: &Db,
    role: &RoleSummary,
    permission_id: &str,
    actor_id: &str,
) -> Result<Grant, AppError> {
    writable(role)?;
    let _serialised = crate::server::users::service::FULL_ACCESS_CHANGES
        .lock()
        .await;
    with_db!(db, p => {
        let mut tx = p.begin().await?;
        let grant: Grant = sqlx::query_as(
            "SELECT id, verb, resource_glob FROM permissions WHERE id = $1 AND role_id = $2",
        )
        .bind(permission_id.trim())
        .bind(&role.id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::NotFound("This role has no such permission.".into()))?;
        if grant.verb == "*" && grant.resource_glob == "*" {
            let after: Vec<String> = sqlx::query_scalar(FULL_ACCESS_HOLDERS)
                .bind(&grant.id)
                .fetch_all(&mut *tx)
                .await?;
            let actor_holds_now: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM user_roles WHERE user_id = $1 AND role_id = $2)",
            )
            .bind(actor_id)
            .bind(&role.id)
            .fetch_one(&mut *tx)
            .await?;
            if actor_holds_now && !after.iter().any(|id| id == actor_id) {
                return Err(AppError::Conflict(
                    "You cannot remove *:* from a role of yours: you would lose full access. \
                     Ask another administrator."
                        .into(),
                ));
            }
            if after.is_empty() {
                return Err(AppError::Conflict(
                    "No active user would hold *:* after this: give full access to someone else first."
                        .into(),
                ));
            }
        }
        sqlx::query("DELETE FROM permissions WHERE id = $1")
            .bind(&grant.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(grant)
    })
}

/// One row of `halite admin list-roles`: a role and its grants as `verb:glob`.
pub async fn cli_rows(db: &Db) -> Result<Vec<(RoleSummary, Vec<Grant>)>, sqlx::Error> {
    let sql = format!("{SUMMARY_SELECT} ORDER BY r.name_lower");
    let roles: Vec<RoleSummary> = with_db!(db, p => sqlx::query_as(&sql).fetch_all(p).await?);
    let mut out = Vec::with_capacity(roles.len());
    for r in roles {
        let g = grants(db, &r.id).await?;
        out.push((r, g));
    }
    Ok(out)
}
