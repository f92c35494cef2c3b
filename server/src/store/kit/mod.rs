//! Helpers for store authors: what both stores' feeds need and nothing outside `store` uses.
//! A third store starts here: [`tail`] is the polling loop, [`ByUser`] gathers a batch's
//! changes into one [`Change`] of each kind per user, [`rfc3339`] formats every timestamp.

pub mod tail;

use super::{Change, ChangeKind, FeedSink};
use crate::model::{NotificationId, UserId};

/// Changes gathered by user, in the order each user's first change came: what a feed reports,
/// per batch, as one [`Change`] of each kind per user.
#[derive(Default)]
pub struct ByUser(Vec<(UserId, UserChanges)>);

#[derive(Default)]
pub struct UserChanges {
    /// The ids of each kind of change, by [`ChangeKind::index`].
    ids: [Vec<NotificationId>; ChangeKind::ALL.len()],
    /// The position of the user's last change.
    seq: i64,
}

impl ByUser {
    pub fn add(&mut self, user: UserId, id: NotificationId, kind: ChangeKind, seq: i64) {
        self.of(user, seq).ids[kind.index()].push(id);
    }

    fn of(&mut self, user: UserId, seq: i64) -> &mut UserChanges {
        let at = match self.0.iter().position(|(u, _)| *u == user) {
            Some(at) => at,
            None => {
                self.0.push((user, UserChanges::default()));
                self.0.len() - 1
            }
        };
        let change = &mut self.0[at].1;
        change.seq = change.seq.max(seq);
        change
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each user, with the position of their last change.
    pub fn last_positions(&self) -> impl Iterator<Item = (&UserId, i64)> {
        self.0.iter().map(|(user, change)| (user, change.seq))
    }

    /// Reports every user's changes to `sink`, with the unread count `count` gives for them.
    pub fn report(self, sink: &dyn FeedSink, count: impl Fn(&UserId) -> u64) {
        for (user, changes) in self.0 {
            let unread_count = count(&user);
            for (kind, ids) in ChangeKind::ALL.into_iter().zip(changes.ids) {
                if !ids.is_empty() {
                    let change = Change {
                        kind,
                        ids,
                        unread_count,
                    };
                    sink.changed(&user, &change);
                }
            }
        }
    }
}

/// Formats a UTC instant the way the API sends every timestamp.
pub fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
