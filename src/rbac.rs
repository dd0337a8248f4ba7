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

/// True when one held grant covers every resource of `kind` (e.g. `view:minion:*`, `view:*`,
/// `*:*`): the user's scope for that verb is not limited to some ids.
pub fn allows_every(perms: &[Permission], verb: &str, kind: &str) -> bool {
    let whole = format!("{kind}:");
    perms.iter().any(|p| {
        let prefix = p.resource_glob.trim_end_matches('*');
        fnmatch(&p.verb, verb)
            && p.resource_glob.len() > prefix.len()
            && !prefix.contains(['*', '?', '['])
            && whole.starts_with(prefix)
    })
}

/// Anchored, case-sensitive shell-style match of `name` against `pattern`.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
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

/// Match `c` against the class starting at `p[start] == '['`.
/// Returns `None` when the class is not closed (then '[' is literal), else (matched, index after ']').
fn match_class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = i < p.len() && p[i] == '!';
    if negate {
        i += 1;
    }
    // A ']' right after '[' or '[!' is a literal member.
    let first = i;
    let mut matched = false;
    loop {
        if i >= p.len() {
            return None;
        }
        if p[i] == ']' && i > first {
            break;
        }
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    Some((matched != negate, i + 1))
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
            vec![
                Permission::new("view", "minion:*"),
                Permission::new("view", "key:*"),
                Permission::new("view", "job:*"),
                Permission::new("view", "grain:*"),
                Permission::new("view", "pillar:*"),
                Permission::new("view", "event:*"),
                Permission::new("view", "setting:*"),
                Permission::new("view", "inventory:*"),
            ],
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
    fn whole_kind_grants() {
        let p = |v: &str, g: &str| vec![Permission::new(v, g)];
        assert!(allows_every(&p("view", "key:*"), "view", "key"));
        assert!(allows_every(&p("view", "*"), "view", "key"));
        assert!(allows_every(&p("*", "k*"), "view", "key"));
        assert!(!allows_every(&p("view", "key:web-*"), "view", "key"));
        assert!(!allows_every(&p("view", "key:"), "view", "key"));
        assert!(!allows_every(&p("view", "minion:*"), "view", "key"));
        assert!(!allows_every(&p("accept", "key:*"), "view", "key"));
        assert!(!allows_every(&p("view", "?ey:*"), "view", "key"));
    }

    #[test]
    fn viewer_cannot_edit_settings() {
        assert!(!allowed(&role("viewer"), "edit", "settings:*"));
        assert!(allowed(&role("admin"), "edit", "settings:*"));
        assert!(!allowed(&role("operator"), "edit", "settings:*"));
        assert!(allowed(&role("operator"), "collect", "inventory:*"));
    }
}
