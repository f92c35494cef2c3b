//! The MongoDB feed: a change stream on the notifications collection, so that a document
//! inserted by anyone (this instance, another Belfry instance, `belfry send`, the Laravel app)
//! reaches the open streams of its user.
//!
//! ## Commit order
//! ObjectIds from several writers are not in commit order, so each insert is given a position
//! from the change stream itself: its `clusterTime` (the operation log's timestamp, the same for
//! every watcher), packed as `(seconds since 2020-09-13) << 32 | increment` (see [`seq_of`]).
//! The feed records it in the document as `belfry_pos` *before* publishing, so by the time any
//! client holds an id, the database knows its position, and a resume can replay "everything
//! after it" exactly. Every instance writes the same value (where the document does not hold
//! it already), so several instances agree without coordination.
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
//! About 550 lines (with its tests) in one file on purpose: the stream's life (where it
//! starts, how it resumes after an outage or an invalidation, what each batch does) is one
//! loop over one state; `batch.rs` and `feed_writes.rs` hold the parts that stand alone.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use mongodb::bson::{self, doc, Document, Timestamp};
use mongodb::change_stream::event::{
    ChangeStreamEvent, OperationType, ResumeToken, UpdateDescription,
};
use mongodb::change_stream::ChangeStream;
use mongodb::error::ErrorKind;
use mongodb::options::{FullDocumentBeforeChangeType, FullDocumentType};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::batch::{add_change, complete_transaction, drain, MAX_BATCH};
use super::decode::is_unset;
use super::{poll, store_error, MongoStore, FLOOR_FIELD};
use crate::metrics;
use crate::model::Position;
use crate::store::kit::ByUser;
use crate::store::{ChangeKind, FeedSink, FeedStatus, Started, StoreError};

const TOKEN_SAVE_INTERVAL: Duration = Duration::from_secs(1);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Server error codes after which the resume token cannot be used again.
const CHANGE_STREAM_HISTORY_LOST: i32 = 286;
const CHANGE_STREAM_FATAL: i32 = 280;
const INVALID_RESUME_TOKEN: i32 = 260;

/// The second positions count cluster times from (2020-09-13T12:26:40Z).
const POSITION_EPOCH: i64 = 1_600_000_000;

/// The position a cluster time stands for: its seconds since [`POSITION_EPOCH`] in the high 32
/// bits, its increment in the low 32. Ordered as cluster times are, and positive, from 2020 to
/// 2088 (counting from 1970, as before, overflowed the sign bit on 2038-01-19); the stamper's
/// counters (`poll.rs`) stay below these, so a database that gains change streams keeps its
/// order.
pub fn seq_of(time: Timestamp) -> i64 {
    ((i64::from(time.time) - POSITION_EPOCH) << 32) | i64::from(time.increment)
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
    status: FeedStatus,
) {
    // Which feed depends on the server; `MongoStore::connect` asked it (a store exists only
    // once the server answered), so nothing is guessed here.
    if store.is_standalone() {
        tracing::info!("no change streams on this MongoDB (standalone); tailing by query");
        return poll::run(store, sink, shutdown, started, status).await;
    }
    // Beside the feed, not before it: the feed records its starting point first.
    tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.writes.keep_pre_images().await }
    });
    let mut feed = Feed {
        store,
        sink,
        start: Start::Unknown,
        opened_at: None,
        started,
        status,
    };
    let mut backoff = Backoff::default();
    loop {
        match feed.follow(&shutdown).await {
            Ok(Flow::Shutdown) => break,
            // Invalidated: reopened at once after the invalidation, nothing failed.
            Ok(Flow::Reopen) => continue,
            Err(err) => {
                metrics::database_error();
                feed.status.stalled(&err.to_string());
                // A stream that was open a while and then failed is a new outage: start over
                // from the first, short wait. One that ends as soon as it opens keeps backing
                // off, so it is not reopened ten times a second for ever.
                if feed
                    .opened_at
                    .take()
                    .is_some_and(|at| at.elapsed() >= STEADY)
                {
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

/// How long a change stream must stay open before its failure counts as a new outage.
const STEADY: Duration = Duration::from_secs(10);

/// How a followed stream ended without an error.
enum Flow {
    Shutdown,
    /// The stream was invalidated; the feed reopens it after the invalidation.
    Reopen,
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

/// Operations the feed follows besides updates: new documents, rewrites, deletes, and what ends
/// a collection's stream (a drop or rename of it, a drop of its database, then `invalidate`).
const WATCHED: [&str; 7] = [
    "insert",
    "replace",
    "delete",
    "drop",
    "rename",
    "dropDatabase",
    "invalidate",
];

/// The state fields whose updates the feed reports, in the order one update's changes are
/// reported (an ended snooze before the unread it brings).
const STATE_FIELDS: [&str; 5] = [
    "snoozed_until",
    "archived_at",
    "read_at",
    "seen_at",
    "completed_at",
];

/// The events the feed asks for: [`WATCHED`], and updates that set or unset a state field —
/// not the feed's own stamps (`belfry_pos`), nor other updates, which change nothing a tab
/// shows.
fn watched() -> Document {
    let mut or = vec![doc! { "operationType": { "$in": WATCHED.as_slice() } }];
    for field in STATE_FIELDS {
        or.push(doc! {
            "operationType": "update",
            format!("updateDescription.updatedFields.{field}"): { "$exists": true },
        });
        or.push(doc! {
            "operationType": "update",
            "updateDescription.removedFields": field,
        });
    }
    doc! { "$match": { "$or": or } }
}

/// The changes an update makes: each state field it sets or unsets (`None`: unset, whether by
/// `$unset` or a value the decoder reads as unset), as a kind. Setting `seen_at` is a change;
/// unsetting it alone is none a tab shows (an ended snooze says so itself).
fn update_kinds(update: &UpdateDescription) -> Vec<ChangeKind> {
    let mut kinds = Vec::new();
    for field in STATE_FIELDS {
        let value = match update.updated_fields.get(field) {
            Some(value) => Some(value),
            None if update.removed_fields.iter().any(|f| f == field) => None,
            None => continue,
        };
        let set = !is_unset(value);
        let kind = match (field, set) {
            ("snoozed_until", true) => ChangeKind::Snoozed,
            ("snoozed_until", false) => ChangeKind::Unsnoozed,
            ("archived_at", true) => ChangeKind::Archived,
            ("archived_at", false) => ChangeKind::Unarchived,
            ("read_at", true) => ChangeKind::Read,
            ("read_at", false) => ChangeKind::Unread,
            ("seen_at", true) => ChangeKind::Seen,
            ("completed_at", true) => ChangeKind::Completed,
            _ => continue,
        };
        kinds.push(kind);
    }
    kinds
}

/// Where the change stream (re)opens.
enum Start {
    /// Not read from the database yet.
    Unknown,
    /// Nothing usable saved: start from now.
    Fresh,
    /// A saved start time whose first resume token was not saved yet.
    At(Timestamp),
    Token(ResumeToken),
    /// The token of an `invalidate`: the stream goes on after it (`startAfter`), where a
    /// resume (`resumeAfter`) would meet the invalidation again.
    After(ResumeToken),
}

struct Feed {
    store: Arc<MongoStore>,
    sink: Arc<dyn FeedSink>,
    start: Start,
    /// When the change stream opened, if it did since the last failure.
    opened_at: Option<Instant>,
    started: Started,
    status: FeedStatus,
}

impl Feed {
    /// Follows the change stream until shutdown or invalidation (`Ok`) or an error (`Err`, to be
    /// retried).
    async fn follow(&mut self, shutdown: &CancellationToken) -> Result<Flow, StoreError> {
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
        self.opened_at = Some(Instant::now());
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
                () = shutdown.cancelled() => return Ok(Flow::Shutdown),
                _ = save.tick() => {
                    self.save_token().await;
                    // Open for a while without failing: following (a stream that ends as it
                    // opens never gets here).
                    if self.opened_at.is_some_and(|at| at.elapsed() >= TOKEN_SAVE_INTERVAL) {
                        self.status.following();
                    }
                }
                first = events.recv() => {
                    metrics::feed_requests(1);
                    let (mut batch, mut failed) = drain(&mut events, first);
                    if failed.is_none() {
                        failed = complete_transaction(&mut events, &mut batch).await;
                    }
                    let invalidated = batch
                        .iter()
                        .position(|e| e.operation_type == OperationType::Invalidate);
                    if let Some(at) = invalidated {
                        // Nothing after an invalidation belongs to this stream.
                        let invalidation = batch.swap_remove(at);
                        batch.truncate(at);
                        self.deliver_and_advance(batch).await?;
                        self.follow_after(invalidation).await;
                        return Ok(Flow::Reopen);
                    }
                    self.deliver_and_advance(batch).await?;
                    self.status.following();
                    if let Some(err) = failed {
                        return Err(err);
                    }
                }
            }
        }
    }

    /// Delivers a batch, then moves the resume point past it: the last event's own token.
    /// (Were the delivery to fail, the batch is read again: nothing was reported yet.)
    async fn deliver_and_advance(
        &mut self,
        batch: Vec<ChangeStreamEvent<Document>>,
    ) -> Result<(), StoreError> {
        let last = batch.last().map(|event| event.id.clone());
        self.deliver(batch).await?;
        if let Some(token) = last {
            self.start = Start::Token(token);
        }
        Ok(())
    }

    /// The collection was dropped or renamed, or its database dropped (`mongorestore --drop`,
    /// `php artisan migrate:fresh`): go on after the invalidation, with the indexes made again,
    /// and a floor at the invalidation, so a tab resuming from a document of before resyncs.
    /// Saved at once, so a restart goes on after it too.
    async fn follow_after(&mut self, invalidation: ChangeStreamEvent<Document>) {
        metrics::feed_invalidated();
        tracing::warn!(
            "the collection was dropped or renamed (change stream invalidated); following the new one"
        );
        if let Some(seq) = invalidation.cluster_time.map(seq_of) {
            self.store.floor().raise_to(seq);
        }
        self.start = Start::After(invalidation.id);
        self.save_token().await;
        if let Err(err) = self.store.create_indexes().await {
            tracing::warn!(%err, "cannot create the indexes again yet");
        }
        let store = Arc::clone(&self.store);
        tokio::spawn(async move { store.writes.keep_pre_images().await });
    }

    async fn open(
        &mut self,
    ) -> Result<ChangeStream<ChangeStreamEvent<Document>>, mongodb::error::Error> {
        let watch = self
            .store
            .collection()
            .watch()
            .pipeline([watched()])
            // Whose a changed document is: an update's document as it is now, or (for a delete,
            // or an update of a document deleted since) as it was, where the collection keeps
            // pre-images.
            .full_document(FullDocumentType::UpdateLookup)
            .full_document_before_change(FullDocumentBeforeChangeType::WhenAvailable);
        match &self.start {
            Start::Token(token) => watch.resume_after(token.clone()).await,
            Start::After(token) => watch.start_after(token.clone()).await,
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
                            "$max": { FLOOR_FIELD: seq_of(now) },
                            "$unset": { "token": "", "start_after": "" },
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
    /// the batch), then each changed user marked and counted; only then, when nothing can fail
    /// any more, the inserts reported in position order and each user's changes of read state,
    /// coalesced, with the unread count after them. A failure before that reports nothing, and
    /// the batch is read again.
    async fn deliver(&self, batch: Vec<ChangeStreamEvent<Document>>) -> Result<(), StoreError> {
        let decoder = self.store.decoder();
        let mut inserts = Vec::new();
        let mut changes = ByUser::default();
        for event in batch {
            let seq = event.cluster_time.map(seq_of);
            match event.operation_type {
                OperationType::Insert => {
                    let (Some(seq), Some(document)) = (seq, event.full_document) else {
                        continue;
                    };
                    let Some((id, notification)) = decoder.read_with_id(&document) else {
                        continue;
                    };
                    let Some(key) = document.get("_id").cloned() else {
                        continue;
                    };
                    let position = Position { seq, id };
                    inserts.push((position, key, notification));
                }
                OperationType::Update | OperationType::Replace => {
                    // An update names the state fields it changed (the stream asks for no
                    // other); a rewrite carries the whole document, told as read if it is.
                    // Either way it is never new again.
                    let kinds = match (&event.update_description, &event.full_document) {
                        (Some(update), _) => update_kinds(update),
                        (None, Some(document)) if !is_unset(document.get("read_at")) => {
                            vec![ChangeKind::Read]
                        }
                        _ => Vec::new(),
                    };
                    // Whose it is: the document as it is now, or as it was if it has been
                    // deleted since (the pre-image).
                    let owner = event
                        .full_document
                        .as_ref()
                        .or(event.full_document_before_change.as_ref());
                    for kind in kinds {
                        if kind == ChangeKind::Snoozed {
                            // (Also the host's own: the waker looks again.)
                            self.store.snoozes_exist();
                        }
                        add_change(decoder, &mut changes, &event.document_key, owner, seq, kind);
                    }
                }
                OperationType::Delete => {
                    add_change(
                        decoder,
                        &mut changes,
                        &event.document_key,
                        event.full_document_before_change.as_ref(),
                        seq,
                        ChangeKind::Removed,
                    );
                }
                _ => {}
            }
        }
        // Documents inserted in one transaction share their cluster time: `_id` breaks the tie,
        // as it does for resume and the floor.
        inserts.sort_by(|a, b| a.0.cmp(&b.0));
        self.store.writes.stamp_all(&inserts).await?;
        let counted = self
            .store
            .writes
            .count_changes(changes, &*self.store)
            .await?;
        for (position, _, notification) in &inserts {
            self.sink.committed(position.clone(), notification);
        }
        counted.report(&*self.sink);
        Ok(())
    }

    /// Reads the saved starting point and floor.
    async fn load(&self) -> Result<Start, mongodb::error::Error> {
        let Some(saved) = self.state().find_one(doc! { "_id": self.key() }).await? else {
            return Ok(Start::Fresh);
        };
        if let Ok(floor) = saved.get_i64(FLOOR_FIELD) {
            self.store.floor().raise_to(floor);
        }
        let token = saved
            .get("token")
            .cloned()
            .and_then(|token| bson::from_bson::<ResumeToken>(token).ok());
        let after = saved.get_bool("start_after").unwrap_or(false);
        Ok(match (token, saved.get_timestamp("start_at")) {
            (Some(token), _) if after => Start::After(token),
            (Some(token), _) => Start::Token(token),
            (None, Ok(time)) => Start::At(time),
            (None, Err(_)) => Start::Fresh,
        })
    }

    /// Saves the resume point (and, after an invalidation, the floor it raised).
    async fn save_token(&self) {
        let (token, after) = match &self.start {
            Start::Token(token) => (token, false),
            Start::After(token) => (token, true),
            _ => return,
        };
        let Ok(token) = bson::to_bson(token) else {
            return;
        };
        metrics::feed_requests(1);
        let saved = self
            .state()
            .update_one(
                doc! { "_id": self.key() },
                doc! {
                    "$set": { "token": token, "start_after": after },
                    "$max": { FLOOR_FIELD: self.store.floor().get() },
                },
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
    fn positions_stay_ordered_past_2038() {
        // 2038-01-19T03:14:07Z is i32::MAX seconds; 2088 is where this encoding ends.
        let times = [
            1_600_000_000_u32,
            1_764_000_000,
            2_147_483_647,
            2_147_483_648,
            2_200_000_000,
            3_747_483_646,
        ];
        let seqs: Vec<i64> = times
            .iter()
            .map(|time| {
                seq_of(Timestamp {
                    time: *time,
                    increment: 1,
                })
            })
            .collect();
        assert!(
            seqs.windows(2).all(|w| 0 <= w[0] && w[0] < w[1]),
            "{seqs:?}"
        );
    }

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
