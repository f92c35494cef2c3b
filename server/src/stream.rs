//! `GET /notifications/stream`: the user's live events over Server-Sent Events.
//!
//! Opening a stream: subscribe to the hub first, then (on resume) replay from the database what
//! was committed after the client's last id, then go live, dropping live events the replay
//! already sent. Subscribing before reading is what makes the switch-over gap-free: anything
//! committed after the replay's read is queued in the subscription meanwhile.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;

use crate::auth::StreamUser;
use crate::error::AppError;
use crate::hub::{Event, Subscription};
use crate::metrics;
use crate::model::{NotificationId, UserId};
use crate::store::{Position, Replay};
use crate::AppState;

/// The reconnection delay the browser is told to use.
pub const RETRY: Duration = Duration::from_millis(3000);
/// The most missed notifications a resume replays; past that, the client refetches the list.
pub const MAX_REPLAY: usize = 500;

#[derive(Deserialize)]
pub struct StreamParams {
    last_event_id: Option<String>,
}

pub async fn stream(
    State(state): State<AppState>,
    StreamUser(user, token_expiry): StreamUser,
    headers: HeaderMap,
    Query(params): Query<StreamParams>,
) -> Result<impl IntoResponse, AppError> {
    let header = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned());
    let resume_from = header
        .or(params.last_event_id)
        .filter(|id| !id.trim().is_empty())
        .map(|id| NotificationId::parse(id.trim()))
        .transpose()
        .map_err(|msg| AppError::malformed(msg, Some("last_event_id")))?;

    let subscription = state
        .hub
        .subscribe(&user)
        .map_err(|too_many| AppError::TooManyStreams(too_many.0))?;
    let (opening, floor) = match resume_from {
        Some(id) => replay(&state, &user, id).await?,
        None => (Vec::new(), None),
    };

    let events = stream::iter(std::iter::once(SseEvent::default().retry(RETRY)).chain(opening))
        .chain(live(subscription, floor))
        .map(Ok::<_, Infallible>)
        // On shutdown every stream ends cleanly, so its client reconnects (to another instance);
        // when the token expires it ends too, and the client must come back with a fresh one.
        .take_until(state.shutdown.clone().cancelled_owned())
        .take_until(sleep_until(token_expiry));
    let keep_alive = KeepAlive::new().interval(state.heartbeat).text("ping");
    Ok((
        [
            (CACHE_CONTROL, "no-cache"),
            (
                axum::http::HeaderName::from_static("x-accel-buffering"),
                "no",
            ),
        ],
        Sse::new(events).keep_alive(keep_alive),
    ))
}

fn sleep_until(deadline: std::time::SystemTime) -> tokio::time::Sleep {
    let left = deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or(Duration::ZERO);
    tokio::time::sleep(left)
}

/// The events a resume starts with, and the position below which live events are duplicates.
async fn replay(
    state: &AppState,
    user: &UserId,
    from: NotificationId,
) -> Result<(Vec<SseEvent>, Option<Position>), AppError> {
    let reason = match state.store.replay(user, from, MAX_REPLAY).await? {
        Replay::After { cursor, missed } => {
            metrics::replayed(missed.len() as u64);
            let floor = missed.last().map_or(cursor, |(position, _)| *position);
            let events = missed
                .iter()
                .filter_map(|(_, n)| {
                    serde_json::to_string(n)
                        .ok()
                        .map(|json| new_notification(&n.id, &json))
                })
                .collect();
            return Ok((events, Some(floor)));
        }
        Replay::Unknown => "unknown_id",
        Replay::TooFar => "too_far_behind",
    };
    metrics::resynced();
    let resync = SseEvent::default()
        .event("resync")
        .data(json!({ "reason": reason }).to_string());
    Ok((vec![resync], None))
}

fn new_notification(id: &str, json: &str) -> SseEvent {
    SseEvent::default()
        .event("new-notification")
        .id(id)
        .data(json)
}

/// The hub's events for this stream, minus those at or below `floor` (already replayed).
fn live(subscription: Subscription, floor: Option<Position>) -> impl Stream<Item = SseEvent> {
    stream::unfold(subscription, |mut subscription| async move {
        let event = subscription.events.recv().await?;
        Some((event, subscription))
    })
    .filter_map(move |event| async move {
        match event {
            Event::New(pushed) if floor.is_some_and(|floor| pushed.position <= floor) => None,
            Event::New(pushed) => Some(new_notification(&pushed.id, &pushed.json)),
            Event::Read(json) => Some(SseEvent::default().event("notification-read").data(&*json)),
        }
    })
}
