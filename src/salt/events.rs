//! The salt-api `/events` stream: an incremental server-sent-events parser (chunks may split
//! anywhere, single lines may be megabytes long) and the Salt event envelope.

use super::SaltError;
use futures::StreamExt;
use serde_json::Value;

/// One Salt bus event: its tag and the inner `data` object.
#[derive(Debug, Clone, PartialEq)]
pub struct SaltEvent {
    pub tag: String,
    pub data: Value,
}

/// What an event is, read from its tag (only the kinds Halite records; the rest is `Other`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTag<'a> {
    /// `salt/job/<jid>/new`: a job was published.
    JobNew {
        jid: &'a str,
    },
    /// `salt/job/<jid>/ret/<minion>`: a minion returned.
    JobRet {
        jid: &'a str,
        minion: &'a str,
    },
    /// `salt/minion/<id>/start`: a minion (re)started.
    MinionStart {
        id: &'a str,
    },
    /// `salt/key`: a key action on the master (`data.id`, `data.act`).
    Key,
    /// `salt/auth`: a minion authenticating (`data.id`, `data.act`).
    Auth,
    /// `salt/wheel/<jid>/ret`: a wheel call returned (see [`SaltEvent::key_change`]).
    WheelRet,
    Other,
}

/// A key action seen in a wheel return (`wheel.key.accept|reject|delete`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange<'a> {
    /// `accept`, `reject` or `delete`.
    pub act: &'a str,
    /// The keys it changed, sorted.
    pub ids: Vec<String>,
}

fn is_jid(s: &str) -> bool {
    s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit())
}

impl SaltEvent {
    /// What this event is, from its tag.
    pub fn kind(&self) -> EventTag<'_> {
        let parts: Vec<&str> = self.tag.split('/').collect();
        match parts.as_slice() {
            ["salt", "job", jid, "new"] if is_jid(jid) => EventTag::JobNew { jid },
            ["salt", "job", jid, "ret", minion] if is_jid(jid) => EventTag::JobRet { jid, minion },
            ["salt", "minion", id, "start"] => EventTag::MinionStart { id },
            ["salt", "key"] => EventTag::Key,
            ["salt", "auth"] => EventTag::Auth,
            ["salt", "wheel", _, "ret"] => EventTag::WheelRet,
            _ => EventTag::Other,
        }
    }

    /// A data field as text: a non-empty string, or a list joined with commas.
    pub fn field(&self, key: &str) -> Option<String> {
        match self.data.get(key)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Array(a) => Some(super::replies::join_values(a, ",")),
            _ => None,
        }
    }

    /// The key action a successful `wheel.key.accept|reject|delete` return announces (Salt
    /// 3006-3008 fire no `salt/key` event for a key action made through salt-api). A delete
    /// answers `{}`, so its key is the match argument, unless that is a glob or a list.
    pub fn key_change(&self) -> Option<KeyChange<'_>> {
        let d = &self.data;
        let act = d
            .get("fun")
            .and_then(Value::as_str)
            .and_then(|f| f.strip_prefix("wheel.key."))?;
        let group = match act {
            "accept" => "minions",
            "reject" => "minions_rejected",
            "delete" => "",
            _ => return None,
        };
        if d.get("success").and_then(Value::as_bool) == Some(false) {
            return None;
        }
        let mut ids: Vec<String> = if group.is_empty() {
            d.get("fun_args")
                .and_then(|a| a.get(0))
                .and_then(Value::as_str)
                .filter(|m| !m.contains(['*', '?', '[', ',']))
                .map(|m| vec![m.to_string()])
                .unwrap_or_default()
        } else {
            d.get("return")
                .and_then(|r| r.get(group))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        ids.sort();
        ids.dedup();
        Some(KeyChange { act, ids })
    }
}

/// Incremental SSE parser: feed bytes, get complete events.
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
    data: String,
    event_tag: Option<String>,
    has_data: bool,
}

impl SseParser {
    /// Feed a chunk; returns every event completed by it.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SaltEvent> {
        self.buf.extend_from_slice(chunk);
        let mut out = vec![];
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            let mut line = &self.buf[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let line = String::from_utf8_lossy(line).into_owned();
            start = end + 1;
            if let Some(ev) = self.line(&line) {
                out.push(ev);
            }
        }
        self.buf.drain(..start);
        out
    }

    fn line(&mut self, line: &str) -> Option<SaltEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None; // comment / keepalive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "tag" | "event" => self.event_tag = Some(value.to_string()),
            _ => {} // retry, id: nothing to do
        }
        None
    }

    fn dispatch(&mut self) -> Option<SaltEvent> {
        if !self.has_data {
            self.event_tag = None;
            return None;
        }
        let data = std::mem::take(&mut self.data);
        self.has_data = false;
        let tag_line = self.event_tag.take();
        let mut parsed: Value = serde_json::from_str(&data).ok()?;
        if data.contains("\\u0000") {
            // A NUL is no character any store keeps (Postgres refuses it in text and jsonb):
            // it becomes U+FFFD, in keys and values alike.
            parsed = without_nul(parsed);
        }
        let tag_line = tag_line.map(|t| t.replace('\0', "\u{FFFD}"));
        // The data line is the envelope {"tag", "data"}; fall back to the `tag:` line.
        let tag = parsed
            .get("tag")
            .and_then(Value::as_str)
            .map(String::from)
            .or(tag_line)?;
        let inner = parsed.get("data").cloned().unwrap_or(parsed);
        Some(SaltEvent { tag, data: inner })
    }
}

/// `v` with every NUL character (in strings and object keys) replaced by U+FFFD.
fn without_nul(v: Value) -> Value {
    let fix = |s: String| {
        if s.contains('\0') {
            s.replace('\0', "\u{FFFD}")
        } else {
            s
        }
    };
    match v {
        Value::String(s) => Value::String(fix(s)),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nul).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (fix(k), without_nul(v)))
                .collect(),
        ),
        other => other,
    }
}

/// A live `/events` connection.
pub struct EventStream {
    inner: futures::stream::BoxStream<'static, Result<bytes::Bytes, reqwest::Error>>,
    parser: SseParser,
    pending: std::collections::VecDeque<SaltEvent>,
}

impl EventStream {
    pub(super) fn new(resp: reqwest::Response) -> Self {
        EventStream {
            inner: resp.bytes_stream().boxed(),
            parser: SseParser::default(),
            pending: Default::default(),
        }
    }

    /// The next event; `None` when the server closed the stream.
    pub async fn next(&mut self) -> Option<Result<SaltEvent, SaltError>> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some(Ok(ev));
            }
            match self.inner.next().await? {
                Ok(chunk) => self.pending.extend(self.parser.push(&chunk)),
                Err(e) => {
                    return Some(Err(SaltError::Unavailable(format!(
                        "event stream broke: {e}"
                    ))))
                }
            }
        }
    }
}
