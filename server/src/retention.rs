//! `--retain-days`: old notifications removed in the background, so a collection does not grow
//! for ever. The store decides how (`Store::enforce_retention`); this task only asks
//! it at start and then once a minute, and logs what it did. Without the flag it still asks once,
//! with `None`, so that turning retention off also takes the MongoDB TTL index away.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// How often the store is asked to remove what has expired.
const INTERVAL: Duration = Duration::from_secs(60);

/// The retention `--retain-days` asks for.
pub fn keep(retain_days: Option<u32>) -> Option<Duration> {
    retain_days.map(|days| Duration::from_secs(u64::from(days) * 24 * 60 * 60))
}

/// Enforces `keep` until `shutdown`.
pub async fn run(store: Arc<dyn Store>, keep: Option<Duration>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match store.enforce_retention(keep, chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "retention: removed expired notifications"),
            Err(err) => {
                crate::metrics::database_error();
                tracing::warn!(%err, "retention: could not apply; trying again in a minute");
            }
        }
        if keep.is_none() {
            // Nothing expires: the one call made sure no retention is left in place.
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_become_a_duration() {
        assert_eq!(keep(None), None);
        assert_eq!(keep(Some(2)), Some(Duration::from_secs(172_800)));
    }
}
