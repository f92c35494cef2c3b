//! Where notifications live. One trait, two implementations:
//!
//! - [`sqlite::SqliteStore`], the embedded default: a single file, created on first start;
//! - [`mongo::MongoStore`], the host application's own MongoDB collection, so that documents
//!   its other code writes are Belfry's notifications too.
//!
//! Both return the contract's [`Notification`] and order a user's list newest first by id.
//!
//! Each store also has a *feed*: one task per process that reports every committed notification,
//! whoever wrote it, in commit order, to a [`FeedSink`]. The sink is declared here and
//! implemented elsewhere (`delivery.rs` for the hub, a plain list in the tests), so a store knows
//! nothing of streams, the hub or SSE: it reports, the wiring decides what happens next.

pub mod mongo;
pub mod sqlite;
mod tail;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use app::Notification;
use async_trait::async_trait;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::model::{NewNotification, NotificationId, Position, UserId};

/// A page of a user's list: at most `limit` notifications older than `before`, newest first.
#[derive(Clone, Debug)]
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

/// What happened to notifications after they were committed. SQLite's change log stores it as
/// [`as_str`](Self::as_str); the stream tells it as its own event (`app::protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// Marked read.
    Read,
    /// Deleted.
    Removed,
}

impl ChangeKind {
    /// Every kind, in the order a feed reports a user's changes.
    pub const ALL: [ChangeKind; 2] = [ChangeKind::Read, ChangeKind::Removed];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Read => "read",
            ChangeKind::Removed => "removed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A change of some of a user's notifications: which ones, what happened to them, and the
/// user's unread count after it. A read names exactly the ids it covered, never more (so a
/// notification committed beside a read-all is never told read while it is unread).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub ids: Vec<NotificationId>,
    pub unread_count: u64,
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

    /// Keeps notifications for `keep` after their creation (`None`: for ever), judged at `now`;
    /// returns how many this call removed. SQLite deletes what is older, in small batches;
    /// MongoDB keeps a TTL index (`belfry_retention`) matching `keep`, dropped when `None`, and
    /// lets the server delete. Either way the feed reports the removals to the tabs.
    async fn enforce_retention(
        &self,
        keep: Option<Duration>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError>;

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

/// A feed's task, and word of when it has fixed its starting point: what is committed from
/// then on is reported. A server answers requests only after that, so a notification published
/// just after start is never missed.
pub struct RunningFeed {
    pub task: JoinHandle<()>,
    /// Whether it follows the database right now (for `/healthz`).
    pub status: FeedStatus,
    started: oneshot::Receiver<()>,
}

impl RunningFeed {
    /// Spawns `run`, which calls [`Started::now`] once its starting point is fixed and keeps
    /// its [`FeedStatus`] current.
    pub fn spawn<F>(run: impl FnOnce(Started, FeedStatus) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (tell, started) = oneshot::channel();
        let status = FeedStatus::default();
        let task = tokio::spawn(run(Started(Some(tell)), status.clone()));
        Self {
            task,
            status,
            started,
        }
    }

    /// Waits until the feed has started, at most `within`; whether it has.
    pub async fn started(&mut self, within: Duration) -> bool {
        matches!(
            tokio::time::timeout(within, &mut self.started).await,
            Ok(Ok(()))
        )
    }
}

/// Whether a feed follows its database: what `/healthz` reports as `feed`, and the
/// `belfry_feed_following` gauge (1 or 0). A feed that fails is retried for ever; this says,
/// meanwhile, that what is committed is not being pushed.
#[derive(Clone, Debug, Default)]
pub struct FeedStatus(Arc<std::sync::Mutex<Option<String>>>);

impl FeedStatus {
    /// The feed follows (again).
    pub fn following(&self) {
        let mut problem = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if problem.take().is_some() {
            tracing::info!("the feed follows the database again");
        }
        crate::metrics::feed_following(true);
    }

    /// The feed cannot follow, for `why`.
    pub fn stalled(&self, why: &str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.to_owned());
        crate::metrics::feed_following(false);
    }

    /// Why the feed does not follow, or `None` while it does.
    pub fn problem(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Held by a feed until its starting point is fixed.
pub struct Started(Option<oneshot::Sender<()>>);

impl Started {
    /// The feed's starting point is fixed (said once; later calls do nothing).
    pub fn now(&mut self) {
        if let Some(tell) = self.0.take() {
            let _ = tell.send(());
        }
    }
}

/// What a store's feed reports to. Called from the feed's one task, in commit order: new
/// notifications, and changes of read state and removals, whoever made them (this instance,
/// another one, the host application writing the database itself).
pub trait FeedSink: Send + Sync {
    /// `notification` was committed at `position`; every committed notification is reported
    /// once, in position order (a feed that resumes after an outage may report one again: the
    /// receiver drops what is not beyond what it has).
    fn committed(&self, position: Position, notification: &Notification);

    /// Some of `user`'s notifications changed (after the inserts reported before it).
    fn changed(&self, user: &UserId, change: &Change);
}

/// Changes gathered by user, in the order each user's first change came: what a feed reports,
/// per batch, as one [`Change`] of each kind per user.
#[derive(Default)]
pub(crate) struct ByUser(Vec<(UserId, UserChanges)>);

#[derive(Default)]
pub(crate) struct UserChanges {
    /// The ids of each kind of change, by [`ChangeKind::index`].
    ids: [Vec<NotificationId>; ChangeKind::ALL.len()],
    /// The position of the user's last change.
    seq: i64,
}

impl ByUser {
    pub(crate) fn add(&mut self, user: UserId, id: NotificationId, kind: ChangeKind, seq: i64) {
        self.of(user, seq).ids[kind.index()].push(id);
    }

    fn of(&mut self, user: UserId, seq: i64) -> &mut UserChanges {
        let at = match self.0.iter().position(|(u, _)| *u == user) {
            Some(at) => at,
            None => {
                self.0.push((user, UserChanges::default()));
                self.0.len() - 1
            }
        };
        let change = &mut self.0[at].1;
        change.seq = change.seq.max(seq);
        change
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each user, with the position of their last change.
    pub(crate) fn last_positions(&self) -> impl Iterator<Item = (&UserId, i64)> {
        self.0.iter().map(|(user, change)| (user, change.seq))
    }

    /// Reports every user's changes to `sink`, with the unread count `count` gives for them.
    pub(crate) fn report(self, sink: &dyn FeedSink, count: impl Fn(&UserId) -> u64) {
        for (user, changes) in self.0 {
            let unread_count = count(&user);
            for (kind, ids) in ChangeKind::ALL.into_iter().zip(changes.ids) {
                if !ids.is_empty() {
                    let change = Change {
                        kind,
                        ids,
                        unread_count,
                    };
                    sink.changed(&user, &change);
                }
            }
        }
    }
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
pub async fn open(location: &Location) -> Result<Arc<dyn NotificationStore>, StoreError> {
    Ok(match location {
        Location::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path).await?),
        Location::Mongo {
            uri,
            collection,
            decoder,
        } => Arc::new(mongo::MongoStore::connect_with(uri, collection, *decoder).await?),
    })
}

/// Formats a UTC instant the way the API sends every timestamp.
pub(crate) fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
