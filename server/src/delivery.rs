//! Where the stores meet the hub, the one module that knows both.
//!
//! - Feeding: [`Delivery`] is the [`FeedSink`] the stores' feeds report to. A committed
//!   notification becomes one `new-notification` event for its user's streams, serialised once,
//!   and never a second time.
//! - Opening a stream: subscribe to the hub first, then (on resume) replay from the store what
//!   was committed after the client's last id, then live events, dropping those the replay
//!   already sent. Subscribing before reading is what makes the switch-over gap-free: anything
//!   committed after the replay's read is queued in the subscription meanwhile.
//!
//! `serve.rs` hands the hub to the store's feed; `stream.rs` turns what [`open`] yields into SSE.

use std::sync::{Arc, Mutex};

use app::protocol::{Changed, StreamEvent};
use app::Notification;
use futures::stream::{self, Stream, StreamExt};

use crate::hub::{EncodedNotification, Event, Hub, TooManyStreams};
use crate::metrics;
use crate::model::{NotificationId, Position, UserId};
use crate::store::{Change, FeedSink, Replay, Store, StoreError};

/// The most missed notifications a resume replays; past that, the client refetches the list.
pub const MAX_REPLAY: usize = 500;
/// The most bytes of serialised notifications a resume holds before it is sent: 500 of the
/// longest notifications would be about 5 MiB for one reconnecting tab.
pub const MAX_REPLAY_BYTES: usize = 1024 * 1024;

/// The hub as the feed's [`FeedSink`]: what the feed reports becomes events for the user's
/// streams. A position at or below the last one reported is dropped, so however a feed retries
/// (a batch read again after a failed request, a resume from a saved point), no stream is sent
/// a notification twice.
pub struct Delivery {
    hub: Arc<Hub>,
    last: Mutex<Option<Position>>,
}

impl Delivery {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self {
            hub,
            last: Mutex::new(None),
        }
    }
}

impl FeedSink for Delivery {
    fn committed(&self, position: Position, notification: &Notification) {
        {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if last.as_ref().is_some_and(|last| position <= *last) {
                tracing::debug!(id = %notification.id, "dropping a notification reported again");
                return;
            }
            *last = Some(position.clone());
        }
        // A document another program wrote with an id Belfry cannot serve belongs to no stream.
        let Ok(user) = UserId::parse(&notification.user_id) else {
            metrics::skipped("user_id");
            tracing::warn!(id = %notification.id, "skipping a notification with an invalid user_id");
            return;
        };
        match pushed(position, notification) {
            Some(pushed) => self.hub.publish(&user, Event::New(pushed)),
            None => tracing::error!(id = %notification.id, "cannot serialise a notification"),
        }
    }

    fn changed(&self, user: &UserId, change: &Change) {
        self.hub.publish(user, change_event(change));
    }
}

/// The event that tells a change (a read leaving nothing unread said as `all`, see
/// [`Changed::of`]).
fn change_event(change: &Change) -> Event {
    let ids = change.ids.iter().map(|id| id.as_str().to_owned()).collect();
    let changed = Changed::of(change.kind, ids, change.counts);
    let event = StreamEvent::Changed(change.kind, changed);
    Event::Changed(change.kind, Arc::from(event.data()))
}

fn pushed(position: Position, notification: &Notification) -> Option<Arc<EncodedNotification>> {
    let json = serde_json::to_string(notification).ok()?;
    // (The `data:` of `StreamEvent::New`, without copying the notification into one.)
    Some(Arc::new(EncodedNotification {
        position,
        id: notification.id.clone(),
        json,
    }))
}

/// What an open stream is told, in order.
#[derive(Debug)]
pub enum Outgoing {
    /// A notification or a change of read state, replayed or live.
    Hub(Event),
    /// The resume could not replay (`unknown_id`, `too_far_behind`): refetch the list.
    Resync(&'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    TooManyStreams(#[from] TooManyStreams),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Opens a stream for `user`: what was missed since `resume_from` (if given), then live events.
pub async fn open(
    hub: &Arc<Hub>,
    store: &dyn Store,
    user: &UserId,
    resume_from: Option<NotificationId>,
) -> Result<impl Stream<Item = Outgoing> + use<>, OpenError> {
    let mut subscription = hub.subscribe(user)?;
    let (opening, floor) = match resume_from {
        Some(id) => replay(store, user, id).await?,
        None => (Vec::new(), None),
    };
    let live = stream::poll_fn(move |cx| subscription.events.poll_next_unpin(cx)).filter_map(
        move |event| {
            std::future::ready(match event {
                // At or below the last replayed position: the replay sent it already.
                Event::New(pushed)
                    if floor
                        .as_ref()
                        .is_some_and(|floor| pushed.position <= *floor) =>
                {
                    None
                }
                event => Some(Outgoing::Hub(event)),
            })
        },
    );
    Ok(stream::iter(opening).chain(live))
}

/// The events a resume starts with, and the position below which live events are duplicates.
async fn replay(
    store: &dyn Store,
    user: &UserId,
    from: NotificationId,
) -> Result<(Vec<Outgoing>, Option<Position>), StoreError> {
    let reason = match store.replay(user, from, MAX_REPLAY).await? {
        Replay::After {
            cursor,
            missed,
            changed,
        } => {
            let floor = missed
                .last()
                .map_or(cursor, |(position, _)| position.clone());
            let mut bytes = 0;
            let mut events = Vec::with_capacity(missed.len());
            for (position, n) in &missed {
                let Some(pushed) = pushed(position.clone(), n) else {
                    continue;
                };
                bytes += pushed.json.len();
                if bytes > MAX_REPLAY_BYTES {
                    break;
                }
                events.push(Outgoing::Hub(Event::New(pushed)));
            }
            if bytes <= MAX_REPLAY_BYTES {
                metrics::replayed(events.len() as u64);
                // Then the changes the client missed, as they are now.
                for change in &changed {
                    events.push(Outgoing::Hub(change_event(change)));
                }
                return Ok((events, Some(floor)));
            }
            "too_far_behind"
        }
        Replay::StateChanged => "state_changed",
        Replay::Unknown => "unknown_id",
        Replay::TooFar => "too_far_behind",
    };
    metrics::resynced();
    Ok((vec![Outgoing::Resync(reason)], None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(id: &NotificationId) -> Notification {
        Notification {
            id: id.as_str().to_owned(),
            user_id: "7".into(),
            message: "m".into(),
            link: None,
            read_at: None,
            created_at: "2026-11-28T07:00:00.000Z".into(),
            kind: None,
            data: None,
            ..Notification::default()
        }
    }

    /// A feed that reports a batch again (it was read again after a failed request) sends no
    /// stream anything twice; what follows still goes out.
    #[test]
    fn a_position_reported_again_is_not_sent_again() {
        let hub = Hub::new(4);
        let user = UserId::parse("7").unwrap();
        let mut stream = hub.subscribe(&user).unwrap();
        let delivery = Delivery::new(Arc::clone(&hub));
        let ids = [
            NotificationId::new(),
            NotificationId::new(),
            NotificationId::new(),
        ];
        let at = |seq: i64, i: usize| Position {
            seq,
            id: ids[i].clone(),
        };
        for (seq, i) in [(1, 0), (2, 1), (1, 0), (2, 1), (3, 2)] {
            delivery.committed(at(seq, i), &notification(&ids[i]));
        }
        let mut sent = Vec::new();
        while let Ok(Event::New(pushed)) = stream.events.try_recv() {
            sent.push(pushed.id.clone());
        }
        let want: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        assert_eq!(sent, want);
    }
}
