use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::store::StoreError;
use crate::AppState;

/// 200 while the database answers (and, after a failed write, takes writes again); 503 with the
/// reason while it does not (the details go to the log).
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let reason = match state.store.ping().await {
        Ok(()) => {
            return (
                StatusCode::OK,
                Json(json!({"status": "ok", "database": "ok"})),
            )
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
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "unavailable", "database": reason})),
    )
}
