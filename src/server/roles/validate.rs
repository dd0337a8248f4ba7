//! The checks a permission row passes before it is stored: a verb some endpoint checks (or a
//! glob over them) and a resource glob that parses the way `rbac::fnmatch` reads it and names a
//! known resource kind. Messages say what to write instead.

use crate::error::AppError;
use crate::model::roles::{KNOWN_KINDS, KNOWN_VERBS, MAX_RESOURCE, MAX_VERB};
use crate::rbac::fnmatch;
use crate::server::sqlglob::{can_match_prefix, to_sqlite_glob, unclosed_class};

/// Trimmed `value`, 1 to `max` characters without whitespace or control characters, and with
/// every `[` closed.
fn glob_text(field: &str, what: &str, value: &str, max: usize) -> Result<String, AppError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("A {what} is 1 to {max} characters."),
        ));
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AppError::invalid(
            field,
            format!("A {what} cannot hold spaces or control characters."),
        ));
    }
    if let Some(at) = unclosed_class(v) {
        return Err(AppError::invalid(
            field,
            format!(
                "The {what} {v:?} opens a class with '[' at position {} that is never closed with ']'.",
                at + 1
            ),
        ));
    }
    Ok(v.to_string())
}

/// A grant's verb: `*`, a known verb, or a glob matching at least one known verb.
pub fn verb(value: &str) -> Result<String, AppError> {
    let v = glob_text("verb", "verb", value, MAX_VERB)?;
    if KNOWN_VERBS.iter().any(|k| fnmatch(&v, k)) {
        return Ok(v);
    }
    Err(AppError::invalid(
        "verb",
        format!("Unknown verb {v:?}: use one of {}.", KNOWN_VERBS.join(", ")),
    ))
}

/// A grant's resource glob: `*`, or a known kind (or a glob over kinds) followed by `:`.
pub fn resource_glob(value: &str) -> Result<String, AppError> {
    let g = glob_text("resource_glob", "resource glob", value, MAX_RESOURCE)?;
    if to_sqlite_glob(&g).is_none() {
        return Err(AppError::invalid(
            "resource_glob",
            format!("The resource glob {g:?} can match nothing (a class such as [z-a] is empty)."),
        ));
    }
    if KNOWN_KINDS
        .iter()
        .any(|k| can_match_prefix(&g, &format!("{k}:")))
    {
        return Ok(g);
    }
    let kinds = KNOWN_KINDS.join(", ");
    Err(AppError::invalid(
        "resource_glob",
        match g.split_once(':') {
            Some((kind, _)) => format!("Unknown resource kind {kind:?}: use one of {kinds}."),
            None => format!(
                "A resource glob is * or a kind and a colon, like key:web-* (kinds: {kinds})."
            ),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message of `r`, which must be an error.
    fn message(r: Result<String, AppError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn verbs() {
        for ok in ["*", "view", "accept", "manage_*", "?iew", "[ar]*"] {
            assert!(verb(ok).is_ok(), "{ok}");
        }
        let e = verb("acept").unwrap_err();
        assert_eq!(e.field(), Some("verb"));
        assert!(e
            .to_string()
            .contains("Unknown verb \"acept\": use one of view, run, accept"));
        assert!(message(verb("[view")).contains("never closed"));
        assert!(verb("").is_err());
        assert!(verb("vi ew").is_err());
        assert!(verb(&"v".repeat(65)).is_err());
    }

    #[test]
    fn resource_globs() {
        for ok in [
            "*",
            "*:*",
            "key:new-*",
            "minion:web-[0-9]*",
            "m*",
            "k?y:*",
            "job:2024*",
        ] {
            assert_eq!(resource_glob(ok).unwrap(), ok);
        }
        assert!(message(resource_glob("key:web-[0-9")).contains("never closed"));
        assert!(message(resource_glob("key:[z-a]")).contains("match nothing"));
        assert!(message(resource_glob("kye:web-*")).contains("Unknown resource kind \"kye\""));
        assert!(message(resource_glob("web-01")).contains("kind and a colon"));
        assert!(resource_glob("key:a b").is_err());
        assert!(resource_glob(&format!("key:{}", "a".repeat(252))).is_err());
    }
}
