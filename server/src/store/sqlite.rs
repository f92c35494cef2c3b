//! The embedded default store: one SQLite file in WAL mode, created on first start.
//!
//! `seq` (an AUTOINCREMENT rowid) records commit order: SQLite admits one writer at a time and
//! assigns the rowid inside the write transaction, so a higher `seq` was always committed later.
//! The public `_id` is an ObjectId, as on MongoDB, so ids look and sort alike on both stores.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::Notification;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{rfc3339, MarkRead, NotificationStore, Page, Position, Replay, StoreError};
use crate::hub::Hub;
use crate::metrics;
use crate::model::{NewNotification, NotificationId, UserId};

/// How often the feed asks whether another process committed (see `feed`).
const TAIL_INTERVAL: Duration = Duration::from_millis(50);
/// Rows the feed reads per query; a larger backlog takes several rounds, without waiting.
const TAIL_BATCH: usize = 500;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notifications (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    user_id    TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    link       TEXT,
    read_at    INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_by_user ON notifications (user_id, id DESC);
CREATE INDEX IF NOT EXISTS notifications_unread ON notifications (user_id) WHERE read_at IS NULL;
CREATE INDEX IF NOT EXISTS notifications_replay ON notifications (user_id, seq);
CREATE TABLE IF NOT EXISTS belfry_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);
";

const COLUMNS: &str = "id, user_id, message, link, read_at, created_at";

pub struct SqliteStore {
    path: PathBuf,
    // A std Mutex, not tokio's: the connection is only ever used inside `spawn_blocking`,
    // never held across an `.await`. One connection serves reads and writes; SQLite runs
    // one writer at a time anyway, and the queries are index look-ups of a few rows.
    conn: Arc<Mutex<Connection>>,
    /// Inserts waiting for the next group commit (see `insert`).
    queue: Arc<Mutex<Vec<QueuedInsert>>>,
    /// Wakes the feed right after this process commits, so in-process writes reach streams
    /// without waiting for the next tail tick.
    written: Arc<Notify>,
    /// Set when a write failed for want of a writable file (read-only, disk full); while set,
    /// `ping` proves writability with a real write instead of a read, so /healthz says 503
    /// until writes work again.
    write_failing: AtomicBool,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let owned = path.to_path_buf();
        let conn = tokio::task::spawn_blocking(move || open_connection(&owned))
            .await
            .map_err(|e| StoreError::Other(e.to_string()))??;
        Ok(Self {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
            queue: Arc::new(Mutex::new(Vec::new())),
            written: Arc::new(Notify::new()),
            write_failing: AtomicBool::new(false),
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

    /// Feeds the hub from the table, in `seq` (commit) order, whoever wrote the rows.
    ///
    /// The feed has a connection of its own. `PRAGMA data_version` on it changes whenever any
    /// other connection, in this process or another one (`belfry send` in a second terminal),
    /// has committed, so the tail costs one cheap pragma per tick while nothing happens, and a
    /// query only when something did.
    async fn feed(self: Arc<Self>, hub: Arc<Hub>, shutdown: CancellationToken) {
        let conn = match self.open_tail_connection().await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::error!(%err, "the SQLite feed cannot start; streams get no live events");
                return;
            }
        };
        let mut last_seq = match run_blocking(&conn, |c| {
            c.query_row("SELECT COALESCE(MAX(seq), 0) FROM notifications", [], |r| {
                r.get(0)
            })
        })
        .await
        {
            Ok(seq) => seq,
            Err(err) => {
                tracing::error!(%err, "the SQLite feed cannot read its starting point");
                return;
            }
        };
        let mut last_version = None;
        let mut tick = tokio::time::interval(TAIL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.written.notified() => {}
                _ = tick.tick() => {}
            }
            loop {
                let after = last_seq;
                let seen = last_version;
                let polled = run_blocking(&conn, move |c| {
                    let version: i64 = c.query_row("PRAGMA data_version", [], |r| r.get(0))?;
                    if seen == Some(version) {
                        return Ok((version, Vec::new()));
                    }
                    let mut stmt = c.prepare_cached(&format!(
                        "SELECT seq, {COLUMNS} FROM notifications WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                    ))?;
                    let rows = stmt.query_map(params![after, TAIL_BATCH], row_with_position)?;
                    Ok((version, rows.collect::<rusqlite::Result<Vec<_>>>()?))
                })
                .await;
                let (version, rows) = match polled {
                    Ok(polled) => polled,
                    Err(err) => {
                        metrics::database_error();
                        tracing::warn!(%err, "the SQLite feed could not read; retrying next tick");
                        break;
                    }
                };
                let full = rows.len() == TAIL_BATCH;
                for (position, notification) in &rows {
                    hub.publish_notification(*position, notification);
                    last_seq = position.seq;
                }
                // A full batch may have more behind it: read on before remembering the version.
                if !full {
                    last_version = Some(version);
                    break;
                }
            }
        }
    }

    async fn open_tail_connection(&self) -> Result<Arc<Mutex<Connection>>, StoreError> {
        let path = self.path.clone();
        let conn = tokio::task::spawn_blocking(move || open_connection(&path))
            .await
            .map_err(|e| StoreError::Other(e.to_string()))??;
        Ok(Arc::new(Mutex::new(conn)))
    }
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

/// One call's batch waiting for the next group commit, and where its outcome goes.
struct QueuedInsert {
    batch: Vec<NewNotification>,
    done: oneshot::Sender<Result<Vec<Notification>, StoreError>>,
}

fn lock_queue(queue: &Mutex<Vec<QueuedInsert>>) -> std::sync::MutexGuard<'_, Vec<QueuedInsert>> {
    // Pushing or taking the whole vector cannot leave it half-changed: a poisoned lock is fine.
    queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes every batch of `group` in one transaction and tells each caller the outcome.
fn commit_group(conn: &mut Connection, group: Vec<QueuedInsert>) {
    let (batches, callers): (Vec<_>, Vec<_>) = group.into_iter().map(|q| (q.batch, q.done)).unzip();
    match insert_batches(conn, batches) {
        Ok(created) => {
            for (done, created) in callers.into_iter().zip(created) {
                let _ = done.send(Ok(created));
            }
        }
        Err(err) => {
            let err = store_error(err);
            for done in callers {
                let _ = done.send(Err(err.clone()));
            }
        }
    }
}

fn insert_batches(
    conn: &mut Connection,
    batches: Vec<Vec<NewNotification>>,
) -> rusqlite::Result<Vec<Vec<Notification>>> {
    let tx = conn.transaction()?;
    let mut created = Vec::with_capacity(batches.len());
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO notifications (id, user_id, message, link, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for batch in batches {
            let mut rows = Vec::with_capacity(batch.len());
            for new in batch {
                let id = NotificationId::new().to_hex();
                let now = Utc::now();
                stmt.execute(params![
                    id,
                    new.user_id.as_str(),
                    new.message,
                    new.link,
                    now.timestamp_millis()
                ])?;
                rows.push(Notification {
                    id,
                    user_id: new.user_id.to_string(),
                    message: new.message,
                    link: new.link,
                    read_at: None,
                    created_at: rfc3339(now),
                });
            }
            created.push(rows);
        }
    }
    tx.commit()?;
    Ok(created)
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    let conn = Connection::open(path).map_err(store_error)?;
    // WAL lets readers (another `belfry` process, the tail in a later version) run beside the
    // writer; FULL sync because a notification once acknowledged must survive a power cut.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(store_error)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(store_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(store_error)?;
    conn.execute_batch(SCHEMA).map_err(store_error)?;
    Ok(conn)
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

fn millis_to_rfc3339(millis: i64) -> String {
    rfc3339(DateTime::<Utc>::from_timestamp_millis(millis).unwrap_or_default())
}

/// Reads the `COLUMNS` of a row, starting at column `first`.
fn notification_at(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Notification> {
    Ok(Notification {
        id: row.get(first)?,
        user_id: row.get(first + 1)?,
        message: row.get(first + 2)?,
        link: row.get(first + 3)?,
        read_at: row.get::<_, Option<i64>>(first + 4)?.map(millis_to_rfc3339),
        created_at: millis_to_rfc3339(row.get(first + 5)?),
    })
}

fn row_to_notification(row: &rusqlite::Row<'_>) -> rusqlite::Result<Notification> {
    notification_at(row, 0)
}

/// `seq, COLUMNS…`
fn row_with_position(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Position, Notification)> {
    let seq: i64 = row.get(0)?;
    let notification = notification_at(row, 1)?;
    let id = NotificationId::parse(&notification.id).map_err(|msg| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, msg.into())
    })?;
    Ok((Position { seq, id }, notification))
}

#[async_trait]
impl NotificationStore for SqliteStore {
    /// Group commit: each call queues its batch; the call that finds the queue empty becomes
    /// its leader and, once it has the connection, writes every batch queued by then in one
    /// transaction. While one commit waits for its fsync, the publishes arriving meanwhile queue
    /// behind a new leader and share the next one, so a burst of publishes costs a few fsyncs
    /// and a few blocking-pool hand-offs instead of one each. A non-empty queue always has a
    /// leader that has not taken it yet: it became non-empty by its leader's push. Every batch
    /// is committed whole or not at all.
    async fn insert(&self, batch: &[NewNotification]) -> Result<Vec<Notification>, StoreError> {
        let (done, committed) = oneshot::channel();
        let leads = {
            let mut queue = lock_queue(&self.queue);
            queue.push(QueuedInsert {
                batch: batch.to_vec(),
                done,
            });
            queue.len() == 1
        };
        if leads {
            let conn = Arc::clone(&self.conn);
            let queue = Arc::clone(&self.queue);
            // Spawned at once, so it runs even if this call is cancelled from here on.
            let commit = tokio::task::spawn_blocking(move || {
                let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let group = std::mem::take(&mut *lock_queue(&queue));
                commit_group(&mut conn, group);
            });
            commit.await.map_err(|e| StoreError::Other(e.to_string()))?;
        }
        let created = committed
            .await
            .map_err(|_| StoreError::Other("the insert was dropped".into()))
            .and_then(|created| created);
        if created.is_ok() {
            self.written.notify_one();
        }
        self.note_write(created)
    }

    async fn list(&self, user: &UserId, page: Page) -> Result<Vec<Notification>, StoreError> {
        let user = user.to_string();
        self.with_conn(move |conn| {
            // "Before" compares hex strings: same length, lower case, so byte order is id order.
            let before = page.before.map(NotificationId::to_hex);
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM notifications
                 WHERE user_id = ?1 AND (?2 IS NULL OR id < ?2)
                 ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![user, before, page.limit], row_to_notification)?;
            rows.collect()
        })
        .await
    }

    async fn unread_count(&self, user: &UserId) -> Result<u64, StoreError> {
        let user = user.to_string();
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM notifications WHERE user_id = ?1 AND read_at IS NULL",
                [user],
                |row| row.get::<_, u64>(0),
            )
        })
        .await
    }

    async fn mark_read(&self, user: &UserId, id: NotificationId) -> Result<MarkRead, StoreError> {
        let user = user.to_string();
        let marked = self
            .with_conn(move |conn| {
                let read_at: Option<Option<i64>> = conn
                    .query_row(
                        "SELECT read_at FROM notifications WHERE id = ?1 AND user_id = ?2",
                        params![id.to_hex(), user],
                        |row| row.get(0),
                    )
                    .optional()?;
                Ok(match read_at {
                    None => MarkRead::NotFound,
                    Some(Some(_)) => MarkRead::AlreadyRead,
                    Some(None) => {
                        let changed = conn.execute(
                            "UPDATE notifications SET read_at = ?1
                         WHERE id = ?2 AND user_id = ?3 AND read_at IS NULL",
                            params![Utc::now().timestamp_millis(), id.to_hex(), user],
                        )?;
                        if changed == 1 {
                            MarkRead::Marked
                        } else {
                            MarkRead::AlreadyRead
                        }
                    }
                })
            })
            .await;
        self.note_write(marked)
    }

    async fn mark_all_read(&self, user: &UserId) -> Result<u64, StoreError> {
        let user = user.to_string();
        let changed = self
            .with_conn(move |conn| {
                let changed = conn.execute(
                    "UPDATE notifications SET read_at = ?1 WHERE user_id = ?2 AND read_at IS NULL",
                    params![Utc::now().timestamp_millis(), user],
                )?;
                Ok(changed as u64)
            })
            .await;
        self.note_write(changed)
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
                    params![after.to_hex(), user],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(seq) = cursor else {
                return Ok(Replay::Unknown);
            };
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT seq, {COLUMNS} FROM notifications
                 WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
            ))?;
            let missed = stmt
                .query_map(params![user, seq, limit + 1], row_with_position)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(if missed.len() > limit {
                Replay::TooFar
            } else {
                Replay::After {
                    cursor: Position { seq, id: after },
                    missed,
                }
            })
        })
        .await
    }

    fn start_feed(self: Arc<Self>, hub: Arc<Hub>, shutdown: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(self.feed(hub, shutdown))
    }
}
