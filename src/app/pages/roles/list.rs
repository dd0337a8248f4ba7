//! `/roles`: every role with its member and permission counts (search, sort, paging in the URL),
//! and the "New role" form, which opens the new role's page.

use crate::app::api::overview::url_path_escape;
use crate::app::api::roles::{list_roles, CreateRole, RolePage, RoleSummary};
use crate::app::components::icons::Icon;
use crate::app::components::list::{use_list_params, NoMatch, Pager, SearchBox, SortHeader};
use crate::app::pages::roles::BuiltinBadge;
use crate::app::pages::settings::{field_error, form_error};
use crate::app::pages::{ErrorPanel, PageHeader};
use crate::model::list::ListParams;
use crate::model::roles::{RoleFilters, RoleSort, MAX_ROLE_DESCRIPTION, MAX_ROLE_NAME};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

/// The list's state, as in the URL.
pub type RolesQuery = ListParams<RoleFilters>;

/// `/roles`.
#[component]
pub fn RolesPage() -> impl IntoView {
    let state = use_list_params::<RoleFilters>();
    let create = ServerAction::<CreateRole>::new();
    let data = Resource::new(
        move || (state.get(), create.version().get()),
        |(s, _)| list_roles(s.q, s.sort, s.dir, s.page, s.per_page),
    );
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(role)) = create.value().get() {
            navigate(
                &format!("/roles/{}", url_path_escape(&role.id)),
                Default::default(),
            );
        }
    });
    let init = state.get_untracked();
    let hidden = vec![
        ("sort", init.sort.clone()),
        ("dir", init.dir.clone()),
        ("per_page", init.per_page.to_string()),
    ];
    let go = Callback::new(move |q: String| state.get_untracked().with_q(&q).href());
    view! {
        <PageHeader title="Roles" subtitle="Built-in and custom roles with their (verb, resource) permissions" />
        <NewRoleForm create />
        <div class="toolbar">
            <SearchBox action="/roles" q=init.q placeholder="Search name or description" aria_label="Search roles"
                test="role-search" hidden go />
        </div>
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading roles…"</div> }>
            {move || Suspend::new(async move {
                let s = state.get_untracked();
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    Ok(page) => view! { <RolesBody page s /> }.into_any(),
                }
            })}
        </Transition>
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
                <label class="field">
                    <span class="field-label">"Name"</span>
                    <input type="text" name="name" required maxlength=MAX_ROLE_NAME.to_string()
                        placeholder="key-operators" autocomplete="off" />
                    <span class="field-hint">"Letters, digits, '-', '_' and '.'; it cannot be renamed later."</span>
                    {field_error(value, "name")}
                </label>
                <label class="field">
                    <span class="field-label">"Description"</span>
                    <input type="text" name="description" maxlength=MAX_ROLE_DESCRIPTION.to_string()
                        placeholder="What the people holding it do" />
                    {field_error(value, "description")}
                </label>
                {form_error(value)}
                <div class="form-actions span-2">
                    <button type="submit" class="button button-primary" data-test="role-create-submit"
                        disabled=move || create.pending().get()>"Create role"</button>
                </div>
            </ActionForm>
        </details>
    }
}

#[component]
fn RolesBody(page: RolePage, s: RolesQuery) -> impl IntoView {
    let header = |col: RoleSort, label: &'static str| {
        view! { <SortHeader params=s.clone() col label /> }
    };
    let pager = view! {
        <Pager params=s.clone() total=page.total page=page.page per_page=page.per_page noun="role" />
    };
    let body = if page.rows.is_empty() {
        if s.filtered() {
            view! { <NoMatch path="/roles" what="roles" icon="lock" test="roles-no-match" /> }
                .into_any()
        } else {
            view! {
                <div class="panel state-panel" data-test="roles-empty">
                    <Icon name="lock" />
                    <h2>"No roles you may see"</h2>
                    <p>"Your grants cover no role. An administrator can give you view:role:*."</p>
                </div>
            }
            .into_any()
        }
    } else {
        view! {
            <div class="table-wrap">
                <table class="table" data-test="roles-table">
                    <thead>
                        <tr>
                            {header(RoleSort::Name, "Role")}
                            <th>"Description"</th>
                            {header(RoleSort::Members, "Members")}
                            {header(RoleSort::Permissions, "Permissions")}
                        </tr>
                    </thead>
                    <tbody>
                        {page.rows.into_iter().map(|r| view! { <RoleTr r /> }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! { {body} {pager} }
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
