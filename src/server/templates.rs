//! Command templates store (SPEC 3.10, 6.8): saved Run commands, private to their owner unless
//! shared. Every query is scoped to the caller, so a template the caller may not see does not
//! exist for them (non-owners get "not found", never "forbidden").

use crate::error::AppError;
use crate::model::templates::{CommandSpec, TemplateOut};
use crate::server::db::{Db, JsonText, Ts};
use crate::server::to_text;
use crate::with_db;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// The columns every read selects, joined with the owner's username.
const SELECT: &str = "SELECT t.id, t.owner_user_id, u.username, t.name, t.description, t.target, \
     t.target_type, t.fun, CAST(t.args AS TEXT) AS args, CAST(t.kwargs AS TEXT) AS kwargs, t.is_shared, t.created_at, t.updated_at \
     FROM command_templates t JOIN users u ON u.id = t.owner_user_id";

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
);

/// Stored JSON back to typed values. The server only writes what it validated, so a value that
/// does not parse means someone edited the database by hand: show it empty rather than fail.
fn to_out(r: Row, viewer_id: &str) -> TemplateOut {
    let args: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(&r.8)
        .unwrap_or_default()
        .into_iter()
        .map(json_text)
        .collect();
    let kwargs: BTreeMap<String, String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&r.9)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, json_text(v)))
            .collect();
    TemplateOut {
        is_mine: r.1 == viewer_id,
        id: r.0,
        owner_user_id: r.1,
        owner_username: r.2,
        name: r.3,
        description: r.4,
        target: r.5,
        target_type: r.6,
        fun: r.7,
        args,
        kwargs,
        is_shared: r.10,
        created_at: to_text(r.11),
        updated_at: to_text(r.12),
    }
}

fn json_text(v: serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// The caller's own templates and every shared one: own first, then by name.
pub async fn list_visible(db: &Db, user_id: &str) -> Result<Vec<TemplateOut>, sqlx::Error> {
    let sql = format!(
        "{SELECT} WHERE t.owner_user_id = $1 OR t.is_shared = TRUE \
         ORDER BY CASE WHEN t.owner_user_id = $2 THEN 0 ELSE 1 END, t.name_lower, u.username_lower, t.id"
    );
    let rows: Vec<Row> = with_db!(db, p => {
        sqlx::query_as(&sql)
            .bind(user_id)
            .bind(user_id)
            .fetch_all(p)
            .await?
    });
    Ok(rows.into_iter().map(|r| to_out(r, user_id)).collect())
}

/// One template the caller owns or that is shared; `None` otherwise.
pub async fn get_visible(
    db: &Db,
    id: &str,
    user_id: &str,
) -> Result<Option<TemplateOut>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE t.id = $1 AND (t.owner_user_id = $2 OR t.is_shared = TRUE)");
    let row: Option<Row> = with_db!(db, p => {
        sqlx::query_as(&sql)
            .bind(id)
            .bind(user_id)
            .fetch_optional(p)
            .await?
    });
    Ok(row.map(|r| to_out(r, user_id)))
}

fn duplicate(name: &str) -> AppError {
    AppError::Conflict(format!("You already have a template named {name:?}."))
}

/// Save a validated template for `owner_id`. A name the owner already uses (case-insensitive)
/// is a conflict.
pub async fn insert(
    db: &Db,
    owner_id: &str,
    name: &str,
    description: &str,
    command: &CommandSpec,
    is_shared: bool,
) -> Result<TemplateOut, AppError> {
    let name_lower = name.to_lowercase();
    let taken: Option<(String,)> = with_db!(db, p => {
        sqlx::query_as(
            "SELECT id FROM command_templates WHERE owner_user_id = $1 AND name_lower = $2",
        )
        .bind(owner_id)
        .bind(&name_lower)
        .fetch_optional(p)
        .await?
    });
    if taken.is_some() {
        return Err(duplicate(name));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let now = Ts::now();
    let args = serde_json::to_string(&command.args).unwrap_or_else(|_| "[]".into());
    let kwargs = serde_json::to_string(&command.kwargs).unwrap_or_else(|_| "{}".into());
    let r = with_db!(db, p => {
        sqlx::query(
            "INSERT INTO command_templates (id, owner_user_id, name, name_lower, description, target, \
             target_type, fun, args, kwargs, is_shared, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&id)
        .bind(owner_id)
        .bind(name)
        .bind(&name_lower)
        .bind(description)
        .bind(&command.target)
        .bind(&command.target_type)
        .bind(&command.fun)
        .bind(JsonText(args.clone()))
        .bind(JsonText(kwargs.clone()))
        .bind(is_shared)
        .bind(now)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ())
    });
    match r {
        Ok(_) => {}
        // Two saves racing past the check above: the unique index settles it.
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation()) =>
        {
            return Err(duplicate(name));
        }
        Err(e) => return Err(e.into()),
    }
    get_visible(db, &id, owner_id)
        .await?
        .ok_or_else(|| AppError::Internal("The saved template could not be read back.".into()))
}

/// Share or unshare a template the caller owns; `None` when there is no such template of theirs.
pub async fn set_shared(
    db: &Db,
    id: &str,
    owner_id: &str,
    is_shared: bool,
) -> Result<Option<TemplateOut>, sqlx::Error> {
    let n = with_db!(db, p => {
        sqlx::query(
            "UPDATE command_templates SET is_shared = $1, updated_at = $2 WHERE id = $3 AND owner_user_id = $4",
        )
        .bind(is_shared)
        .bind(Ts::now())
        .bind(id)
        .bind(owner_id)
        .execute(p)
        .await?
        .rows_affected()
    });
    if n == 0 {
        return Ok(None);
    }
    get_visible(db, id, owner_id).await
}

/// Delete a template the caller owns; returns its name, or `None` when there is no such
/// template of theirs.
pub async fn delete(db: &Db, id: &str, owner_id: &str) -> Result<Option<String>, sqlx::Error> {
    let name: Option<(String,)> = with_db!(db, p => {
        sqlx::query_as(
            "DELETE FROM command_templates WHERE id = $1 AND owner_user_id = $2 RETURNING name",
        )
        .bind(id)
        .bind(owner_id)
        .fetch_optional(p)
        .await?
    });
    Ok(name.map(|(n,)| n))
}

impl crate::server::export::ExportRow for TemplateOut {
    const COLUMNS: &'static [&'static str] = &[
        "name",
        "owner",
        "shared",
        "description",
        "target_type",
        "target",
        "function",
        "args",
        "kwargs",
        "created_at",
        "updated_at",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.owner_username.clone(),
            self.is_shared.to_string(),
            self.description.clone(),
            self.target_type.clone(),
            self.target.clone(),
            self.fun.clone(),
            serde_json::to_string(&self.args).unwrap_or_default(),
            serde_json::to_string(&self.kwargs).unwrap_or_default(),
            self.created_at.clone(),
            self.updated_at.clone(),
        ]
    }
}

/// The Templates page's export (`GET /api/templates/export.csv|json|ndjson`): the caller's own
/// templates and every shared one, as the page lists them (own first, then by name). Session
/// only, like the page: ownership scopes it.
pub struct TemplatesExport {
    user_id: String,
}

impl crate::server::export::Table for TemplatesExport {
    const PAGE: &'static str = "templates";
    const WHAT: &'static str = "templates";
    type Row = TemplateOut;
    /// Ownership scopes it, like the page.
    const GATE: crate::server::export::Gate = crate::server::export::Gate::Session("template:*");

    async fn check(
        crate::server::export::Ask { user, .. }: crate::server::export::Ask<'_>,
    ) -> Result<Self, crate::server::export::Refusal> {
        Ok(TemplatesExport {
            user_id: user.id.clone(),
        })
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    async fn produce(
        self,
        state: crate::server::state::AppState,
        mut sink: crate::server::export::Sink,
    ) -> Result<crate::server::export::Sink, crate::server::export::ExportError> {
        sink.all(list_visible(&state.db, &self.user_id).await?)
            .await?;
        Ok(sink)
    }
}
