//! `GET /api/users/export.csv|json|ndjson`: the Users table as the `/users` page's query
//! filters and sorts it (search, active, sort, direction), every page, with each user's roles.
//! Needs `view:user:*` like the page. Never a password hash: the rows are [`UserSummary`].

use crate::model::list::ListQuery;
use crate::model::users::{UserFilters, UserSummary};
use crate::server::export::{
    all_pages, every_row, Ask, ExportError, ExportRow, Gate, Refusal, Sink, Table,
};
use crate::server::state::AppState;

impl ExportRow for UserSummary {
    const COLUMNS: &'static [&'static str] = &[
        "username",
        "display_name",
        "email",
        "active",
        "builtin",
        "must_change_password",
        "roles",
        "created_at",
        "last_login_at",
    ];

    fn cells(&self) -> Vec<String> {
        let roles: Vec<&str> = self.roles.iter().map(|r| r.name.as_str()).collect();
        vec![
            self.username.to_string(),
            self.display_name.clone(),
            self.email.clone().unwrap_or_default(),
            self.is_active.to_string(),
            self.is_builtin.to_string(),
            self.must_change_pw.to_string(),
            roles.join(" "),
            crate::model::time::rfc3339(&self.created_at),
            self.last_login_at
                .as_ref()
                .map(crate::model::time::rfc3339)
                .unwrap_or_default(),
        ]
    }
}

/// The Users table's export.
pub struct UsersExport(ListQuery<UserFilters>);

impl Table for UsersExport {
    const PAGE: &'static str = "users";
    const WHAT: &'static str = "users";
    type Row = UserSummary;
    const GATE: Gate = Gate::Grant("user:*", "You do not have permission to view users.");

    async fn check(Ask { params, .. }: Ask<'_>) -> Result<Self, Refusal> {
        Ok(UsersExport(all_pages(params)?))
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "q": self.0.q,
            "active": self.0.filters,
            "sort": self.0.sort.map(crate::model::list::SortColumn::as_str),
            "dir": self.0.dir.as_str(),
        })
    }

    async fn produce(self, state: AppState, mut sink: Sink) -> Result<Sink, ExportError> {
        let (rows, _, _) = super::store::list(&state.db, &every_row(self.0)).await?;
        sink.all(rows).await?;
        Ok(sink)
    }
}
