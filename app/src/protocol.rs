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
/// `resync`: the server cannot replay from the client's position; refetch the list.
pub const RESYNC: &str = "resync";

/// What happened to some of a user's notifications after they were committed: one event of
/// the stream each (`notification-<kind>`), one row kind of SQLite's change log, one entry
/// kind of MongoDB's. The states they move between: docs/API.md, "States".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChangeKind {
    /// Marked read (and so seen).
    Read,
    /// Marked unread again.
    Unread,
    /// Shown to the user in the open bell.
    Seen,
    /// Out of the inbox into the archive.
    Archived,
    /// Back from the archive.
    Unarchived,
    /// Hidden until a time (`snoozed_until`).
    Snoozed,
    /// Back from a snooze: its time came (unread and unseen again) or it was cancelled.
    Unsnoozed,
    /// Deleted for good.
    Removed,
    /// One of its named actions was confirmed done by the page (`completed_action`).
    Completed,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 9] = [
        ChangeKind::Read,
        ChangeKind::Unread,
        ChangeKind::Seen,
        ChangeKind::Archived,
        ChangeKind::Unarchived,
        ChangeKind::Snoozed,
        ChangeKind::Unsnoozed,
        ChangeKind::Removed,
        ChangeKind::Completed,
    ];

    /// The kind's word: `read`, `unread`, `seen`, `archived`, `unarchived`, `snoozed`,
    /// `unsnoozed`, `removed`, `completed` (what the change logs store).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Read => "read",
            ChangeKind::Unread => "unread",
            ChangeKind::Seen => "seen",
            ChangeKind::Archived => "archived",
            ChangeKind::Unarchived => "unarchived",
            ChangeKind::Snoozed => "snoozed",
            ChangeKind::Unsnoozed => "unsnoozed",
            ChangeKind::Removed => "removed",
            ChangeKind::Completed => "completed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The SSE event name: `notification-` and the kind's word.
    pub fn event_name(self) -> &'static str {
        match self {
            ChangeKind::Read => "notification-read",
            ChangeKind::Unread => "notification-unread",
            ChangeKind::Seen => "notification-seen",
            ChangeKind::Archived => "notification-archived",
            ChangeKind::Unarchived => "notification-unarchived",
            ChangeKind::Snoozed => "notification-snoozed",
            ChangeKind::Unsnoozed => "notification-unsnoozed",
            ChangeKind::Removed => "notification-removed",
            ChangeKind::Completed => "notification-completed",
        }
    }

    fn of_event(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.event_name() == name)
    }

    /// The position of the kind in [`ALL`](Self::ALL).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Every event name, for a client that listens to each.
pub fn event_names() -> impl Iterator<Item = &'static str> {
    [NEW_NOTIFICATION, RESYNC]
        .into_iter()
        .chain(ChangeKind::ALL.into_iter().map(ChangeKind::event_name))
}

/// Which of a user's notifications a list shows: `GET /notifications?status=`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Status {
    /// Neither archived nor snoozed (the default).
    #[default]
    Inbox,
    /// In the inbox and unread.
    Unread,
    /// In the inbox and not yet seen.
    Unseen,
    /// Archived.
    Archived,
    /// Snoozed, until their `snoozed_until`.
    Snoozed,
    /// Every one.
    All,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Inbox,
        Status::Unread,
        Status::Unseen,
        Status::Archived,
        Status::Snoozed,
        Status::All,
    ];

    /// The query value: `inbox`, `unread`, `unseen`, `archived`, `snoozed`, `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Inbox => "inbox",
            Status::Unread => "unread",
            Status::Unseen => "unseen",
            Status::Archived => "archived",
            Status::Snoozed => "snoozed",
            Status::All => "all",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// A user's badge counts: unread and unseen notifications in the inbox (neither archived nor
/// snoozed). What `GET /notifications/counts` answers and every change event carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Counts {
    pub unread_count: u64,
    #[serde(default)]
    pub unseen_count: u64,
}

/// `GET /notifications/counts?categories=…`: the user's counts, and those of each category
/// asked for (the bell's tabs): `{"unread_count": 3, "unseen_count": 1, "categories":
/// {"billing": {"unread_count": 1, "unseen_count": 0}}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AllCounts {
    // (The counts' two fields, not `Counts` flattened: serde's `flatten` costs the bundles tens
    // of KiB.)
    pub unread_count: u64,
    #[serde(default)]
    pub unseen_count: u64,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub categories: std::collections::BTreeMap<String, Counts>,
}

impl AllCounts {
    /// The user's counts, with no category's.
    pub fn of(counts: Counts) -> Self {
        Self {
            unread_count: counts.unread_count,
            unseen_count: counts.unseen_count,
            categories: Default::default(),
        }
    }

    /// The user's counts.
    pub fn counts(&self) -> Counts {
        Counts {
            unread_count: self.unread_count,
            unseen_count: self.unseen_count,
        }
    }
}

/// One event of `GET /notifications/stream`. (Serde's own form, not the wire's, is what one
/// tab hands the others: `shared.rs`.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamEvent {
    New(Box<Notification>),
    Changed(ChangeKind, Changed),
    Resync(Resync),
}

/// The data of every change event: `{"ids": […], "unread_count": n, "unseen_count": m}`, the
/// counts as they were after the change. A read that left nothing unread says
/// `{"all": true, …}` instead of its ids (never `all` with anything unread).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    // (The counts' two fields, not `Counts` flattened: see `AllCounts`.)
    pub unread_count: u64,
    #[serde(default)]
    pub unseen_count: u64,
}

impl Changed {
    /// `ids` changed by `kind`, leaving `counts`; a read that leaves nothing unread is said as
    /// `all`, so a read-all of a long list does not carry every id.
    pub fn of(kind: ChangeKind, ids: Vec<String>, counts: Counts) -> Self {
        let all = kind == ChangeKind::Read && counts.unread_count == 0;
        Self {
            ids: if all { Vec::new() } else { ids },
            all,
            unread_count: counts.unread_count,
            unseen_count: counts.unseen_count,
        }
    }

    /// The counts after the change.
    pub fn counts(&self) -> Counts {
        Counts {
            unread_count: self.unread_count,
            unseen_count: self.unseen_count,
        }
    }
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
            Self::Changed(kind, _) => kind.event_name(),
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
            Self::New(notification) => crate::json::to_string(notification),
            Self::Changed(_, changed) => crate::json::to_string(changed),
            Self::Resync(resync) => crate::json::to_string(resync),
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
            crate::json::from_str(data).map_err(|e| ProtocolError(format!("{name}: {e}")))
        }
        match name {
            NEW_NOTIFICATION => json(name, data).map(Self::New),
            RESYNC => json(name, data).map(Self::Resync),
            other => match ChangeKind::of_event(other) {
                Some(kind) => json(name, data).map(|changed| Self::Changed(kind, changed)),
                None => Err(ProtocolError(format!("no such event: {other:?}"))),
            },
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
            ..Notification::default()
        }
    }

    fn counts(unread_count: u64, unseen_count: u64) -> Counts {
        Counts {
            unread_count,
            unseen_count,
        }
    }

    /// docs/API.md's examples, byte for byte, both ways.
    #[test]
    fn the_documented_wire_format() {
        let cases = [
            (
                StreamEvent::New(Box::new(notification())),
                NEW_NOTIFICATION,
                r#"{"_id":"6747f1f0a3b2c1d0e9f8a7b6","user_id":"42","message":"Order #7 shipped","link":"/orders/7","read_at":null,"created_at":"2026-11-28T07:00:00.000Z"}"#,
            ),
            (
                StreamEvent::Changed(
                    ChangeKind::Read,
                    Changed::of(ChangeKind::Read, vec!["a".into()], counts(2, 1)),
                ),
                "notification-read",
                r#"{"ids":["a"],"unread_count":2,"unseen_count":1}"#,
            ),
            (
                StreamEvent::Changed(
                    ChangeKind::Read,
                    Changed::of(ChangeKind::Read, vec!["a".into()], counts(0, 0)),
                ),
                "notification-read",
                r#"{"all":true,"unread_count":0,"unseen_count":0}"#,
            ),
            (
                StreamEvent::Changed(
                    ChangeKind::Archived,
                    Changed::of(ChangeKind::Archived, vec!["a".into()], counts(0, 0)),
                ),
                "notification-archived",
                r#"{"ids":["a"],"unread_count":0,"unseen_count":0}"#,
            ),
            (
                StreamEvent::Changed(
                    ChangeKind::Removed,
                    Changed::of(ChangeKind::Removed, vec!["a".into()], counts(1, 1)),
                ),
                "notification-removed",
                r#"{"ids":["a"],"unread_count":1,"unseen_count":1}"#,
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
            StreamEvent::New(Box::new(notification())).id(),
            Some("6747f1f0a3b2c1d0e9f8a7b6")
        );
    }

    #[test]
    fn every_kind_has_its_own_word_and_event() {
        for kind in ChangeKind::ALL {
            assert_eq!(ChangeKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.event_name(), format!("notification-{}", kind.as_str()));
            assert_eq!(ChangeKind::ALL[kind.index()], kind);
        }
        assert_eq!(event_names().count(), 2 + ChangeKind::ALL.len());
    }

    #[test]
    fn unknown_events_and_wrong_shapes_are_errors() {
        assert!(StreamEvent::parse("message", "{}").is_err());
        assert!(StreamEvent::parse("notification-read", r#"{"ids":["a"]}"#).is_err());
        assert!(StreamEvent::parse(NEW_NOTIFICATION, "not json").is_err());
    }
}
