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
        let parsed: Value = serde_json::from_str(&data).ok()?;
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
