//! The feed for a MongoDB without change streams (a standalone `mongod`): an indexed tail query
//! on a short interval, with the same guarantees as the change-stream feed.
//!
//! Positions come from a counter instead of the operation log. One instance at a time, the
//! holder of a lease in `belfry_feed`, gives each new document the next position, one document
//! after the other, so positions are handed out in the order documents were found committed.
//! Every instance (the holder too) then publishes what has a position beyond the last one it
//! published, in position order: the same sequence on every instance, whoever wrote the
//! documents. Queries: unstamped documents by the `belfry_seq` index (a missing field is indexed
//! as null), stamped ones by the same index, each poll a couple of index look-ups.

use std::sync::Arc;
use std::time::Duration;

use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime};
use mongodb::error::ErrorKind;
use mongodb::options::{FindOptions, IndexOptions};
use mongodb::IndexModel;
use tokio_util::sync::CancellationToken;

use super::doc::to_notification;
use super::{store_error, MongoStore, SEQ_FIELD};
use crate::metrics;
use crate::model::{NotificationId, Position};
use crate::store::tail::{self, Tail};
use crate::store::{FeedSink, StoreError};

pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long a stamper's lease lasts without renewal (it renews on every poll).
const LEASE: Duration = Duration::from_secs(5);
const BATCH: i64 = 500;
const DUPLICATE_KEY: i32 = 11000;

pub async fn run(store: Arc<MongoStore>, sink: Arc<dyn FeedSink>, shutdown: CancellationToken) {
    let mut poller = Poller {
        store,
        sink,
        me: ObjectId::new(),
        last_published: None,
    };
    tail::follow(&mut poller, POLL_INTERVAL, None, &shutdown).await;
}

struct Poller {
    store: Arc<MongoStore>,
    sink: Arc<dyn FeedSink>,
    /// This instance, as a lease holder.
    me: ObjectId,
    /// The position last reported; `None` until the first poll.
    last_published: Option<i64>,
}

impl Tail for Poller {
    const NAME: &'static str = "mongodb-poll";

    async fn poll(&mut self) -> Result<(), StoreError> {
        let last = match self.last_published {
            Some(last) => last,
            None => {
                let start = self.start().await?;
                self.last_published = Some(start);
                start
            }
        };
        // The lease, the look for stamped documents, and what stamping took.
        metrics::feed_requests(2);
        if self.hold_lease().await? {
            self.stamp_new().await?;
        }
        let newly_stamped = FindOptions::builder()
            .sort(doc! { SEQ_FIELD: 1 })
            .limit(BATCH)
            .build();
        let stamped = self
            .store
            .find_all(doc! { SEQ_FIELD: { "$gt": last } }, newly_stamped)
            .await?;
        for document in &stamped {
            let (Ok(seq), Ok(oid)) = (document.get_i64(SEQ_FIELD), document.get_object_id("_id"))
            else {
                continue;
            };
            let position = Position {
                seq,
                id: NotificationId::from(oid),
            };
            self.sink.committed(position, &to_notification(document));
            self.last_published = Some(seq);
        }
        Ok(())
    }
}

impl Poller {
    /// First poll: make the index, and report only what comes from now on.
    async fn start(&self) -> Result<i64, StoreError> {
        self.store
            .collection()
            .create_index(
                IndexModel::builder()
                    .keys(doc! { SEQ_FIELD: 1 })
                    .options(
                        IndexOptions::builder()
                            .name("belfry_seq".to_owned())
                            .build(),
                    )
                    .build(),
            )
            .await
            .map_err(store_error)?;
        self.highest_seq().await
    }

    async fn highest_seq(&self) -> Result<i64, StoreError> {
        let top = self
            .store
            .collection()
            .find_one(doc! { SEQ_FIELD: { "$type": "long" } })
            .sort(doc! { SEQ_FIELD: -1 })
            .projection(doc! { SEQ_FIELD: 1 })
            .await
            .map_err(store_error)?;
        Ok(top.and_then(|d| d.get_i64(SEQ_FIELD).ok()).unwrap_or(0))
    }

    /// Takes or renews the stamper's lease; `false` while another live instance holds it.
    async fn hold_lease(&self) -> Result<bool, StoreError> {
        let now = DateTime::now();
        let until = DateTime::from_millis(now.timestamp_millis() + LEASE.as_millis() as i64);
        let key = format!("{}:stamper", self.store.collection().name());
        let taken = self
            .store
            .feed_state()
            .update_one(
                doc! { "_id": key, "$or": [ { "holder": self.me }, { "until": { "$lt": now } } ] },
                doc! { "$set": { "holder": self.me, "until": until } },
            )
            .upsert(true)
            .await;
        match taken {
            Ok(_) => Ok(true),
            Err(err) if matches!(&*err.kind, ErrorKind::Write(mongodb::error::WriteFailure::WriteError(e)) if e.code == DUPLICATE_KEY) => {
                Ok(false)
            }
            Err(err) => Err(store_error(err)),
        }
    }

    /// Gives each document without a position the next one, in the order found.
    async fn stamp_new(&self) -> Result<(), StoreError> {
        let oldest_first = FindOptions::builder()
            .sort(doc! { "_id": 1 })
            .projection(doc! { "_id": 1 })
            .limit(BATCH)
            .build();
        let fresh = self
            .store
            .find_all(doc! { SEQ_FIELD: Bson::Null }, oldest_first)
            .await?;
        metrics::feed_requests(1);
        if fresh.is_empty() {
            return Ok(());
        }
        metrics::feed_requests(1);
        let mut next = self.highest_seq().await? + 1;
        for document in fresh {
            let Ok(oid) = document.get_object_id("_id") else {
                continue;
            };
            // One at a time: a position is visible only after every smaller one is.
            metrics::feed_requests(1);
            let stamped = self
                .store
                .collection()
                .update_one(
                    doc! { "_id": oid, SEQ_FIELD: Bson::Null },
                    doc! { "$set": { SEQ_FIELD: next } },
                )
                .await
                .map_err(store_error)?;
            if stamped.modified_count == 1 {
                next += 1;
            }
        }
        Ok(())
    }
}
