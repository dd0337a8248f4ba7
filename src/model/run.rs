//! Run: what the Run page sends and gets back, and the validation of a command (SPEC 6.7).

use crate::error::AppError;
use crate::model::templates::{is_function_name, is_identifier};
use serde::{Deserialize, Serialize};

/// Target types Salt accepts from the Run page (SPEC 6.7).
pub const TARGET_TYPES: &[&str] = &["glob", "list", "pcre", "grain", "nodegroup", "compound"];
/// How long the Run page waits for a minion before calling it "no response" (seconds).
pub const RESPONSE_TIMEOUT_SECS: i64 = 20;

/// A validated command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub target: String,
    pub target_type: String,
    pub fun: String,
    pub args: Vec<String>,
    pub kwargs: Vec<(String, String)>,
}

/// Validate target, function and arguments (SPEC 6.7 limits) with messages a person understands.
pub fn validate_command(
    target: &str,
    target_type: &str,
    fun: &str,
    args_json: &str,
    kwargs_json: &str,
) -> Result<Command, AppError> {
    let target = target.trim();
    if target.is_empty() {
        return Err(AppError::invalid(
            "target",
            "Enter a target, e.g. * or web-*.",
        ));
    }
    AppError::check_max_chars("target", "The target", target, 1024)?;
    let target_type = if target_type.is_empty() {
        "glob"
    } else {
        target_type
    };
    AppError::check_one_of("target_type", "Target type", target_type, TARGET_TYPES)?;
    if target_type == "grain" && !target.contains(':') {
        return Err(AppError::invalid(
            "target",
            "A grain target is grain:value, e.g. os:Debian.",
        ));
    }
    let fun = fun.trim();
    if fun.is_empty() {
        return Err(AppError::invalid(
            "fun",
            "Enter a function, e.g. test.ping.",
        ));
    }
    if fun.len() > 128 || !is_function_name(fun) {
        return Err(AppError::invalid(
            "fun",
            "A function looks like module.function, e.g. test.ping or state.apply (at most 128 characters).",
        ));
    }
    let args: Vec<String> = if args_json.trim().is_empty() {
        vec![]
    } else {
        serde_json::from_str(args_json)
            .map_err(|_| AppError::invalid("args", "Arguments must be a list of strings."))?
    };
    if args.len() > 64 {
        return Err(AppError::invalid("args", "At most 64 arguments."));
    }
    if args.iter().any(|a| a.chars().count() > 4096) {
        return Err(AppError::invalid(
            "args",
            "Each argument is limited to 4096 characters.",
        ));
    }
    let kw: Vec<(String, String)> = if kwargs_json.trim().is_empty() {
        vec![]
    } else {
        let m: serde_json::Map<String, serde_json::Value> = serde_json::from_str(kwargs_json)
            .map_err(|_| {
                AppError::invalid("kwargs", "Keyword arguments must be an object of strings.")
            })?;
        let mut out = vec![];
        for (k, v) in m {
            let v = match v {
                serde_json::Value::String(s) => s,
                _ => {
                    return Err(AppError::invalid(
                        "kwargs",
                        format!("The value of {k} must be a string."),
                    ))
                }
            };
            out.push((k, v));
        }
        out
    };
    if kw.len() > 64 {
        return Err(AppError::invalid("kwargs", "At most 64 keyword arguments."));
    }
    for (k, v) in &kw {
        if k.len() > 64 || !is_identifier(k) {
            return Err(AppError::invalid(
                "kwargs",
                format!("{k:?} is not a valid keyword name (letters, digits and _)."),
            ));
        }
        if v.chars().count() > 4096 {
            return Err(AppError::invalid(
                "kwargs",
                format!("The value of {k} is limited to 4096 characters."),
            ));
        }
    }
    Ok(Command {
        target: target.to_string(),
        target_type: target_type.to_string(),
        fun: fun.to_string(),
        args,
        kwargs: kw,
    })
}

/// Validate a batch size: empty, a count (1-100000) or a percentage (1%-100%).
pub fn validate_batch(batch: &str) -> Result<Option<String>, AppError> {
    let b = batch.trim();
    if b.is_empty() {
        return Ok(None);
    }
    let bad = || {
        AppError::invalid(
            "batch",
            "Batch size is a number (e.g. 10) or a percentage (e.g. 25%).",
        )
    };
    if let Some(p) = b.strip_suffix('%') {
        let n: u32 = p.parse().map_err(|_| bad())?;
        if !(1..=100).contains(&n) {
            return Err(bad());
        }
    } else {
        let n: u32 = b.parse().map_err(|_| bad())?;
        if !(1..=100_000).contains(&n) {
            return Err(bad());
        }
    }
    Ok(Some(b.to_string()))
}

/// The function catalogue for autocomplete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCatalogue {
    pub functions: Vec<String>,
    pub cached_at: Option<String>,
    /// True when Salt could not be asked and this is an older copy.
    pub stale: bool,
}

/// Which minions a target matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetPreview {
    pub minions: Vec<String>,
}

/// Target types a user whose minion scope is not everything may not use: `compound` can probe
/// pillar (`I@`, `J@`) and `pcre` runs a caller's regex on the master.
pub const FULL_SCOPE_TARGET_TYPES: &[&str] = &["pcre", "compound"];

/// Shown on the Run page to a user whose role covers only some minions.
pub const SCOPED_NOTE: &str =
    "Your role limits you to some minions: the target is resolved first and only those are run.";

/// What a dispatch started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispatched {
    /// The Salt JID (`local_async`); `None` for a batch run.
    pub jid: Option<String>,
    /// The batch run id to follow (`local_batch`).
    pub batch_id: Option<String>,
    pub minions: Vec<String>,
    pub started_at: String,
}

/// A batch run's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchProgress {
    pub minions: Vec<String>,
    pub batch: String,
    pub finished: bool,
    pub error: Option<String>,
    /// (minion, pretty JSON return) for every answer.
    pub results: Vec<(String, String)>,
}

/// Arguments typed on one line (the minion panel's "Run a command" form) as the `args_json`
/// [`validate_command`] takes: a JSON list (`["a b", 2]`: strings, numbers and booleans, each
/// sent as its text, as the Run page's argument editor sends them), or else words separated by
/// spaces. Empty: no arguments.
pub fn args_json_from_line(line: &str) -> Result<String, AppError> {
    let line = line.trim();
    let args: Vec<String> = if line.starts_with('[') {
        let bad = || {
            AppError::invalid(
                "args",
                "Arguments are words separated by spaces, or a JSON list such as [\"a b\", 2].",
            )
        };
        let items: Vec<serde_json::Value> = serde_json::from_str(line).map_err(|_| bad())?;
        items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                serde_json::Value::Number(n) => Ok(n.to_string()),
                serde_json::Value::Bool(b) => Ok(b.to_string()),
                _ => Err(bad()),
            })
            .collect::<Result<_, _>>()?
    } else {
        line.split_whitespace().map(String::from).collect()
    };
    serde_json::to_string(&args).map_err(|_| AppError::invalid("args", "Unreadable arguments."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_from_one_line() {
        assert_eq!(args_json_from_line("").unwrap(), "[]");
        assert_eq!(args_json_from_line("  ").unwrap(), "[]");
        assert_eq!(
            args_json_from_line(" uptime  -p ").unwrap(),
            r#"["uptime","-p"]"#
        );
        assert_eq!(
            args_json_from_line(r#"["ls -l /tmp", 3, true]"#).unwrap(),
            r#"["ls -l /tmp","3","true"]"#
        );
        for bad in [
            r#"["a", {"b": 1}]"#,
            "[null]",
            "[unclosed",
            r#"[["nested"]]"#,
        ] {
            assert_eq!(
                args_json_from_line(bad).unwrap_err().field(),
                Some("args"),
                "{bad}"
            );
        }
        // What comes out is what the Run page sends: validate_command takes it.
        let json = args_json_from_line("cmd.run 'x'").unwrap();
        let c = validate_command("web-01", "list", "cmd.run", &json, "").unwrap();
        assert_eq!(c.args, vec!["cmd.run", "'x'"]);
    }

    #[test]
    fn command_validation() {
        let c = validate_command(" web-* ", "", "test.ping", "", "").unwrap();
        assert_eq!(c.target, "web-*");
        assert_eq!(c.target_type, "glob");
        assert!(validate_command("", "glob", "test.ping", "", "").is_err());
        assert!(validate_command(&"x".repeat(1025), "glob", "test.ping", "", "").is_err());
        assert!(validate_command("*", "regex", "test.ping", "", "").is_err());
        assert!(validate_command("os", "grain", "test.ping", "", "").is_err());
        assert!(validate_command("os:Debian", "grain", "test.ping", "", "").is_ok());
        for bad in [
            "ping",
            "test.",
            ".ping",
            "test.ping;rm",
            "test ping",
            "1a.b",
        ] {
            let e = validate_command("*", "glob", bad, "", "").unwrap_err();
            assert_eq!(e.field(), Some("fun"), "{bad}");
        }
        assert!(validate_command("*", "glob", "cloud.profile.x", "", "").is_ok());
        let c =
            validate_command("*", "glob", "cmd.run", r#"["uptime"]"#, r#"{"cwd":"/tmp"}"#).unwrap();
        assert_eq!(c.args, vec!["uptime"]);
        assert_eq!(c.kwargs, vec![("cwd".to_string(), "/tmp".to_string())]);
        assert_eq!(
            validate_command("*", "glob", "cmd.run", "[1]", "")
                .unwrap_err()
                .field(),
            Some("args")
        );
        assert_eq!(
            validate_command("*", "glob", "cmd.run", "", r#"{"bad key":"x"}"#)
                .unwrap_err()
                .field(),
            Some("kwargs")
        );
    }

    #[test]
    fn batch_validation() {
        assert_eq!(validate_batch("").unwrap(), None);
        assert_eq!(validate_batch("10").unwrap().as_deref(), Some("10"));
        assert_eq!(validate_batch("25%").unwrap().as_deref(), Some("25%"));
        for bad in ["0", "0%", "101%", "x", "-1", "1.5"] {
            assert!(validate_batch(bad).is_err(), "{bad}");
        }
    }
}
