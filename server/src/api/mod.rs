//! The HTTP API of the contract: the user routes, the publish route and the health check.

mod body;
mod health;
pub mod notifications;
pub mod publish;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

pub use body::MAX_BODY_BYTES;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(notifications::list))
        .route(
            "/notifications/unread-count",
            get(notifications::unread_count),
        )
        .route("/notifications/{id}/read", post(notifications::mark_read))
        .route(
            "/notifications/read-all",
            post(notifications::mark_all_read),
        )
        .route("/api/notifications", post(publish::publish))
        .route("/healthz", get(health::health))
}
