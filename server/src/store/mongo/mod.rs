//! The MongoDB store: the host application's own collection.
//!
//! Documents have the shape the Laravel model writes (`_id`, `user_id`, `message`, `link`,
//! `read_at`, `created_at`, `updated_at`), and documents other programs write are read as they
//! are, by one decoder with one rule per field (`decode.rs`).
//!
//! - `decode.rs`: documents to notifications, and the filters built from the same rules;
//! - `doc.rs`: the document Belfry writes;
//! - `feed.rs`: the change-stream feed (a replica set or a sharded cluster), with `batch.rs`
//!   (its events taken in batches) and `feed_writes.rs` (its few writes);
//! - `retention.rs`: `--retain-days` as a TTL index;
//! - `poll.rs`: the polling feed for a standalone `mongod`, which has no change streams, with
//!   `fresh.rs` (which documents are new there) and `changes.rs` (the log of reads made
//!   through Belfry there);
//! - `states.rs`: the inbox's writes (read, seen, archived, snoozed, deleted) and the waker;
//! - here: the store itself, and what the two feeds share (their state collection, stamping).

mod batch;
mod changes;
mod decode;
mod doc;
mod feed;
mod feed_writes;
mod fresh;
mod laravel;
mod poll;
mod retention;
mod states;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::Notification;
use async_trait::async_trait;
use chrono::Utc;
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime as BsonDateTime, Document, Timestamp};
use mongodb::error::ErrorKind;
use mongodb::options::{ClientOptions, FindOptions, IndexOptions};
use mongodb::{Client, Collection, Database, IndexModel};
use tokio_util::sync::CancellationToken;

use super::{
    Action, Completion, Counts, Feed, FeedSink, Notifications, Page, Replay, Retention,
    RunningFeed, Selection, StoreError, Stored, Updated,
};
use crate::model::{ActionName, Category, NewNotification, NotificationId, Position, UserId};
use changes::ChangeLog;
pub use decode::{Decoder, Schema};
use doc::new_document;
use feed::FeedFloor;
use feed_writes::FeedWrites;

/// The field where the feed records a document's position in commit order (see `feed.rs`).
/// (Earlier versions wrote `belfry_seq`, in an encoding that wrapped in 2038; those positions
/// are not read: a tab resuming from such a document resyncs once.)
pub const SEQ_FIELD: &str = "belfry_pos";
/// The generation of a standalone stamp, beside its position (see `poll.rs`).
const GEN_FIELD: &str = "belfry_gen";
/// The `_id` a standalone stamp was given to: a copied document carries another's.
const OF_FIELD: &str = "belfry_of";
/// Where `belfry_feed` keeps the floor (see `feed.rs`), in `SEQ_FIELD`'s encoding.
const FLOOR_FIELD: &str = "pos_floor";
const FEED_STATE_COLLECTION: &str = "belfry_feed";

/// How many queries a list makes at most to fill a page the decoder skipped documents of.
const LIST_ROUNDS: usize = 4;

/// Used when the URI names no database.
pub const DEFAULT_DATABASE: &str = "belfry";

pub struct MongoStore {
    // The driver's client is a connection pool; it is cloned, never re-created, per request.
    client: Client,
    database: Database,
    collection: Collection<Document>,
    floor: FeedFloor,
    /// The feeds' writes (stamps, marks, pre-images).
    writes: FeedWrites,
    /// Reads made through Belfry, for a standalone server's feed.
    change_log: ChangeLog,
    /// A standalone server (no change streams): reads made here are also logged
    /// (`changes.rs`), and resumes replay only what the stamper made visible (`poll.rs`).
    standalone: AtomicBool,
    decoder: Decoder,
    /// When the waker must look for due snoozes (`states.rs`).
    waker: states::WakerState,
}

impl MongoStore {
    /// Connects, checks the server answers, and creates the list index; dates written without
    /// an offset are read as UTC.
    pub async fn connect(uri: &str, collection: &str) -> Result<Self, StoreError> {
        Self::connect_with(uri, collection, Decoder::default()).await
    }

    /// [`connect`](Self::connect), reading documents with `decoder`.
    pub async fn connect_with(
        uri: &str,
        collection: &str,
        decoder: Decoder,
    ) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(uri)
            .await
            .map_err(|e| StoreError::Other(format!("invalid MongoDB URI: {e}")))?;
        options.app_name.get_or_insert_with(|| "belfry".to_owned());
        // Fail in seconds, not the driver's default 30, when the server is away.
        options
            .server_selection_timeout
            .get_or_insert(Duration::from_secs(5));
        let database = options
            .default_database
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        let client = Client::with_options(options).map_err(store_error)?;
        let database = client.database(&database);
        let collection = database.collection::<Document>(collection);
        let store = Self {
            writes: FeedWrites::new(&database, collection.name()),
            change_log: ChangeLog::new(&database, collection.name()),
            client,
            database,
            collection,
            floor: FeedFloor::default(),
            standalone: AtomicBool::new(false),
            waker: states::WakerState::default(),
            decoder,
        };
        store.ping().await?;
        let change_streams = store.supports_change_streams().await.map_err(store_error)?;
        store.standalone.store(!change_streams, Ordering::Relaxed);
        store.create_indexes().await?;
        Ok(store)
    }

    /// The list's and replay's indexes (again after the collection was dropped), by the
    /// schema's owner fields; an index the host made with the same keys under another name
    /// serves as well and is left as it is.
    async fn create_indexes(&self) -> Result<(), StoreError> {
        let (owner, list, names) = match self.decoder.schema {
            Schema::Belfry => (
                doc! { "user_id": 1 },
                doc! { "_id": -1 },
                ["belfry_user_id", "belfry_replay_pos"],
            ),
            Schema::Laravel { .. } => (
                doc! { "notifiable_type": 1, "notifiable_id": 1 },
                doc! { "created_at": -1, "_id": -1 },
                ["belfry_laravel_list", "belfry_laravel_replay"],
            ),
        };
        let mut by_list = owner.clone();
        by_list.extend(list);
        let mut by_position = owner;
        by_position.extend(doc! { SEQ_FIELD: 1, "_id": 1 });
        for (keys, name) in [by_list, by_position].into_iter().zip(names) {
            let index = IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().name(name.to_owned()).build())
                .build();
            match self.collection.create_index(index).await {
                Ok(_) => {}
                // IndexOptionsConflict / IndexKeySpecsConflict: the host has it already.
                Err(err) if matches!(write_error_code(&err), Some(85 | 86)) => {
                    tracing::info!(%err, "an index with these keys exists already; using it");
                }
                Err(err) => return Err(store_error(err)),
            }
        }
        Ok(())
    }

    /// How this store reads documents.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    pub fn collection(&self) -> &Collection<Document> {
        &self.collection
    }

    /// Where the feeds keep their state (resume point, floor, stamper lease).
    fn feed_state(&self) -> Collection<Document> {
        self.database.collection(FEED_STATE_COLLECTION)
    }

    /// Whether the server is a replica set member or a router (change streams), or a
    /// standalone `mongod` (none).
    async fn supports_change_streams(&self) -> Result<bool, mongodb::error::Error> {
        let hello = self.database.run_command(doc! { "hello": 1 }).await?;
        Ok(hello.contains_key("setName") || hello.get_str("msg") == Ok("isdbgrid"))
    }

    fn is_standalone(&self) -> bool {
        self.standalone.load(Ordering::Relaxed)
    }

    fn floor(&self) -> &FeedFloor {
        &self.floor
    }

    /// The database's current operation time, the point a fresh change stream starts from.
    async fn operation_time(&self) -> Result<Timestamp, mongodb::error::Error> {
        let reply = self.database.run_command(doc! { "ping": 1 }).await?;
        reply
            .get_timestamp("operationTime")
            .or_else(|_| {
                reply
                    .get_document("$clusterTime")
                    .and_then(|c| c.get_timestamp("clusterTime"))
            })
            .map_err(|_| mongodb::error::Error::custom("the server reports no operation time"))
    }

    /// Where `user`'s notification `id` is in the list's order: its stored `_id` (and, in
    /// Laravel's schema, `created_at`), or the `_id` it most likely has.
    async fn stored_cursor(
        &self,
        user: &UserId,
        id: &NotificationId,
    ) -> Result<Document, StoreError> {
        let filter = self.one_of_user(user, id);
        let found = self
            .collection
            .find_one(filter)
            .projection(doc! { "_id": 1, "created_at": 1 })
            .await
            .map_err(store_error)?;
        Ok(found.unwrap_or_else(|| doc! { "_id": decode::likely_key(id) }))
    }

    /// `$set`s `fields` on what `filter` selects; how many it changed.
    async fn update(&self, filter: Document, fields: Document) -> Result<u64, StoreError> {
        self.collection
            .update_many(filter, doc! { "$set": fields })
            .await
            .map(|result| result.modified_count)
            .map_err(store_error)
    }

    /// The filter of `user`'s notifications that the decoder serves.
    fn of_user(&self, user: &UserId) -> Document {
        // The owner's fields at the top level, where the query planner finds the index.
        let mut filter = self.decoder.servable();
        filter.extend(self.decoder.user_match(user));
        filter
    }

    /// The filter of `user`'s notification `id`, whatever type its stored `_id` has.
    fn one_of_user(&self, user: &UserId, id: &NotificationId) -> Document {
        let mut filter = self.of_user(user);
        filter.extend(self.decoder.id_match(id));
        filter
    }

    /// The document a publish writes, in the collection's schema.
    fn new_document(&self, new: &NewNotification) -> Document {
        let now = Utc::now();
        match &self.decoder.schema {
            Schema::Belfry => new_document(new, BsonDateTime::from_chrono(now)),
            Schema::Laravel { notifiable_type } => {
                laravel::new_document(new, notifiable_type, now, self.decoder.zone)
            }
        }
    }

    /// Inserts `document` (of `new`, whose id the publisher chose); if a writer stored that id
    /// meanwhile (a duplicate key), the notification there, when it is this user's.
    async fn insert_or_again(
        &self,
        new: &NewNotification,
        document: &Document,
    ) -> Result<Stored, StoreError> {
        const DUPLICATE_KEY: i32 = 11000;
        match self.collection.insert_one(document).await {
            Ok(_) => {
                let created = self.decoder.read(document).ok_or_else(|| {
                    StoreError::Other("a published document does not decode".into())
                })?;
                Ok(Stored::new(created))
            }
            Err(err) if write_error_code(&err) == Some(DUPLICATE_KEY) => {
                let id = new.id.clone().unwrap_or_default();
                let found = self.find_by_id(&id).await?;
                self.own(new, found.as_ref()).map(Stored::again)
            }
            Err(err) => Err(store_error(err)),
        }
    }

    /// The notification `document` (found under `new`'s id) is, if it is `new`'s user's; else
    /// the id is taken (another user's, or a document the decoder does not serve): a conflict.
    fn own(
        &self,
        new: &NewNotification,
        document: Option<&Document>,
    ) -> Result<Notification, StoreError> {
        match document.map(|d| self.decoder.decode(d)) {
            Some(Ok(found)) if found.user_id == new.user_id.as_str() => Ok(found),
            _ => Err(StoreError::Conflict(format!(
                "the id {} belongs to another notification",
                new.id.as_ref().map_or("", |id| id.as_str())
            ))),
        }
    }

    /// The document whose notification id is `id`, whoever's it is.
    async fn find_by_id(&self, id: &NotificationId) -> Result<Option<Document>, StoreError> {
        self.collection
            .find_one(self.decoder.id_match(id))
            .await
            .map_err(store_error)
    }

    /// Every document a query of the notifications finds.
    async fn find_all(
        &self,
        filter: Document,
        options: FindOptions,
    ) -> Result<Vec<Document>, StoreError> {
        find_in(&self.collection, filter, options).await
    }
}

/// Every document a query finds.
async fn find_in(
    collection: &Collection<Document>,
    filter: Document,
    options: FindOptions,
) -> Result<Vec<Document>, StoreError> {
    collection
        .find(filter)
        .with_options(options)
        .await
        .map_err(store_error)?
        .try_collect()
        .await
        .map_err(store_error)
}

/// The code of a write's error (11000: a duplicate key).
fn write_error_code(err: &mongodb::error::Error) -> Option<i32> {
    match &*err.kind {
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(e)) => Some(e.code),
        ErrorKind::Command(e) => Some(e.code),
        _ => None,
    }
}

fn store_error(err: mongodb::error::Error) -> StoreError {
    match *err.kind {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. } => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Other(err.to_string()),
    }
}

#[async_trait]
impl Notifications for MongoStore {
    async fn publish(&self, batch: &[NewNotification]) -> Result<Vec<Stored>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let docs: Vec<Document> = batch.iter().map(|new| self.new_document(new)).collect();
        if batch.iter().all(|new| new.id.is_none()) {
            // One `insertMany`: MongoDB has no multi-document atomicity outside transactions
            // (which a standalone server lacks), but every document was validated before this
            // point, so only a database failure can stop it part-way, and the caller then gets
            // an error.
            self.collection
                .insert_many(&docs)
                .await
                .map_err(store_error)?;
            return Ok(docs
                .iter()
                .filter_map(|d| self.decoder.read(d))
                .map(Stored::new)
                .collect());
        }
        // Ids the publisher chose: looked up first, so that another user's fails the batch
        // before anything is written, and this user's comes back as it is (the unique `_id`
        // alone would not see Laravel's shape B, whose id is in `id`).
        let mut known = Vec::with_capacity(batch.len());
        for (at, new) in batch.iter().enumerate() {
            let Some(id) = &new.id else {
                known.push(None);
                continue;
            };
            let earlier = batch[..at].iter().find(|b| b.id.as_ref() == Some(id));
            if earlier.is_some_and(|b| b.user_id != new.user_id) {
                return Err(StoreError::Conflict(format!(
                    "the id {id} is given to two users' notifications"
                )));
            }
            let found = match self.find_by_id(id).await? {
                Some(document) => Some(self.own(new, Some(&document))?),
                None => None,
            };
            known.push(found);
        }
        let mut stored = Vec::with_capacity(docs.len());
        for ((new, document), known) in batch.iter().zip(&docs).zip(known) {
            stored.push(match known {
                Some(notification) => Stored::again(notification),
                None => self.insert_or_again(new, document).await?,
            });
        }
        Ok(stored)
    }

    async fn list(&self, user: &UserId, page: Page) -> Result<Vec<Notification>, StoreError> {
        let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
        // After the document the cursor names, by its stored `_id` (a string "17" and a number
        // 17 sort apart). Belfry's ObjectIds are in time order; Laravel's UUIDs are not, so
        // its documents are listed by `created_at`, then `_id`.
        let mut after = match &page.before {
            Some(id) => Some(self.stored_cursor(user, id).await?),
            None => None,
        };
        let sort = match self.decoder.schema {
            Schema::Belfry => doc! { "_id": -1 },
            Schema::Laravel { .. } => doc! { "created_at": -1, "_id": -1 },
        };
        let mut listed = Vec::with_capacity(limit);
        // A page the decoder skipped documents of is filled from the next ones, a few times.
        for _ in 0..LIST_ROUNDS {
            let mut filter = self.of_user(user);
            filter.extend(states::of_status(page.status));
            if let Some(category) = &page.category {
                filter.extend(self.decoder.category_match(category));
            }
            if let Some(cursor) = &after {
                let key = cursor.get("_id").cloned().unwrap_or(Bson::Null);
                let or = match self.decoder.schema {
                    Schema::Belfry => decode::before(&key),
                    Schema::Laravel { .. } => laravel::before(cursor.get("created_at"), &key),
                };
                filter.insert("$or", or);
            }
            let options = FindOptions::builder()
                .sort(sort.clone())
                .limit(i64::from(page.limit))
                .build();
            let docs = self.find_all(filter, options).await?;
            let full = docs.len() >= limit;
            for document in &docs {
                listed.extend(self.decoder.read(document));
                after = Some(document.clone());
            }
            if listed.len() >= limit || !full {
                break;
            }
        }
        listed.truncate(limit);
        Ok(listed)
    }

    async fn get(
        &self,
        user: &UserId,
        id: &NotificationId,
    ) -> Result<Option<Notification>, StoreError> {
        let found = self
            .collection
            .find_one(self.one_of_user(user, id))
            .await
            .map_err(store_error)?;
        Ok(found.and_then(|document| self.decoder.read(&document)))
    }

    async fn counts_in(
        &self,
        user: &UserId,
        category: Option<&Category>,
    ) -> Result<Counts, StoreError> {
        let mut unread = self.of_user(user);
        if let Some(category) = category {
            unread.extend(self.decoder.category_match(category));
        }
        for field in ["read_at", "archived_at", "snoozed_until"] {
            unread.extend(states::unset(field));
        }
        let mut unseen = unread.clone();
        unseen.extend(states::unset("seen_at"));
        Ok(Counts {
            unread_count: self.count_grouped(unread).await?,
            unseen_count: self.count_grouped(unseen).await?,
        })
    }

    async fn update(
        &self,
        user: &UserId,
        selection: &Selection,
        action: Action,
    ) -> Result<Updated, StoreError> {
        self.update_states(user, selection, action).await
    }

    async fn complete(
        &self,
        user: &UserId,
        id: &NotificationId,
        name: &ActionName,
    ) -> Result<Completion, StoreError> {
        self.complete_action(user, id, name).await
    }

    async fn wake(&self, now: chrono::DateTime<Utc>) -> Result<u64, StoreError> {
        self.wake_due(now).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await
            .map(drop)
            .map_err(store_error)
    }
}

#[async_trait]
impl Feed for MongoStore {
    async fn replay(
        &self,
        user: &UserId,
        after: NotificationId,
        limit: usize,
    ) -> Result<Replay, StoreError> {
        let of_cursor = self.one_of_user(user, &after);
        let cursor = self
            .collection
            .find_one(of_cursor)
            .projection(doc! { SEQ_FIELD: 1 })
            .await
            .map_err(store_error)?;
        let Some((seq, key)) =
            cursor.and_then(|d| Some((d.get_i64(SEQ_FIELD).ok()?, d.get("_id")?.clone())))
        else {
            return Ok(Replay::Unknown);
        };
        if seq < self.floor.get() {
            return Ok(Replay::Unknown);
        }
        let changed = self
            .feed_state()
            .find_one(doc! { "_id": self.writes.changed_key(user) })
            .await
            .map_err(store_error)?;
        if changed.and_then(|d| d.get_i64(SEQ_FIELD).ok()) > Some(seq) {
            return Ok(Replay::StateChanged);
        }
        let mut filter = self.of_user(user);
        filter.insert(
            "$or",
            vec![
                doc! { SEQ_FIELD: { "$gt": seq } },
                doc! { SEQ_FIELD: seq, "_id": { "$gt": key } },
            ],
        );
        let options = FindOptions::builder()
            .sort(doc! { SEQ_FIELD: 1, "_id": 1 })
            .limit(i64::try_from(limit + 1).unwrap_or(i64::MAX))
            .build();
        let mut docs = self.find_all(filter, options).await?;
        if docs.len() > limit {
            return Ok(Replay::TooFar);
        }
        // Without change streams, only what the stamper made visible (see `poll.rs`).
        if self.is_standalone() {
            if let Some(window) = poll::Window::of(self).await? {
                docs.retain(|d| window.admits(d));
            }
        }
        let missed = docs
            .iter()
            .filter_map(|d| {
                let seq = d.get_i64(SEQ_FIELD).ok()?;
                let (id, notification) = self.decoder.read_with_id(d)?;
                Some((Position { seq, id }, notification))
            })
            .collect();
        Ok(Replay::After {
            cursor: Position { seq, id: after },
            missed,
            changed: Vec::new(),
        })
    }

    fn start_feed(
        self: Arc<Self>,
        sink: Arc<dyn FeedSink>,
        shutdown: CancellationToken,
    ) -> RunningFeed {
        RunningFeed::spawn(|started, status| feed::run(self, sink, shutdown, started, status))
    }
}

#[async_trait]
impl Retention for MongoStore {
    async fn enforce_retention(
        &self,
        keep: Option<Duration>,
        _now: chrono::DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        // The server deletes by its own clock; nothing is removed by this call itself.
        retention::keep_for(&self.database, &self.collection, keep)
            .await
            .map(|()| 0)
    }
}
