//! Group commit: concurrent inserts share one transaction and one fsync.
//!
//! Each call queues its batch; the call that finds the queue empty becomes its leader and, once
//! it has the connection, writes every batch queued by then in one transaction. While one commit
//! waits for its fsync, the publishes arriving meanwhile queue behind a new leader and share the
//! next one, so a burst of publishes costs a few fsyncs and a few blocking-pool hand-offs instead
//! of one each. A non-empty queue always has a leader that has not taken it yet: it became
//! non-empty by its leader's push. Every batch is committed whole or not at all, and each caller
//! gets exactly its own rows.
//!
//! Once committed, the group's rows are also left in the [`Handoff`] for the feed, so that it
//! need not read back what this process wrote.

use std::sync::{Arc, Mutex};

use app::Notification;
use chrono::Utc;
use rusqlite::{params, Connection};
use tokio::sync::oneshot;

use super::handoff::{Committed, Handoff};
use super::store_error;
use crate::model::{Link, NewNotification, NotificationId, Position};
use crate::store::kit::rfc3339;
use crate::store::StoreError;

/// The batches waiting for the next commit.
pub struct GroupCommit {
    queue: Arc<Mutex<Vec<QueuedInsert>>>,
    handoff: Arc<Handoff>,
}

/// One call's batch waiting for the next group commit, and where its outcome goes.
struct QueuedInsert {
    batch: Vec<NewNotification>,
    done: oneshot::Sender<Result<Vec<Notification>, StoreError>>,
}

impl GroupCommit {
    pub fn new(handoff: Arc<Handoff>) -> Self {
        Self {
            queue: Arc::default(),
            handoff,
        }
    }

    /// Stores `batch` on `conn` in the next group's transaction; returns its rows as created.
    pub async fn insert(
        &self,
        conn: &Arc<Mutex<Connection>>,
        batch: &[NewNotification],
    ) -> Result<Vec<Notification>, StoreError> {
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
            let conn = Arc::clone(conn);
            let queue = Arc::clone(&self.queue);
            let handoff = Arc::clone(&self.handoff);
            // Spawned at once, so it runs even if this call is cancelled from here on. The
            // connection's lock is taken ignoring poisoning: failing here would leave the queued
            // batches without a leader and stall every later insert.
            let commit = tokio::task::spawn_blocking(move || {
                let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let group = std::mem::take(&mut *lock_queue(&queue));
                commit_group(&mut conn, group, &handoff);
            });
            commit.await.map_err(|e| StoreError::Other(e.to_string()))?;
        }
        committed
            .await
            .map_err(|_| StoreError::Other("the insert was dropped".into()))
            .and_then(|created| created)
    }
}

fn lock_queue(queue: &Mutex<Vec<QueuedInsert>>) -> std::sync::MutexGuard<'_, Vec<QueuedInsert>> {
    // Pushing or taking the whole vector cannot leave it half-changed: a poisoned lock is fine.
    queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes every batch of `group` in one transaction, tells each caller the outcome and hands
/// the rows to the feed.
fn commit_group(conn: &mut Connection, group: Vec<QueuedInsert>, handoff: &Handoff) {
    let (batches, callers): (Vec<_>, Vec<_>) = group.into_iter().map(|q| (q.batch, q.done)).unzip();
    match insert_batches(conn, batches) {
        Ok(created) => {
            let replies: Vec<Vec<Notification>> = created
                .iter()
                .map(|rows| rows.iter().map(|(_, n)| n.clone()).collect())
                .collect();
            // Handed before any caller hears back, so the feed it wakes finds the rows here.
            let rows = created.into_iter().flatten().collect();
            handoff.hand(Committed { rows });
            for (done, reply) in callers.into_iter().zip(replies) {
                let _ = done.send(Ok(reply));
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
) -> rusqlite::Result<Vec<Vec<(Position, Notification)>>> {
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
                let id = NotificationId::new();
                let now = Utc::now();
                stmt.execute(params![
                    id.as_str(),
                    new.user_id.as_str(),
                    new.message.as_str(),
                    new.link.as_ref().map(|l| l.as_str()),
                    now.timestamp_millis()
                ])?;
                // `seq` is the rowid: what SQLite just assigned.
                let notification = Notification {
                    id: id.as_str().to_owned(),
                    user_id: new.user_id.to_string(),
                    message: new.message.into_string(),
                    link: new.link.map(Link::into_string),
                    read_at: None,
                    created_at: rfc3339(now),
                };
                let position = Position {
                    seq: tx.last_insert_rowid(),
                    id,
                };
                rows.push((position, notification));
            }
            created.push(rows);
        }
    }
    tx.commit()?;
    Ok(created)
}
