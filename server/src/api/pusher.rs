//! The Pusher HTTP API's two publishing routes, for Laravel's `pusher` broadcast driver
//! (`pusher.rs` says what is accepted and why). Answered as Pusher answers them: `{}` for an
//! event, `{"batch": [{}, …]}` for a batch; errors in the contract's JSON.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::{json, Value};

use super::body::RawBody;
use crate::error::{AppError, ErrorBody};
use crate::pusher::{PusherApp, Received, Trigger};
use crate::AppState;

/// Most events in one batch (Pusher's limit).
pub const MAX_BATCH: usize = 10;

/// Triggers one event on one or more channels (Pusher's "Publish an event").
#[utoipa::path(
    post,
    path = "/apps/{app_id}/events",
    tag = "pusher",
    params(("app_id" = String, Path, description = "`--pusher-app-id`")),
    request_body(content = Object, description = "`{name, data, channel | channels, socket_id?}`: `data` is the JSON text of the payload"),
    responses(
        (status = 200, description = "Accepted: `{}`", body = Object),
        (status = 400, description = "The body is not an event", body = ErrorBody),
        (status = 401, description = "The signature, key, timestamp or body_md5 is wrong", body = ErrorBody),
        (status = 404, description = "No such app, or the server was started without `--pusher-app-id`", body = ErrorBody),
        (status = 409, description = "A notification's id is another user's notification's, or the request broadcasts one id to two users", body = ErrorBody),
        (status = 413, description = "The body is over 64 KiB", body = ErrorBody),
        (status = 422, description = "A notification broadcast Belfry cannot read (no id, no message)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("pusher_signature" = [])),
)]
pub async fn events(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, AppError> {
    let (app, event) = signed(&state, &app_id, "events", &query, &body)?;
    let trigger = Trigger::parse(&event).map_err(|m| AppError::malformed(m, None))?;
    receive(&state, app, &[trigger]).await?;
    Ok(Json(json!({})))
}

/// Triggers up to ten events, each on one channel (Pusher's "Publish batch events").
#[utoipa::path(
    post,
    path = "/apps/{app_id}/batch_events",
    tag = "pusher",
    params(("app_id" = String, Path, description = "`--pusher-app-id`")),
    request_body(content = Object, description = "`{batch: [{name, data, channel}, …]}`, at most 10 events"),
    responses(
        (status = 200, description = "Accepted: `{\"batch\": [{}, …]}`", body = Object),
        (status = 400, description = "The body is not a batch of events", body = ErrorBody),
        (status = 401, description = "The signature, key, timestamp or body_md5 is wrong", body = ErrorBody),
        (status = 404, description = "No such app, or the server was started without `--pusher-app-id`", body = ErrorBody),
        (status = 409, description = "A notification's id is another user's notification's, or the request broadcasts one id to two users", body = ErrorBody),
        (status = 413, description = "The body is over 64 KiB", body = ErrorBody),
        (status = 422, description = "A notification broadcast Belfry cannot read (no id, no message)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("pusher_signature" = [])),
)]
pub async fn batch_events(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    RawBody(body): RawBody,
) -> Result<Json<Value>, AppError> {
    let (app, body) = signed(&state, &app_id, "batch_events", &query, &body)?;
    let batch = match body.get("batch") {
        Some(Value::Array(batch)) if !batch.is_empty() && batch.len() <= MAX_BATCH => batch,
        _ => {
            return Err(AppError::malformed(
                format!("batch must be an array of 1 to {MAX_BATCH} events"),
                None,
            ))
        }
    };
    let triggers = batch
        .iter()
        .map(Trigger::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| AppError::malformed(m, None))?;
    receive(&state, app, &triggers).await?;
    Ok(Json(json!({ "batch": vec![json!({}); triggers.len()] })))
}

/// The app, and the body as JSON, of a request signed for `app_id` (401 otherwise).
fn signed<'a>(
    state: &'a AppState,
    app_id: &str,
    route: &str,
    query: &[(String, String)],
    body: &[u8],
) -> Result<(&'a PusherApp, Value), AppError> {
    let app = state
        .pusher
        .as_deref()
        .filter(|app| app.app_id == app_id)
        .ok_or(AppError::NotFound("no such Pusher app"))?;
    let now = chrono::Utc::now().timestamp();
    app.verify(&format!("/apps/{app_id}/{route}"), query, body, now)
        .map_err(|message| AppError::Unauthorized {
            code: "invalid_signature",
            message,
        })?;
    let body = serde_json::from_slice(body)
        .map_err(|e| AppError::malformed(format!("the body is not JSON: {e}"), None))?;
    Ok((app, body))
}

/// Stores the notifications among `triggers`, all or none (the store refuses one id for two
/// users, and stores one for its user once); counts every event by outcome.
async fn receive(state: &AppState, app: &PusherApp, triggers: &[Trigger]) -> Result<(), AppError> {
    let mut batch = Vec::new();
    let mut ignored = 0;
    for trigger in triggers {
        for channel in &trigger.channels {
            match app.receive(trigger, channel) {
                Received::Notification(new) => batch.push(*new),
                Received::Ignored => ignored += 1,
                Received::Unreadable(why) => {
                    crate::metrics::pusher_event("unreadable");
                    tracing::warn!(%why, %channel, "a notification broadcast Belfry cannot read");
                    return Err(AppError::invalid("data", why));
                }
            }
        }
    }
    for _ in 0..ignored {
        crate::metrics::pusher_event("ignored");
    }
    if batch.is_empty() {
        return Ok(());
    }
    if !state.publish_limit.allow(batch.len()) {
        return Err(AppError::RateLimited);
    }
    for stored in state.store.publish(&batch).await? {
        crate::metrics::pusher_event(if stored.again { "again" } else { "stored" });
    }
    Ok(())
}
