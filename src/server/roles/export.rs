//! `GET /api/roles/export.csv|json|ndjson`: the Roles table as the `/roles` page's query
//! searches and sorts it, every page, each role with its permission rows and its members.
//! Only the roles the caller may view (`view:role:<name>`), and of their members only the users
//! the caller may view (`view:user:<name>`), as on a role's page.

use crate::model::list::ListQuery;
use crate::model::roles::RoleFilters;
use crate::server::auth::CurrentUser;
use crate::server::export::{
    all_pages, every_row, Ask, ExportError, ExportRow, Gate, Refusal, Sink, Table,
};
use crate::server::state::AppState;
use serde::Serialize;

/// One exported role.
#[derive(Debug, Serialize)]
pub struct RoleRow {
    pub name: String,
    pub description: String,
    pub builtin: bool,
    /// `verb:resource_glob`, in the role page's order.
    pub permissions: Vec<String>,
    /// Usernames the caller may view.
    pub members: Vec<String>,
}

impl ExportRow for RoleRow {
    const COLUMNS: &'static [&'static str] =
        &["name", "description", "builtin", "permissions", "members"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.description.clone(),
            self.builtin.to_string(),
            self.permissions.join(" "),
            self.members.join(" "),
        ]
    }
}

/// The Roles table's export.
pub struct RolesExport {
    query: ListQuery<RoleFilters>,
    globs: Option<Vec<String>>,
    user: CurrentUser,
}

impl Table for RolesExport {
    const PAGE: &'static str = "roles";
    const WHAT: &'static str = "roles";
    type Row = RoleRow;
    const GATE: Gate = Gate::Kind("role", "You do not have permission to view roles.");

    async fn check(
        Ask {
            user,
            params,
            globs,
            ..
        }: Ask<'_>,
    ) -> Result<Self, Refusal> {
        Ok(RolesExport {
            query: all_pages(params)?,
            globs,
            user: user.clone(),
        })
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "q": self.query.q,
            "sort": self.query.sort.map(crate::model::list::SortColumn::as_str),
            "dir": self.query.dir.as_str(),
        })
    }

    async fn produce(self, state: AppState, mut sink: Sink) -> Result<Sink, ExportError> {
        let user = &self.user;
        for role in super::list(&state.db, &every_row(self.query), &self.globs)
            .await?
            .rows
        {
            let d = super::detail(&state.db, role).await?;
            let row = RoleRow {
                permissions: d.permissions.iter().map(|g| g.label()).collect(),
                members: d
                    .members
                    .into_iter()
                    .filter(|m| user.can("view", &format!("user:{}", m.username)))
                    .map(|m| m.username)
                    .collect(),
                name: d.role.name,
                description: d.role.description,
                builtin: d.role.is_builtin,
            };
            if !sink.row(&row).await? {
                break;
            }
        }
        Ok(sink)
    }
}
