//! `GET /healthz`: what a load balancer asks before it sends an instance traffic.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use crate::store::StoreError;
use crate::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    status: &'static str,
    /// `ok`, `unreachable` or `not_writable`.
    database: &'static str,
    /// `following` while the feed pushes what is committed; `stalled` while it cannot (its
    /// last error is in the log, and `belfry_feed_following` is 0).
    feed: &'static str,
}

/// 200 while the database answers (and, after a failed write, takes writes again) and the feed
/// follows it; 503 with the reason while not (the details go to the log).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database is unreachable or not writable, or the feed cannot follow it", body = Health),
    ),
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let feed = match state.feed.problem() {
        None => "following",
        Some(problem) => {
            tracing::warn!(%problem, "health check: the feed cannot follow the database");
            "stalled"
        }
    };
    let database = match state.store.ping().await {
        Ok(()) if feed == "following" => {
            let ok = Health {
                status: "ok",
                database: "ok",
                feed,
            };
            return (StatusCode::OK, Json(ok));
        }
        Ok(()) => "ok",
        Err(StoreError::ReadOnly(err)) => {
            tracing::warn!(%err, "health check: database not writable");
            "not_writable"
        }
        Err(err) => {
            tracing::warn!(%err, "health check: database unreachable");
            "unreachable"
        }
    };
    let status = "unavailable";
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(Health {
            status,
            database,
            feed,
        }),
    )
}
