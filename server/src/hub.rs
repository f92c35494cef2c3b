//! The fan-out hub: which open streams each user has, and delivery to them.
//!
//! A notification for user U is offered to U's streams only, so delivery costs O(U's streams),
//! whatever the number of connections. Each stream has a small bounded queue between the hub and
//! its HTTP response.
//!
//! ## No global lock
//! Users are spread over [`SHARDS`] maps by a hash of their id, each behind its own lock, held
//! for a few map operations and never across an `.await`. A broadcast's deliveries and the
//! streams opening and closing meanwhile contend only when they touch the same shard, and each
//! lock is taken for one user at a time.
//!
//! ## Slow subscribers
//! The hub never waits for a stream: it offers each event with `try_send`. A stream whose queue
//! is full (its client stopped reading and the socket buffers filled up) is dropped from the hub
//! on the spot: it still sends what is queued, then ends. Its client reconnects with
//! `Last-Event-ID` and the server replays what it missed from the database, so nothing is lost,
//! and one stuck client can neither stall the others nor grow the server's memory.
//!
//! ## An idle stream's memory
//! The queue is `futures`' bounded channel, which allocates per queued event: an idle stream's
//! queue is a couple of small allocations. (Tokio's channel reserves a block of 32 slots and
//! cache-line-padded fields up front, about a kilobyte per stream, for nothing while idle.)
//!
//! The hub knows users, streams and events, nothing of where events come from: `delivery.rs`
//! turns what the stores' feeds report into events.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::channel::mpsc;

use crate::metrics;
use crate::model::{Position, UserId};
use crate::store::ChangeKind;

/// Events queued per stream before it counts as slow. Small on purpose: a stream's queue is
/// the only memory the hub holds for it.
pub const STREAM_QUEUE: usize = 32;
/// Maps the users are spread over.
pub const SHARDS: usize = 64;

/// What a stream is told. Two words wide, so a queued event is small.
#[derive(Clone, Debug)]
pub enum Event {
    /// A new notification, serialised once and shared by all of the user's streams.
    New(Arc<EncodedNotification>),
    /// Some of the user's notifications changed (read, archived, deleted, …): the kind and
    /// the event's JSON.
    Changed(ChangeKind, Arc<str>),
}

#[derive(Debug)]
pub struct EncodedNotification {
    pub position: Position,
    pub id: String,
    pub json: String,
}

struct Subscriber {
    key: u64,
    queue: mpsc::Sender<Event>,
}

type Users = HashMap<UserId, Vec<Subscriber>>;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("this user has {0} open streams already")]
pub struct TooManyStreams(pub usize);

pub struct Hub {
    // std Mutexes: every critical section is a few map operations and never awaits, so an
    // async mutex would only add cost.
    shards: Box<[Mutex<Users>]>,
    hasher: RandomState,
    next_key: AtomicU64,
    max_per_user: usize,
}

/// One open stream's end of the hub. Dropping it unsubscribes.
pub struct Subscription {
    hub: Arc<Hub>,
    user: UserId,
    key: u64,
    pub events: mpsc::Receiver<Event>,
}

impl Hub {
    pub fn new(max_per_user: usize) -> Arc<Self> {
        Arc::new(Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            next_key: AtomicU64::new(0),
            max_per_user,
        })
    }

    /// The shard holding `user`'s streams, locked.
    fn shard(&self, user: &UserId) -> MutexGuard<'_, Users> {
        let index = self.hasher.hash_one(user) as usize % self.shards.len();
        // A panic while holding the lock cannot leave the map half-updated (each operation is
        // a single insert or remove), so a poisoned lock is still safe to use.
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn subscribe(self: &Arc<Self>, user: &UserId) -> Result<Subscription, TooManyStreams> {
        // The channel holds its buffer plus one event per sender (the hub's one).
        let (queue, events) = mpsc::channel(STREAM_QUEUE - 1);
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        {
            let mut users = self.shard(user);
            let streams = users.entry(user.clone()).or_default();
            if streams.len() >= self.max_per_user {
                return Err(TooManyStreams(streams.len()));
            }
            streams.push(Subscriber { key, queue });
        }
        metrics::stream_opened();
        Ok(Subscription {
            hub: Arc::clone(self),
            user: user.clone(),
            key,
            events,
        })
    }

    fn unsubscribe(&self, user: &UserId, key: u64) {
        let mut users = self.shard(user);
        if let Some(streams) = users.get_mut(user) {
            streams.retain(|s| s.key != key);
            if streams.is_empty() {
                users.remove(user);
            }
        }
    }

    /// Offers `event` to every open stream of `user`, dropping the streams that cannot take it.
    pub fn publish(&self, user: &UserId, event: Event) {
        let mut users = self.shard(user);
        let Some(streams) = users.get_mut(user) else {
            return;
        };
        let mut delivered = 0;
        streams.retain_mut(|stream| match stream.queue.try_send(event.clone()) {
            Ok(()) => {
                delivered += 1;
                true
            }
            Err(err) if err.is_full() => {
                tracing::warn!(user = %user, "closing a stream that stopped reading");
                metrics::slow_consumer_closed();
                false
            }
            // The stream ended between its last poll and its unsubscribe.
            Err(_) => false,
        });
        if streams.is_empty() {
            users.remove(user);
        }
        drop(users);
        metrics::delivered(delivered);
    }

    /// Open streams of one user (for the per-user limit and the tests).
    pub fn streams_of(&self, user: &UserId) -> usize {
        self.shard(user).get(user).map_or(0, Vec::len)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(&self.user, self.key);
        metrics::stream_closed();
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::model::NotificationId;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn new_event(seq: i64) -> Event {
        Event::New(Arc::new(EncodedNotification {
            position: Position {
                seq,
                id: NotificationId::new(),
            },
            id: "x".into(),
            json: "{}".into(),
        }))
    }

    #[tokio::test]
    async fn delivers_to_the_users_streams_only() {
        let hub = Hub::new(16);
        let mut a1 = hub.subscribe(&user("a")).unwrap();
        let mut a2 = hub.subscribe(&user("a")).unwrap();
        let mut b = hub.subscribe(&user("b")).unwrap();
        hub.publish(&user("a"), new_event(1));
        assert!(matches!(a1.events.next().await, Some(Event::New(_))));
        assert!(matches!(a2.events.next().await, Some(Event::New(_))));
        assert!(b.events.try_recv().is_err(), "nothing for b");
    }

    #[test]
    fn limits_streams_per_user_and_frees_on_drop() {
        let hub = Hub::new(2);
        let first = hub.subscribe(&user("a")).unwrap();
        let _second = hub.subscribe(&user("a")).unwrap();
        assert_eq!(hub.subscribe(&user("a")).err(), Some(TooManyStreams(2)));
        assert!(hub.subscribe(&user("b")).is_ok());
        drop(first);
        assert_eq!(hub.streams_of(&user("a")), 1);
        assert!(hub.subscribe(&user("a")).is_ok());
    }

    #[tokio::test]
    async fn a_full_stream_is_dropped_after_its_queue_drains() {
        let hub = Hub::new(16);
        let mut slow = hub.subscribe(&user("a")).unwrap();
        let mut fast = hub.subscribe(&user("a")).unwrap();
        for seq in 0..=STREAM_QUEUE as i64 {
            hub.publish(&user("a"), new_event(seq));
            fast.events.next().await.unwrap();
        }
        assert_eq!(
            hub.streams_of(&user("a")),
            1,
            "only the reading stream is left"
        );
        let mut drained = 0;
        while slow.events.next().await.is_some() {
            drained += 1;
        }
        assert_eq!(drained, STREAM_QUEUE);
    }
}
