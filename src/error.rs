//! The one error type every server function returns: a status plus a message a person understands,
//! and (server side only) the cause behind a 5xx, kept for the log and never sent to the browser.
//!
//! Under `ssr` this module is also the one place that turns an error into HTTP: [`AppError::status`]
//! and [`AppError::retry_after_secs`] say what the response carries, [`AppError::log`] writes the one
//! log line. Server functions reach it through [`FromServerFnError::ser`] (server_fn encodes every
//! failed call's error exactly there); axum middleware through `IntoResponse`.
//!
//! [`FromServerFnError::ser`]: leptos::server_fn::error::FromServerFnError::ser

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A cause kept with an error for the server log.
pub type Source = Arc<dyn std::error::Error + Send + Sync>;

/// The text of a 5xx error as the person sees it, plus the cause behind it for the server log.
/// Serialized as the bare string (the cause never leaves the server); equal when the texts are.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct Message {
    text: String,
    source: Option<Source>,
}

impl Message {
    /// The text shown to the person.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The cause, if one was attached (server side only: it is not serialized).
    pub fn source(&self) -> Option<&Source> {
        self.source.as_ref()
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message { text, source: None }
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        text.to_string().into()
    }
}

impl From<Message> for String {
    fn from(m: Message) -> Self {
        m.text
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(s) => write!(f, "{:?} (caused by: {})", self.text, chain(s.as_ref())),
            None => write!(f, "{:?}", self.text),
        }
    }
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Message {}

/// An error and its causes, `outer: inner: innermost`.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}

/// Application error carried from server functions to the page (JSON-encoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    /// 401: no valid session.
    Unauthorized(String),
    /// 403: the session may not do this.
    Forbidden(String),
    /// 404.
    NotFound(String),
    /// 409: conflicts with existing data.
    Conflict(String),
    /// 422: bad input; `field` names the offending field when there is one.
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// 429: too many attempts; retry after the given seconds.
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// 502: salt-api answered with an error.
    SaltError(Message),
    /// 503: salt-api is not configured or unreachable.
    SaltUnavailable(Message),
    /// 500: something broke on our side (details are in the server log, not here).
    Internal(Message),
    /// Transport / encoding failure between browser and server.
    Transport(String),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Unauthorized(m)
            | AppError::Forbidden(m)
            | AppError::NotFound(m)
            | AppError::Conflict(m)
            | AppError::Transport(m)
            | AppError::Invalid { message: m, .. }
            | AppError::TooManyRequests { message: m, .. } => f.write_str(m),
            AppError::SaltError(m) | AppError::SaltUnavailable(m) | AppError::Internal(m) => {
                f.write_str(m.as_str())
            }
        }
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AppError::SaltError(m) | AppError::SaltUnavailable(m) | AppError::Internal(m) => m
                .source()
                .map(|s| s.as_ref() as &(dyn std::error::Error + 'static)),
            _ => None,
        }
    }
}

impl AppError {
    /// HTTP status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Invalid { .. } => 422,
            AppError::TooManyRequests { .. } => 429,
            AppError::SaltError(_) => 502,
            AppError::SaltUnavailable(_) => 503,
            AppError::Internal(_) => 500,
            AppError::Transport(_) => 400,
        }
    }

    /// Seconds for a `Retry-After` header, when the error asks the client to wait.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// 500 with `message` for the person and `source` for the log.
    pub fn internal(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        AppError::Internal(Message {
            text: message.into(),
            source: Some(Arc::new(source)),
        })
    }

    /// The same error with `source` as its cause (kept for the log; only 5xx errors keep one).
    pub fn with_source(self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        let attach = |m: Message| Message {
            text: m.text,
            source: Some(Arc::new(source)),
        };
        match self {
            AppError::SaltError(m) => AppError::SaltError(attach(m)),
            AppError::SaltUnavailable(m) => AppError::SaltUnavailable(attach(m)),
            AppError::Internal(m) => AppError::Internal(attach(m)),
            other => other,
        }
    }

    /// 429 for a throttled attempt: "Too many {what}. Try again in N minute(s).", retry after
    /// `wait` seconds.
    pub fn throttled(what: &str, wait: u64) -> Self {
        let minutes = wait.div_ceil(60);
        AppError::TooManyRequests {
            message: format!(
                "Too many {what}. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            ),
            retry_after_secs: wait,
        }
    }

    /// Validation error on one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// `Ok` when `value` has at most `max` characters, else a validation error on `field`:
    /// "{label} is limited to {max} characters."
    pub fn check_max_chars(
        field: &str,
        label: &str,
        value: &str,
        max: usize,
    ) -> Result<(), AppError> {
        if value.chars().count() > max {
            return Err(AppError::invalid(
                field,
                format!("{label} is limited to {max} characters."),
            ));
        }
        Ok(())
    }

    /// `value` trimmed, when it has at most `max` characters and no control characters, else a
    /// validation error on `field`: "{label} is limited to {max} characters." or "{label} may not
    /// contain control characters."
    pub fn check_plain_text<'a>(
        field: &str,
        label: &str,
        value: &'a str,
        max: usize,
    ) -> Result<&'a str, AppError> {
        let value = value.trim();
        AppError::check_max_chars(field, label, value, max)?;
        if value.chars().any(char::is_control) {
            return Err(AppError::invalid(
                field,
                format!("{label} may not contain control characters."),
            ));
        }
        Ok(value)
    }

    /// `Ok` when `value` is one of `choices`, else a validation error on `field`:
    /// "{label} must be one of a, b, c."
    pub fn check_one_of(
        field: &str,
        label: &str,
        value: &str,
        choices: &[&str],
    ) -> Result<(), AppError> {
        if !choices.contains(&value) {
            return Err(AppError::invalid(
                field,
                format!("{label} must be one of {}.", choices.join(", ")),
            ));
        }
        Ok(())
    }

    /// The field this error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Args(m) | E::Deserialization(m) | E::MissingArg(m) => AppError::Invalid {
                field: None,
                message: format!("Invalid request: {m}"),
            },
            other => AppError::Transport(other.to_string()),
        }
    }

    /// Every error a server function answers over HTTP is encoded here, once (arguments that
    /// cannot be decoded included): on the server this is where it gets its status,
    /// `Retry-After` and log line. Errors of in-process calls during a page render do not pass
    /// here: they are shown on the page, and do not become the page's status.
    fn ser(&self) -> leptos::server_fn::Bytes {
        #[cfg(feature = "ssr")]
        http::answer_server_fn(self);
        serde_json::to_vec(self)
            .map(Into::into)
            .unwrap_or_else(|_| leptos::server_fn::Bytes::from_static(b"{\"Internal\":\"\"}"))
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        // Postgres refuses a bound value it cannot store: a NUL character in text (22021) or as
        // a JSON `\u0000` (22P05). That is the request's own input, which no row holds, so it
        // is a 422, not a 500. (SQLite takes such text as it is.)
        if let sqlx::Error::Database(d) = &e {
            if matches!(d.code().as_deref(), Some("22021" | "22P05")) {
                return AppError::Invalid {
                    field: None,
                    message: "The request contains a character that cannot be stored (NUL).".into(),
                };
            }
        }
        AppError::internal("A database error occurred; see the server log.", e)
    }
}

/// The one mapping from an error to an HTTP answer (server only).
#[cfg(feature = "ssr")]
mod http {
    use super::{chain, AppError};
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::{IntoResponse, Response};

    impl AppError {
        /// The HTTP status as a `StatusCode`.
        pub fn status_code(&self) -> StatusCode {
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }

        /// The one log line for an error that is answered: `error` with its cause chain for a
        /// 5xx, `info` for refusals worth seeing (403, 429), `debug` for the other 4xx. The
        /// request's span (method, path, request id) is around it.
        pub fn log(&self) {
            let status = self.status();
            match status {
                500.. => {
                    let cause = std::error::Error::source(self).map(chain);
                    tracing::error!(status, error = %self, cause = cause.as_deref(), "request failed");
                }
                403 | 429 => tracing::info!(status, error = %self, "request refused"),
                _ => tracing::debug!(status, error = %self, "request refused"),
            }
        }

        fn retry_after_header(&self) -> Option<HeaderValue> {
            self.retry_after_secs()
                .and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
        }
    }

    /// A server function's error on its way out: status and `Retry-After` on the response, one
    /// log line. Only for calls over HTTP (`/api/...`): a call made while rendering a page
    /// must not set the page's status.
    pub(super) fn answer_server_fn(e: &AppError) {
        use leptos::prelude::use_context;
        let is_api_call = use_context::<axum::http::request::Parts>()
            .is_some_and(|p| p.uri.path().starts_with("/api/"));
        if !is_api_call {
            return;
        }
        e.log();
        if let Some(ro) = use_context::<leptos_axum::ResponseOptions>() {
            ro.set_status(e.status_code());
            if let Some(v) = e.retry_after_header() {
                ro.insert_header(header::RETRY_AFTER, v);
            }
        }
    }

    /// For axum handlers and middleware: status, `Retry-After`, the JSON body the page decodes,
    /// one log line.
    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            self.log();
            let mut res = (self.status_code(), axum::Json(&self)).into_response();
            if let Some(v) = self.retry_after_header() {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_stays_on_the_server() {
        let io = std::io::Error::other("disk on fire");
        let e = AppError::internal("A database error occurred; see the server log.", io);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"Internal":"A database error occurred; see the server log."}"#
        );
        assert_eq!(
            std::error::Error::source(&e).map(|s| s.to_string()),
            Some("disk on fire".to_string())
        );
        let back: AppError = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert!(std::error::Error::source(&back).is_none());
        assert!(format!("{e:?}").contains("disk on fire"));
    }

    #[test]
    fn wire_shapes_are_unchanged() {
        let e = AppError::SaltUnavailable("Salt API is not configured.".into());
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"SaltUnavailable":"Salt API is not configured."}"#
        );
        assert_eq!(
            serde_json::to_string(&AppError::Forbidden("no".into())).unwrap(),
            r#"{"Forbidden":"no"}"#
        );
        assert_eq!(e.to_string(), "Salt API is not configured.");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_database_error_is_a_500_that_keeps_its_cause() {
        let e = AppError::from(sqlx::Error::PoolClosed);
        assert_eq!(e.status(), 500);
        assert!(std::error::Error::source(&e).is_some());
    }
}
