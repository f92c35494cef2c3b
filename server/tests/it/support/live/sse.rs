//! A real SSE client (`eventsource-stream` over `reqwest`), and what the load tests check of
//! what each stream received.

use std::pin::Pin;
use std::time::Duration;

use app::protocol::{StreamEvent, NEW_NOTIFICATION};
use app::Notification;
use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::StatusCode;

use super::PATIENCE;
use crate::support::token;

type EventStream = Pin<Box<dyn Stream<Item = Result<Event, String>> + Send>>;

/// One open `GET /notifications/stream`.
pub struct SseClient {
    events: EventStream,
}

pub struct StreamRequest<'a> {
    pub base: &'a str,
    pub token: String,
    pub last_event_id: Option<String>,
    pub in_query: bool,
}

impl SseClient {
    pub async fn open(base: &str, user: &str) -> Self {
        Self::try_open(StreamRequest {
            base,
            token: token(user),
            last_event_id: None,
            in_query: false,
        })
        .await
        .expect("the stream opens")
    }

    pub async fn resume(base: &str, user: &str, last_event_id: &str) -> Self {
        Self::try_open(StreamRequest {
            base,
            token: token(user),
            last_event_id: Some(last_event_id.to_owned()),
            in_query: false,
        })
        .await
        .expect("the stream opens")
    }

    /// Opens a stream; an error status comes back as `Err((status, body))`.
    pub async fn try_open(request: StreamRequest<'_>) -> Result<Self, (StatusCode, String)> {
        let mut url = format!(
            "{}/notifications/stream?token={}",
            request.base, request.token
        );
        let mut builder = reqwest::Client::new().get(&url);
        if let Some(id) = &request.last_event_id {
            if request.in_query {
                url.push_str(&format!("&last_event_id={id}"));
                builder = reqwest::Client::new().get(&url);
            } else {
                builder = builder.header("last-event-id", id);
            }
        }
        let response = builder.send().await.expect("stream request");
        if response.status() != StatusCode::OK {
            let status = response.status();
            return Err((status, response.text().await.unwrap_or_default()));
        }
        let events = response
            .bytes_stream()
            .eventsource()
            .map(|event| event.map_err(|e| e.to_string()));
        Ok(Self {
            events: Box::pin(events),
        })
    }

    /// The next event, or `None` when the server ended the stream. Fails the test after PATIENCE.
    pub async fn next(&mut self) -> Option<Event> {
        match tokio::time::timeout(PATIENCE, self.events.next()).await {
            Ok(Some(Ok(event))) => Some(event),
            Ok(Some(Err(_))) | Ok(None) => None,
            Err(_) => panic!("no event within {PATIENCE:?}"),
        }
    }

    /// The next event, which must be a new notification.
    pub async fn next_notification(&mut self) -> Notification {
        let event = self.next().await.expect("the stream is open");
        let parsed = StreamEvent::parse(&event.event, &event.data);
        let Ok(StreamEvent::New(notification)) = parsed else {
            panic!("not a new notification: {event:?}");
        };
        assert_eq!(
            event.id, notification.id,
            "the SSE id is the notification's _id"
        );
        *notification
    }
}

impl SseClient {
    /// The next event if one comes within `wait`: `Ok(None)` when the stream ended, `Err(())`
    /// when nothing came in time.
    pub async fn next_within(&mut self, wait: Duration) -> Result<Option<Event>, ()> {
        match tokio::time::timeout(wait, self.events.next()).await {
            Ok(Some(Ok(event))) => Ok(Some(event)),
            Ok(Some(Err(_))) | Ok(None) => Ok(None),
            Err(_) => Err(()),
        }
    }
}

/// What each user should end up with; `None` while the writers are still writing.
pub type Expected = tokio::sync::watch::Receiver<Option<std::collections::HashMap<String, usize>>>;

/// Reads `client` until it holds as many new notifications as `expected` says `user` has
/// (known once the writers are done); returns the ids in arrival order.
pub async fn read_until_expected(
    mut client: SseClient,
    user: String,
    expected: Expected,
) -> (String, Vec<String>) {
    let mut received = Vec::new();
    loop {
        match client.next_within(Duration::from_millis(300)).await {
            Ok(Some(event)) => {
                assert_eq!(event.event, NEW_NOTIFICATION, "{user}: {event:?}");
                received.push(event.id);
            }
            Ok(None) => panic!("{user}: the stream ended"),
            Err(()) => {
                let want = expected
                    .borrow()
                    .as_ref()
                    .map(|counts| counts.get(&user).copied().unwrap_or(0));
                if want.is_some_and(|n| received.len() >= n) {
                    return (user, received);
                }
            }
        }
    }
}

/// Tells the readers what each user has in the database, then checks that every reader got
/// exactly its user's notifications, each once.
pub async fn assert_each_stream_got_exactly(
    expected: tokio::sync::watch::Sender<Option<std::collections::HashMap<String, usize>>>,
    readers: Vec<tokio::task::JoinHandle<(String, Vec<String>)>>,
    in_db: &std::collections::HashMap<String, std::collections::HashSet<String>>,
) {
    expected
        .send(Some(
            in_db
                .iter()
                .map(|(u, ids)| (u.clone(), ids.len()))
                .collect(),
        ))
        .expect("readers are listening");
    for reader in readers {
        let (user, received) = tokio::time::timeout(PATIENCE * 8, reader)
            .await
            .expect("readers finish")
            .expect("a reader did not panic");
        let unique: std::collections::HashSet<String> = received.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            received.len(),
            "{user}: a notification arrived twice"
        );
        assert_eq!(
            &unique, &in_db[&user],
            "{user}: exactly its own notifications from the database"
        );
    }
}
