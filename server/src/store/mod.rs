//! Where notifications live. One trait, two implementations:
//!
//! - [`sqlite::SqliteStore`], the embedded default: a single file, created on first start;
//! - [`mongo::MongoStore`], the host application's own MongoDB collection, so that documents
//!   its other code writes are Belfry's notifications too.
//!
//! Both return the contract's [`Notification`] and order a user's list newest first by id.

pub mod mongo;
mod mongo_feed;
mod mongo_poll;
pub mod sqlite;

use std::sync::Arc;

use app::Notification;
use async_trait::async_trait;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::DatabaseUrl;
use crate::hub::Hub;
use crate::model::{NewNotification, NotificationId, UserId};

/// A page of a user's list: at most `limit` notifications older than `before`, newest first.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub limit: u32,
    pub before: Option<NotificationId>,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (down, restarting, network). Worth retrying.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database answers reads but cannot store writes (a read-only file, a full disk).
    #[error("database not writable: {0}")]
    ReadOnly(String),
    /// Anything else (a corrupt row, a refused write).
    #[error("database error: {0}")]
    Other(String),
}

/// Where a notification stands in commit order: `seq` orders commits (see each store), `id`
/// breaks the rare tie. Streams replay and de-duplicate by position, never by `_id` alone,
/// because ObjectIds from several writers are not in commit order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub seq: i64,
    pub id: NotificationId,
}

/// What a resume from a notification id can do.
#[derive(Debug)]
pub enum Replay {
    /// The id is not one of this user's notifications with a known position: resync.
    Unknown,
    /// More than the replay limit was missed: cheaper for the client to refetch the list.
    TooFar,
    /// Everything committed after `cursor` (the resumed-from notification), in commit order.
    After {
        cursor: Position,
        missed: Vec<(Position, Notification)>,
    },
}

/// What a `mark_read` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkRead {
    /// It was unread and now is read.
    Marked,
    /// It was read already; nothing changed.
    AlreadyRead,
    /// No notification of this user has that id.
    NotFound,
}

#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Stores all of `batch` or none of it, and returns them as created, in order.
    async fn insert(&self, batch: &[NewNotification]) -> Result<Vec<Notification>, StoreError>;

    async fn list(&self, user: &UserId, page: Page) -> Result<Vec<Notification>, StoreError>;

    async fn unread_count(&self, user: &UserId) -> Result<u64, StoreError>;

    async fn mark_read(&self, user: &UserId, id: NotificationId) -> Result<MarkRead, StoreError>;

    /// Marks every unread notification of `user` read; returns how many changed.
    async fn mark_all_read(&self, user: &UserId) -> Result<u64, StoreError>;

    /// Answers whether the database is reachable right now.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The user's notifications committed after `after`, at most `limit` of them.
    async fn replay(
        &self,
        user: &UserId,
        after: NotificationId,
        limit: usize,
    ) -> Result<Replay, StoreError>;

    /// Starts the task that feeds every newly committed notification, whoever wrote it, to the
    /// hub in commit order, until `shutdown`.
    fn start_feed(self: Arc<Self>, hub: Arc<Hub>, shutdown: CancellationToken) -> JoinHandle<()>;
}

/// Opens the store a database URL names, creating its schema or indexes if needed.
pub async fn open(
    url: &DatabaseUrl,
    collection: &str,
) -> Result<Arc<dyn NotificationStore>, StoreError> {
    Ok(match url {
        DatabaseUrl::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path).await?),
        DatabaseUrl::Mongo(uri) => Arc::new(mongo::MongoStore::connect(uri, collection).await?),
    })
}

/// Formats a UTC instant the way the API sends every timestamp.
pub(crate) fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
