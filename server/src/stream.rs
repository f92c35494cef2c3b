//! `GET /notifications/stream`: the user's live events over Server-Sent Events.
//!
//! This module is the HTTP side only: the token, `Last-Event-ID`, the SSE framing, keep-alive,
//! and when a stream ends (shutdown, token expiry). What a stream carries, and how a resume
//! replays without a gap, is `delivery.rs`.

use std::convert::Infallible;
use std::time::Duration;

use app::protocol;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures::stream::{self, StreamExt};
use serde::Deserialize;

use crate::api::query::Query;
use crate::auth::StreamUser;
use crate::delivery::{self, OpenError, Outgoing};
use crate::error::{AppError, ErrorBody};
use crate::hub::Event;
use crate::model::NotificationId;
use crate::AppState;

/// The stream's route, also what the transport looks for in a connection's first bytes.
pub const PATH: &str = "/notifications/stream";
/// The reconnection delay the browser is told to use.
pub const RETRY: Duration = Duration::from_millis(3000);

#[derive(Deserialize)]
pub struct StreamParams {
    last_event_id: Option<String>,
}

/// The user's live events: `new-notification`, `notification-read`, `notification-removed`,
/// `resync` (see docs/API.md).
#[utoipa::path(
    get,
    path = "/notifications/stream",
    tag = "user",
    params(
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this `_id`"),
        ("last_event_id" = Option<String>, Query, description = "The same, for a new EventSource"),
    ),
    responses(
        (status = 200, description = "Server-Sent Events, until the client leaves, the token expires or the server shuts down", content_type = "text/event-stream", body = String),
        (status = 400, description = "A malformed resume id", body = ErrorBody),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 429, description = "The user has `--max-streams-per-user` open", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_query" = []), ("token_cookie" = [])),
)]
pub async fn stream(
    State(state): State<AppState>,
    StreamUser(user, token_expiry): StreamUser,
    headers: HeaderMap,
    Query(params): Query<StreamParams>,
) -> Result<impl IntoResponse, AppError> {
    // A browser sends back the id it was given, as UTF-8: an id of any script resumes. Bytes
    // that are not UTF-8 were never an id, and two ids are one too many.
    let mut given = headers.get_all("last-event-id").iter();
    let header = match (given.next(), given.next()) {
        (_, Some(_)) => {
            return Err(AppError::malformed(
                "Last-Event-ID is given twice",
                Some("last_event_id"),
            ))
        }
        (Some(value), None) => Some(std::str::from_utf8(value.as_bytes()).map_err(|_| {
            AppError::malformed("Last-Event-ID is not UTF-8 text", Some("last_event_id"))
        })?),
        (None, _) => None,
    };
    // An empty one says nothing (a browser sends none before its first id), so the query's
    // counts then.
    let says_something = |id: &str| !id.trim().is_empty();
    let resume_from = header
        .filter(|id| says_something(id))
        .map(str::to_owned)
        .or(params.last_event_id.filter(|id| says_something(id)))
        .map(|id| NotificationId::parse(id.trim()))
        .transpose()
        .map_err(|msg| AppError::malformed(msg, Some("last_event_id")))?;

    let events = delivery::open(&state.hub, &*state.store, &user, resume_from).await?;
    let events = stream::iter([SseEvent::default().retry(RETRY)])
        .chain(events.map(to_sse))
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

/// Frames an event: its name and data as `app::protocol` encodes them (the hub's events carry
/// their data serialised once, shared by every stream of the user).
fn to_sse(event: Outgoing) -> SseEvent {
    match event {
        Outgoing::Hub(Event::New(pushed)) => SseEvent::default()
            .event(protocol::NEW_NOTIFICATION)
            .id(&pushed.id)
            .data(&pushed.json),
        Outgoing::Hub(Event::Changed(kind, json)) => {
            SseEvent::default().event(kind.event_name()).data(&*json)
        }
        Outgoing::Resync(reason) => {
            let resync = protocol::StreamEvent::Resync(protocol::Resync {
                reason: reason.to_owned(),
            });
            SseEvent::default().event(resync.name()).data(resync.data())
        }
    }
}

impl From<OpenError> for AppError {
    fn from(err: OpenError) -> Self {
        match err {
            OpenError::TooManyStreams(too_many) => AppError::TooManyStreams(too_many.0),
            OpenError::Store(err) => err.into(),
        }
    }
}
