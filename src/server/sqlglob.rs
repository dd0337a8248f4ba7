//! Translate RBAC resource grants (fnmatch, as [`crate::rbac::fnmatch`] reads them) into SQLite
//! `GLOB` patterns that select exactly the same strings.
//!
//! The two dialects differ: fnmatch negates a class with `[!`, SQLite with `[^` (so `[^` is a
//! literal `^` member in fnmatch); an unclosed `[` is a literal in fnmatch and never matches in
//! SQLite; and the two place `]`, `^` and `-` differently inside a class. So the grant is parsed
//! with the class rules of `rbac::fnmatch` into tokens and each token is emitted in a form SQLite
//! reads unambiguously: literal specials as `[*]`, `[?]`, `[[]`; in a class `]` first, `^` never
//! first unless negating, `-` last, and ranges whose end points are one of those split into single
//! members plus a plain range. The SQL then matches `'<kind>:' || id` against the translated grant
//! as written, with no rewriting between kinds.

use crate::rbac::ClassMember as Member;

/// One token of an fnmatch pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Star,
    Any,
    Lit(char),
    Class { negate: bool, members: Vec<Member> },
}

impl Token {
    /// Whether this (non-star) token matches `c`.
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Star | Token::Any => true,
            Token::Lit(l) => *l == c,
            Token::Class { negate, members } => {
                let hit = members.iter().any(|m| m.contains(c));
                hit != *negate
            }
        }
    }
    /// Whether some character matches this token.
    fn satisfiable(&self) -> bool {
        match self {
            Token::Class {
                negate: false,
                members,
            } => members.iter().any(|m| match *m {
                Member::One(_) => true,
                Member::Range(a, b) => a <= b,
            }),
            _ => true,
        }
    }
}

/// Split a pattern into tokens with exactly the class rules of `rbac::fnmatch`.
fn tokenize(pattern: &str) -> Vec<Token> {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '*' => {
                out.push(Token::Star);
                i += 1;
            }
            '?' => {
                out.push(Token::Any);
                i += 1;
            }
            '[' => match parse_class(&p, i) {
                Some((tok, next)) => {
                    out.push(tok);
                    i = next;
                }
                None => {
                    out.push(Token::Lit('['));
                    i += 1;
                }
            },
            c => {
                out.push(Token::Lit(c));
                i += 1;
            }
        }
    }
    out
}

/// `rbac::parse_class` into a token: `None` when the class is not closed.
fn parse_class(p: &[char], start: usize) -> Option<(Token, usize)> {
    let mut members = Vec::new();
    let (negate, next) = crate::rbac::parse_class(p, start, |m| members.push(m))?;
    Some((Token::Class { negate, members }, next))
}

/// Characters that need care inside a SQLite class.
fn class_special(c: char) -> bool {
    matches!(c, ']' | '^' | '-')
}

fn next_char(c: char) -> Option<char> {
    match c as u32 {
        0xD7FF => Some('\u{E000}'),
        n => char::from_u32(n + 1),
    }
}

fn prev_char(c: char) -> Option<char> {
    match c as u32 {
        0 => None,
        0xE000 => Some('\u{D7FF}'),
        n => char::from_u32(n - 1),
    }
}

/// A class's members sorted into what SQLite needs placed with care and the rest.
#[derive(Default)]
struct ClassSet {
    close: bool,
    caret: bool,
    dash: bool,
    singles: Vec<char>,
    ranges: Vec<(char, char)>,
}

impl ClassSet {
    fn single(&mut self, c: char) {
        match c {
            // SQLite reads text up to a NUL: no stored id holds one, so it can never match.
            '\0' => {}
            ']' => self.close = true,
            '^' => self.caret = true,
            '-' => self.dash = true,
            c if !self.singles.contains(&c) => self.singles.push(c),
            _ => {}
        }
    }
    fn range(&mut self, mut a: char, mut b: char) {
        if a > b {
            return;
        }
        if a == '\0' {
            match next_char(a) {
                Some(n) if n <= b => a = n,
                _ => return,
            }
        }
        // Peel special end points off as single members.
        while class_special(a) && a < b {
            self.single(a);
            a = next_char(a).unwrap_or(b);
        }
        while class_special(b) && a < b {
            self.single(b);
            b = prev_char(b).unwrap_or(a);
        }
        if a == b {
            self.single(a);
        } else {
            self.ranges.push((a, b));
        }
    }
    fn is_empty(&self) -> bool {
        !self.close
            && !self.caret
            && !self.dash
            && self.singles.is_empty()
            && self.ranges.is_empty()
    }
}

/// SQLite class text for a member set; `None` when it can match nothing.
fn emit_class(negate: bool, members: &[Member]) -> Option<String> {
    let mut set = ClassSet::default();
    for m in members {
        match *m {
            Member::One(c) => set.single(c),
            Member::Range(a, b) => set.range(a, b),
        }
    }
    if set.is_empty() {
        return if negate { Some("?".into()) } else { None };
    }
    let mut s = String::from("[");
    if negate {
        s.push('^');
    }
    if set.close {
        s.push(']');
    }
    if !negate && !set.close && set.singles.is_empty() && set.ranges.is_empty() {
        // Only `^` and/or `-`: `^` must not come first, a leading `-` is a literal.
        if !set.dash {
            // `[^]` would be a broken negation; a lone caret is a plain literal outside a class.
            return Some("^".into());
        }
        s.push('-');
        if set.caret {
            s.push('^');
        }
        s.push(']');
        return Some(s);
    }
    s.extend(set.singles.iter());
    for (a, b) in &set.ranges {
        s.push(*a);
        s.push('-');
        s.push(*b);
    }
    if set.caret {
        s.push('^');
    }
    if set.dash {
        s.push('-');
    }
    s.push(']');
    Some(s)
}

/// The SQLite GLOB pattern selecting exactly what `rbac::fnmatch(pattern, _)` accepts (among
/// strings without NUL), or `None` when the pattern can match nothing.
pub fn to_sqlite_glob(pattern: &str) -> Option<String> {
    let mut out = String::new();
    for t in tokenize(pattern) {
        match t {
            Token::Star => out.push('*'),
            Token::Any => out.push('?'),
            Token::Lit('\0') => return None,
            Token::Lit('*') => out.push_str("[*]"),
            Token::Lit('?') => out.push_str("[?]"),
            Token::Lit('[') => out.push_str("[[]"),
            Token::Lit(c) => out.push(c),
            Token::Class { negate, members } => out.push_str(&emit_class(negate, &members)?),
        }
    }
    Some(out)
}

/// The Postgres regular expression (for `~`, anchored at both ends) selecting exactly what
/// `rbac::fnmatch(pattern, _)` accepts among strings Postgres can store (no NUL), or `None` when
/// the pattern can match nothing. Every literal that is not an ASCII letter or digit is escaped
/// with a backslash (which makes it literal in an ARE, inside a bracket expression too).
pub fn to_pg_regex(pattern: &str) -> Option<String> {
    fn lit(out: &mut String, c: char) {
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    let mut out = String::from("^");
    for t in tokenize(pattern) {
        match t {
            Token::Star => out.push_str(".*"),
            Token::Any => out.push('.'),
            Token::Lit('\0') => return None,
            Token::Lit(c) => lit(&mut out, c),
            Token::Class { negate, members } => {
                let mut body = String::new();
                for m in members {
                    match m {
                        Member::One('\0') => {}
                        Member::One(c) => lit(&mut body, c),
                        Member::Range(a, b) => {
                            let a = if a == '\0' { '\u{1}' } else { a };
                            if a > b {
                                continue;
                            }
                            lit(&mut body, a);
                            body.push('-');
                            lit(&mut body, b);
                        }
                    }
                }
                match (body.is_empty(), negate) {
                    (true, false) => return None,
                    (true, true) => out.push('.'),
                    (false, neg) => {
                        out.push('[');
                        if neg {
                            out.push('^');
                        }
                        out.push_str(&body);
                        out.push(']');
                    }
                }
            }
        }
    }
    out.push('$');
    Some(out)
}

/// Character index of the first `[` that opens no class (fnmatch then reads it as a literal
/// `[`, which is almost never what a person writing a grant meant), if any.
pub fn unclosed_class(pattern: &str) -> Option<usize> {
    let p: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < p.len() {
        if p[i] == '[' {
            match parse_class(&p, i) {
                Some((_, next)) => {
                    i = next;
                    continue;
                }
                None => return Some(i),
            }
        }
        i += 1;
    }
    None
}

/// Pattern positions reachable after reading `prefix` (star positions also reach past the star).
fn states_after(tokens: &[Token], prefix: &str) -> Vec<usize> {
    fn close(tokens: &[Token], mut set: Vec<usize>) -> Vec<usize> {
        let mut i = 0;
        while i < set.len() {
            let s = set[i];
            if s < tokens.len() && tokens[s] == Token::Star && !set.contains(&(s + 1)) {
                set.push(s + 1);
            }
            i += 1;
        }
        set
    }
    let mut set = close(tokens, vec![0]);
    for c in prefix.chars() {
        let mut next = Vec::new();
        for &s in &set {
            if s >= tokens.len() {
                continue;
            }
            let n = if tokens[s] == Token::Star { s } else { s + 1 };
            if tokens[s].matches(c) && !next.contains(&n) {
                next.push(n);
            }
        }
        set = close(tokens, next);
        if set.is_empty() {
            break;
        }
    }
    set
}

/// Whether `pattern` matches at least one string starting with `prefix`.
pub fn can_match_prefix(pattern: &str, prefix: &str) -> bool {
    let tokens = tokenize(pattern);
    states_after(&tokens, prefix)
        .into_iter()
        .any(|s| tokens[s.min(tokens.len())..].iter().all(Token::satisfiable))
}

/// Whether `pattern` matches every string starting with `prefix` (the empty rest included).
pub fn covers_prefix(pattern: &str, prefix: &str) -> bool {
    let tokens = tokenize(pattern);
    states_after(&tokens, prefix)
        .into_iter()
        .any(|s| s < tokens.len() && tokens[s..].iter().all(|t| *t == Token::Star))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::fnmatch;

    #[test]
    fn emits_sqlite_syntax() {
        assert_eq!(
            to_sqlite_glob("minion:web-*").as_deref(),
            Some("minion:web-*")
        );
        assert_eq!(to_sqlite_glob("a[!0]").as_deref(), Some("a[^0]"));
        assert_eq!(to_sqlite_glob("a[^0]").as_deref(), Some("a[0^]"));
        assert_eq!(to_sqlite_glob("a[").as_deref(), Some("a[[]"));
        assert_eq!(to_sqlite_glob("[*]?\\").as_deref(), Some("[*]?\\"));
        assert_eq!(to_sqlite_glob("[]-a]").as_deref(), Some("[]_-a^]"));
        assert_eq!(to_sqlite_glob("[z-a]"), None);
        assert_eq!(to_sqlite_glob("[!z-a]").as_deref(), Some("?"));
        assert_eq!(to_sqlite_glob("[^]").as_deref(), Some("^"));
        assert_eq!(to_sqlite_glob("[-^]").as_deref(), Some("[-^]"));
    }

    #[test]
    fn unclosed_classes_are_found() {
        assert_eq!(unclosed_class("key:web-[0-9]*"), None);
        assert_eq!(unclosed_class("[]]"), None);
        assert_eq!(unclosed_class("key:web-[0-9"), Some(8));
        assert_eq!(unclosed_class("a[b]c["), Some(5));
        assert_eq!(unclosed_class("[]"), Some(0));
    }

    #[test]
    fn prefix_reasoning() {
        assert!(covers_prefix("*", "key:"));
        assert!(covers_prefix("k*", "key:"));
        assert!(covers_prefix("key:*", "key:"));
        assert!(covers_prefix("*:*", "key:"));
        assert!(!covers_prefix("key:web-*", "key:"));
        assert!(!covers_prefix("minion:*", "key:"));
        assert!(can_match_prefix("*n:web-*", "minion:"));
        // `key:xn:web-1` is a key id it matches.
        assert!(can_match_prefix("*n:web-*", "key:"));
        assert!(!can_match_prefix("minion:*", "key:"));
        assert!(can_match_prefix("m?nion:*", "minion:"));
        assert!(can_match_prefix("[k]ey:a", "key:"));
        assert!(!can_match_prefix("key:[z-a]", "key:"));
        assert!(!can_match_prefix("job:*", "key:"));
        assert!(can_match_prefix("*", "key:"));
    }

    #[test]
    fn cover_and_match_agree_with_fnmatch_on_samples() {
        for (p, prefix) in [("k?y:*", "key:"), ("*y:?*", "key:"), ("[k]e*", "key:")] {
            if covers_prefix(p, prefix) {
                for rest in ["", "a", "zz", "-", "[", "é"] {
                    assert!(fnmatch(p, &format!("{prefix}{rest}")), "{p} {rest}");
                }
            }
        }
    }
}
