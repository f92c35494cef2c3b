//! Rows this process just committed, handed to the feed so it need not read them back.
//!
//! The feed stays the one path by which notifications reach streams, in `seq` order, whoever
//! wrote them. But a row this process committed is already in memory: reading it back costs a
//! query and a decode per row (for a broadcast, 18,000 of each). So each group commit leaves
//! its rows here, in commit order, and the feed takes them instead of reading when they follow
//! on from the last row it reported: SQLite admits one writer at a time and `seq` is
//! AUTOINCREMENT, so one transaction's rows carry consecutive `seq`s and nothing another
//! connection commits can fall inside them. When they do not follow on (another process or
//! connection committed in between, or the feed fell behind), the feed reads from the database
//! as before and drops what it was handed; the read brings the same rows.
//!
//! A commit that changes read state or deletes rows is not handed: it only marks that the feed
//! must read ([`Handoff::must_read`]).
//!
//! Nothing is handed while no feed runs (`belfry send` has none), and what waits is bounded:
//! past [`MAX_WAITING`] rows the oldest groups are dropped, which costs only the read they
//! would have saved.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use app::Notification;

use crate::model::Position;

/// Rows held for the feed at most; the feed normally takes them within a millisecond.
pub const MAX_WAITING: usize = 50_000;

/// One transaction's rows, in `seq` order, consecutive.
pub struct Committed {
    pub rows: Vec<(Position, Notification)>,
}

impl Committed {
    fn first_seq(&self) -> Option<i64> {
        self.rows.first().map(|(position, _)| position.seq)
    }

    fn last_seq(&self) -> Option<i64> {
        self.rows.last().map(|(position, _)| position.seq)
    }
}

/// What the feed took: rows that follow on, and whether a gap came after them.
pub struct Taken {
    pub rows: Vec<(Position, Notification)>,
    pub gap: bool,
}

#[derive(Default)]
pub struct Handoff {
    /// Set while a feed runs to take what is handed.
    taking: AtomicBool,
    /// This process committed something other than new rows since the feed last looked.
    other_writes: AtomicBool,
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    groups: VecDeque<Committed>,
    rows: usize,
}

impl Handoff {
    /// Called by the feed once it has fixed its starting point.
    pub fn start_taking(&self) {
        self.taking.store(true, Ordering::Release);
    }

    /// Notes a commit of read state or removals, which the feed must read.
    pub fn must_read(&self) {
        self.other_writes.store(true, Ordering::Release);
    }

    /// Whether [`must_read`](Self::must_read) was called since the last call.
    pub fn take_must_read(&self) -> bool {
        self.other_writes.swap(false, Ordering::AcqRel)
    }

    /// Leaves a committed group for the feed. Called in commit order (under the connection's
    /// lock, right after the commit).
    pub fn hand(&self, group: Committed) {
        if !self.taking.load(Ordering::Acquire) || group.rows.is_empty() {
            return;
        }
        let mut waiting = self.waiting();
        waiting.rows += group.rows.len();
        waiting.groups.push_back(group);
        while waiting.rows > MAX_WAITING {
            let Some(dropped) = waiting.groups.pop_front() else {
                break;
            };
            waiting.rows -= dropped.rows.len();
        }
    }

    /// The rows handed since the last call that follow on from `last_seq` without a gap, in
    /// order, and whether that was all of them. Rows at or below `last_seq` (already read) are
    /// skipped; from the first gap on, everything is dropped, for the feed to read.
    pub fn take_after(&self, last_seq: i64) -> Taken {
        let groups = {
            let mut waiting = self.waiting();
            waiting.rows = 0;
            std::mem::take(&mut waiting.groups)
        };
        let mut next = last_seq + 1;
        let mut taken = Taken {
            rows: Vec::new(),
            gap: false,
        };
        for group in groups {
            match (group.first_seq(), group.last_seq()) {
                (_, Some(last)) if last < next => continue,
                (Some(first), Some(last)) if first == next => {
                    next = last + 1;
                    taken.rows.extend(group.rows);
                }
                _ => {
                    taken.gap = true;
                    break;
                }
            }
        }
        taken
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        // Each change is a push or a take of whole groups: a poisoned lock is still consistent.
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NotificationId;

    fn group(seqs: std::ops::RangeInclusive<i64>) -> Committed {
        Committed {
            rows: seqs
                .map(|seq| {
                    let id = NotificationId::new();
                    let notification = Notification {
                        id: id.as_str().to_owned(),
                        user_id: "u".into(),
                        message: format!("{seq}"),
                        link: None,
                        read_at: None,
                        created_at: "2026-11-28T00:00:00.000Z".into(),
                        kind: None,
                        data: None,
                        ..Notification::default()
                    };
                    (Position { seq, id }, notification)
                })
                .collect(),
        }
    }

    /// A hand-off a feed takes from.
    fn taking() -> Handoff {
        let handoff = Handoff::default();
        handoff.start_taking();
        handoff
    }

    fn seqs(rows: &[(Position, Notification)]) -> Vec<i64> {
        rows.iter().map(|(position, _)| position.seq).collect()
    }

    #[test]
    fn nothing_is_kept_before_a_feed_takes() {
        let handoff = Handoff::default();
        handoff.hand(group(1..=3));
        handoff.start_taking();
        assert!(handoff.take_after(0).rows.is_empty());
    }

    #[test]
    fn consecutive_groups_are_taken_in_order() {
        let handoff = taking();
        handoff.hand(group(4..=5));
        handoff.hand(group(6..=6));
        assert_eq!(seqs(&handoff.take_after(3).rows), [4, 5, 6]);
        assert!(handoff.take_after(6).rows.is_empty(), "taken once");
    }

    #[test]
    fn rows_already_read_are_skipped() {
        let handoff = taking();
        handoff.hand(group(1..=2));
        handoff.hand(group(3..=4));
        assert_eq!(seqs(&handoff.take_after(2).rows), [3, 4]);
    }

    #[test]
    fn a_gap_leaves_the_rest_to_the_read() {
        let handoff = taking();
        // Seq 3 was committed by someone else: 4..=5 and all after must be read.
        handoff.hand(group(1..=2));
        handoff.hand(group(4..=5));
        handoff.hand(group(6..=6));
        let taken = handoff.take_after(0);
        assert_eq!(seqs(&taken.rows), [1, 2]);
        assert!(taken.gap);
        assert!(handoff.take_after(2).rows.is_empty(), "dropped, not kept");
    }

    #[test]
    fn what_waits_is_bounded() {
        let handoff = taking();
        let size = 20_000;
        for n in 0..4 {
            handoff.hand(group(n * size + 1..=(n + 1) * size));
        }
        // The first group was dropped: the feed, at 0, must read from the database.
        assert!(handoff.take_after(0).rows.is_empty());
        assert_eq!(handoff.waiting().rows, 0);
    }
}
