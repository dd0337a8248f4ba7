//! The users administration's SQL: the list (search, active filter, sort and paging in SQL), one
//! user with their roles, inserts and updates, role membership, and who holds `*:*`.

use crate::error::AppError;
use crate::model::ids::Username;
use crate::model::list::{ListQuery, SortDir};
use crate::model::users::{ActiveCounts, RoleRef, UserFilters, UserSort, UserSummary};
use crate::server::auth::password;
use crate::server::db::{Db, Dialect, Engine, Ts};
use crate::server::minions::store::push_search_where;
use crate::with_db;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use std::collections::HashMap;

/// A user's row without the roles (filled from `user_roles` afterwards).
#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    username: Username,
    display_name: String,
    email: Option<String>,
    is_active: bool,
    is_builtin: bool,
    must_change_pw: bool,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
}

impl UserRow {
    fn with_roles(self, roles: Vec<RoleRef>) -> UserSummary {
        UserSummary {
            id: self.id,
            username: self.username,
            display_name: self.display_name,
            email: self.email,
            is_active: self.is_active,
            is_builtin: self.is_builtin,
            must_change_pw: self.must_change_pw,
            created_at: self.created_at,
            last_login_at: self.last_login_at,
            roles,
        }
    }
}

const USER_COLUMNS: &str = "SELECT id, username, display_name, email, is_active, is_builtin, \
     must_change_pw, created_at, last_login_at FROM users";

fn sort_column(sort: Option<UserSort>) -> &'static str {
    match sort.unwrap_or(UserSort::Username) {
        UserSort::Username => "username_lower",
        UserSort::DisplayName => "lower(display_name)",
        UserSort::Email => "email_lower",
        UserSort::LastLogin => "last_login_at",
        UserSort::Created => "created_at",
    }
}

fn push_search<DB: Dialect>(q: &mut QueryBuilder<'_, DB>, search: &str) {
    push_search_where(
        q,
        search,
        &["username_lower", "lower(display_name)", "email_lower"],
    );
}

/// One page of users (with their roles), the total matching and the active/inactive counts of
/// the search.
pub async fn list(
    db: &Db,
    lq: &ListQuery<UserFilters>,
) -> Result<(Vec<UserSummary>, i64, ActiveCounts), sqlx::Error> {
    let col = sort_column(lq.sort);
    let dir = if lq.dir == SortDir::Desc {
        "DESC"
    } else {
        "ASC"
    };
    let (rows, active, inactive): (Vec<UserRow>, i64, i64) = with_db!(db, p, DB => {
        let mut q: QueryBuilder<DB> = QueryBuilder::new(USER_COLUMNS);
        push_search(&mut q, &lq.q);
        if let Some(active) = lq.filters {
            q.push(" AND is_active = ").push_bind(active);
        }
        // Missing values (no e-mail, never signed in) last either way; username breaks ties.
        q.push(format!(
            " ORDER BY ({col} IS NULL), {col} {dir}, username_lower {dir} LIMIT "
        ))
        .push_bind(lq.per_page)
        .push(" OFFSET ")
        .push_bind((lq.page - 1).max(0) * lq.per_page);
        let rows: Vec<UserRow> = q.build_query_as().fetch_all(p).await?;

        let mut c: QueryBuilder<DB> = QueryBuilder::new(match DB::ENGINE {
            Engine::Sqlite => {
                "SELECT COALESCE(SUM(is_active), 0), COALESCE(SUM(NOT is_active), 0) FROM users"
            }
            Engine::Postgres => {
                "SELECT CAST(COALESCE(SUM(CASE WHEN is_active THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN is_active THEN 0 ELSE 1 END), 0) AS BIGINT) FROM users"
            }
        });
        push_search(&mut c, &lq.q);
        let (active, inactive): (i64, i64) = c.build_query_as().fetch_one(p).await?;
        (rows, active, inactive)
    });
    let counts = ActiveCounts { active, inactive };
    let total = match lq.filters {
        None => active + inactive,
        Some(true) => active,
        Some(false) => inactive,
    };
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut roles = roles_of(db, &ids).await?;
    let users = rows
        .into_iter()
        .map(|r| {
            let held = roles.remove(&r.id).unwrap_or_default();
            r.with_roles(held)
        })
        .collect();
    Ok((users, total, counts))
}

/// The roles each of `user_ids` holds, by name.
async fn roles_of(
    db: &Db,
    user_ids: &[&str],
) -> Result<HashMap<String, Vec<RoleRef>>, sqlx::Error> {
    let mut out: HashMap<String, Vec<RoleRef>> = HashMap::new();
    if user_ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(String, String, String)> = with_db!(db, p, DB => {
        let mut q: QueryBuilder<DB> = QueryBuilder::new(
            "SELECT ur.user_id, r.id, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
             WHERE ur.user_id IN (",
        );
        let mut sep = q.separated(", ");
        for id in user_ids {
            sep.push_bind(*id);
        }
        q.push(") ORDER BY r.name_lower");
        q.build_query_as().fetch_all(p).await?
    });
    for (user_id, id, name) in rows {
        out.entry(user_id).or_default().push(RoleRef { id, name });
    }
    Ok(out)
}

/// One user with their roles.
pub async fn get(db: &Db, id: &str) -> Result<Option<UserSummary>, sqlx::Error> {
    let sql = format!("{USER_COLUMNS} WHERE id = $1");
    let row: Option<UserRow> = with_db!(db, p => {
        sqlx::query_as(&sql).bind(id).fetch_optional(p).await?
    });
    let Some(row) = row else { return Ok(None) };
    let roles = roles_of(db, &[id]).await?.remove(id).unwrap_or_default();
    Ok(Some(row.with_roles(roles)))
}

/// One user by username (case-insensitive), with their roles.
pub async fn get_by_username(db: &Db, username: &str) -> Result<Option<UserSummary>, sqlx::Error> {
    let id: Option<String> = with_db!(db, p => {
        sqlx::query_scalar("SELECT id FROM users WHERE username_lower = $1")
            .bind(username.to_lowercase())
            .fetch_optional(p)
            .await?
    });
    match id {
        Some(id) => get(db, &id).await,
        None => Ok(None),
    }
}

/// Every role, by name (the role picker).
pub async fn all_roles(db: &Db) -> Result<Vec<RoleRef>, sqlx::Error> {
    with_db!(db, p => {
        sqlx::query_as("SELECT id, name FROM roles ORDER BY name_lower")
            .fetch_all(p)
            .await
    })
}

/// One role by id.
pub async fn role(db: &Db, id: &str) -> Result<Option<RoleRef>, sqlx::Error> {
    with_db!(db, p => {
        sqlx::query_as("SELECT id, name FROM roles WHERE id = $1")
            .bind(id)
            .fetch_optional(p)
            .await
    })
}

/// One role by name (case-insensitive).
pub async fn role_by_name(db: &Db, name: &str) -> Result<Option<RoleRef>, sqlx::Error> {
    with_db!(db, p => {
        sqlx::query_as("SELECT id, name FROM roles WHERE name_lower = $1")
            .bind(name.to_lowercase())
            .fetch_optional(p)
            .await
    })
}

/// What a new user is made of (checked by the caller, except the username's uniqueness).
pub struct NewUser<'a> {
    pub username: &'a Username,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub password: &'a str,
    pub must_change_pw: bool,
    pub role_ids: &'a [String],
}

fn duplicate(username: &str) -> AppError {
    AppError::Conflict(format!(
        "A user named {username:?} already exists (usernames are compared without case)."
    ))
}

/// Insert a user with roles; returns the new id. 409 on a duplicate (case-insensitive)
/// username, also when another insert wins the race.
pub async fn insert(db: &Db, u: &NewUser<'_>) -> Result<String, AppError> {
    let username = u.username.as_str();
    let lower = username.to_lowercase();
    let exists: Option<String> = with_db!(db, p => {
        sqlx::query_scalar("SELECT id FROM users WHERE username_lower = $1")
            .bind(&lower)
            .fetch_optional(p)
            .await?
    });
    if exists.is_some() {
        return Err(duplicate(username));
    }
    let hash = password::hash_async(u.password.to_string()).await?;
    let id = super::new_id();
    with_db!(db, p => {
        let mut tx = p.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, username, username_lower, password_hash, display_name, email, \
             email_lower, must_change_pw, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(username)
        .bind(&lower)
        .bind(&hash)
        .bind(u.display_name)
        .bind(u.email)
        .bind(u.email.map(str::to_lowercase))
        .bind(u.must_change_pw)
        .bind(Ts::now())
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(duplicate(username))
            }
            r => r?,
        };
        for rid in u.role_ids {
            sqlx::query(
                "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&id)
            .bind(rid)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    });
    Ok(id)
}

/// Write a user's display name, e-mail and active flag.
pub async fn update_profile(
    db: &Db,
    id: &str,
    display_name: &str,
    email: Option<&str>,
    is_active: bool,
) -> Result<(), sqlx::Error> {
    with_db!(db, p => {
        sqlx::query(
            "UPDATE users SET display_name = $1, email = $2, email_lower = $3, is_active = $4 WHERE id = $5",
        )
        .bind(display_name)
        .bind(email)
        .bind(email.map(str::to_lowercase))
        .bind(is_active)
        .bind(id)
        .execute(p)
        .await?;
    });
    Ok(())
}

/// Delete a user (sessions, role memberships and templates go with them; audit rows stay).
pub async fn delete(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    with_db!(db, p => {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// Give a user a role; false when they held it already.
pub async fn add_role(db: &Db, user_id: &str, role_id: &str) -> Result<bool, sqlx::Error> {
    let n = with_db!(db, p => {
        sqlx::query(
            "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(role_id)
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok(n > 0)
}

/// Take a role from a user; false when they did not hold it.
pub async fn remove_role(db: &Db, user_id: &str, role_id: &str) -> Result<bool, sqlx::Error> {
    let n = with_db!(db, p => {
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2")
            .bind(user_id)
            .bind(role_id)
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(n > 0)
}

/// Every (user id, role id) through which an ACTIVE user holds the `*:*` grant (verb `*` and
/// resource `*`).
pub async fn superadmin_grants(db: &Db) -> Result<Vec<(String, String)>, sqlx::Error> {
    with_db!(db, pool => {
        sqlx::query_as(
            "SELECT DISTINCT ur.user_id, ur.role_id FROM user_roles ur \
             JOIN users u ON u.id = ur.user_id \
             JOIN permissions p ON p.role_id = ur.role_id \
             WHERE u.is_active AND p.verb = '*' AND p.resource_glob = '*'",
        )
        .fetch_all(pool)
        .await
    })
}
