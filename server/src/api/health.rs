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
}

/// 200 while the database answers (and, after a failed write, takes writes again); 503 with the
/// reason while it does not (the details go to the log).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database is unreachable or not writable", body = Health),
    ),
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let database = match state.store.ping().await {
        Ok(()) => {
            let ok = Health {
                status: "ok",
                database: "ok",
            };
            return (StatusCode::OK, Json(ok));
        }
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
        Json(Health { status, database }),
    )
}
