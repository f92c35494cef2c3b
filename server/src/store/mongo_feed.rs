//! The MongoDB feed: a change stream on the notifications collection, so that a document
//! inserted by anyone (this instance, another Belfry instance, `belfry send`, the Laravel app)
//! reaches the open streams of its user.
//!
//! ## Commit order
//! ObjectIds from several writers are not in commit order, so each insert is given a position
//! from the change stream itself: its `clusterTime` (the operation log's timestamp, the same for
//! every watcher), packed as `seconds << 32 | increment`. The feed records it in the document as
//! `belfry_seq` *before* publishing, so by the time any client holds an id, the database knows
//! its position, and a resume can replay "everything after it" exactly. Every instance writes the
//! same value, only if none is there yet, so several instances agree without coordination.
//!
//! ## Not missing anything
//! The feed keeps the change stream's resume token, in memory across reconnects and in the
//! `belfry_feed` collection (once a second and at shutdown) across restarts. After a database
//! outage or a restart it resumes from the token and stamps what happened meanwhile. If there is
//! no usable token (first start, or the operation log no longer reaches back), it starts from
//! now and remembers that point: a client resuming from before it is told to resync.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use mongodb::bson::{self, doc, Bson, Document, Timestamp};
use mongodb::change_stream::event::{ChangeStreamEvent, ResumeToken};
use mongodb::error::ErrorKind;
use tokio_util::sync::CancellationToken;

use super::mongo::{store_error, to_notification, MongoStore};
use super::{Position, StoreError};
use crate::hub::Hub;
use crate::metrics;
use crate::model::NotificationId;

const TOKEN_COLLECTION: &str = "belfry_feed";
const TOKEN_SAVE_INTERVAL: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Server error codes after which the resume token cannot be used again.
const CHANGE_STREAM_HISTORY_LOST: i32 = 286;
const CHANGE_STREAM_FATAL: i32 = 280;
const INVALID_RESUME_TOKEN: i32 = 260;

/// The position a cluster time stands for.
pub fn seq_of(time: Timestamp) -> i64 {
    (i64::from(time.time) << 32) | i64::from(time.increment)
}

/// Positions below this may have been missed by every feed: resuming from one means resync.
#[derive(Default)]
pub struct FeedFloor(AtomicI64);

impl FeedFloor {
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Acquire)
    }

    fn raise_to(&self, seq: i64) {
        self.0.fetch_max(seq, Ordering::AcqRel);
    }
}

pub async fn run(store: Arc<MongoStore>, hub: Arc<Hub>, shutdown: CancellationToken) {
    let mut feed = Feed {
        store,
        hub,
        token: None,
    };
    feed.token = feed.load_token().await;
    let mut backoff = Duration::from_millis(100);
    loop {
        match feed.follow(&shutdown).await {
            Ok(()) => break,
            Err(err) => {
                metrics::database_error();
                tracing::warn!(%err, retry_in = ?backoff, "the change stream stopped; resuming");
            }
        }
        // Back off while the database is away, but wake at once for shutdown.
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    feed.save_token().await;
}

struct Feed {
    store: Arc<MongoStore>,
    hub: Arc<Hub>,
    token: Option<ResumeToken>,
}

impl Feed {
    /// Follows the change stream until shutdown (`Ok`) or an error (`Err`, to be retried).
    async fn follow(&mut self, shutdown: &CancellationToken) -> Result<(), StoreError> {
        let mut stream = match self.open().await {
            Ok(stream) => stream,
            Err(err) if self.token.is_some() && token_unusable(&err) => {
                tracing::warn!(%err, "the saved resume token is no longer usable; starting from now");
                self.token = None;
                self.open().await.map_err(store_error)?
            }
            Err(err) => return Err(store_error(err)),
        };
        let mut save = tokio::time::interval(TOKEN_SAVE_INTERVAL);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = save.tick() => self.save_token().await,
                next = stream.next() => match next {
                    Some(Ok(event)) => {
                        self.deliver(event).await?;
                        self.token = stream.resume_token();
                    }
                    Some(Err(err)) => return Err(store_error(err)),
                    None => return Err(StoreError::Unavailable("the change stream ended".into())),
                },
            }
        }
    }

    async fn open(
        &mut self,
    ) -> Result<
        mongodb::change_stream::ChangeStream<ChangeStreamEvent<Document>>,
        mongodb::error::Error,
    > {
        let watch = self
            .store
            .collection()
            .watch()
            .pipeline([doc! { "$match": { "operationType": "insert" } }]);
        match &self.token {
            Some(token) => watch.resume_after(token.clone()).await,
            None => {
                // Start from a known point in time, and refuse resumes from before it.
                let now = self.store.operation_time().await?;
                let stream = watch.start_at_operation_time(now).await?;
                self.store.floor().raise_to(seq_of(now));
                Ok(stream)
            }
        }
    }

    /// Records the insert's position in its document, then publishes it.
    async fn deliver(&self, event: ChangeStreamEvent<Document>) -> Result<(), StoreError> {
        let (Some(time), Some(document)) = (event.cluster_time, event.full_document) else {
            return Ok(());
        };
        let Some(Bson::ObjectId(oid)) = document.get("_id") else {
            tracing::warn!("skipping an inserted document whose _id is not an ObjectId");
            return Ok(());
        };
        let id = NotificationId::from(*oid);
        let seq = self.store.stamp(id, seq_of(time)).await?;
        self.hub
            .publish_notification(Position { seq, id }, &to_notification(&document));
        Ok(())
    }

    async fn load_token(&self) -> Option<ResumeToken> {
        let saved = self
            .tokens()
            .find_one(doc! { "_id": self.store.collection().name() })
            .await;
        match saved {
            Ok(Some(saved)) => saved
                .get("token")
                .cloned()
                .and_then(|token| bson::from_bson(token).ok()),
            Ok(None) => None,
            Err(err) => {
                tracing::warn!(%err, "cannot read the saved resume token; starting from now");
                None
            }
        }
    }

    async fn save_token(&self) {
        let Some(token) = &self.token else { return };
        let Ok(token) = bson::to_bson(token) else {
            return;
        };
        let saved = self
            .tokens()
            .update_one(
                doc! { "_id": self.store.collection().name() },
                doc! { "$set": { "token": token } },
            )
            .upsert(true)
            .await;
        if let Err(err) = saved {
            tracing::debug!(%err, "cannot save the resume token yet");
        }
    }

    fn tokens(&self) -> mongodb::Collection<Document> {
        self.store.database().collection(TOKEN_COLLECTION)
    }
}

fn token_unusable(err: &mongodb::error::Error) -> bool {
    matches!(
        &*err.kind,
        ErrorKind::Command(command) if matches!(
            command.code,
            CHANGE_STREAM_HISTORY_LOST | CHANGE_STREAM_FATAL | INVALID_RESUME_TOKEN
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_cluster_times_have_larger_positions() {
        let a = seq_of(Timestamp {
            time: 10,
            increment: u32::MAX,
        });
        let b = seq_of(Timestamp {
            time: 11,
            increment: 0,
        });
        let c = seq_of(Timestamp {
            time: 11,
            increment: 1,
        });
        assert!(a < b && b < c);
    }
}
