//! The body of a request, read with the contract's limit and errors: 413 past 64 KiB (as
//! [`RawBody`], for a route that needs the bytes themselves, as the Pusher routes do for their
//! signature), and 400 when it is not JSON ([`JsonBody`]). Its shape is checked by the handler,
//! field by field, so that a wrong field gets a 422 that names it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

use crate::error::AppError;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct JsonBody(pub serde_json::Value);

/// The body's bytes, at most [`MAX_BODY_BYTES`].
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // `DefaultBodyLimit` (set on the router) makes `Bytes` stop reading past the limit.
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge {
                    limit: MAX_BODY_BYTES,
                }
            } else {
                AppError::malformed("the request body could not be read", None)
            }
        })?;
        Ok(Self(bytes))
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|err| AppError::malformed(format!("the body is not valid JSON: {err}"), None))
    }
}
