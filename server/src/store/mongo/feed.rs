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
//! Where the feed stands is kept in the `belfry_feed` collection (one document per watched
//! collection, shared by all instances), written *before* anything from that point is processed:
//! - `start_at`, the operation time a fresh feed starts from, saved before it opens the stream;
//! - `token`, the change stream's resume token, saved once a second and at shutdown (and kept in
//!   memory across reconnects).
//!
//! After a database outage, a crash or a restart the feed resumes from the token (or `start_at`)
//! and stamps what happened meanwhile; going back a little further than needed only repeats
//! stamps, which are idempotent. Only when nothing usable is saved (the very first start, or an
//! operation log that no longer reaches back to the token) does it start from now; it then
//! records that point as `floor`, and a client resuming from before the floor is told to resync.
//!
//! About 400 lines in one file on purpose: the stream's life (where it starts, how it resumes
//! after an outage, what each batch does) is one loop over one state; `batch.rs` and
//! `feed_writes.rs` hold the parts that stand alone.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use mongodb::bson::{self, doc, Bson, Document, Timestamp};
use mongodb::change_stream::event::{ChangeStreamEvent, OperationType, ResumeToken};
use mongodb::change_stream::ChangeStream;
use mongodb::error::ErrorKind;
use mongodb::options::{FullDocumentBeforeChangeType, FullDocumentType};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::batch::{add_change, complete_transaction, drain, MAX_BATCH};
use super::doc::to_notification;
use super::{poll, store_error, MongoStore};
use crate::metrics;
use crate::model::{NotificationId, Position};
use crate::store::{ByUser, FeedSink, Started, StoreError};

const TOKEN_SAVE_INTERVAL: Duration = Duration::from_secs(1);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
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

pub async fn run(
    store: Arc<MongoStore>,
    sink: Arc<dyn FeedSink>,
    shutdown: CancellationToken,
    started: Started,
) {
    // Which feed depends on the server; `MongoStore::connect` asked it (a store exists only
    // once the server answered), so nothing is guessed here.
    if store.is_standalone() {
        tracing::info!("no change streams on this MongoDB (standalone); tailing by query");
        return poll::run(store, sink, shutdown, started).await;
    }
    // Beside the feed, not before it: the feed records its starting point first.
    tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.keep_pre_images().await }
    });
    let mut feed = Feed {
        store,
        sink,
        start: Start::Unknown,
        opened: false,
        started,
    };
    let mut backoff = Backoff::default();
    loop {
        match feed.follow(&shutdown).await {
            Ok(()) => break,
            Err(err) => {
                metrics::database_error();
                // A stream that was open and then failed is a new outage: start over from the
                // first, short wait, not from where the last outage's backoff ended.
                if std::mem::take(&mut feed.opened) {
                    backoff = Backoff::default();
                }
                tracing::warn!(%err, "the change stream stopped; resuming");
            }
        }
        // Back off while the database is away, but wake at once for shutdown.
        if backoff.wait(&shutdown).await.is_none() {
            break;
        }
    }
    feed.save_token().await;
}

/// Waits between retries: 100 ms, doubling up to 5 s.
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(FIRST_BACKOFF)
    }
}

impl Backoff {
    /// Waits the current step (`None` if shut down meanwhile) and doubles the next one.
    async fn wait(&mut self, shutdown: &CancellationToken) -> Option<()> {
        let step = self.0;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
        tokio::select! {
            () = shutdown.cancelled() => None,
            () = tokio::time::sleep(step) => Some(()),
        }
    }
}

/// Operations the feed follows.
const WATCHED: [&str; 4] = ["insert", "update", "replace", "delete"];

/// Where the change stream (re)opens.
enum Start {
    /// Not read from the database yet.
    Unknown,
    /// Nothing usable saved: start from now.
    Fresh,
    /// A saved start time whose first resume token was not saved yet.
    At(Timestamp),
    Token(ResumeToken),
}

struct Feed {
    store: Arc<MongoStore>,
    sink: Arc<dyn FeedSink>,
    start: Start,
    /// Whether the change stream opened since the last failure.
    opened: bool,
    started: Started,
}

impl Feed {
    /// Follows the change stream until shutdown (`Ok`) or an error (`Err`, to be retried).
    async fn follow(&mut self, shutdown: &CancellationToken) -> Result<(), StoreError> {
        if matches!(self.start, Start::Unknown) {
            self.start = self.load().await.map_err(store_error)?;
        }
        let mut stream = match self.open().await {
            Ok(stream) => stream,
            Err(err) if token_unusable(&err) => {
                tracing::warn!(%err, "the saved resume point is no longer usable; starting from now");
                self.start = Start::Fresh;
                self.open().await.map_err(store_error)?
            }
            Err(err) => return Err(store_error(err)),
        };
        self.opened = true;
        self.started.now();
        // A task of its own reads the stream into a queue, so the events that came in one
        // `getMore` can be taken as one batch without waiting (or cancelling a `getMore`).
        let (queue, mut events) = mpsc::channel(MAX_BATCH);
        let _reader = AbortOnDropHandle::new(tokio::spawn(async move {
            while let Some(next) = stream.next().await {
                if queue.send(next).await.is_err() {
                    return;
                }
            }
        }));
        let mut save = tokio::time::interval(TOKEN_SAVE_INTERVAL);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = save.tick() => self.save_token().await,
                first = events.recv() => {
                    metrics::feed_requests(1);
                    let (mut batch, mut failed) = drain(&mut events, first);
                    if failed.is_none() {
                        failed = complete_transaction(&mut events, &mut batch).await;
                    }
                    // The resume point is the last event's own token.
                    let last = batch.last().map(|event| event.id.clone());
                    self.deliver(batch).await?;
                    if let Some(token) = last {
                        self.start = Start::Token(token);
                    }
                    if let Some(err) = failed {
                        return Err(err);
                    }
                }
            }
        }
    }

    async fn open(
        &mut self,
    ) -> Result<ChangeStream<ChangeStreamEvent<Document>>, mongodb::error::Error> {
        let watch = self
            .store
            .collection()
            .watch()
            .pipeline([doc! { "$match": { "operationType": { "$in": WATCHED.as_slice() } } }])
            // Whose a changed document is: an update's document as it is now, or (for a delete,
            // or an update of a document deleted since) as it was, where the collection keeps
            // pre-images.
            .full_document(FullDocumentType::UpdateLookup)
            .full_document_before_change(FullDocumentBeforeChangeType::WhenAvailable);
        match &self.start {
            Start::Token(token) => watch.resume_after(token.clone()).await,
            Start::At(time) => watch.start_at_operation_time(*time).await,
            Start::Unknown | Start::Fresh => {
                // Save the starting point (and the floor below which resumes resync) before
                // anything after it is processed, so a crash cannot leave a gap.
                let now = self.store.operation_time().await?;
                self.store.floor().raise_to(seq_of(now));
                self.state()
                    .update_one(
                        doc! { "_id": self.key() },
                        doc! {
                            "$set": { "start_at": now },
                            "$max": { "floor": seq_of(now) },
                            "$unset": { "token": "" },
                        },
                    )
                    .upsert(true)
                    .await?;
                self.start = Start::At(now);
                watch.start_at_operation_time(now).await
            }
        }
    }

    /// One batch of events: the inserts' positions recorded in their documents (one write for
    /// the batch), the inserts reported in position order, then each user's changes of read
    /// state, coalesced, with the unread count after them.
    async fn deliver(&self, batch: Vec<ChangeStreamEvent<Document>>) -> Result<(), StoreError> {
        let mut inserts = Vec::new();
        let mut changes = ByUser::default();
        for event in batch {
            let seq = event.cluster_time.map(seq_of);
            match event.operation_type {
                OperationType::Insert => {
                    let (Some(seq), Some(document)) = (seq, event.full_document) else {
                        continue;
                    };
                    let Some(Bson::ObjectId(oid)) = document.get("_id") else {
                        metrics::skipped();
                        tracing::warn!(
                            "skipping an inserted document whose _id is not an ObjectId"
                        );
                        continue;
                    };
                    let position = Position {
                        seq,
                        id: NotificationId::from(*oid),
                    };
                    inserts.push((position, document));
                }
                OperationType::Update | OperationType::Replace => {
                    let read_at = match (&event.update_description, &event.full_document) {
                        (Some(update), _) => update.updated_fields.get("read_at"),
                        (None, Some(document)) => document.get("read_at"),
                        (None, None) => None,
                    };
                    match read_at {
                        // Set to a date (or a date as text, as some writers store it): read.
                        Some(Bson::DateTime(_) | Bson::String(_)) => {
                            // Whose it is: the document as it is now, or as it was if it has
                            // been deleted since (the pre-image).
                            let owner = event
                                .full_document
                                .as_ref()
                                .or(event.full_document_before_change.as_ref());
                            add_change(&mut changes, &event.document_key, owner, seq, false);
                        }
                        None | Some(Bson::Null) => {}
                        Some(other) => {
                            metrics::skipped();
                            tracing::warn!(read_at = %other, "skipping an update whose read_at is not a date");
                        }
                    }
                }
                OperationType::Delete => {
                    add_change(
                        &mut changes,
                        &event.document_key,
                        event.full_document_before_change.as_ref(),
                        seq,
                        true,
                    );
                }
                _ => {}
            }
        }
        // Documents inserted in one transaction share their cluster time: `_id` breaks the tie,
        // as it does for resume and the floor.
        inserts.sort_by_key(|(position, _)| *position);
        self.store.stamp_all(&inserts).await?;
        for (position, document) in &inserts {
            self.sink.committed(*position, &to_notification(document));
        }
        self.store.report_changes(&*self.sink, changes).await
    }

    /// Reads the saved starting point and floor.
    async fn load(&self) -> Result<Start, mongodb::error::Error> {
        let Some(saved) = self.state().find_one(doc! { "_id": self.key() }).await? else {
            return Ok(Start::Fresh);
        };
        if let Ok(floor) = saved.get_i64("floor") {
            self.store.floor().raise_to(floor);
        }
        let token = saved
            .get("token")
            .cloned()
            .and_then(|token| bson::from_bson::<ResumeToken>(token).ok());
        Ok(match (token, saved.get_timestamp("start_at")) {
            (Some(token), _) => Start::Token(token),
            (None, Ok(time)) => Start::At(time),
            (None, Err(_)) => Start::Fresh,
        })
    }

    async fn save_token(&self) {
        let Start::Token(token) = &self.start else {
            return;
        };
        let Ok(token) = bson::to_bson(token) else {
            return;
        };
        metrics::feed_requests(1);
        let saved = self
            .state()
            .update_one(
                doc! { "_id": self.key() },
                doc! { "$set": { "token": token } },
            )
            .upsert(true)
            .await;
        if let Err(err) = saved {
            tracing::debug!(%err, "cannot save the resume token yet");
        }
    }

    fn key(&self) -> &str {
        self.store.collection().name()
    }

    fn state(&self) -> mongodb::Collection<Document> {
        self.store.feed_state()
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
