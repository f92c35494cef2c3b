//! The one error type of the HTTP API.
//!
//! Every failure a handler can meet becomes an [`AppError`], and every `AppError` becomes the
//! contract's JSON body `{"error", "message", "field"?}`. Internal details (database messages,
//! driver errors) are logged, never sent: the client learns only what it can act on.
//!
//! Converting an error does nothing else (a `?` has no side effect): a database error's cause
//! rides on the response as a [`Cause`] extension, and one middleware, [`log_causes`], logs it
//! and counts it once per request (as axum's `examples/error-handling` does).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request cannot be read (bad JSON, a malformed query value or id).
    #[error("{message}")]
    Malformed {
        message: String,
        field: Option<&'static str>,
    },
    /// 401: the token or key is missing, invalid or expired.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: the CSRF guard refused a state-changing request.
    #[error(
        "a state-changing request must carry Content-Type: application/json or X-Requested-With"
    )]
    CsrfRejected,
    /// 404: nothing (visible to this caller) is there.
    #[error("{0}")]
    NotFound(&'static str),
    /// 408: the request took longer than `--request-timeout-ms`. What it asked may still be
    /// done (a publish may be stored): retry a publish with the same `id`.
    #[error("the request took longer than {0} ms; a publish may still be stored: retry it with the same id")]
    Timeout(u64),
    /// 409: the publish names an id another user's notification has.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is over the limit.
    #[error("the request body is over {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 422: the request is well-formed but a value breaks a rule.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// 429: the user has as many open streams as allowed.
    #[error("this user has {0} open streams already; close one first")]
    TooManyStreams(usize),
    /// 429: the service key published more notifications than `--publish-rate` allows.
    #[error("too many notifications published; slow down and retry")]
    RateLimited,
    /// 503: the database cannot be reached (or written) right now; the cause is logged.
    #[error("the database is unavailable")]
    Unavailable(StoreError),
    /// 500: the database refused; the cause is logged, not sent.
    #[error("internal error")]
    Database(StoreError),
    /// 500: anything else; the cause is logged, not sent.
    #[error("internal error")]
    Internal,
}

impl AppError {
    pub fn malformed(message: impl Into<String>, field: Option<&'static str>) -> Self {
        Self::Malformed {
            message: message.into(),
            field,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Malformed { .. } => (StatusCode::BAD_REQUEST, "malformed"),
            Self::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            Self::CsrfRejected => (StatusCode::FORBIDDEN, "csrf_rejected"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "timeout"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            Self::TooManyStreams(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_streams"),
            Self::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable"),
            Self::Database(_) | Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Malformed { field, .. } => *field,
            Self::Invalid { field, .. } => Some(field),
            Self::Conflict(_) => Some("id"),
            _ => None,
        }
    }
}

/// A query string that does not parse (`?limit=1&limit=2`, a repeated `last_event_id`,
/// `?limit=x`) gets the contract's 400, not axum's plain-text one (`api::query`).
impl From<axum::extract::rejection::QueryRejection> for AppError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        Self::malformed(
            format!("the query string cannot be read: {}", rejection.body_text()),
            None,
        )
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) | StoreError::ReadOnly(_) => Self::Unavailable(err),
            StoreError::Conflict(message) => Self::Conflict(message),
            StoreError::Other(_) => Self::Database(err),
        }
    }
}

/// The cause of an error answer, for [`log_causes`]: never sent to the client.
#[derive(Clone, Debug)]
pub struct Cause(pub StoreError);

/// Logs and counts the database error behind an answer (`belfry_database_errors_total`), once,
/// in the request's span: unavailable at warn level, anything else at error level.
pub async fn log_causes(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    if let Some(Cause(err)) = response.extensions().get::<Cause>() {
        crate::metrics::database_error();
        match err {
            StoreError::Unavailable(reason) | StoreError::ReadOnly(reason) => {
                tracing::warn!(%reason, "database unavailable");
            }
            StoreError::Other(reason) | StoreError::Conflict(reason) => {
                tracing::error!(%reason, "database error")
            }
        }
    }
    response
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// A stable code: `malformed`, `invalid`, `missing_token`, `not_found`, …
    error: &'a str,
    /// For a person.
    message: String,
    /// The field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = ErrorBody {
            error: code,
            message: self.to_string(),
            field: self.field(),
        };
        let mut response = (status, Json(body)).into_response();
        if let Self::Unavailable(cause) | Self::Database(cause) = self {
            response.extensions_mut().insert(Cause(cause));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn errors_counted() -> f64 {
        crate::metrics::handle()
            .render()
            .lines()
            .find(|l| l.starts_with("belfry_database_errors_total "))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_default()
    }

    /// A `?` on a database error only converts it; the middleware counts it once, and the
    /// answer carries the contract's body, never the cause.
    #[tokio::test]
    async fn a_database_error_is_counted_once_and_never_sent() {
        async fn failing() -> Result<(), AppError> {
            Err(StoreError::Other("secret detail".into()))?;
            Ok(())
        }
        let before = errors_counted();
        let converted = AppError::from(StoreError::Other("x".into()));
        assert_eq!(errors_counted(), before, "converting has no side effect");
        drop(converted);
        let router = axum::Router::new()
            .route("/", get(failing))
            .layer(axum::middleware::from_fn(log_causes));
        let request = axum::http::Request::get("/")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&body);
        assert!(!body.contains("secret"), "{body}");
        assert!(errors_counted() >= before + 1.0);
    }
}
