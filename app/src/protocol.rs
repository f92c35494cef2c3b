//! The stream's wire format, one type for both ends: the server encodes a [`StreamEvent`] into
//! an SSE event's name, `id:` and `data:`, and the bell, the test client and the benchmark's
//! client parse them back with [`StreamEvent::parse`]. A new event is one variant here; the
//! compiler then points at every site that must handle it. (As mini-redis' `frame.rs` holds a
//! frame's encoding and decoding in one type.)
//!
//! The format is docs/API.md's "The stream": the names below, `data:` one JSON object.

use serde::{Deserialize, Serialize};

use crate::Notification;

/// `new-notification`: a notification for the user was committed. `id:` is its `_id`.
pub const NEW_NOTIFICATION: &str = "new-notification";
/// `notification-read`: some or all of the user's notifications were marked read.
pub const NOTIFICATION_READ: &str = "notification-read";
/// `notification-removed`: some of the user's notifications were deleted.
pub const NOTIFICATION_REMOVED: &str = "notification-removed";
/// `resync`: the server cannot replay from the client's position; refetch the list.
pub const RESYNC: &str = "resync";

/// Every event name, for a client that listens to each.
pub const EVENT_NAMES: [&str; 4] = [
    NEW_NOTIFICATION,
    NOTIFICATION_READ,
    NOTIFICATION_REMOVED,
    RESYNC,
];

/// One event of `GET /notifications/stream`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamEvent {
    New(Notification),
    Read(Read),
    Removed(Removed),
    Resync(Resync),
}

/// The data of `notification-read`: `{"ids": […], "unread_count": n}`, or, when nothing is left
/// unread, `{"all": true, "unread_count": 0}` (never `all` with anything unread).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Read {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    pub unread_count: u64,
}

impl Read {
    /// `ids` were read and `unread_count` are left; said as `all` once nothing is, so a read-all
    /// of a long list does not carry every id.
    pub fn of(ids: Vec<String>, unread_count: u64) -> Self {
        match unread_count {
            0 => Self {
                ids: Vec::new(),
                all: true,
                unread_count: 0,
            },
            _ => Self {
                ids,
                all: false,
                unread_count,
            },
        }
    }
}

/// The data of `notification-removed`: `{"ids": […], "unread_count": n}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub ids: Vec<String>,
    pub unread_count: u64,
}

/// The data of `resync`: `{"reason": "unknown_id" | "too_far_behind" | "state_changed"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resync {
    pub reason: String,
}

/// An event the stream does not have, or data that is not its shape.
#[derive(Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

impl StreamEvent {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::New(_) => NEW_NOTIFICATION,
            Self::Read(_) => NOTIFICATION_READ,
            Self::Removed(_) => NOTIFICATION_REMOVED,
            Self::Resync(_) => RESYNC,
        }
    }

    /// The SSE `id:`: a new notification's `_id`; the other events have none.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::New(notification) => Some(&notification.id),
            _ => None,
        }
    }

    /// The SSE `data:`, one line of JSON.
    pub fn data(&self) -> String {
        let json = match self {
            Self::New(notification) => serde_json::to_string(notification),
            Self::Read(read) => serde_json::to_string(read),
            Self::Removed(removed) => serde_json::to_string(removed),
            Self::Resync(resync) => serde_json::to_string(resync),
        };
        // Plain structs of strings and numbers: serialising them cannot fail.
        json.unwrap_or_default()
    }

    /// The event an SSE event's name and data stand for.
    pub fn parse(name: &str, data: &str) -> Result<Self, ProtocolError> {
        fn json<T: serde::de::DeserializeOwned>(
            name: &str,
            data: &str,
        ) -> Result<T, ProtocolError> {
            serde_json::from_str(data).map_err(|e| ProtocolError(format!("{name}: {e}")))
        }
        match name {
            NEW_NOTIFICATION => json(name, data).map(Self::New),
            NOTIFICATION_READ => json(name, data).map(Self::Read),
            NOTIFICATION_REMOVED => json(name, data).map(Self::Removed),
            RESYNC => json(name, data).map(Self::Resync),
            other => Err(ProtocolError(format!("no such event: {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification() -> Notification {
        Notification {
            id: "6747f1f0a3b2c1d0e9f8a7b6".into(),
            user_id: "42".into(),
            message: "Order #7 shipped".into(),
            link: Some("/orders/7".into()),
            read_at: None,
            created_at: "2026-11-28T07:00:00.000Z".into(),
            kind: None,
            data: None,
        }
    }

    /// docs/API.md's examples, byte for byte, both ways.
    #[test]
    fn the_documented_wire_format() {
        let cases = [
            (
                StreamEvent::New(notification()),
                NEW_NOTIFICATION,
                r#"{"_id":"6747f1f0a3b2c1d0e9f8a7b6","user_id":"42","message":"Order #7 shipped","link":"/orders/7","read_at":null,"created_at":"2026-11-28T07:00:00.000Z"}"#,
            ),
            (
                StreamEvent::Read(Read::of(vec!["a".into()], 2)),
                NOTIFICATION_READ,
                r#"{"ids":["a"],"unread_count":2}"#,
            ),
            (
                StreamEvent::Read(Read::of(vec!["a".into()], 0)),
                NOTIFICATION_READ,
                r#"{"all":true,"unread_count":0}"#,
            ),
            (
                StreamEvent::Removed(Removed {
                    ids: vec!["a".into()],
                    unread_count: 1,
                }),
                NOTIFICATION_REMOVED,
                r#"{"ids":["a"],"unread_count":1}"#,
            ),
            (
                StreamEvent::Resync(Resync {
                    reason: "unknown_id".into(),
                }),
                RESYNC,
                r#"{"reason":"unknown_id"}"#,
            ),
        ];
        for (event, name, data) in cases {
            assert_eq!((event.name(), event.data().as_str()), (name, data));
            assert_eq!(StreamEvent::parse(name, data), Ok(event));
        }
        assert_eq!(
            StreamEvent::New(notification()).id(),
            Some("6747f1f0a3b2c1d0e9f8a7b6")
        );
    }

    #[test]
    fn unknown_events_and_wrong_shapes_are_errors() {
        assert!(StreamEvent::parse("message", "{}").is_err());
        assert!(StreamEvent::parse(NOTIFICATION_READ, r#"{"ids":["a"]}"#).is_err());
        assert!(StreamEvent::parse(NEW_NOTIFICATION, "not json").is_err());
    }
}
