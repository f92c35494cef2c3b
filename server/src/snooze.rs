//! The waker: ends the snoozes whose time has come. Every instance asks its store each second
//! ([`INTERVAL`]; MongoDB's looks only while something is snoozed, `store/mongo/states.rs`); the
//! store ends each due snooze once, whichever instance asks first, and its
//! feed then tells every tab on every instance (`notification-unsnoozed`, and
//! `notification-unread` for one that was read). The time is in the database, not in this
//! process, so a snooze due while every server was down ends at the first start after it.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// How often the store is asked: a snooze ends at most this late (plus the feed's delay).
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Ends due snoozes until `shutdown`.
pub async fn run(store: Arc<dyn Store>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match store.wake(chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(woken) => {
                crate::metrics::snoozes_ended(woken);
                tracing::info!(woken, "snoozes ended");
            }
            Err(err) => {
                crate::metrics::database_error();
                tracing::warn!(%err, "cannot end due snoozes; trying again");
            }
        }
    }
}
