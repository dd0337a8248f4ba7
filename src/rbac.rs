//! RBAC matching shared by server and browser: `(verb, resource_glob)` pairs with anchored,
//! case-sensitive fnmatch semantics (`*`, `?`, `[seq]`, `[!seq]`), as Python's `fnmatch.fnmatchcase`.
//!
//! Hand-written rather than the `glob` crate: that crate treats `**` specially and rejects it
//! inside a component, and fnmatch has no path separators at all.

use serde::{Deserialize, Serialize};

/// One permission pair held through a role.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Permission {
    pub verb: String,
    pub resource_glob: String,
}

impl Permission {
    /// Build a pair.
    pub fn new(verb: &str, resource_glob: &str) -> Self {
        Self {
            verb: verb.to_string(),
            resource_glob: resource_glob.to_string(),
        }
    }
}

/// True when any held pair matches both the verb and the concrete resource.
pub fn allowed(perms: &[Permission], verb: &str, resource: &str) -> bool {
    perms
        .iter()
        .any(|p| fnmatch(&p.verb, verb) && fnmatch(&p.resource_glob, resource))
}

/// Does holding `held` give at least everything `grant` gives? Used so that nobody hands out
/// (through a role, a grant or another account) access they do not hold themselves.
/// Conservative: it may answer no where the answer is yes, never the other way round.
pub fn holds(held: &[Permission], grant: &Permission) -> bool {
    held.iter().any(|h| {
        glob_covers(&h.verb, &grant.verb) && glob_covers(&h.resource_glob, &grant.resource_glob)
    })
}

/// [`holds`] for every one of `grants`.
pub fn holds_all(held: &[Permission], grants: &[Permission]) -> bool {
    grants.iter().all(|g| holds(held, g))
}

/// Does every name `inner` matches also match `outer`? Yes when they are equal, when `outer` is
/// `*`, or when `outer` is a literal prefix and one trailing `*` and `inner`'s literal start
/// (up to its first `*`, `?` or `[`) begins with that prefix; no otherwise.
fn glob_covers(outer: &str, inner: &str) -> bool {
    if outer == inner || outer == "*" {
        return true;
    }
    match outer.strip_suffix('*') {
        Some(prefix) if !prefix.contains(['*', '?', '[']) => {
            let literal = inner.find(['*', '?', '[']).unwrap_or(inner.len());
            inner[..literal].starts_with(prefix)
        }
        _ => false,
    }
}

/// Anchored, case-sensitive shell-style match of `name` against `pattern`.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    // The shapes nearly every grant has, without the general matcher's two allocations: a
    // literal, `*`, or a literal prefix and one trailing `*`. The SSE stream asks this once per
    // event and browser.
    const WILD: [char; 3] = ['*', '?', '['];
    if !pattern.contains(WILD) {
        return pattern == name;
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        if !prefix.contains(WILD) {
            return name.starts_with(prefix);
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with single-star backtracking (linear-ish, no recursion blow-up).
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = match_class(&p, pi, n[ni]) {
                        if matched {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        // An unclosed '[' is a literal, as in fnmatch.
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                c => {
                    if c == n[ni] {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// One member of a bracket class: a character or an inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassMember {
    One(char),
    Range(char, char),
}

impl ClassMember {
    /// Whether `c` is this member.
    pub fn contains(self, c: char) -> bool {
        match self {
            ClassMember::One(x) => x == c,
            ClassMember::Range(a, b) => a <= c && c <= b,
        }
    }
}

/// Parse the class starting at `p[start] == '['`, handing each member to `member`.
/// Returns `None` when the class is not closed (then '[' is literal), else (negated, index after
/// ']'). `crate::server::sqlglob` parses grants with exactly these rules.
pub fn parse_class(
    p: &[char],
    start: usize,
    mut member: impl FnMut(ClassMember),
) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = i < p.len() && p[i] == '!';
    if negate {
        i += 1;
    }
    // A ']' right after '[' or '[!' is a literal member.
    let first = i;
    loop {
        if i >= p.len() {
            return None;
        }
        if p[i] == ']' && i > first {
            break;
        }
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            member(ClassMember::Range(p[i], p[i + 2]));
            i += 3;
        } else {
            member(ClassMember::One(p[i]));
            i += 1;
        }
    }
    Some((negate, i + 1))
}

/// Match `c` against the class starting at `p[start] == '['`.
/// Returns `None` when the class is not closed (then '[' is literal), else (matched, index after ']').
fn match_class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut matched = false;
    let (negate, next) = parse_class(p, start, |m| matched |= m.contains(c))?;
    Some((matched != negate, next))
}

/// Execution functions that run, schedule or forge *another* function, or render a template
/// that can call any function. A glob grant never covers them (`execute:salt:test.*` does not
/// allow `test.cross_test`, which runs any function as root): they need a grant that covers
/// every function (`execute:salt:*`, `execute:*`, `*:*`) or one naming the function exactly
/// (`execute:salt:test.cross_test`). Entries are fnmatch patterns over `module.function`.
///
/// Each entry, and why:
/// - `test.cross_test`: calls any function with any arguments.
/// - `saltutil.cmd*` (`cmd`, `cmd_iter`, `cmd_iter_no_block`), `saltutil.runner`,
///   `saltutil.wheel`: publish a job, or run a runner / wheel function, from the minion.
/// - `publish.*`: publishes a job to other minions through the master (peer publishing).
/// - `event.*` (`fire`, `fire_master`, `send`): forge events; on the master bus they feed the
///   reactor and Halite's Activity, on the minion bus `manage_schedule` adds scheduled jobs.
/// - `mine.send`: runs any function and stores its return in the mine. (`mine.update` only runs
///   the `mine_functions` an admin configured, so it is not on the list.)
/// - `schedule.*`: schedules any function (`add`, `modify`, `copy`, `move`), or runs a scheduled
///   job now (`run_job`); the whole module, so an admin grants `schedule.list` by name.
/// - `state.single`, `state.low`, `state.high`, `state.template`, `state.template_str`,
///   `state.pkg`: run states the caller writes (e.g. `cmd.run`), not the master's own SLS files.
///   (`state.apply`, `state.sls`, `state.highstate` run the master's files and are not listed.)
/// - `slsutil.renderer`, `file.apply_template_on_contents`: render caller text through Jinja,
///   which can call `salt['cmd.run'](...)`.
/// - `cp.get_template`: renders a template from any URL the minion can fetch (`http://...`).
pub const INDIRECT_FUNCTIONS: &[&str] = &[
    "test.cross_test",
    "saltutil.cmd*",
    "saltutil.runner",
    "saltutil.wheel",
    "publish.*",
    "event.*",
    "mine.send",
    "schedule.*",
    "state.single",
    "state.low",
    "state.high",
    "state.template",
    "state.template_str",
    "state.pkg",
    "slsutil.renderer",
    "file.apply_template_on_contents",
    "cp.get_template",
];

/// Whether `fun` (`module.function`) runs, schedules or forges another function (see
/// [`INDIRECT_FUNCTIONS`]).
pub fn is_indirect_function(fun: &str) -> bool {
    INDIRECT_FUNCTIONS.iter().any(|p| fnmatch(p, fun))
}

/// Whether a grant's resource glob covers every resource of `kind` (`*`, `minion:*`, `m*`, ...):
/// a glob ending in `*` whose part before it already matches a prefix of `kind:` matches
/// `kind:` followed by anything.
fn covers_kind(resource_glob: &str, kind: &str) -> bool {
    resource_glob.ends_with('*') && fnmatch(resource_glob, &format!("{kind}:"))
}

/// Whether the grants give `verb` on *every* resource of `kind` (e.g. `view:minion:*`,
/// `view:*`, `*:*`), not only on some of them (`view:minion:web-*`).
pub fn covers_all(perms: &[Permission], verb: &str, kind: &str) -> bool {
    perms
        .iter()
        .any(|p| fnmatch(&p.verb, verb) && covers_kind(&p.resource_glob, kind))
}

/// `execute:salt:<fun>` with the indirect-function rule: an indirect function needs a grant
/// covering every function or one naming it exactly; any other function a matching glob.
pub fn may_execute(perms: &[Permission], fun: &str) -> bool {
    if !is_indirect_function(fun) {
        return allowed(perms, "execute", &format!("salt:{fun}"));
    }
    let exact = format!("salt:{fun}");
    perms.iter().any(|p| {
        fnmatch(&p.verb, "execute")
            && (p.resource_glob == exact || covers_kind(&p.resource_glob, "salt"))
    })
}

/// Built-in roles, re-seeded at every start: (name, description, permissions).
pub fn builtin_roles() -> Vec<(&'static str, &'static str, Vec<Permission>)> {
    vec![
        (
            "admin",
            "Full access to everything",
            vec![Permission::new("*", "*")],
        ),
        (
            "operator",
            "Runs commands, manages keys and jobs; reads everything",
            vec![
                Permission::new("view", "*"),
                Permission::new("run", "*"),
                Permission::new("accept", "key:*"),
                Permission::new("delete", "key:*"),
                Permission::new("execute", "salt:*"),
                Permission::new("kill", "job:*"),
                Permission::new("reject", "key:*"),
                Permission::new("collect", "inventory:*"),
            ],
        ),
        (
            "viewer",
            "Read-only access to the fleet",
            // `view` on every kind of fleet resource.
            [
                "minion",
                "key",
                "job",
                "grain",
                "pillar",
                "event",
                "setting",
                "inventory",
            ]
            .iter()
            .map(|kind| Permission::new("view", &format!("{kind}:*")))
            .collect(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> Vec<Permission> {
        builtin_roles()
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .unwrap()
            .2
    }

    #[test]
    fn holding_covers_only_narrower_grants() {
        let held = vec![
            Permission::new("view", "*"),
            Permission::new("accept", "key:web-*"),
            Permission::new("manage_user", "user:team-*"),
        ];
        let g = Permission::new;
        for (grant, expect) in [
            (g("view", "minion:web-01"), true),
            (g("view", "*"), true),
            (g("accept", "key:web-*"), true),
            (g("accept", "key:web-0[12]"), true),
            (g("accept", "key:web-0?"), true),
            (g("accept", "key:*"), false),
            (g("accept", "key:w*"), false),
            (g("accept", "key:db-01"), false),
            (g("delete", "key:web-01"), false),
            (g("*", "key:web-01"), false),
            (g("manage_user", "user:team-a"), true),
            (g("manage_user", "user:*"), false),
            (g("*", "*"), false),
        ] {
            assert_eq!(holds(&held, &grant), expect, "{grant:?}");
        }
        assert!(holds(&[g("*", "*")], &g("*", "*")));
        assert!(holds_all(
            &[g("*", "*")],
            &[g("kill", "job:1"), g("view", "*")]
        ));
        assert!(!holds_all(&held, &[g("view", "x"), g("kill", "job:1")]));
    }

    #[test]
    fn fnmatch_basics() {
        assert!(fnmatch("*", ""));
        assert!(fnmatch("*", "anything:at:all"));
        assert!(fnmatch("key:*", "key:web-01"));
        assert!(!fnmatch("key:*", "minion:web-01"));
        assert!(fnmatch("key:web-*", "key:web-01"));
        assert!(!fnmatch("key:web-*", "key:db-01"));
        assert!(!fnmatch("key:web-*", "xkey:web-01"), "anchored at start");
        assert!(!fnmatch("key:web", "key:web-01"), "anchored at end");
        assert!(fnmatch("key:web-0?", "key:web-01"));
        assert!(!fnmatch("key:web-0?", "key:web-012"));
        assert!(
            fnmatch("Key:*", "Key:a") && !fnmatch("Key:*", "key:a"),
            "case-sensitive"
        );
        assert!(fnmatch("a*b*c", "aXXbYYc"));
        assert!(!fnmatch("a*b*c", "aXXbYY"));
        assert!(fnmatch("**", "x"));
    }

    #[test]
    fn fnmatch_classes() {
        assert!(fnmatch("web-[0-9]*", "web-1a"));
        assert!(!fnmatch("web-[0-9]*", "web-a1"));
        assert!(fnmatch("web-[!0-9]", "web-a"));
        assert!(!fnmatch("web-[!0-9]", "web-5"));
        assert!(fnmatch("[]]", "]"));
        assert!(fnmatch("[!]]", "a"));
        assert!(fnmatch("a[", "a["), "unclosed class is literal");
        assert!(fnmatch("[a-]", "-"));
    }

    #[test]
    fn docs_worked_examples() {
        let (admin, operator, viewer) = (role("admin"), role("operator"), role("viewer"));
        let cases: &[(&str, &str, bool, bool, bool)] = &[
            ("view", "minion:web-01", true, true, true),
            ("run", "salt:test.ping", true, true, false),
            ("accept", "key:db-01", true, true, false),
            ("kill", "job:20240101000000000000", true, true, false),
            ("view", "audit:*", true, true, false),
            ("delete", "user:alice", true, false, false),
        ];
        for (verb, res, a, o, v) in cases {
            assert_eq!(allowed(&admin, verb, res), *a, "admin {verb} {res}");
            assert_eq!(allowed(&operator, verb, res), *o, "operator {verb} {res}");
            assert_eq!(allowed(&viewer, verb, res), *v, "viewer {verb} {res}");
        }
    }

    #[test]
    fn per_resource_custom_role() {
        let perms = vec![
            Permission::new("accept", "key:web-*"),
            Permission::new("view", "key:*"),
        ];
        assert!(allowed(&perms, "accept", "key:web-01"));
        assert!(!allowed(&perms, "accept", "key:db-01"));
        assert!(!allowed(&perms, "reject", "key:web-01"));
        assert!(allowed(&perms, "view", "key:db-01"));
        let exec = vec![Permission::new("execute", "salt:test.*")];
        assert!(allowed(&exec, "execute", "salt:test.ping"));
        assert!(!allowed(&exec, "execute", "salt:cmd.run"));
    }

    #[test]
    fn viewer_cannot_edit_settings() {
        assert!(!allowed(&role("viewer"), "edit", "settings:*"));
        assert!(allowed(&role("admin"), "edit", "settings:*"));
        assert!(!allowed(&role("operator"), "edit", "settings:*"));
        assert!(allowed(&role("operator"), "collect", "inventory:*"));
    }

    #[test]
    fn indirect_functions_need_a_full_or_exact_grant() {
        for f in [
            "test.cross_test",
            "saltutil.cmd",
            "saltutil.cmd_iter",
            "saltutil.cmd_iter_no_block",
            "saltutil.runner",
            "saltutil.wheel",
            "publish.publish",
            "publish.full_data",
            "publish.runner",
            "event.fire_master",
            "event.send",
            "event.fire",
            "mine.send",
            "schedule.add",
            "schedule.modify",
            "schedule.run_job",
            "state.single",
            "state.low",
            "state.high",
            "state.template",
            "state.template_str",
            "slsutil.renderer",
            "cp.get_template",
        ] {
            assert!(is_indirect_function(f), "{f}");
        }
        for f in [
            "test.ping",
            "test.echo",
            "test.sleep",
            "cmd.run",
            "state.apply",
            "state.sls",
            "state.highstate",
            "mine.update",
            "mine.get",
            "saltutil.sync_all",
            "saltutil.kill_job",
            "cp.get_file",
            "testx.cross_test",
        ] {
            assert!(!is_indirect_function(f), "{f}");
        }
        let glob = vec![Permission::new("execute", "salt:test.*")];
        assert!(may_execute(&glob, "test.ping"));
        assert!(
            !may_execute(&glob, "test.cross_test"),
            "a glob never covers an indirect function"
        );
        assert!(!may_execute(&glob, "cmd.run"));
        let broad = vec![Permission::new("execute", "salt:s*")];
        assert!(may_execute(&broad, "state.apply"));
        assert!(!may_execute(&broad, "state.single"));
        assert!(!may_execute(&broad, "saltutil.cmd"));
        let exact = vec![Permission::new("execute", "salt:test.cross_test")];
        assert!(may_execute(&exact, "test.cross_test"));
        assert!(!may_execute(&exact, "test.ping"));
        let exact_q = vec![Permission::new("execute", "salt:test.cross_tes?")];
        assert!(
            !may_execute(&exact_q, "test.cross_test"),
            "only the exact name"
        );
        for all in ["salt:*", "*", "s*", "salt*"] {
            let p = vec![Permission::new("execute", all)];
            assert!(may_execute(&p, "test.cross_test"), "{all}");
            assert!(may_execute(&p, "event.fire_master"), "{all}");
        }
        assert!(may_execute(&role("admin"), "saltutil.runner"));
        assert!(may_execute(&role("operator"), "saltutil.runner"));
        assert!(!may_execute(&role("viewer"), "test.cross_test"));
        let wrong_verb = vec![Permission::new("view", "salt:*")];
        assert!(!may_execute(&wrong_verb, "test.cross_test"));
    }

    #[test]
    fn covers_all_minions() {
        assert!(covers_all(&role("admin"), "view", "minion"));
        assert!(covers_all(&role("operator"), "view", "minion"));
        assert!(covers_all(&role("viewer"), "view", "minion"));
        for (glob, all) in [
            ("minion:*", true),
            ("*", true),
            ("m*", true),
            ("*n:*", true),
            ("minion:web-*", false),
            ("minion:?", false),
            ("minion:[*]", false),
            ("minion:*-01", false),
            ("key:*", false),
        ] {
            let p = vec![Permission::new("view", glob)];
            assert_eq!(covers_all(&p, "view", "minion"), all, "{glob}");
        }
        assert!(!covers_all(
            &[Permission::new("execute", "*")],
            "view",
            "minion"
        ));
        assert!(!covers_all(&[], "view", "minion"));
    }
}
