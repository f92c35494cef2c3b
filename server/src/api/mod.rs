//! The HTTP API of the contract: the user routes, the publish route, health, metrics and the
//! OpenAPI document. Each route is registered from its annotated handler, so the router and the
//! document are one list (`openapi.rs`).

mod body;
mod health;
pub mod notifications;
pub mod publish;
pub mod pusher;
pub mod query;
pub mod states;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{metrics, openapi, AppState};

pub use body::MAX_BODY_BYTES;

/// Every API route but the stream (which `app` keeps apart from the request deadline).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::Base::openapi())
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::unread_count))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(notifications::mark_all_read))
        .routes(routes!(states::counts))
        .routes(routes!(states::mark_unread))
        .routes(routes!(states::archive))
        .routes(routes!(states::unarchive))
        .routes(routes!(states::snooze))
        .routes(routes!(states::unsnooze))
        .routes(routes!(states::get, states::delete))
        .routes(routes!(states::seen))
        .routes(routes!(states::complete))
        .routes(routes!(states::archive_all))
        .routes(routes!(states::archive_read))
        .routes(routes!(publish::publish))
        .routes(routes!(pusher::events))
        .routes(routes!(pusher::batch_events))
        .routes(routes!(health::health))
        .routes(routes!(metrics::export))
        .routes(routes!(openapi::document))
}
