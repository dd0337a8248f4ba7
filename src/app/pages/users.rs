//! Users (SPEC 6.11): the list (search, active filter, sort and paging in the URL) with the
//! "New user" form, and `/users/:id`: edit, activate/deactivate, reset the password, roles held,
//! delete. Every form posts to its server function, so the page works before hydration too;
//! the "New user" panel and the delete confirmation are URL states (`?new=1`, `?confirm=delete`)
//! for the same reason.

use crate::app::api::form::FormList;
use crate::app::api::users::{
    get_user, list_users, roles_available, AddUserRole, CreateUser, DeleteUser, RemoveUserRole,
    ResetUserPassword, RoleRef, UpdateUser, UserSummary, UsersPage, MAX_DISPLAY_NAME, MAX_EMAIL,
};
use crate::app::components::list::{
    export_links, input_text, list_table, page_pager, sort_headers, value_chips, ChipKey,
    FilterChips, ListSearch, NoMatch,
};
use crate::app::pages::settings::{field_error, form_error, saved_note, Field};
use crate::app::pages::{
    action_list, go_after, load_view, route_record, short_utc, ErrorPanel, PageHeader,
};
use crate::error::AppError;
use crate::model::list::ListParams;
use crate::model::users::{UserFilters, UserSort, ACTIVE_FILTERS};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

/// The list's state, as in the URL.
pub type UsersQuery = ListParams<UserFilters>;

fn active_label(s: &str) -> &'static str {
    match s {
        "active" => "Active",
        "inactive" => "Inactive",
        _ => "All",
    }
}

/// "Active" / "Inactive".
#[component]
fn ActiveBadge(active: bool) -> impl IntoView {
    let (class, text) = if active {
        ("badge badge-ok", "Active")
    } else {
        ("badge badge-bad", "Inactive")
    };
    view! { <span class=class data-test="user-status">{text}</span> }
}

fn role_names(roles: &[RoleRef]) -> String {
    if roles.is_empty() {
        return "—".into();
    }
    roles
        .iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Is `key=1` in the URL query?
fn query_flag(key: &'static str, value: &'static str) -> Memo<bool> {
    let query = use_query_map();
    Memo::new(move |_| query.get().get(key).as_deref() == Some(value))
}

/// `/users`.
#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let (state, data) = action_list(create.version(), |s: UsersQuery| {
        list_users(s.q, s.filters.active, s.sort, s.dir, s.page, s.per_page)
    });
    let roles = Resource::new(|| (), |_| roles_available());
    go_after(create, |u| format!("/users/{}", u.id));
    let show_new = query_flag("new", "1");
    let filters = vec![("active", state.get_untracked().filters.active)];
    let new_href = move || {
        let href = state.get().href();
        let sep = if href.contains('?') { '&' } else { '?' };
        format!("{href}{sep}new=1")
    };
    view! {
        <PageHeader title="Users" subtitle="Accounts, the roles they hold, activation and password resets">
            <A href=new_href attr:class="button button-primary" attr:data-test="user-new">"New user"</A>
        </PageHeader>
        <Show when=move || show_new.get()>
            <NewUserPanel create roles close=move || state.get().href() />
        </Show>
        <ListSearch state placeholder="Search username, name or e-mail" aria_label="Search users" test="user-search"
            filters />
        {load_view("Loading users…", data, state, |page, s| view! { <UsersBody page s /> })}
    }
}

#[component]
fn UsersBody(page: UsersPage, s: UsersQuery) -> impl IntoView {
    let chips = value_chips(
        &s,
        ACTIVE_FILTERS,
        &s.filters.active,
        active_label,
        |active| UserFilters { active },
        |a| page.counts.get(a),
    );
    let header = sort_headers(&s);
    let pager = page_pager(&s, &page.list, "user");
    let head = view! {
        {header(UserSort::Username, "Username")}
        {header(UserSort::DisplayName, "Name")}
        {header(UserSort::Email, "E-mail")}
        <th>"Roles"</th>
        <th>"State"</th>
        {header(UserSort::LastLogin, "Last sign-in")}
    };
    let empty = || {
        view! { <NoMatch path="/users" what="users" icon="users" test="users-no-match" /> }
            .into_any()
    };
    let table = list_table(
        "table",
        "users-table",
        "Users",
        head,
        page.list.rows,
        |u| view! { <UserTr u /> },
        empty,
    );
    let exports = (page.list.total > 0).then(|| {
        export_links(
            &s,
            "/api/users/export",
            page.list.total,
            "user",
            "users-export",
        )
    });
    view! {
        <FilterChips chips label="Filter by state" key=ChipKey::Status />
        {exports}
        {table}
        {pager}
    }
}

#[component]
fn UserTr(u: UserSummary) -> impl IntoView {
    let href = format!("/users/{}", u.id);
    let username = u.username.to_string();
    let data_username = username.clone();
    view! {
        <tr data-test="user-row" data-username=data_username>
            <td class="cell-id"><A href=href>{username}</A>
                {u.is_builtin.then(|| view! { <span class="badge badge-shared" title="Created at first start">"built-in"</span> })}
            </td>
            <td>{if u.display_name.is_empty() { "—".to_string() } else { u.display_name.clone() }}</td>
            <td>{u.email.clone().unwrap_or_else(|| "—".into())}</td>
            <td class="small">{role_names(&u.roles)}</td>
            <td><ActiveBadge active=u.is_active /></td>
            <td class="small muted">{u.last_login_at.as_ref().map(short_utc).unwrap_or_else(|| "never".into())}</td>
        </tr>
    }
}

/// The "New user" form. With JS it dispatches the action (the checked roles as a list); without,
/// it posts the same fields to the server function.
#[component]
fn NewUserPanel(
    create: ServerAction<CreateUser>,
    roles: Resource<Result<Vec<RoleRef>, AppError>>,
    close: impl Fn() -> String + Send + Sync + 'static,
) -> impl IntoView {
    let (username, display_name, email, password) = (
        NodeRef::<leptos::html::Input>::new(),
        NodeRef::<leptos::html::Input>::new(),
        NodeRef::<leptos::html::Input>::new(),
        NodeRef::<leptos::html::Input>::new(),
    );
    let must_change = RwSignal::new(true);
    let picked = RwSignal::new(Vec::<String>::new());
    let value: Signal<_> = create.value().into();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateUser {
            username: input_text(username),
            display_name: input_text(display_name),
            email: input_text(email),
            password: password.get().map(|e| e.value()).unwrap_or_default(),
            must_change_pw: must_change.get_untracked().then(|| "on".to_string()),
            role_ids: FormList(picked.get_untracked()),
        });
    };
    let role_boxes = move || {
        Suspend::new(async move {
            match roles.await {
                Err(e) => view! { <span class="field-error">{e.to_string()}</span> }.into_any(),
                Ok(list) => list
                    .into_iter()
                    .map(|r| {
                        let id = r.id.clone();
                        let toggle = r.id.clone();
                        view! {
                            <label class="checkbox-field inline">
                                <input type="checkbox" name="role_ids" value=id data-role-name=r.name.clone()
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        picked.update(|p| {
                                            p.retain(|x| *x != toggle);
                                            if on { p.push(toggle.clone()); }
                                        });
                                    } />
                                " " {r.name}
                            </label>
                        }
                    })
                    .collect_view()
                    .into_any(),
            }
        })
    };
    view! {
        <section class="panel settings-section" data-test="user-new-panel">
            <div class="section-head row">
                <h2>"New user"</h2>
                <A href=close attr:class="button button-ghost button-small">"Cancel"</A>
            </div>
            <form method="post" action=CreateUser::url() class="form form-grid" on:submit=on_submit>
                <Field label="Username" name="username" value=value>
                    <input type="text" name="username" node_ref=username required maxlength="255" autocomplete="off" />
                </Field>
                <Field label="Display name" name="display_name" value=value>
                    <input type="text" name="display_name" node_ref=display_name maxlength=MAX_DISPLAY_NAME.to_string() />
                </Field>
                <Field label="E-mail (optional)" name="email" value=value>
                    <input type="email" name="email" node_ref=email maxlength=MAX_EMAIL.to_string() />
                </Field>
                <Field label="Initial password" name="password" value=value hint="8 to 1024 characters; tell it to the user out of band.">
                    <input type="password" name="password" node_ref=password required minlength="8" maxlength="1024" autocomplete="new-password" />
                </Field>
                <label class="field checkbox-field span-2">
                    <input type="checkbox" name="must_change_pw" checked=true
                        on:change=move |ev| must_change.set(event_target_checked(&ev)) />
                    <span>"Must change the password at first sign-in"</span>
                </label>
                <fieldset class="field span-2">
                    <legend class="field-label">"Roles"</legend>
                    <Suspense fallback=|| view! { <span class="muted">"Loading roles…"</span> }>{role_boxes}</Suspense>
                    {field_error(value, "role_ids")}
                </fieldset>
                {form_error(value)}
                <div class="form-actions span-2">
                    <button type="submit" class="button button-primary" data-test="user-create-submit"
                        disabled=move || create.pending().get()>
                        {move || if create.pending().get() { "Creating…" } else { "Create user" }}
                    </button>
                </div>
            </form>
        </section>
    }
}

/// The actions of the detail page, created once in the page body.
#[derive(Clone, Copy, Default)]
struct DetailActions {
    update: ServerAction<UpdateUser>,
    password: ServerAction<ResetUserPassword>,
    delete: ServerAction<DeleteUser>,
    role_add: ServerAction<AddUserRole>,
    role_remove: ServerAction<RemoveUserRole>,
}

/// `/users/:id`.
#[component]
pub fn UserDetailPage() -> impl IntoView {
    let a = DetailActions::default();
    let changes = vec![
        a.update.version(),
        a.role_add.version(),
        a.role_remove.version(),
    ];
    let data = route_record(changes, get_user);
    let roles = Resource::new(|| (), |_| roles_available());
    go_after(a.delete, |_| "/users".into());
    let me = use_context::<crate::app::context::MeResource>();
    view! {
        <Transition fallback=|| view! { <div class="panel skeleton" aria-busy="true">"Loading user…"</div> }>
            {move || Suspend::new(async move {
                let me = crate::app::context::me_value(me).await;
                let all_roles = roles.await.unwrap_or_default();
                match data.await {
                    Err(e) => view! {
                        <PageHeader title="User">
                            <A href="/users" attr:class="button">"← All users"</A>
                        </PageHeader>
                        <ErrorPanel error=e />
                    }.into_any(),
                    Ok(u) => {
                        // The forms only for who may change this user (the server checks anyway).
                        let resource = format!("user:{}", u.username);
                        let manage = me.is_some_and(|m| m.can(crate::app::api::users::MANAGE, &resource));
                        view! { <UserDetailBody u all_roles a manage /> }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn UserDetailBody(
    u: UserSummary,
    all_roles: Vec<RoleRef>,
    a: DetailActions,
    /// May the viewer change this user? Otherwise the page is read-only.
    manage: bool,
) -> impl IntoView {
    let subtitle = if u.display_name.is_empty() {
        "No display name".to_string()
    } else {
        u.display_name.clone()
    };
    // Both panels post `users/update`: an error without a field shows under the one used last.
    let toggled = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(i) = a.update.input().get() {
            toggled.set(i.is_active.is_some());
        }
    });
    view! {
        <PageHeader title=u.username.to_string() subtitle>
            <A href="/users" attr:class="button">"← All users"</A>
        </PageHeader>
        <div class="detail-grid">
            <StatusPanel u=u.clone() update=a.update toggled manage />
            {manage.then(|| view! { <ProfilePanel u=u.clone() update=a.update toggled /> })}
        </div>
        <div class="detail-grid">
            <RolesPanel u=u.clone() all_roles a manage />
            {manage.then(|| view! { <PasswordPanel id=u.id.clone() password=a.password /> })}
        </div>
        <crate::app::pages::roles::EffectiveAccess user_id=u.id.clone() />
        {manage.then(|| view! { <DeletePanel u delete=a.delete /> })}
    }
}

#[component]
fn StatusPanel(
    u: UserSummary,
    update: ServerAction<UpdateUser>,
    toggled: RwSignal<bool>,
    manage: bool,
) -> impl IntoView {
    let error = form_error(update.value().into());
    let next = if u.is_active { "false" } else { "true" };
    view! {
        <section class="panel" data-test="user-facts">
            <div class="status-line">
                <ActiveBadge active=u.is_active />
                {u.is_builtin.then(|| view! { <span class="badge badge-shared">"built-in"</span> })}
                {u.must_change_pw.then(|| view! { <span class="badge badge-warn">"must change password"</span> })}
            </div>
            <dl class="facts">
                <dt>"Created"</dt><dd>{short_utc(&u.created_at)}</dd>
                <dt>"Last sign-in"</dt><dd>{u.last_login_at.as_ref().map(short_utc).unwrap_or_else(|| "never".into())}</dd>
            </dl>
            {manage.then(|| view! {
                <ActionForm action=update attr:class="panel-action">
                    <input type="hidden" name="id" value=u.id />
                    <input type="hidden" name="is_active" value=next />
                    {if u.is_active {
                        view! { <button type="submit" class="button button-danger" data-test="user-deactivate">"Deactivate"</button> }.into_any()
                    } else {
                        view! { <button type="submit" class="button button-primary" data-test="user-activate">"Activate"</button> }.into_any()
                    }}
                </ActionForm>
            })}
            {(!manage).then(|| view! { <p class="muted small" data-test="user-read-only">"You may view this user but not change it."</p> })}
            {move || toggled.get().then(&error)}
            <p class="muted small">"Deactivating signs the user out everywhere at once; their history stays."</p>
        </section>
    }
}

#[component]
fn ProfilePanel(
    u: UserSummary,
    update: ServerAction<UpdateUser>,
    toggled: RwSignal<bool>,
) -> impl IntoView {
    let value: Signal<_> = update.value().into();
    let error = form_error(value);
    view! {
        <section class="panel settings-section">
            <h2>"Profile"</h2>
            <ActionForm action=update attr:class="form" attr:data-test="user-edit-form">
                <input type="hidden" name="id" value=u.id />
                <input type="hidden" name="profile" value="1" />
                <Field label="Display name" name="display_name" value=value>
                    <input type="text" name="display_name" value=u.display_name maxlength=MAX_DISPLAY_NAME.to_string() />
                </Field>
                <Field label="E-mail" name="email" value=value>
                    <input type="email" name="email" value=u.email.unwrap_or_default() maxlength=MAX_EMAIL.to_string() />
                </Field>
                {move || (!toggled.get()).then(&error)}
                <div class="form-actions">
                    <button type="submit" class="button button-primary" data-test="user-save">"Save"</button>
                    {saved_note(value, "Saved.")}
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn PasswordPanel(id: String, password: ServerAction<ResetUserPassword>) -> impl IntoView {
    let value: Signal<_> = password.value().into();
    view! {
        <section class="panel settings-section">
            <h2>"Reset password"</h2>
            <p class="muted small">"The user must choose a new password at their next sign-in; every session of theirs ends now."</p>
            <ActionForm action=password attr:class="form">
                <input type="hidden" name="id" value=id />
                <Field label="New password" name="new_password" value=value>
                    <input type="password" name="new_password" required minlength="8" maxlength="1024" autocomplete="new-password" />
                </Field>
                {form_error(value)}
                <div class="form-actions">
                    <button type="submit" class="button" data-test="user-reset-password">"Reset password"</button>
                    {move || value.get().and_then(|r| r.ok()).map(|n| view! {
                        <span class="saved-note" data-test="saved">{format!("Password reset; {n} session(s) ended.")}</span>
                    })}
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn DeletePanel(u: UserSummary, delete: ServerAction<DeleteUser>) -> impl IntoView {
    let confirm_delete = query_flag("confirm", "delete");
    let self_href = format!("/users/{}", u.id);
    let confirm_href = format!("{self_href}?confirm=delete");
    let question = format!("Delete {} for good? ", u.username);
    let id = u.id;
    let body = if u.is_builtin {
        view! { <p class="muted">"Built-in users cannot be deleted; deactivate them instead."</p> }
            .into_any()
    } else {
        view! {
            <p class="muted small">"Deleting removes the account and its sessions and templates. Audit rows keep its history."</p>
            {move || if confirm_delete.get() {
                let (id, question, cancel) = (id.clone(), question.clone(), self_href.clone());
                view! {
                    <ActionForm action=delete attr:class="inline-form">
                        <input type="hidden" name="id" value=id />
                        <span class="danger-text">{question}</span>
                        <button type="submit" class="button button-danger" data-test="user-delete-confirm">"Delete user"</button>
                        " "
                        <A href=cancel attr:class="button button-ghost">"Cancel"</A>
                    </ActionForm>
                }.into_any()
            } else {
                view! { <A href=confirm_href.clone() attr:class="button button-danger" attr:data-test="user-delete">"Delete…"</A> }.into_any()
            }}
            {form_error(delete.value().into())}
        }.into_any()
    };
    view! {
        <section class="panel settings-section" data-test="user-danger">
            <h2>"Delete user"</h2>
            {body}
        </section>
    }
}

#[component]
fn RolesPanel(
    u: UserSummary,
    all_roles: Vec<RoleRef>,
    a: DetailActions,
    manage: bool,
) -> impl IntoView {
    let addable: Vec<RoleRef> = all_roles
        .into_iter()
        .filter(|r| !u.roles.iter().any(|h| h.id == r.id))
        .collect();
    let id = u.id.clone();
    let held = u
        .roles
        .clone()
        .into_iter()
        .map(|r| {
            let id = id.clone();
            view! {
                <li class="kv-row role-held" data-test="user-role" data-role-name=r.name.clone()>
                    <span>{r.name.clone()}</span>
                    {manage.then(|| view! {
                        <ActionForm action=a.role_remove attr:class="inline-form">
                            <input type="hidden" name="id" value=id />
                            <input type="hidden" name="role_id" value=r.id.clone() />
                            <button type="submit" class="button button-small button-ghost" data-test="user-role-remove"
                                title="Take this role away">"Remove"</button>
                        </ActionForm>
                    })}
                </li>
            }
        })
        .collect_view();
    let none_held = u.roles.is_empty().then(|| {
        view! { <p class="muted">"No roles: this user can sign in but see nothing."</p> }
    });
    view! {
        <section class="panel settings-section" data-test="user-roles">
            <h2>"Roles"</h2>
            {none_held}
            <ul class="kv-list">{held}</ul>
            {form_error(a.role_remove.value().into())}
            {(manage && !addable.is_empty()).then(|| view! {
                <ActionForm action=a.role_add attr:class="role-add">
                    <input type="hidden" name="id" value=id.clone() />
                    <select name="role_id" aria-label="Role to add">
                        {addable.into_iter().map(|r| view! { <option value=r.id>{r.name}</option> }).collect_view()}
                    </select>
                    <button type="submit" class="button" data-test="user-role-add">"Add role"</button>
                </ActionForm>
            })}
            {form_error(a.role_add.value().into())}
            <p class="muted small">"Role changes apply to the user's next request and open pages at once."</p>
        </section>
    }
}
