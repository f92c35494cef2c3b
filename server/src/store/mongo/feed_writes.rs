//! The writes the feeds make besides reading: asking for pre-images, stamping a batch's
//! positions, marking users whose read state changed (then reporting those changes); each one
//! command.

use std::collections::HashMap;

use app::Notification;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::ErrorKind;
use mongodb::Database;

use super::{store_error, FEED_STATE_COLLECTION, SEQ_FIELD};
use crate::model::{Position, UserId};
use crate::store::kit::ByUser;
use crate::store::{Counts, FeedSink, Notifications, StoreError};

/// The feeds' writes to one notification collection and to `belfry_feed`.
pub(super) struct FeedWrites {
    database: Database,
    collection: String,
}

impl FeedWrites {
    pub(super) fn new(database: &Database, collection: &str) -> Self {
        Self {
            database: database.clone(),
            collection: collection.to_owned(),
        }
    }

    /// Asks the server to keep pre-images of the collection's changes, so a deleted document's
    /// change event still says whose it was (the feed pushes `notification-removed` to that
    /// user). Without them (an older server, or no right to `collMod`) deletes are not pushed.
    pub(super) async fn keep_pre_images(&self) {
        const NAMESPACE_EXISTS: i32 = 48;
        let created = self.database.create_collection(&self.collection).await;
        if let Err(err) = created {
            let exists = matches!(&*err.kind, ErrorKind::Command(c) if c.code == NAMESPACE_EXISTS);
            if !exists {
                tracing::warn!(%err, "cannot create the collection; deletes are not pushed");
                return;
            }
        }
        let enabled = self
            .database
            .run_command(doc! {
                "collMod": &self.collection,
                "changeStreamPreAndPostImages": { "enabled": true },
            })
            .await;
        match enabled {
            Ok(_) => tracing::info!("the collection keeps pre-images: deletes are pushed"),
            Err(err) => {
                tracing::warn!(%err, "no pre-images (collMod refused); deletes are not pushed")
            }
        }
    }

    /// Records each insert's position in its document, in one `update` command for the whole
    /// batch. Every instance computes the same value; a value the document came with (copied
    /// from another, as Eloquent's `replicate()` does) is not its position and is replaced.
    /// (`inserts`: each position, the document's `_id` as stored, what it was decoded as.)
    pub(super) async fn stamp_all(
        &self,
        inserts: &[(Position, Bson, Notification)],
    ) -> Result<(), StoreError> {
        let updates: Vec<Document> = inserts
            .iter()
            .map(|(position, key, _)| {
                doc! {
                    "q": { "_id": key, SEQ_FIELD: { "$ne": position.seq } },
                    "u": { "$set": { SEQ_FIELD: position.seq } },
                }
            })
            .collect();
        // A document that cannot take its stamp is still delivered: it is only not replayable
        // (a tab resuming from it resyncs).
        self.stamp_statements(&self.collection, updates)
            .await
            .map(drop)
    }

    /// Records, for each user, the position of their latest change of read state (a resume
    /// from before it cannot replay it, so it resyncs), in one `update` command.
    pub(super) async fn mark_changed(&self, marks: &[(UserId, i64)]) -> Result<(), StoreError> {
        let updates: Vec<Document> = marks
            .iter()
            .map(|(user, seq)| {
                doc! {
                    "q": { "_id": self.changed_key(user) },
                    "u": { "$max": { SEQ_FIELD: seq } },
                    "upsert": true,
                }
            })
            .collect();
        self.update_many_statements(FEED_STATE_COLLECTION, updates)
            .await
    }

    /// Marks each user whose read state changed (so a resume from before it resyncs) and
    /// counts their unread notifications: everything the report of `changes` needs from the
    /// database, so that reporting it cannot fail half-way.
    /// (`store` counts.)
    pub(super) async fn count_changes(
        &self,
        changes: ByUser,
        store: &dyn Notifications,
    ) -> Result<Counted, StoreError> {
        let mut counts = HashMap::new();
        if changes.is_empty() {
            return Ok(Counted { changes, counts });
        }
        let marks: Vec<(UserId, i64)> = changes
            .last_positions()
            .map(|(user, seq)| (user.clone(), seq))
            .collect();
        self.mark_changed(&marks).await?;
        for (user, _) in &marks {
            crate::metrics::feed_requests(1);
            counts.insert(user.clone(), store.counts(user).await?);
        }
        Ok(Counted { changes, counts })
    }

    pub(super) fn changed_key(&self, user: &UserId) -> String {
        format!("{}:changed:{}", self.collection, user)
    }

    /// Sends several update statements as one `update` command: one round trip. A statement the
    /// server refuses (a write error) fails it.
    pub(super) async fn update_many_statements(
        &self,
        collection: &str,
        updates: Vec<Document>,
    ) -> Result<(), StoreError> {
        let refused = self.try_update_statements(collection, updates).await?;
        match refused.first() {
            None => Ok(()),
            Some(first) => Err(StoreError::Other(format!(
                "{} of the feed's writes failed: {first:?}",
                refused.len()
            ))),
        }
    }

    /// Stamps: as [`update_many_statements`](Self::update_many_statements), but a document that
    /// cannot take its stamp (near the 16 MiB limit, or refused by the collection's validator)
    /// does not stop the others: each is logged and counted, and its index in `updates` given
    /// back. Only a failed command is an error.
    pub(super) async fn stamp_statements(
        &self,
        collection: &str,
        updates: Vec<Document>,
    ) -> Result<Vec<usize>, StoreError> {
        let refused = self.try_update_statements(collection, updates).await?;
        let mut indexes = Vec::with_capacity(refused.len());
        for error in &refused {
            crate::metrics::skipped("stamp");
            tracing::warn!(
                code = error.get_i32("code").unwrap_or_default(),
                reason = error.get_str("errmsg").unwrap_or_default(),
                "a document cannot take its position stamp; it is not replayable"
            );
            if let Ok(index) = error.get_i32("index") {
                indexes.push(usize::try_from(index).unwrap_or_default());
            }
        }
        Ok(indexes)
    }

    /// The `update` command's write errors (each with the `index` of its statement).
    async fn try_update_statements(
        &self,
        collection: &str,
        updates: Vec<Document>,
    ) -> Result<Vec<Document>, StoreError> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        crate::metrics::feed_requests(1);
        let reply = self
            .database
            .run_command(doc! { "update": collection, "updates": updates, "ordered": false })
            .await
            .map_err(store_error)?;
        Ok(reply
            .get_array("writeErrors")
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e.as_document().cloned())
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// A batch's changes of state, with each user's counts after them.
pub(super) struct Counted {
    changes: ByUser,
    counts: HashMap<UserId, Counts>,
}

impl Counted {
    pub(super) fn report(self, sink: &dyn FeedSink) {
        let counts = self.counts;
        self.changes
            .report(sink, |user| counts.get(user).copied().unwrap_or_default());
    }
}
