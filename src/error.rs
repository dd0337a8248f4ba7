//! The one error type every server function returns: a status plus a message a person understands.

use serde::{Deserialize, Serialize};

/// Application error carried from server functions to the page (JSON-encoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// 401: no valid session.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the session may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with existing data.
    #[error("{0}")]
    Conflict(String),
    /// 422: bad input; `field` names the offending field when there is one.
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// 429: too many attempts; retry after the given seconds.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// 502: salt-api answered with an error.
    #[error("{0}")]
    SaltError(String),
    /// 503: salt-api is not configured or unreachable.
    #[error("{0}")]
    SaltUnavailable(String),
    /// 500: something broke on our side (details are in the server log, not here).
    #[error("{0}")]
    Internal(String),
    /// Transport / encoding failure between browser and server.
    #[error("{0}")]
    Transport(String),
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

    /// Validation error on one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: Some(field.to_string()),
            message: message.into(),
        }
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
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "database error");
        AppError::Internal("A database error occurred; see the server log.".into())
    }
}
