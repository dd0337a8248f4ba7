//! Command templates and the validated command (`CommandSpec`) that Run dispatches, with the
//! SPEC 6.7 rules every form and server function checks.

use crate::error::AppError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A template as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateOut {
    pub id: String,
    pub owner_user_id: String,
    pub owner_username: String,
    pub name: String,
    pub description: String,
    pub target: String,
    pub target_type: String,
    pub fun: String,
    pub args: Vec<String>,
    pub kwargs: BTreeMap<String, String>,
    pub is_shared: bool,
    pub created_at: String,
    pub updated_at: String,
    /// True when the caller owns it (and so may share, unshare or delete it).
    pub is_mine: bool,
}

/// Templates the caller can see: their own first, then everyone's shared ones, each by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateList {
    pub total: i64,
    pub templates: Vec<TemplateOut>,
}

/// A validated command: what a template stores and what Run dispatches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandSpec {
    pub target: String,
    pub target_type: String,
    pub fun: String,
    pub args: Vec<String>,
    pub kwargs: BTreeMap<String, String>,
}

/// Salt target types (SPEC 6.7).
pub use crate::model::run::TARGET_TYPES;
/// Longest template name.
pub const MAX_NAME: usize = 100;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 500;
/// Longest target expression.
pub const MAX_TARGET: usize = 1024;
/// Longest function name.
pub const MAX_FUN: usize = 128;
/// Most positional arguments, and most keyword arguments.
pub const MAX_ARGS: usize = 64;
/// Longest single argument or keyword value.
pub const MAX_ARG_LEN: usize = 4096;
/// Longest keyword name.
pub const MAX_KWARG_KEY: usize = 128;

/// `[A-Za-z_][A-Za-z0-9_]*`
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `module.function` (dotted identifiers, at least two parts), as Salt names execution functions.
pub fn is_function_name(fun: &str) -> bool {
    let parts: Vec<&str> = fun.split('.').collect();
    parts.len() >= 2 && parts.iter().all(|p| is_identifier(p))
}

/// Check a command's target, target type, function and arguments (SPEC 6.7 rules).
pub fn validate_command(
    target: &str,
    target_type: &str,
    fun: &str,
    args: &[String],
    kwargs: &BTreeMap<String, String>,
) -> Result<(), AppError> {
    required_line("target", "Target", target, MAX_TARGET)?;
    AppError::check_one_of("target_type", "Target type", target_type, TARGET_TYPES)?;
    if fun.is_empty() || fun.chars().count() > MAX_FUN || !is_function_name(fun) {
        return Err(AppError::invalid(
            "fun",
            format!("Function must look like module.function (e.g. test.ping), at most {MAX_FUN} characters."),
        ));
    }
    if args.len() > MAX_ARGS {
        return Err(AppError::invalid(
            "args",
            format!("At most {MAX_ARGS} arguments."),
        ));
    }
    if let Some(i) = args.iter().position(|a| a.chars().count() > MAX_ARG_LEN) {
        return Err(AppError::invalid(
            "args",
            format!(
                "Argument {} is longer than {MAX_ARG_LEN} characters.",
                i + 1
            ),
        ));
    }
    if kwargs.len() > MAX_ARGS {
        return Err(AppError::invalid(
            "kwargs",
            format!("At most {MAX_ARGS} keyword arguments."),
        ));
    }
    for (k, v) in kwargs {
        if k.len() > MAX_KWARG_KEY || !is_identifier(k) {
            return Err(AppError::invalid(
                "kwargs",
                format!("Keyword {k:?} is not a valid name: letters, digits and _, not starting with a digit."),
            ));
        }
        if v.chars().count() > MAX_ARG_LEN {
            return Err(AppError::invalid(
                "kwargs",
                format!("The value of {k} is longer than {MAX_ARG_LEN} characters."),
            ));
        }
    }
    Ok(())
}

/// Positional arguments from a JSON list of strings; empty text means none.
pub fn parse_args(json: &str) -> Result<Vec<String>, AppError> {
    if json.trim().is_empty() {
        return Ok(vec![]);
    }
    serde_json::from_str::<Vec<String>>(json).map_err(|_| {
        AppError::invalid(
            "args",
            "Arguments must be a JSON list of strings, e.g. [\"nginx\"].",
        )
    })
}

/// Keyword arguments from a JSON object of string values; empty text means none.
pub fn parse_kwargs(json: &str) -> Result<BTreeMap<String, String>, AppError> {
    if json.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    serde_json::from_str::<BTreeMap<String, String>>(json).map_err(|_| {
        AppError::invalid(
            "kwargs",
            "Keyword arguments must be a JSON object of string values, e.g. {\"refresh\": \"True\"}.",
        )
    })
}

/// Trim, parse and validate a command as the forms send it. An empty target type means `glob`.
pub fn command_from_form(
    target: &str,
    target_type: &str,
    fun: &str,
    args_json: &str,
    kwargs_json: &str,
) -> Result<CommandSpec, AppError> {
    let target_type = match target_type.trim() {
        "" => "glob".to_string(),
        t => t.to_ascii_lowercase(),
    };
    let c = CommandSpec {
        target: target.trim().to_string(),
        target_type,
        fun: fun.trim().to_string(),
        args: parse_args(args_json)?,
        kwargs: parse_kwargs(kwargs_json)?,
    };
    validate_command(&c.target, &c.target_type, &c.fun, &c.args, &c.kwargs)?;
    Ok(c)
}

/// A template's name (trimmed) and description (trimmed), checked.
pub fn validate_name_description(name: &str, description: &str) -> Result<(), AppError> {
    required_line("name", "Name", name, MAX_NAME)?;
    AppError::check_max_chars("description", "Description", description, MAX_DESCRIPTION)
}

/// A required one-line field: 1 to `max` characters, no control characters.
fn required_line(field: &str, label: &str, value: &str, max: usize) -> Result<(), AppError> {
    let n = value.chars().count();
    if n == 0 || n > max {
        return Err(AppError::invalid(
            field,
            format!("{label} is required: 1 to {max} characters."),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(AppError::invalid(
            field,
            format!("{label} must be on one line, without control characters."),
        ));
    }
    Ok(())
}

/// A checkbox or flag from a form: present and not an explicit "no".
pub fn form_flag(v: Option<&str>) -> bool {
    v.is_some_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "false" | "off" | "0" | "no"
        )
    })
}

/// One line of the command as an operator would type it: `fun arg1 arg2 key=value`.
pub fn command_line(fun: &str, args: &[String], kwargs: &BTreeMap<String, String>) -> String {
    let quote = |s: &str| {
        if s.is_empty()
            || s.chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\'')
        {
            format!("{s:?}")
        } else {
            s.to_string()
        }
    };
    std::iter::once(fun.to_string())
        .chain(args.iter().map(|a| quote(a)))
        .chain(kwargs.iter().map(|(k, v)| format!("{k}={}", quote(v))))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names() {
        for ok in [
            "test.ping",
            "state.apply",
            "pkg.install",
            "a_b.c_d",
            "_x.y1",
            "a.b.c",
        ] {
            assert!(is_function_name(ok), "{ok}");
        }
        for bad in [
            "",
            "ping",
            "test.",
            ".ping",
            "test..ping",
            "1test.ping",
            "test.ping!",
            "test ping",
            "test.pi-ng",
        ] {
            assert!(!is_function_name(bad), "{bad}");
        }
    }

    #[test]
    fn command_validation_names_the_field() {
        let none = BTreeMap::new();
        let field = |r: Result<(), AppError>| r.unwrap_err().field().map(String::from);
        assert!(validate_command("*", "glob", "test.ping", &[], &none).is_ok());
        assert_eq!(
            field(validate_command("", "glob", "test.ping", &[], &none)).as_deref(),
            Some("target")
        );
        assert_eq!(
            field(validate_command(
                &"x".repeat(1025),
                "glob",
                "test.ping",
                &[],
                &none
            ))
            .as_deref(),
            Some("target")
        );
        assert!(validate_command(&"x".repeat(1024), "glob", "test.ping", &[], &none).is_ok());
        assert_eq!(
            field(validate_command("*", "regex", "test.ping", &[], &none)).as_deref(),
            Some("target_type")
        );
        assert_eq!(
            field(validate_command("*", "glob", "ping", &[], &none)).as_deref(),
            Some("fun")
        );
        let many: Vec<String> = (0..65).map(|i| i.to_string()).collect();
        assert_eq!(
            field(validate_command("*", "glob", "test.ping", &many, &none)).as_deref(),
            Some("args")
        );
        assert_eq!(
            field(validate_command(
                "*",
                "glob",
                "test.ping",
                &["x".repeat(4097)],
                &none
            ))
            .as_deref(),
            Some("args")
        );
        let bad_key = BTreeMap::from([("1x".to_string(), "v".to_string())]);
        assert_eq!(
            field(validate_command("*", "glob", "test.ping", &[], &bad_key)).as_deref(),
            Some("kwargs")
        );
    }

    #[test]
    fn form_parsing() {
        let c = command_from_form(
            "  web-* ",
            "",
            " pkg.install ",
            r#"["nginx"]"#,
            r#"{"refresh":"True"}"#,
        )
        .unwrap();
        assert_eq!(c.target, "web-*");
        assert_eq!(c.target_type, "glob");
        assert_eq!(c.fun, "pkg.install");
        assert_eq!(c.args, vec!["nginx"]);
        assert_eq!(c.kwargs["refresh"], "True");
        assert_eq!(
            command_from_form("*", "glob", "test.ping", "[1]", "")
                .unwrap_err()
                .field(),
            Some("args")
        );
        assert_eq!(
            command_from_form("*", "glob", "test.ping", "", "[]")
                .unwrap_err()
                .field(),
            Some("kwargs")
        );
        assert!(
            form_flag(Some("on"))
                && form_flag(Some("true"))
                && !form_flag(Some("false"))
                && !form_flag(None)
        );
    }

    #[test]
    fn command_lines() {
        let kw = BTreeMap::from([("refresh".to_string(), "True".to_string())]);
        assert_eq!(
            command_line("pkg.install", &["nginx".into()], &kw),
            "pkg.install nginx refresh=True"
        );
        assert_eq!(
            command_line("cmd.run", &["uname -a".into()], &BTreeMap::new()),
            "cmd.run \"uname -a\""
        );
    }
}
