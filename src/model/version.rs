//! Package version comparison by the rules of the package source, so that "which minions run
//! openssl older than 3.0.13" means what `dpkg`, `rpm` or `pacman` would say on the minion.
//!
//! Four rule sets ([`VersionRules`]):
//! * [`debian_cmp`]: dpkg's `epoch:upstream-revision` (epoch before the first `:`, revision after
//!   the last `-`), each part by dpkg's `verrevcmp`: letters sort before other symbols, `~`
//!   before everything, even the end of the string; digit runs compare as numbers.
//! * [`rpm_cmp`]: rpm 4.18's `rpmverCmp` over full `epoch:version-release` strings (what
//!   `rpm.vercmp` compares): `rpmvercmp` segments, a missing epoch is `0`, a missing release
//!   sorts before any release.
//! * [`pacman_cmp`]: libalpm's `alpm_pkg_vercmp`: epoch, version, pkgrel, with alpm's own
//!   variant of `rpmvercmp` (no `~`/`^` rules; separator lengths count; a trailing letter
//!   segment is older than nothing: `1.0a < 1.0`).
//! * [`generic_cmp`]: anything else: parts split on `. - _ +`, compared as natural text.
//!
//! Every function is a total order on arbitrary strings (reflexive, antisymmetric up to
//! `Equal`, transitive; `1.01` and `1.1` are `Equal` where the tool says so) and never panics:
//! digit runs of any length compare by stripping leading zeros, then by length, then by bytes;
//! nothing is parsed into a machine integer. Non-ASCII bytes count as the tools count them (rpm
//! and pacman: separators; dpkg: symbols).
//!
//! Where a tool is *not* a total order, the order here is the nearest one, on purpose (a
//! comparator that is not one can make Rust's sort panic):
//! * pacman compares pkgrels only when both sides have one (`1.5 == 1.5-1 == 1.5-2`, yet
//!   `1.5-1 < 1.5-2`). Here a missing pkgrel sorts before any pkgrel, as rpm 4.18 and dpkg do.
//!   `installed < threshold` answers are unchanged whenever the installed version carries a
//!   pkgrel, as `pkg.list_pkgs` versions on Arch do.
//! * alpm's `rpmvercmp` ranks trailing separators against segments by kind alone, which
//!   makes a cycle (`0 < ::a < ~ < 0` by `vercmp`); here they rank by their count first, as
//!   every other step does (see `alpm_vercmp`).
//!
//! The oracle tests (`tests/it/inventory_versions.rs`) hold this module against `dpkg`,
//! `rpm --eval '%{lua: rpm.vercmp(..)}'` and pacman's `vercmp` on thousands of generated pairs.
//!
//! Why no crate: `debversion` parses with a regex first (an invalid string is an error, not a
//! version, so it is no total order on arbitrary input), unwraps big-integer parses and pulls
//! `lazy-regex`, `num-bigint` and `chrono` into the browser bundle; `rpm-version` covers rpm only
//! and has `unreachable!()` paths reachable by non-ASCII input; nothing small covers alpm's
//! rules. The three algorithms are a few dozen lines each, written here from the tools' documented
//! behaviour, so one module gives all four with the same guarantees in both builds.

use std::cmp::Ordering;

/// Which package source's rules order a package's versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum VersionRules {
    /// dpkg (Debian, Ubuntu): [`debian_cmp`].
    Debian,
    /// rpm (RHEL, Fedora, SUSE): [`rpm_cmp`].
    Rpm,
    /// pacman (Arch): [`pacman_cmp`].
    Pacman,
    /// Anything else: [`generic_cmp`].
    Generic,
}

impl VersionRules {
    /// Compares two versions by these rules (a total order on any strings).
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            VersionRules::Debian => debian_cmp(a, b),
            VersionRules::Rpm => rpm_cmp(a, b),
            VersionRules::Pacman => pacman_cmp(a, b),
            VersionRules::Generic => generic_cmp(a, b),
        }
    }
}

/// Two runs of ASCII digits as numbers of any length: leading zeros dropped, then the longer
/// run is the larger, then bytes decide. An empty run is zero.
fn cmp_digits(a: &[u8], b: &[u8]) -> Ordering {
    let a = strip_zeros(a);
    let b = strip_zeros(b);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn strip_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    &s[n..]
}

/// How many leading bytes of `s` satisfy `class`.
fn run(s: &[u8], class: fn(&u8) -> bool) -> usize {
    s.iter().take_while(|c| class(c)).count()
}

// ---------------------------------------------------------------------------------------------
// Debian

/// Compares two Debian versions as `dpkg --compare-versions` does.
///
/// `[epoch:]upstream[-revision]`: the epoch is the digits before the first `:` (none: `0`), the
/// revision what follows the last `-` (none: empty, which sorts like `0`). Blanks around the
/// version are ignored, as dpkg ignores them. A string dpkg would reject (`a:1`, `1.0 beta`)
/// still has a place in the order: an epoch that is not all digits is part of the upstream.
pub fn debian_cmp(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = debian_split(a);
    let (eb, ub, rb) = debian_split(b);
    cmp_digits(ea, eb)
        .then_with(|| verrevcmp(ua, ub))
        .then_with(|| verrevcmp(ra, rb))
}

fn debian_split(s: &str) -> (&[u8], &[u8], &[u8]) {
    let s = s.trim_matches([' ', '\t']).as_bytes();
    let (epoch, rest) = match s.iter().position(|&c| c == b':') {
        Some(i) if i > 0 && s[..i].iter().all(u8::is_ascii_digit) => (&s[..i], &s[i + 1..]),
        _ => (&b""[..], s),
    };
    match rest.iter().rposition(|&c| c == b'-') {
        Some(i) => (epoch, &rest[..i], &rest[i + 1..]),
        None => (epoch, rest, &b""[..]),
    }
}

/// dpkg's weight of a byte in a non-digit run: `~` below the end of the run, the end (0), then
/// letters, then every other byte.
fn dpkg_order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit runs (by [`dpkg_order`]) and digit runs (as
/// numbers; an empty run is 0) until both strings end.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let non_digit = |s: &[u8], k: usize| s.get(k).is_some_and(|c| !c.is_ascii_digit());
    while i < a.len() || j < b.len() {
        while non_digit(a, i) || non_digit(b, j) {
            let (oa, ob) = (dpkg_order(a.get(i).copied()), dpkg_order(b.get(j).copied()));
            if oa != ob {
                return oa.cmp(&ob);
            }
            // Equal weights on a non-digit: both strings have a byte here.
            i += 1;
            j += 1;
        }
        let na = run(&a[i..], u8::is_ascii_digit);
        let nb = run(&b[j..], u8::is_ascii_digit);
        let o = cmp_digits(&a[i..i + na], &b[j..j + nb]);
        if o != Ordering::Equal {
            return o;
        }
        i += na;
        j += nb;
    }
    Ordering::Equal
}

// ---------------------------------------------------------------------------------------------
// RPM

/// Splits `[epoch:]version[-release]` as rpm's and alpm's `parseEVR` do: the epoch is the leading
/// digits when a `:` follows them (`:1` has epoch `0`), the release what follows the last `-`
/// after those digits. Returns (epoch, version, release).
fn parse_evr(s: &[u8]) -> (Option<&[u8]>, &[u8], Option<&[u8]>) {
    let d = run(s, u8::is_ascii_digit);
    let dash = s[d..].iter().rposition(|&c| c == b'-').map(|p| d + p);
    let (epoch, start) = if s.get(d) == Some(&b':') {
        (Some(if d == 0 { &b"0"[..] } else { &s[..d] }), d + 1)
    } else {
        (None, 0)
    };
    match dash {
        Some(p) => (epoch, &s[start..p], Some(&s[p + 1..])),
        None => (epoch, &s[start..], None),
    }
}

/// Compares two RPM versions as rpm 4.18's `rpm.vercmp` (`rpmverCmp`) does.
///
/// Full EVR strings, `[epoch:]version[-release]`: epochs (missing: `0`), then versions, then
/// releases (a missing release sorts before any release, even an empty one), each by
/// `rpmvercmp`: runs of digits or of letters, separators (anything else) skipped, digits newer
/// than letters, `~` older than anything (`1.0~rc1 < 1.0`), `^` newer than the end but older
/// than anything else (`1.0 < 1.0^git1 < 1.0.1`), the longer string newer when all else ties.
pub fn rpm_cmp(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = parse_evr(a.as_bytes());
    let (eb, vb, rb) = parse_evr(b.as_bytes());
    rpmvercmp(ea.unwrap_or(b"0"), eb.unwrap_or(b"0"))
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| match (ra, rb) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        })
}

/// rpm's `rpmvercmp` (rpm 4.18) on one EVR part.
fn rpmvercmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let sep = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        i += run(&a[i..], sep);
        j += run(&b[j..], sep);
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        // `~` sorts before everything, the end of the string included.
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // `^` sorts after the end of the string, before everything else.
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let Some(c) = ca else { break };
        if cb.is_none() {
            break;
        }
        let numeric = c.is_ascii_digit();
        let class: fn(&u8) -> bool = if numeric {
            u8::is_ascii_digit
        } else {
            u8::is_ascii_alphabetic
        };
        let (na, nb) = (run(&a[i..], class), run(&b[j..], class));
        if nb == 0 {
            // Different kinds: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (sa, sb) = (&a[i..i + na], &b[j..j + nb]);
        let o = if numeric {
            cmp_digits(sa, sb)
        } else {
            sa.cmp(sb)
        };
        if o != Ordering::Equal {
            return o;
        }
        i += na;
        j += nb;
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, _) => Ordering::Greater,
    }
}

// ---------------------------------------------------------------------------------------------
// pacman

/// Compares two pacman versions as libalpm's `alpm_pkg_vercmp` (pacman's `vercmp`) does, except
/// that a missing pkgrel sorts before any pkgrel instead of matching every one (see the module
/// doc: alpm's rule is no total order).
///
/// `[epoch:]version[-pkgrel]`, epoch missing = `0`, each part by alpm's `rpmvercmp`: runs of
/// digits or letters, numbers newer than letters, a longer separator newer than a shorter one
/// (`1.0 < 1..0`), and at the end: a trailing letter run is older than nothing (`1.0a < 1.0`),
/// a trailing number or separator newer (`1.0 < 1.0.1`).
pub fn pacman_cmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (ea, va, ra) = parse_evr(a.as_bytes());
    let (eb, vb, rb) = parse_evr(b.as_bytes());
    alpm_vercmp(ea.unwrap_or(b"0"), eb.unwrap_or(b"0"))
        .then_with(|| alpm_vercmp(va, vb))
        .then_with(|| match (ra, rb) {
            (Some(x), Some(y)) => alpm_vercmp(x, y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        })
}

/// libalpm's variant of `rpmvercmp` on one part, made a total order.
///
/// alpm walks both strings in steps: a run of separators (non-alphanumeric bytes), then a run of
/// digits or of letters. A step with more separators is newer; then a number is newer than
/// letters; then the runs compare. When one string has no segment left, alpm looks at what
/// remains: nothing at all sorts above a letter segment and below the rest; separators alone
/// sort above any letter segment and below any number *whatever the separator counts*, and
/// equal to other separators alone. That last rule makes alpm no order at all: pacman's own
/// `vercmp` says `0 < ::a`, `::a < ~` and `~ < 0`. Here trailing separators alone are a step
/// like the others: ranked by their count first, then above letters and below numbers. The two
/// differ only where a version ends in separators and the other side has a different number
/// of separators at that place (`1.0.` vs `1.0..1`), which package versions do not do.
fn alpm_vercmp(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut i, mut j) = (0, 0);
    loop {
        let (ka, sa) = alpm_step(a, &mut i);
        let (kb, sb) = alpm_step(b, &mut j);
        let o = ka.cmp(&kb).then_with(|| match ka.1 {
            AlpmKind::Number => cmp_digits(sa, sb),
            AlpmKind::Letters => sa.cmp(sb),
            AlpmKind::End => Ordering::Equal,
        });
        if o != Ordering::Equal || ka.1 == AlpmKind::End {
            return o;
        }
    }
}

/// What one alpm step holds, in the order alpm ranks them at equal separator counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum AlpmKind {
    Letters,
    /// No segment left (only separators, or nothing: separator count 0).
    End,
    Number,
}

/// The next step of `s` from `*at`: (separator count, kind) and the segment's bytes.
fn alpm_step<'a>(s: &'a [u8], at: &mut usize) -> ((usize, AlpmKind), &'a [u8]) {
    let seps = run(&s[*at..], |c| !c.is_ascii_alphanumeric());
    let start = *at + seps;
    let Some(c) = s.get(start) else {
        *at = s.len();
        return ((seps, AlpmKind::End), &[]);
    };
    let (kind, class): (AlpmKind, fn(&u8) -> bool) = if c.is_ascii_digit() {
        (AlpmKind::Number, u8::is_ascii_digit)
    } else {
        (AlpmKind::Letters, u8::is_ascii_alphabetic)
    };
    let n = run(&s[start..], class);
    *at = start + n;
    ((seps, kind), &s[start..start + n])
}

// ---------------------------------------------------------------------------------------------
// Generic

/// Compares two versions of unknown origin: parts split on `.`, `-`, `_` and `+`, compared in
/// turn; the version with more parts is newer when the shared ones tie (`1.0 < 1.0.1`).
///
/// Two integer parts compare as numbers (`10.0 > 2.0`, `1.01 == 1.1`), two parts without digits
/// as text. A part that mixes both compares as natural text: digit runs as numbers, the rest as
/// bytes, a letter run older than a number at the same place (`rc9 < rc10`, `1a < 2`). (Plain
/// text for mixed parts would be no order at all: `9 < 10` as numbers, `10 < 5x < 9` as text.)
pub fn generic_cmp(a: &str, b: &str) -> Ordering {
    let is_sep = |c: &u8| matches!(c, b'.' | b'-' | b'_' | b'+');
    let mut pa = a.as_bytes().split(is_sep);
    let mut pb = b.as_bytes().split(is_sep);
    loop {
        match (pa.next(), pb.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = natural_cmp(x, y);
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// One generic part: a sequence of digit runs (numbers) and other runs (bytes), compared run by
/// run; text sorts before a number; the shorter sequence first when one is a prefix.
fn natural_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let not_digit = |c: &u8| !c.is_ascii_digit();
    loop {
        let (ca, cb) = (a.get(i), b.get(j));
        let (Some(ca), Some(cb)) = (ca, cb) else {
            return (i < a.len()).cmp(&(j < b.len()));
        };
        let (da, db) = (ca.is_ascii_digit(), cb.is_ascii_digit());
        if da != db {
            return da.cmp(&db);
        }
        let class: fn(&u8) -> bool = if da { u8::is_ascii_digit } else { not_digit };
        let (na, nb) = (run(&a[i..], class), run(&b[j..], class));
        let (xa, xb) = (&a[i..i + na], &b[j..j + nb]);
        let o = if da { cmp_digits(xa, xb) } else { xa.cmp(xb) };
        if o != Ordering::Equal {
            return o;
        }
        i += na;
        j += nb;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Ordering::{Equal as E, Greater as G, Less as L};

    fn check(f: fn(&str, &str) -> Ordering, cases: &[(&str, &str, Ordering)]) {
        for &(a, b, want) in cases {
            assert_eq!(f(a, b), want, "{a:?} vs {b:?}");
            assert_eq!(f(b, a), want.reverse(), "{b:?} vs {a:?}");
        }
    }

    #[test]
    fn debian_classic_cases() {
        check(
            debian_cmp,
            &[
                ("1.0", "1.0", E),
                ("1.0~rc1", "1.0", L),
                ("1.0~~", "1.0~", L),
                ("1.0~", "1.0", L),
                ("1.0", "1.0+b1", L),
                ("1.0", "1.0a", L),
                ("1.0a", "1.0+", L),
                ("1:0.1", "2.0", G),
                ("01:1.0", "1:1.0", E),
                ("1.01", "1.1", E),
                ("1.0", "1.0-0", E),
                ("3.0.13-1", "3.0.13", G),
                ("3.0.11-1~deb12u2", "3.0.11-1", L),
                ("3.0.11-1+deb12u2", "3.0.11-1", G),
                ("2.36-9+deb12u4", "2.36-9+deb12u10", L),
                ("1.2-3-4", "1.2-3-10", L),
                ("10.0", "9.99", G),
                (
                    "99999999999999999999999999",
                    "100000000000000000000000000",
                    L,
                ),
            ],
        );
    }

    #[test]
    fn rpm_classic_cases() {
        check(
            rpm_cmp,
            &[
                ("1.0", "1.0", E),
                ("1.0a", "1.0", G),
                ("1.0~rc1", "1.0", L),
                ("1.0^git1", "1.0", G),
                ("1.0^git1", "1.0.1", L),
                ("1.0^", "1.0", G),
                ("1.0", "1.0-1", L),
                ("1.0-", "1.0", G),
                ("1:1.0", "2.0", G),
                ("0:1.0", "1.0", E),
                (":1.0", "0:1.0", E),
                ("1.01", "1.1", E),
                ("2.0", "2_0", E),
                ("1.0.", "1.0", E),
                ("3.0.7-25.el9_3", "3.0.7-25.el9_2", G),
                ("3.0.7-25.el9_3", "3.0.13", L),
                ("xyz.4", "8", L),
                ("1.fc17", "1b.fc17", G),
                ("1.1.\u{3b1}", "1.1.\u{3b2}", E),
                ("18446744073709551616", "18446744073709551615", G),
            ],
        );
    }

    #[test]
    fn pacman_classic_cases() {
        check(
            pacman_cmp,
            &[
                ("1.5.0", "1.5.0", E),
                ("1.5b", "1.5", L),
                ("1.0rc", "1.0", L),
                ("1.5.a", "1.5", G),
                ("1.5.1", "1.5.b", G),
                ("1.0", "1..0", L),
                ("1:1.0-1", "2.0-1", G),
                ("1.5-1", "1.5-2", L),
                ("1.5", "1.5-1", L),
                ("6.7.arch1-1", "6.7.arch2-1", L),
                ("1.0~rc1", "1.0", G),
            ],
        );
    }

    #[test]
    fn generic_classic_cases() {
        check(
            generic_cmp,
            &[
                ("10.0", "2.0", G),
                ("1.01", "1.1", E),
                ("1.0", "1-0", E),
                ("1.0", "1.0.1", L),
                ("rc9", "rc10", L),
                ("1.0.beta", "1.0.1", L),
                ("5x", "10", L),
                ("", "0", L),
                ("2024_01_02", "2024.1.10", L),
            ],
        );
    }

    fn all() -> [fn(&str, &str) -> Ordering; 4] {
        [debian_cmp, rpm_cmp, pacman_cmp, generic_cmp]
    }

    #[test]
    fn odd_input_never_panics() {
        let long = "9".repeat(5000);
        let odd = [
            "",
            ":",
            "-",
            "~",
            "^",
            "::--",
            "0:",
            ":-",
            "\u{e9}\u{e9}",
            "1.\u{0661}",
            "\0",
            "~~^^..__",
            long.as_str(),
        ];
        for f in all() {
            for a in odd {
                for b in odd {
                    assert_eq!(f(a, b), f(b, a).reverse(), "{a:?} vs {b:?}");
                }
                assert_eq!(f(a, a), E);
            }
        }
    }

    /// Versions from a small alphabet where the interesting characters are common.
    fn version() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[0-2a-c.~^:+_\\-\u{e9}]{0,8}").expect("valid regex")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn every_rule_set_is_a_total_order(a in version(), b in version(), c in version()) {
            for (k, f) in all().into_iter().enumerate() {
                prop_assert_eq!(f(&a, &a), E, "rules {}", k);
                prop_assert_eq!(f(&a, &b), f(&b, &a).reverse(), "rules {}", k);
                let (ab, bc, ac) = (f(&a, &b), f(&b, &c), f(&a, &c));
                if ab != G && bc != G {
                    prop_assert_ne!(ac, G, "rules {}: {:?} <= {:?} <= {:?}", k, a, b, c);
                }
                if ab == E && bc == E {
                    prop_assert_eq!(ac, E, "rules {}", k);
                }
            }
        }
    }
}
