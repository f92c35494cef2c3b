//! The loop both polling feeds share (SQLite's tail, MongoDB's without change streams): poll on
//! an interval, or at once when woken, until shutdown; a failed poll is counted, logged and
//! tried again on the next tick, so a database that is away for a while stops nothing for good.

use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics;
use crate::store::{FeedStatus, StoreError};

/// Why a poll runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The interval passed: look for what anyone committed.
    Tick,
    /// This process committed something.
    Woken,
}

/// One poll of a feed: read what was committed since the last one and report it.
pub trait Tail {
    /// Named in the log when a poll fails.
    const NAME: &'static str;

    async fn poll(&mut self, reason: Reason) -> Result<(), StoreError>;
}

/// Polls `tail` every `interval`, and whenever `wake` is notified, until `shutdown`; `status`
/// says whether the last poll could read.
pub async fn follow<T: Tail>(
    tail: &mut T,
    interval: Duration,
    wake: Option<&Notify>,
    shutdown: &CancellationToken,
    status: &FeedStatus,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // (A notification that arrives while a poll runs is kept by `Notify` as a permit, so
        // this wakes at once for it.)
        let woken = async {
            match wake {
                Some(wake) => wake.notified().await,
                None => std::future::pending().await,
            }
        };
        let reason = tokio::select! {
            () = shutdown.cancelled() => return,
            () = woken => Reason::Woken,
            _ = tick.tick() => Reason::Tick,
        };
        match tail.poll(reason).await {
            Ok(()) => status.following(),
            Err(err) => {
                metrics::database_error();
                status.stalled(&err.to_string());
                tracing::warn!(%err, feed = T::NAME, "the feed could not read; retrying next tick");
            }
        }
    }
}
