//! `/roles`: every role with its member and permission counts (search, sort, paging in the URL),
//! and the "New role" form, which opens the new role's page.

use crate::app::api::overview::url_path_escape;
use crate::app::api::roles::{list_roles, CreateRole, RolePage, RoleSummary};
use crate::app::components::list::{
    export_links, list_table, page_pager, sort_headers, EmptyState, ListSearch, NoMatch,
};
use crate::app::pages::roles::BuiltinBadge;
use crate::app::pages::settings::{Field, SaveRow};
use crate::app::pages::{action_list, go_after, load_view, PageHeader};
use crate::model::list::ListParams;
use crate::model::roles::{RoleFilters, RoleSort, MAX_ROLE_DESCRIPTION, MAX_ROLE_NAME};
use leptos::prelude::*;
use leptos_router::components::A;

/// The list's state, as in the URL.
pub type RolesQuery = ListParams<RoleFilters>;

/// `/roles`.
#[component]
pub fn RolesPage() -> impl IntoView {
    let create = ServerAction::<CreateRole>::new();
    let (state, data) = action_list(create.version(), |s: RolesQuery| {
        list_roles(s.q, s.sort, s.dir, s.page, s.per_page)
    });
    go_after(create, |role| {
        format!("/roles/{}", url_path_escape(&role.id))
    });
    view! {
        <PageHeader title="Roles" subtitle="Built-in and custom roles with their (verb, resource) permissions" />
        <NewRoleForm create />
        <ListSearch state placeholder="Search name or description" aria_label="Search roles" test="role-search" />
        {load_view("Loading roles…", data, state, |page, s| view! { <RolesBody page s /> })}
    }
}

/// "New role": a `<details>` (opens without JS) with the name and description.
#[component]
fn NewRoleForm(create: ServerAction<CreateRole>) -> impl IntoView {
    let value = Signal::derive(move || create.value().get());
    view! {
        <details class="panel">
            <summary class="button button-primary" data-test="role-new">"New role"</summary>
            <ActionForm action=create attr:class="form form-grid mt" attr:data-test="role-create-form">
                <Field label="Name" name="name" value=value hint="Letters, digits, '-', '_' and '.'; it cannot be renamed later.">
                    <input type="text" name="name" required maxlength=MAX_ROLE_NAME.to_string()
                        placeholder="key-operators" autocomplete="off" />
                </Field>
                <Field label="Description" name="description" value=value>
                    <input type="text" name="description" maxlength=MAX_ROLE_DESCRIPTION.to_string()
                        placeholder="What the people holding it do" />
                </Field>
                <SaveRow v=value pending=create.pending() label="Create role" test="role-create-submit" />
            </ActionForm>
        </details>
    }
}

#[component]
fn RolesBody(page: RolePage, s: RolesQuery) -> impl IntoView {
    let header = sort_headers(&s);
    let pager = page_pager(&s, &page, "role");
    let head = view! {
        {header(RoleSort::Name, "Role")}
        <th>"Description"</th>
        {header(RoleSort::Members, "Members")}
        {header(RoleSort::Permissions, "Permissions")}
    };
    let filtered = s.filtered();
    let empty = move || {
        if filtered {
            view! { <NoMatch path="/roles" what="roles" icon="lock" test="roles-no-match" /> }
                .into_any()
        } else {
            view! {
                <EmptyState test="roles-empty" icon="lock" title="No roles you may see">
                    <p>"Your grants cover no role. An administrator can give you view:role:*."</p>
                </EmptyState>
            }
            .into_any()
        }
    };
    let exports = (page.total > 0)
        .then(|| export_links(&s, "/api/roles/export", page.total, "role", "roles-export"));
    let body = list_table(
        "table",
        "roles-table",
        "Roles",
        head,
        page.rows,
        |r| view! { <RoleTr r /> },
        empty,
    );
    view! { {exports} {body} {pager} }
}

#[component]
fn RoleTr(r: RoleSummary) -> impl IntoView {
    let href = format!("/roles/{}", url_path_escape(&r.id));
    let description = if r.description.is_empty() {
        view! { <span class="muted">"—"</span> }.into_any()
    } else {
        r.description.clone().into_any()
    };
    let name = r.name.clone();
    view! {
        <tr data-test="role-row" data-role-name=r.name>
            <td class="cell-id"><A href=href>{name}</A>" "{r.is_builtin.then(|| view! { <BuiltinBadge /> })}</td>
            <td>{description}</td>
            <td class="num">{r.member_count}</td>
            <td class="num">{r.permission_count}</td>
        </tr>
    }
}
