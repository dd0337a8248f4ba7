//! The command palette (Ctrl-K): what the server suggests for a typed prefix, and the actions a
//! typed line names ("accept key new-01", "run test.ping on web-*").

use serde::{Deserialize, Serialize};

/// Suggestions at most, per kind.
pub const MAX_MINIONS: i64 = 8;
pub const MAX_JOBS: i64 = 5;
/// A JID prefix is looked up from this many digits on.
pub const MIN_JID_PREFIX: usize = 4;

/// One job the palette suggests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PaletteJob {
    pub jid: String,
    pub function: String,
}

/// What the server suggests for a prefix: minion ids and JIDs the caller may view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaletteHits {
    pub minions: Vec<String>,
    pub jobs: Vec<PaletteJob>,
}

/// An action the typed line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaletteAction {
    /// `accept key <id>`: the Keys page with that key's accept dialog open.
    AcceptKey(String),
    /// `run <function> [on <target>]`: the Run form, filled in.
    Run { fun: String, target: String },
}

impl PaletteAction {
    /// The action a line names, if any: `accept key <id>`, `accept <id>`,
    /// `run <function> [on <target>]` (words are case-insensitive; the id, function and target
    /// are kept as typed, and must be one word each).
    pub fn parse(line: &str) -> Option<Self> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
        let lw: Vec<&str> = lower.iter().map(String::as_str).collect();
        match lw.as_slice() {
            ["accept", "key", _] => Some(PaletteAction::AcceptKey(words[2].to_string())),
            ["accept", id] if *id != "key" => Some(PaletteAction::AcceptKey(words[1].to_string())),
            ["run", _] => Some(PaletteAction::Run {
                fun: words[1].to_string(),
                target: String::new(),
            }),
            ["run", _, "on", _] => Some(PaletteAction::Run {
                fun: words[1].to_string(),
                target: words[3].to_string(),
            }),
            _ => None,
        }
    }

    /// What the palette shows for it.
    pub fn label(&self) -> String {
        match self {
            PaletteAction::AcceptKey(id) => format!("Accept key {id}"),
            PaletteAction::Run { fun, target } if target.is_empty() => format!("Run {fun}"),
            PaletteAction::Run { fun, target } => format!("Run {fun} on {target}"),
        }
    }

    /// Where it goes.
    pub fn href(&self) -> String {
        use crate::model::list::{href, push_str};
        let mut parts = vec![];
        match self {
            PaletteAction::AcceptKey(id) => {
                push_str(&mut parts, "q", id);
                push_str(&mut parts, "accept", id);
                href("/keys", &parts)
            }
            PaletteAction::Run { fun, target } => {
                push_str(&mut parts, "fun", fun);
                push_str(&mut parts, "target", target);
                href("/run", &parts)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_lines_name_actions() {
        let accept = PaletteAction::AcceptKey("new-01".into());
        assert_eq!(
            PaletteAction::parse("accept key new-01"),
            Some(accept.clone())
        );
        assert_eq!(
            PaletteAction::parse("  Accept  new-01 "),
            Some(accept.clone())
        );
        assert_eq!(accept.href(), "/keys?q=new-01&accept=new-01");
        let run = PaletteAction::parse("run test.ping on web-*").unwrap();
        assert_eq!(run.label(), "Run test.ping on web-*");
        assert_eq!(run.href(), "/run?fun=test.ping&target=web-%2A");
        assert_eq!(
            PaletteAction::parse("RUN cmd.run").unwrap().href(),
            "/run?fun=cmd.run"
        );
        for none in [
            "",
            "accept",
            "accept key",
            "run",
            "run a on",
            "web-01",
            "run a b c",
        ] {
            assert_eq!(PaletteAction::parse(none), None, "{none:?}");
        }
    }
}
