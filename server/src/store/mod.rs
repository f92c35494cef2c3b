//! Where notifications live. One [`Store`] (three parts: [`Notifications`], [`Feed`],
//! [`Retention`]), two implementations:
//!
//! - [`sqlite::SqliteStore`], the embedded default: a single file, created on first start;
//! - [`mongo::MongoStore`], the host application's own MongoDB collection, so that documents
//!   its other code writes are Belfry's notifications too.
//!
//! Both return the contract's [`Notification`] and order a user's list newest first: SQLite
//! in commit order, MongoDB by `_id` (Laravel's documents by `created_at`).
//!
//! Each store also has a *feed*: one task per process that reports every committed notification,
//! whoever wrote it, in commit order, to a [`FeedSink`]. The sink is declared here and
//! implemented elsewhere (`delivery.rs` for the hub, a plain list in the tests), so a store knows
//! nothing of streams, the hub or SSE: it reports, the wiring decides what happens next.
//!
//! A store author also finds what both stores share in [`kit`].

mod feed;
pub(crate) mod kit;
pub mod mongo;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use app::Notification;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::model::{ActionName, Category, NewNotification, NotificationId, Position, UserId};

pub use feed::{FeedSink, FeedStatus, RunningFeed, Started};

/// A page of a user's list: at most `limit` notifications of `status` (and `category`, if
/// given) older than `before`, newest first.
#[derive(Clone, Debug)]
pub struct Page {
    pub limit: u32,
    pub before: Option<NotificationId>,
    pub status: Status,
    pub category: Option<Category>,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (down, restarting, network). Worth retrying.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database answers reads but cannot store writes (a read-only file, a full disk).
    #[error("database not writable: {0}")]
    ReadOnly(String),
    /// The write names an id that another user's notification has.
    #[error("{0}")]
    Conflict(String),
    /// Anything else (a corrupt row, a refused write).
    #[error("database error: {0}")]
    Other(String),
}

/// What a resume from a notification id can do.
#[derive(Debug)]
pub enum Replay {
    /// The id is not one of this user's notifications with a known position: resync.
    Unknown,
    /// More than the replay limit was missed: cheaper for the client to refetch the list.
    TooFar,
    /// Everything committed after `cursor` (the resumed-from notification), in commit order,
    /// and the read state that changed since then.
    After {
        cursor: Position,
        missed: Vec<(Position, Notification)>,
        /// At most one change of each kind, coalesced, with the unread count now.
        changed: Vec<Change>,
    },
    /// The user's read state changed since the cursor in a way this store cannot replay
    /// exactly: the client refetches the list.
    StateChanged,
}

pub use app::protocol::{ChangeKind, Counts};

/// A change of some of a user's notifications: which ones, what happened to them, and the
/// user's counts after it. A change names exactly the ids it covered, never more (so a
/// notification committed beside a read-all is never told read while it is unread).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub ids: Vec<NotificationId>,
    pub counts: Counts,
}

/// Which of a user's notifications an [`Notifications::update`] is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// These (1 to [`MAX_IDS`]); all of them must be the user's.
    Ids(Vec<NotificationId>),
    /// Every one of the user's.
    All,
    /// Every one the user has read.
    AllRead,
    /// Every one of the user's in this category.
    InCategory(Category),
}

impl Selection {
    /// How many notifications [`Selection::Ids`] names (each once); 0 for the others.
    pub fn distinct(&self) -> u64 {
        let Selection::Ids(ids) = self else { return 0 };
        let mut ids: Vec<&str> = ids.iter().map(NotificationId::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len() as u64
    }
}

/// The most ids one update names.
pub const MAX_IDS: usize = 100;

/// What an update does. Each changes only the notifications it would change something of
/// (a read of a read one is no change), and each change goes through the feeds as its
/// [`ChangeKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `read_at` (and `seen_at`, if unset) to now.
    Read,
    /// `read_at` unset.
    Unread,
    /// `seen_at` to now.
    Seen,
    /// `archived_at` to now.
    Archive,
    /// `archived_at` unset.
    Unarchive,
    /// `snoozed_until` to this time (when it comes, it is unread and unseen again, see
    /// [`Notifications::wake`]).
    Snooze(chrono::DateTime<chrono::Utc>),
    /// `snoozed_until` unset, nothing else changed.
    Unsnooze,
    /// Deleted.
    Delete,
}

/// What an update found and changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Updated {
    /// For [`Selection::Ids`], how many of them are the user's: fewer than named, and nothing
    /// was changed. (0 for the other selections.)
    pub found: u64,
    /// Those the action changed.
    pub changed: u64,
}

/// Which of a user's notifications a list shows (`?status=`).
pub use app::protocol::Status;

/// What [`Notifications::publish`] made of one new notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub notification: Notification,
    /// The user had it already (published again with its id): nothing was written or pushed,
    /// and `notification` is as it was stored the first time.
    pub again: bool,
}

impl Stored {
    pub fn new(notification: Notification) -> Self {
        Self {
            notification,
            again: false,
        }
    }

    pub fn again(notification: Notification) -> Self {
        Self {
            notification,
            again: true,
        }
    }
}

/// What a [`Notifications::complete`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Recorded now.
    Completed,
    /// An action of it was confirmed done before; nothing changed.
    Already,
    /// It has no action of that name.
    NoSuchAction,
    /// No notification of this user has that id.
    NotFound,
}

impl Completion {
    /// What a notification (`None`: not found) says of completing its action `name`, before
    /// anything is written.
    pub fn judge(notification: Option<&Notification>, name: &ActionName) -> Option<Self> {
        let Some(notification) = notification else {
            return Some(Self::NotFound);
        };
        let named = |a: &app::notification::Action| a.name.as_deref() == Some(name.as_str());
        if !notification.actions.iter().any(named) {
            return Some(Self::NoSuchAction);
        }
        notification.completed_at.is_some().then_some(Self::Already)
    }
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

/// A store: the three parts below, which every store implements and the server uses through
/// `Arc<dyn Store>`. (Implemented for whatever has the parts; a store author writes those.)
pub trait Store: Notifications + Feed + Retention {}

impl<T: Notifications + Feed + Retention> Store for T {}

/// A user's notifications: what the API's routes read and write.
#[async_trait]
pub trait Notifications: Send + Sync {
    /// Stores all of `batch` or none of it, and returns them as created, in order. A
    /// notification with an id its user has already is not stored again: it comes back as it
    /// is ([`Stored::again`]); an id of another user's notification fails the batch with
    /// [`StoreError::Conflict`], nothing written.
    async fn publish(&self, batch: &[NewNotification]) -> Result<Vec<Stored>, StoreError>;

    /// [`publish`](Self::publish), for a caller that wants only the notifications.
    async fn insert(&self, batch: &[NewNotification]) -> Result<Vec<Notification>, StoreError> {
        let stored = self.publish(batch).await?;
        Ok(stored.into_iter().map(|s| s.notification).collect())
    }

    async fn list(&self, user: &UserId, page: Page) -> Result<Vec<Notification>, StoreError>;

    /// The user's notification `id`, whatever its state; `None` if it is not theirs.
    async fn get(
        &self,
        user: &UserId,
        id: &NotificationId,
    ) -> Result<Option<Notification>, StoreError>;

    /// The user's badge counts, of one category if given.
    async fn counts_in(
        &self,
        user: &UserId,
        category: Option<&Category>,
    ) -> Result<Counts, StoreError>;

    /// The user's badge counts.
    async fn counts(&self, user: &UserId) -> Result<Counts, StoreError> {
        self.counts_in(user, None).await
    }

    /// [`counts`](Self::counts)' unread.
    async fn unread_count(&self, user: &UserId) -> Result<u64, StoreError> {
        Ok(self.counts(user).await?.unread_count)
    }

    /// Applies `action` to the `selection` of `user`'s notifications, at once: for
    /// [`Selection::Ids`] naming one that is not the user's, nothing (`found` says so).
    async fn update(
        &self,
        user: &UserId,
        selection: &Selection,
        action: Action,
    ) -> Result<Updated, StoreError>;

    /// Records that the page confirmed the action `name` of `user`'s notification `id` done:
    /// once (a notification is completed by one of its actions), told to every tab.
    async fn complete(
        &self,
        user: &UserId,
        id: &NotificationId,
        name: &ActionName,
    ) -> Result<Completion, StoreError>;

    /// Ends every snooze whose time is at or before `now`, whoever's: each notification is
    /// unread and unseen again, once, whichever instance gets there first. Returns how many.
    async fn wake(&self, now: chrono::DateTime<chrono::Utc>) -> Result<u64, StoreError>;

    /// Marks one read.
    async fn mark_read(&self, user: &UserId, id: NotificationId) -> Result<MarkRead, StoreError> {
        let updated = self
            .update(user, &Selection::Ids(vec![id]), Action::Read)
            .await?;
        Ok(match updated {
            Updated { found: 0, .. } => MarkRead::NotFound,
            Updated { changed: 0, .. } => MarkRead::AlreadyRead,
            _ => MarkRead::Marked,
        })
    }

    /// Marks every unread notification of `user` read; returns how many changed.
    async fn mark_all_read(&self, user: &UserId) -> Result<u64, StoreError> {
        Ok(self
            .update(user, &Selection::All, Action::Read)
            .await?
            .changed)
    }

    /// Answers whether the database is reachable right now.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// What was committed, in commit order: the feed that pushes it live, and the replay a
/// reconnecting stream resumes from.
#[async_trait]
pub trait Feed: Send + Sync {
    /// The user's notifications committed after `after`, at most `limit` of them.
    async fn replay(
        &self,
        user: &UserId,
        after: NotificationId,
        limit: usize,
    ) -> Result<Replay, StoreError>;

    /// Starts the task that reports every newly committed notification, whoever wrote it, to
    /// `sink` in commit order, until `shutdown`.
    fn start_feed(
        self: Arc<Self>,
        sink: Arc<dyn FeedSink>,
        shutdown: CancellationToken,
    ) -> RunningFeed;
}

/// How long notifications are kept.
#[async_trait]
pub trait Retention: Send + Sync {
    /// Keeps notifications for `keep` after their creation (`None`: for ever), judged at `now`;
    /// returns how many this call removed. SQLite deletes what is older, in small batches;
    /// MongoDB keeps a TTL index (`belfry_retention`) matching `keep`, dropped when `None`, and
    /// lets the server delete. Either way the feed reports the removals to the tabs.
    async fn enforce_retention(
        &self,
        keep: Option<Duration>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError>;
}

/// Where the notifications are, and how to read them: what a store is opened from. (The command
/// line makes one, `config::DatabaseArgs::location`; the stores know nothing of flags.)
#[derive(Clone, Debug)]
pub enum Location {
    /// The embedded file.
    Sqlite(std::path::PathBuf),
    /// The host's collection, its text dates without an offset read in `decoder.zone`.
    Mongo {
        uri: String,
        collection: String,
        decoder: mongo::Decoder,
    },
}

/// Opens the store at `location`, creating its schema or indexes if needed.
pub async fn open(location: &Location) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match location {
        Location::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path).await?),
        Location::Mongo {
            uri,
            collection,
            decoder,
        } => Arc::new(mongo::MongoStore::connect_with(uri, collection, decoder.clone()).await?),
    })
}
