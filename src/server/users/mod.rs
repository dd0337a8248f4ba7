//! Users and roles in the database: role seeding, the bootstrap admin, lookups used by auth and
//! the CLI; the administration's SQL in `store`, its rules and audit in `service`.

pub mod export;
pub mod service;
pub mod store;

use crate::error::AppError;
use crate::rbac::builtin_roles;
use crate::server::auth::password;
use crate::server::db::{Db, Engine};
use crate::with_db;
use chrono::{DateTime, Utc};

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Seed the built-in roles idempotently; new built-in permissions are added on every start.
pub async fn seed_builtin_roles(db: &Db) -> Result<(), sqlx::Error> {
    with_db!(db, pool => {
        let mut tx = pool.begin().await?;
        for (name, description, perms) in builtin_roles() {
            let existing: Option<(String,)> =
                sqlx::query_as("SELECT id FROM roles WHERE name_lower = $1")
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?;
            let role_id = match existing {
                Some((id,)) => {
                    sqlx::query("UPDATE roles SET is_builtin = TRUE, description = $1 WHERE id = $2")
                        .bind(description)
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                    id
                }
                None => {
                    let id = new_id();
                    sqlx::query(
                        "INSERT INTO roles (id, name, name_lower, is_builtin, description) VALUES ($1, $2, $3, TRUE, $4)",
                    )
                    .bind(&id)
                    .bind(name)
                    .bind(name)
                    .bind(description)
                    .execute(&mut *tx)
                    .await?;
                    id
                }
            };
            for p in perms {
                sqlx::query(
                    "INSERT INTO permissions (id, role_id, verb, resource_glob) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (role_id, verb, resource_glob) DO NOTHING",
                )
                .bind(new_id())
                .bind(&role_id)
                .bind(&p.verb)
                .bind(&p.resource_glob)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await
    })
}

/// Create the bootstrap admin when no user exists. Returns true when it was created.
pub async fn bootstrap_admin(db: &Db, username: &str, pw: &str) -> Result<bool, AppError> {
    let count: i64 = with_db!(db, p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(p)
            .await?
    });
    if count > 0 {
        return Ok(false);
    }
    let id = create_user(db, username, "Administrator", pw, true, &["admin"]).await?;
    with_db!(db, p => {
        sqlx::query("UPDATE users SET is_builtin = TRUE WHERE id = $1")
            .bind(&id)
            .execute(p)
            .await?;
    });
    Ok(true)
}

/// Create a user with the named roles. 409 on a duplicate (case-insensitive) username.
pub async fn create_user(
    db: &Db,
    username: &str,
    display_name: &str,
    pw: &str,
    must_change_pw: bool,
    roles: &[&str],
) -> Result<String, AppError> {
    let username = crate::model::ids::Username::new(username)?;
    password::validate_new(pw).map_err(|m| AppError::invalid("password", m))?;
    let mut role_ids = Vec::new();
    for r in roles {
        let id: Option<(String,)> = with_db!(db, p => {
            sqlx::query_as("SELECT id FROM roles WHERE name_lower = $1")
                .bind(r.to_lowercase())
                .fetch_optional(p)
                .await?
        });
        match id {
            Some((id,)) => role_ids.push(id),
            None => {
                return Err(AppError::invalid(
                    "roles",
                    format!("There is no role named {r:?}."),
                ))
            }
        }
    }
    store::insert(
        db,
        &store::NewUser {
            username: &username,
            display_name,
            email: None,
            password: pw,
            must_change_pw,
            role_ids: &role_ids,
        },
    )
    .await
}

/// The fields login needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub is_active: bool,
    pub must_change_pw: bool,
}

/// Look a user up by username, case-insensitively.
pub async fn find_for_login(db: &Db, username: &str) -> Result<Option<LoginRow>, sqlx::Error> {
    with_db!(db, p => {
        sqlx::query_as(
            "SELECT id, username, password_hash, is_active, must_change_pw FROM users WHERE username_lower = $1",
        )
        .bind(username.to_lowercase())
        .fetch_optional(p)
        .await
    })
}

/// Set a new password hash and the must-change flag.
pub async fn set_password(
    db: &Db,
    user_id: &str,
    pw: &str,
    must_change: bool,
) -> Result<(), AppError> {
    let hash = password::hash_async(pw.to_string()).await?;
    with_db!(db, p => {
        sqlx::query("UPDATE users SET password_hash = $1, must_change_pw = $2 WHERE id = $3")
            .bind(hash)
            .bind(must_change)
            .bind(user_id)
            .execute(p)
            .await?;
    });
    Ok(())
}

/// One row of `halite admin list-users`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserListRow {
    pub username: String,
    pub display_name: String,
    pub is_active: bool,
    pub must_change_pw: bool,
    pub roles: Option<String>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// Every user with their role names.
pub async fn list_users(db: &Db) -> Result<Vec<UserListRow>, sqlx::Error> {
    with_db!(db, p, DB => {
        let agg = match <DB as crate::server::db::Dialect>::ENGINE {
            Engine::Sqlite => "group_concat(r.name, ',')",
            Engine::Postgres => "string_agg(r.name, ',')",
        };
        let sql = format!(
            "SELECT u.username, u.display_name, u.is_active, u.must_change_pw, u.last_login_at, \
                    (SELECT {agg} FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                     WHERE ur.user_id = u.id) AS roles \
             FROM users u ORDER BY u.username_lower"
        );
        sqlx::query_as(&sql).fetch_all(p).await
    })
}
