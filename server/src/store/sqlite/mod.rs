//! The embedded default store: one SQLite file in WAL mode, created on first start.
//!
//! - `schema.rs`: the tables, and how a row reads as a notification;
//! - `commit.rs`: inserts, group-committed;
//! - `checkpoint.rs`: the WAL checkpointed beside the commits, not in them;
//! - `feed.rs`: the tail that reports new rows in commit order;
//! - `handoff.rs`: the rows this process committed, passed to the feed without a read;
//! - `retention.rs`: old rows deleted in small batches;
//! - `states.rs`: the inbox's writes (read, seen, archived, snoozed, deleted) and the waker's;
//! - here: the store itself and its reads.

mod checkpoint;
mod commit;
mod feed;
mod handoff;
mod retention;
mod schema;
mod states;

pub use schema::schema_version;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::Notification;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::kit::ByUser;
use super::{
    Action, Completion, Counts, Feed, FeedSink, Notifications, Page, Replay, Retention,
    RunningFeed, Selection, StoreError, Stored, Updated,
};
use crate::model::{ActionName, Category, NewNotification, NotificationId, Position, UserId};
use commit::GroupCommit;
use handoff::Handoff;
use schema::{
    not_a_rewrite, open_connection, readable, row_to_change, row_to_counts, row_to_notification,
    row_with_position, status_condition, CHANGE_COLUMNS, COLUMNS, COUNTS,
};

pub struct SqliteStore {
    path: PathBuf,
    // A std Mutex, not tokio's: the connection is only ever used inside `spawn_blocking`,
    // never held across an `.await`. One connection serves reads and writes; SQLite runs
    // one writer at a time anyway, and the queries are index look-ups of a few rows.
    conn: Arc<Mutex<Connection>>,
    /// Inserts waiting for the next group commit.
    commits: GroupCommit,
    /// What those commits leave for the feed.
    handoff: Arc<Handoff>,
    /// Wakes the feed right after this process commits, so in-process writes reach streams
    /// without waiting for the next tail tick.
    written: Arc<Notify>,
    /// Set when a write failed for want of a writable file (read-only, disk full); while set,
    /// `ping` proves writability with a real write instead of a read, so /healthz says 503
    /// until writes work again.
    write_failing: AtomicBool,
    /// The oldest notification's `seq` at the last retention run: change log rows placed
    /// before it are older than that run, reported by every feed long since, and needed by no
    /// resume (see `retention::prune`).
    prune_below: AtomicI64,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = connect(path).await?;
        let handoff = Arc::new(Handoff::default());
        Ok(Self {
            path: path.to_path_buf(),
            conn,
            commits: GroupCommit::new(Arc::clone(&handoff)),
            handoff,
            written: Arc::new(Notify::new()),
            write_failing: AtomicBool::new(false),
            prune_below: AtomicI64::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remembers whether the last write reached the file (see `write_failing`).
    fn note_write<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match &result {
            Ok(_) => self.write_failing.store(false, Ordering::Relaxed),
            Err(StoreError::Unavailable(_)) => self.write_failing.store(true, Ordering::Relaxed),
            Err(_) => {}
        }
        result
    }

    /// Runs `work` on the connection in the blocking pool.
    async fn with_conn<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        run_blocking(&self.conn, work).await
    }

    fn handoff(&self) -> &Arc<Handoff> {
        &self.handoff
    }

    /// Wakes the feed to read what this process changed besides inserting.
    fn changed_read_state(&self) {
        self.handoff.must_read();
        self.written.notify_one();
    }

    /// Notified after each commit of this process's.
    fn written(&self) -> &Notify {
        &self.written
    }
}

/// A connection of its own to the file at `path` (the store's, the feed's, the checkpoint
/// task's), opened in the blocking pool.
async fn connect(path: &Path) -> Result<Arc<Mutex<Connection>>, StoreError> {
    let path = path.to_path_buf();
    let conn = tokio::task::spawn_blocking(move || open_connection(&path))
        .await
        .map_err(|e| StoreError::Other(e.to_string()))??;
    Ok(Arc::new(Mutex::new(conn)))
}

/// Runs `work` on `conn` in the blocking pool.
async fn run_blocking<T, F>(conn: &Arc<Mutex<Connection>>, work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
{
    let conn = Arc::clone(conn);
    tokio::task::spawn_blocking(move || {
        let mut conn = conn
            .lock()
            .map_err(|_| StoreError::Other("the connection lock is poisoned".into()))?;
        work(&mut conn).map_err(store_error)
    })
    .await
    .map_err(|e| StoreError::Other(e.to_string()))?
}

fn store_error(err: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::*;
    match err.sqlite_error_code() {
        Some(
            DatabaseBusy | DatabaseLocked | CannotOpen | ReadOnly | SystemIoFailure | DiskFull,
        ) => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Other(err.to_string()),
    }
}

#[async_trait]
impl Notifications for SqliteStore {
    async fn publish(&self, batch: &[NewNotification]) -> Result<Vec<Stored>, StoreError> {
        let created = self.commits.insert(&self.conn, batch).await;
        if created
            .as_ref()
            .is_ok_and(|stored| stored.iter().any(|s| !s.again))
        {
            self.written.notify_one();
        }
        self.note_write(created)
    }

    async fn list(&self, user: &UserId, page: Page) -> Result<Vec<Notification>, StoreError> {
        let user = user.to_string();
        self.with_conn(move |conn| {
            // Newest first in commit order (`seq`, through `notifications_of_user`): what the stream
            // delivered in, whatever ids publishers chose. After the cursor's row; a cursor
            // that is gone (deleted meanwhile) pages on by id, as ObjectIds sort in time.
            let before = page.before.as_ref().map(|id| id.as_str().to_owned());
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM notifications
                 WHERE user_id = ?1 AND {} AND (?4 IS NULL OR category = ?4)
                   AND (?2 IS NULL OR seq < COALESCE(
                     (SELECT seq FROM notifications WHERE id = ?2 AND user_id = ?1),
                     (SELECT MAX(seq) + 1 FROM notifications WHERE user_id = ?1 AND id < ?2),
                     0))
                 ORDER BY seq DESC LIMIT ?3",
                status_condition(page.status)
            ))?;
            let category = page.category.as_ref().map(|c| c.as_str().to_owned());
            let rows = stmt.query_map(
                params![user, before, page.limit, category],
                row_to_notification,
            )?;
            readable(rows)
        })
        .await
    }

    async fn get(
        &self,
        user: &UserId,
        id: &NotificationId,
    ) -> Result<Option<Notification>, StoreError> {
        let (user, id) = (user.to_string(), id.as_str().to_owned());
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM notifications WHERE id = ?1 AND user_id = ?2"
            ))?;
            let rows = readable(stmt.query_map(params![id, user], row_to_notification)?)?;
            Ok(rows.into_iter().next())
        })
        .await
    }

    async fn counts_in(
        &self,
        user: &UserId,
        category: Option<&Category>,
    ) -> Result<Counts, StoreError> {
        let user = user.to_string();
        let category = category.map(|c| c.as_str().to_owned());
        self.with_conn(move |conn| conn.query_row(COUNTS, params![user, category], row_to_counts))
            .await
    }

    async fn update(
        &self,
        user: &UserId,
        selection: &Selection,
        action: Action,
    ) -> Result<Updated, StoreError> {
        let user = user.to_string();
        let selection = selection.clone();
        let updated = self
            .with_conn(move |conn| states::update(conn, &user, &selection, action))
            .await;
        if matches!(updated, Ok(Updated { changed, .. }) if changed > 0) {
            self.changed_read_state();
        }
        self.note_write(updated)
    }

    async fn complete(
        &self,
        user: &UserId,
        id: &NotificationId,
        name: &ActionName,
    ) -> Result<Completion, StoreError> {
        let (user, id, name) = (user.to_string(), id.clone(), name.clone());
        let completed = self
            .with_conn(move |conn| states::complete(conn, &user, &id, &name))
            .await;
        if matches!(completed, Ok(Completion::Completed)) {
            self.changed_read_state();
        }
        self.note_write(completed)
    }

    async fn wake(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let woken = self
            .with_conn(move |conn| states::wake(conn, now.timestamp_millis()))
            .await;
        if matches!(woken, Ok(n) if n > 0) {
            self.changed_read_state();
        }
        self.note_write(woken)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if !self.write_failing.load(Ordering::Relaxed) {
            return self
                .with_conn(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
                .await;
        }
        let probe = self
            .with_conn(|conn| {
                conn.execute(
                    "INSERT OR REPLACE INTO belfry_probe (id, at) VALUES (1, ?1)",
                    [Utc::now().timestamp_millis()],
                )
            })
            .await;
        self.note_write(probe)
            .map(drop)
            .map_err(|err| StoreError::ReadOnly(err.to_string()))
    }
}

#[async_trait]
impl Feed for SqliteStore {
    async fn replay(
        &self,
        user: &UserId,
        after: NotificationId,
        limit: usize,
    ) -> Result<Replay, StoreError> {
        let user = user.to_string();
        self.with_conn(move |conn| {
            let cursor: Option<i64> = conn
                .query_row(
                    "SELECT seq FROM notifications WHERE id = ?1 AND user_id = ?2",
                    params![after.as_str(), user],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(seq) = cursor else {
                return Ok(Replay::Unknown);
            };
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT seq, {COLUMNS} FROM notifications
                 WHERE user_id = ?1 AND seq > ?2 AND {} ORDER BY seq LIMIT ?3",
                not_a_rewrite("?2")
            ))?;
            let missed =
                readable(stmt.query_map(params![user, seq, limit + 1], row_with_position)?)?;
            // Read state changed since the cursor: committed after it (see the change log).
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {CHANGE_COLUMNS} FROM notification_changes
                 WHERE user_id = ?1 AND after >= ?2 ORDER BY seq LIMIT ?3"
            ))?;
            let changes = readable(stmt.query_map(params![user, seq, limit + 1], row_to_change)?)?;
            if missed.len() > limit || changes.len() > limit {
                return Ok(Replay::TooFar);
            }
            // In the order they were made, runs of one kind joined (as the feed reports them).
            let mut by_user = ByUser::default();
            for change in changes {
                let (Ok(owner), Ok(id)) = (
                    UserId::parse(&change.user_id),
                    NotificationId::parse(&change.id),
                ) else {
                    continue;
                };
                by_user.add(owner, id, change.kind, change.seq);
            }
            let counts = match by_user.is_empty() {
                true => Counts::default(),
                false => conn.query_row(COUNTS, params![&user, None::<String>], row_to_counts)?,
            };
            let changed = by_user
                .into_changes(|_| counts)
                .flat_map(|(_, changes)| changes)
                .collect();
            Ok(Replay::After {
                cursor: Position { seq, id: after },
                missed,
                changed,
            })
        })
        .await
    }

    fn start_feed(
        self: Arc<Self>,
        sink: Arc<dyn FeedSink>,
        shutdown: CancellationToken,
    ) -> RunningFeed {
        RunningFeed::spawn(|started, status| async move {
            let checkpoints = checkpoint::run(Arc::clone(&self), shutdown.clone());
            let feed = feed::run(self, sink, shutdown, started, status);
            tokio::join!(feed, checkpoints);
        })
    }
}

#[async_trait]
impl Retention for SqliteStore {
    async fn enforce_retention(
        &self,
        keep: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let below = self.prune_below.load(Ordering::Relaxed);
        let pruned = self
            .with_conn(move |conn| retention::prune(conn, below))
            .await;
        self.prune_below
            .store(self.note_write(pruned)?, Ordering::Relaxed);
        let Some(keep) = keep else {
            return Ok(0);
        };
        let keep = chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
        let cutoff = now
            .checked_sub_signed(keep)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let cutoff = cutoff.timestamp_millis();
        let mut removed = 0;
        loop {
            let batch = self
                .with_conn(move |conn| retention::remove_batch(conn, cutoff))
                .await;
            let batch = self.note_write(batch)?;
            removed += batch as u64;
            if batch > 0 {
                self.changed_read_state();
            }
            if batch < retention::BATCH {
                return Ok(removed);
            }
        }
    }
}
