//! The page list: sidebar entries, their permission gates, and their routes.

use crate::app::api::auth::Me;

/// Who may see a sidebar entry.
#[derive(Debug, Clone, Copy)]
pub enum Gate {
    /// Any signed-in user.
    Session,
    /// One `(verb, resource)` permission.
    Perm(&'static str, &'static str),
    /// Any of several permissions.
    AnyOf(&'static [(&'static str, &'static str)]),
}

impl Gate {
    /// Does this user pass the gate?
    pub fn allows(&self, me: &Me) -> bool {
        match self {
            Gate::Session => true,
            Gate::Perm(v @ ("view" | "execute"), r) if r.ends_with(":*") => {
                may_kind(&me.permissions, v, &r[..r.len() - 2])
            }
            Gate::Perm(v, r) => me.can(v, r),
            Gate::AnyOf(list) => list.iter().any(|(v, r)| Gate::Perm(v, r).allows(me)),
        }
    }
}

/// One sidebar entry.
#[derive(Debug, Clone, Copy)]
pub struct NavItem {
    pub path: &'static str,
    pub label: &'static str,
    pub icon: &'static str,
    pub section: &'static str,
    pub gate: Gate,
    /// One line shown on the "coming soon" panel until the page is built.
    pub blurb: &'static str,
}

/// Every page in the sidebar, in order.
pub const NAV: &[NavItem] = &[
    NavItem { path: "/", label: "Overview", icon: "grid", section: "Fleet", gate: Gate::Session,
        blurb: "KPIs, fleet heatmap and recent activity." },
    NavItem { path: "/activity", label: "Activity", icon: "pulse", section: "Fleet",
        gate: Gate::AnyOf(&[("view", "job:*"), ("view", "key:*"), ("view", "minion:*")]),
        blurb: "The live Salt event bus: jobs, returns, key changes and minion starts." },
    NavItem { path: "/minions", label: "Minions", icon: "server", section: "Fleet", gate: Gate::Perm("view", "minion:*"),
        blurb: "Every minion with status, OS, IP and grains; searchable and sortable at 10,000+ minions." },
    NavItem { path: "/keys", label: "Keys", icon: "key", section: "Fleet", gate: Gate::Perm("view", "key:*"),
        blurb: "Minion keys by state: accept, reject or delete them." },
    NavItem { path: "/jobs", label: "Jobs", icon: "list", section: "Jobs", gate: Gate::Perm("view", "job:*"),
        blurb: "Recent jobs with per-minion results; kill running jobs." },
    NavItem { path: "/timeline", label: "Timeline", icon: "clock", section: "Jobs", gate: Gate::Perm("view", "job:*"),
        blurb: "Job bars over time, grouped by function or user." },
    NavItem { path: "/run", label: "Run", icon: "play", section: "Jobs", gate: Gate::Perm("execute", "salt:*"),
        blurb: "Dispatch an execution function with target preview and live per-minion progress." },
    NavItem { path: "/templates", label: "Templates", icon: "bookmark", section: "Jobs", gate: Gate::Session,
        blurb: "Saved Run commands, private or shared." },
    NavItem { path: "/inventory", label: "Inventory", icon: "box", section: "State", gate: Gate::Perm("view", "inventory:*"),
        blurb: "Installed packages across the fleet." },
    NavItem { path: "/fleet", label: "Fleet health", icon: "shield", section: "State", gate: Gate::Session,
        blurb: "Highstate compliance per minion and over time." },
    NavItem { path: "/users", label: "Users", icon: "users", section: "Admin", gate: Gate::Perm("view", "user:*"),
        blurb: "Accounts, roles held, activation and password resets." },
    NavItem { path: "/roles", label: "Roles", icon: "lock", section: "Admin", gate: Gate::Perm("view", "role:*"),
        blurb: "Built-in and custom roles with their (verb, resource) permissions." },
    NavItem { path: "/audit", label: "Audit log", icon: "scroll", section: "Admin", gate: Gate::Perm("view", "audit:*"),
        blurb: "Every change and every denied request, newest first." },
    NavItem { path: "/settings", label: "Settings", icon: "gear", section: "Admin", gate: Gate::Perm("edit", "settings:*"),
        blurb: "Salt API connection, pollers and the activity widget." },
    NavItem { path: "/diagnostics", label: "Diagnostics", icon: "stethoscope", section: "Admin", gate: Gate::Perm("edit", "settings:*"),
        blurb: "Checks salt-api, eauth, the event stream, pollers and the database, with the fix for what fails." },
    NavItem { path: "/about", label: "About", icon: "info", section: "Admin", gate: Gate::Session,
        blurb: "" },
];

/// The entry for a path (exact, or the parent list page of a detail route).
pub fn item_for(path: &str) -> Option<&'static NavItem> {
    NAV.iter().find(|n| n.path == path).or_else(|| {
        NAV.iter()
            .filter(|n| n.path != "/")
            .find(|n| path.starts_with(&format!("{}/", n.path)))
    })
}

/// Does any permission let the user `view` some resource of this kind (`minion`, `key`, ...)?
/// Per-resource roles like `view:minion:web-*` still get the page, filtered to what they may see.
pub fn may_view_kind(perms: &[crate::rbac::Permission], kind: &str) -> bool {
    may_kind(perms, "view", kind)
}

/// Whether any grant lets the user `verb` at least one resource of `kind` (e.g. a role with
/// only `execute:salt:test.*` may use the Run page).
pub fn may_kind(perms: &[crate::rbac::Permission], verb: &str, kind: &str) -> bool {
    perms.iter().any(|p| {
        crate::rbac::fnmatch(&p.verb, verb)
            && (crate::rbac::fnmatch(&p.resource_glob, &format!("{kind}:x"))
                || p.resource_glob.starts_with(&format!("{kind}:"))
                || p.resource_glob.starts_with('*'))
    })
}
