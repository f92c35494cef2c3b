//! The MongoDB store: the host application's own collection.
//!
//! Documents have the shape the Laravel model writes (`_id`, `user_id`, `message`, `link`,
//! `read_at`, `created_at`, `updated_at`), and documents other programs write are read as they
//! are: an integer `user_id` belongs to the user whose id is that integer in decimal, dates may
//! be BSON dates or strings, a missing `read_at` means unread.
//!
//! - `doc.rs`: documents to notifications and back, the user filter;
//! - `feed.rs`: the change-stream feed (a replica set or a sharded cluster), with `batch.rs`
//!   (its events taken in batches) and `feed_writes.rs` (its few writes);
//! - `retention.rs`: `--retain-days` as a TTL index;
//! - `poll.rs`: the polling feed for a standalone `mongod`, which has no change streams, with
//!   `changes.rs` (the log of reads made through Belfry there);
//! - here: the store itself, and what the two feeds share (their state collection, stamping).

mod batch;
mod changes;
mod doc;
mod feed;
mod feed_writes;
mod poll;
mod retention;

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

use super::{FeedSink, MarkRead, NotificationStore, Page, Replay, RunningFeed, StoreError};
use crate::model::{NewNotification, NotificationId, Position, UserId};
use changes::Read;
use doc::{new_document, to_notification, user_filter};
use feed::FeedFloor;

/// The field where the feed records a document's position in commit order (see `feed.rs`).
pub const SEQ_FIELD: &str = "belfry_seq";
const FEED_STATE_COLLECTION: &str = "belfry_feed";

/// Used when the URI names no database.
pub const DEFAULT_DATABASE: &str = "belfry";

pub struct MongoStore {
    // The driver's client is a connection pool; it is cloned, never re-created, per request.
    client: Client,
    database: Database,
    collection: Collection<Document>,
    floor: FeedFloor,
    /// A standalone server (no change streams): reads made here are also logged
    /// (`changes.rs`), and resumes replay only what the stamper made visible (`poll.rs`).
    standalone: AtomicBool,
}

impl MongoStore {
    /// Connects, checks the server answers, and creates the list index.
    pub async fn connect(uri: &str, collection: &str) -> Result<Self, StoreError> {
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
            client,
            database,
            collection,
            floor: FeedFloor::default(),
            standalone: AtomicBool::new(false),
        };
        store.ping().await?;
        let change_streams = store.supports_change_streams().await.map_err(store_error)?;
        store.standalone.store(!change_streams, Ordering::Relaxed);
        let by_user = IndexModel::builder()
            .keys(doc! { "user_id": 1, "_id": -1 })
            .options(
                IndexOptions::builder()
                    .name("belfry_user_id".to_owned())
                    .build(),
            )
            .build();
        let by_position = IndexModel::builder()
            .keys(doc! { "user_id": 1, SEQ_FIELD: 1, "_id": 1 })
            .options(
                IndexOptions::builder()
                    .name("belfry_replay".to_owned())
                    .build(),
            )
            .build();
        store
            .collection
            .create_indexes([by_user, by_position])
            .await
            .map_err(store_error)?;
        Ok(store)
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
impl NotificationStore for MongoStore {
    async fn insert(&self, batch: &[NewNotification]) -> Result<Vec<Notification>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let now = BsonDateTime::from_chrono(Utc::now());
        let docs: Vec<Document> = batch.iter().map(|new| new_document(new, now)).collect();
        // One `insertMany`: MongoDB has no multi-document atomicity outside transactions (which
        // a standalone server lacks), but every document was validated before this point, so
        // only a database failure can stop it part-way, and the caller then gets an error.
        self.collection
            .insert_many(&docs)
            .await
            .map_err(store_error)?;
        Ok(docs.iter().map(to_notification).collect())
    }

    async fn list(&self, user: &UserId, page: Page) -> Result<Vec<Notification>, StoreError> {
        let mut filter = doc! { "user_id": user_filter(user) };
        if let Some(before) = page.before {
            filter.insert("_id", doc! { "$lt": before.object_id() });
        }
        let options = FindOptions::builder()
            .sort(doc! { "_id": -1 })
            .limit(i64::from(page.limit))
            .build();
        let docs = self.find_all(filter, options).await?;
        Ok(docs.iter().map(to_notification).collect())
    }

    async fn unread_count(&self, user: &UserId) -> Result<u64, StoreError> {
        // `read_at: null` matches both an explicit null and a missing field.
        self.collection
            .count_documents(doc! { "user_id": user_filter(user), "read_at": Bson::Null })
            .await
            .map_err(store_error)
    }

    async fn mark_read(&self, user: &UserId, id: NotificationId) -> Result<MarkRead, StoreError> {
        let now = BsonDateTime::from_chrono(Utc::now());
        let result = self
            .collection
            .update_one(
                doc! { "_id": id.object_id(), "user_id": user_filter(user), "read_at": Bson::Null },
                doc! { "$set": { "read_at": now, "updated_at": now } },
            )
            .await
            .map_err(store_error)?;
        if result.matched_count == 1 {
            if self.is_standalone() {
                self.log_read(user, Read::One(id)).await?;
            }
            return Ok(MarkRead::Marked);
        }
        let exists = self
            .collection
            .count_documents(doc! { "_id": id.object_id(), "user_id": user_filter(user) })
            .await
            .map_err(store_error)?;
        Ok(if exists > 0 {
            MarkRead::AlreadyRead
        } else {
            MarkRead::NotFound
        })
    }

    async fn mark_all_read(&self, user: &UserId) -> Result<u64, StoreError> {
        let now = BsonDateTime::from_chrono(Utc::now());
        let result = self
            .collection
            .update_many(
                doc! { "user_id": user_filter(user), "read_at": Bson::Null },
                doc! { "$set": { "read_at": now, "updated_at": now } },
            )
            .await
            .map_err(store_error)?;
        if result.modified_count > 0 && self.is_standalone() {
            self.log_read(user, Read::All).await?;
        }
        Ok(result.modified_count)
    }

    async fn enforce_retention(
        &self,
        keep: Option<Duration>,
        _now: chrono::DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        // The server deletes by its own clock; nothing is removed by this call itself.
        self.keep_for(keep).await.map(|()| 0)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await
            .map(drop)
            .map_err(store_error)
    }

    async fn replay(
        &self,
        user: &UserId,
        after: NotificationId,
        limit: usize,
    ) -> Result<Replay, StoreError> {
        let cursor = self
            .collection
            .find_one(doc! { "_id": after.object_id(), "user_id": user_filter(user) })
            .projection(doc! { SEQ_FIELD: 1 })
            .await
            .map_err(store_error)?;
        let Some(seq) = cursor.and_then(|d| d.get_i64(SEQ_FIELD).ok()) else {
            return Ok(Replay::Unknown);
        };
        if seq < self.floor.get() {
            return Ok(Replay::Unknown);
        }
        let changed = self
            .feed_state()
            .find_one(doc! { "_id": self.changed_key(user) })
            .await
            .map_err(store_error)?;
        if changed.and_then(|d| d.get_i64("seq").ok()) > Some(seq) {
            return Ok(Replay::StateChanged);
        }
        let oid = after.object_id();
        let filter = doc! {
            "user_id": user_filter(user),
            "$or": [
                { SEQ_FIELD: { "$gt": seq } },
                { SEQ_FIELD: seq, "_id": { "$gt": oid } },
            ],
        };
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
                let id = NotificationId::from(d.get_object_id("_id").ok()?);
                Some((Position { seq, id }, to_notification(d)))
            })
            .collect();
        Ok(Replay::After {
            cursor: Position { seq, id: after },
            missed,
            changed: None,
        })
    }

    fn start_feed(
        self: Arc<Self>,
        sink: Arc<dyn FeedSink>,
        shutdown: CancellationToken,
    ) -> RunningFeed {
        RunningFeed::spawn(|started| feed::run(self, sink, shutdown, started))
    }
}
