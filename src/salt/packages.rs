//! `pkg.list_pkgs` replies: what one minion answered, as (name, version, arch) rows.
//!
//! Salt answers `{name: version}` by default, a comma-joined string when several versions of a
//! package are installed, or `{name: [version, ...]}` with `versions_as_list=True` (what the
//! collector asks for). Foreign-architecture packages carry their arch in the name: Debian's
//! `libc6:i386`, RPM's `glibc.i686` (yumpkg/zypper add it only for a non-native arch).

use crate::model::inventory::PackageSource;
use serde_json::Value;
use std::collections::BTreeSet;

/// One installed package version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstalledPackage {
    pub name: String,
    pub version: String,
    /// Empty when the name carried none (the minion's native arch, or `noarch`).
    pub arch: String,
}

/// Why a minion's answer is not a package list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAPackageList(pub String);

/// Architectures RPM appends to a package name (`glibc.i686`).
const RPM_ARCHES: &[&str] = &[
    "i386", "i486", "i586", "i686", "x86_64", "noarch", "aarch64", "armv7hl", "armhfp", "ppc64",
    "ppc64le", "s390x", "src",
];

/// Longest name or version kept (longer ones are not what a package manager reports).
const MAX_FIELD: usize = 255;

fn split_arch(name: &str, source: Option<PackageSource>) -> (String, String) {
    match source {
        Some(PackageSource::Apt) => match name.rsplit_once(':') {
            Some((n, a)) if !n.is_empty() && !a.is_empty() => (n.to_string(), a.to_string()),
            _ => (name.to_string(), String::new()),
        },
        Some(PackageSource::Rpm) => match name.rsplit_once('.') {
            Some((n, a)) if !n.is_empty() && RPM_ARCHES.contains(&a) => {
                (n.to_string(), a.to_string())
            }
            _ => (name.to_string(), String::new()),
        },
        _ => (name.to_string(), String::new()),
    }
}

fn versions_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.extend(
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from),
        ),
        Value::Array(items) => {
            for i in items {
                versions_of(i, out);
            }
        }
        // `attr` form: {"version": ..., "arch": ...}
        Value::Object(m) => {
            if let Some(v) = m.get("version") {
                versions_of(v, out);
            }
        }
        Value::Number(n) => out.push(n.to_string()),
        _ => {}
    }
}

/// A minion's `pkg.list_pkgs` return as sorted, distinct rows. Anything but an object (Salt's
/// error text when `pkg` is not available, `false`, ...) is [`NotAPackageList`]; entries with
/// an empty or overlong name or version are left out.
pub fn parse_list_pkgs(
    ret: &Value,
    source: Option<PackageSource>,
) -> Result<Vec<InstalledPackage>, NotAPackageList> {
    let obj = match ret {
        Value::Object(m) => m,
        Value::String(s) => {
            let first = s.lines().next().unwrap_or("").chars().take(200).collect();
            return Err(NotAPackageList(first));
        }
        other => {
            return Err(NotAPackageList(format!(
                "pkg.list_pkgs answered {} instead of a package list",
                match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::Array(_) => "a list",
                    _ => "something else",
                }
            )))
        }
    };
    let mut rows = BTreeSet::new();
    let mut versions = vec![];
    for (raw_name, v) in obj {
        let (name, arch) = split_arch(raw_name.trim(), source);
        let bad = |s: &str| s.len() > MAX_FIELD || s.chars().any(char::is_control);
        if name.is_empty() || bad(&name) || bad(&arch) {
            continue;
        }
        versions.clear();
        versions_of(v, &mut versions);
        for version in versions.drain(..) {
            if version.len() > MAX_FIELD || version.chars().any(char::is_control) {
                continue;
            }
            rows.insert(InstalledPackage {
                name: name.clone(),
                version,
                arch: arch.clone(),
            });
        }
    }
    Ok(rows.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(n: &str, v: &str, a: &str) -> InstalledPackage {
        InstalledPackage {
            name: n.into(),
            version: v.into(),
            arch: a.into(),
        }
    }

    #[test]
    fn shapes() {
        let deb = parse_list_pkgs(
            &json!({"bash": "5.2.15-2+b2", "libc6:i386": ["2.36-9"], "linux-image": "6.1.1,6.1.2"}),
            Some(PackageSource::Apt),
        )
        .unwrap();
        assert_eq!(
            deb,
            vec![
                row("bash", "5.2.15-2+b2", ""),
                row("libc6", "2.36-9", "i386"),
                row("linux-image", "6.1.1", ""),
                row("linux-image", "6.1.2", ""),
            ]
        );
        let rpm = parse_list_pkgs(
            &json!({"glibc.i686": ["2.34-60.el9"], "kernel": ["5.14.0-1.el9", "5.14.0-2.el9"], "python3.11": "3.11.5-1.el9"}),
            Some(PackageSource::Rpm),
        )
        .unwrap();
        assert_eq!(rpm.len(), 4);
        assert!(rpm.contains(&row("glibc", "2.34-60.el9", "i686")));
        assert!(rpm.contains(&row("python3.11", "3.11.5-1.el9", "")));
        assert!(parse_list_pkgs(&json!("'pkg.list_pkgs' is not available."), None).is_err());
        assert!(parse_list_pkgs(&json!(false), None).is_err());
        assert_eq!(
            parse_list_pkgs(
                &json!({"": "1", "x": "", "y": "a\u{0}", "z:a\u{1}b": "1"}),
                Some(PackageSource::Apt)
            )
            .unwrap(),
            vec![]
        );
    }
}
