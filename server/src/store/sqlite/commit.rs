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
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::handoff::{Committed, Handoff};
use super::schema::{row_to_notification, COLUMNS};
use super::store_error;
use crate::model::{Link, NewNotification, Position};
use crate::store::kit::rfc3339;
use crate::store::{StoreError, Stored};

/// The batches waiting for the next commit.
pub struct GroupCommit {
    queue: Arc<Mutex<Vec<QueuedInsert>>>,
    handoff: Arc<Handoff>,
}

/// One call's batch waiting for the next group commit, and where its outcome goes.
struct QueuedInsert {
    batch: Vec<NewNotification>,
    done: oneshot::Sender<Result<Vec<Stored>, StoreError>>,
}

impl GroupCommit {
    pub fn new(handoff: Arc<Handoff>) -> Self {
        Self {
            queue: Arc::default(),
            handoff,
        }
    }

    /// Stores `batch` on `conn` in the next group's transaction; returns its rows as created
    /// (or as they were, for an id the user has already: see [`Stored`]).
    pub async fn insert(
        &self,
        conn: &Arc<Mutex<Connection>>,
        batch: &[NewNotification],
    ) -> Result<Vec<Stored>, StoreError> {
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
/// the new rows to the feed. A batch refused on its own (an id another user has) fails alone.
fn commit_group(conn: &mut Connection, group: Vec<QueuedInsert>, handoff: &Handoff) {
    let (batches, callers): (Vec<_>, Vec<_>) = group.into_iter().map(|q| (q.batch, q.done)).unzip();
    match insert_batches(conn, batches) {
        Ok(outcomes) => {
            let mut rows = Vec::new();
            let mut replies = Vec::with_capacity(outcomes.len());
            for outcome in outcomes {
                replies.push(outcome.map(|batch| {
                    let mut stored = Vec::with_capacity(batch.len());
                    for row in batch {
                        match row {
                            Row::New(position, notification) => {
                                stored.push(Stored::new(notification.clone()));
                                rows.push((position, notification));
                            }
                            Row::Again(notification) => stored.push(Stored::again(notification)),
                        }
                    }
                    stored
                }));
            }
            // Handed before any caller hears back, so the feed it wakes finds the rows here.
            handoff.hand(Committed { rows });
            for (done, reply) in callers.into_iter().zip(replies) {
                let _ = done.send(reply);
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

/// One notification of a batch, as the transaction left it.
enum Row {
    /// Inserted at this position.
    New(Position, Notification),
    /// The user had it already (a publish with its id again): as it is.
    Again(Notification),
}

impl Row {
    fn notification(&self) -> &Notification {
        match self {
            Row::New(_, notification) | Row::Again(notification) => notification,
        }
    }
}

/// Each batch's rows, or why that batch alone was refused.
type Outcomes = Vec<Result<Vec<Row>, StoreError>>;

fn insert_batches(
    conn: &mut Connection,
    batches: Vec<Vec<NewNotification>>,
) -> rusqlite::Result<Outcomes> {
    // Immediate: the write lock first, waiting for it as any write does. (A deferred one would
    // read first, for the ids, and SQLite refuses at once to upgrade a read when another
    // connection writes, without waiting.)
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(batches.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO notifications
                 (id, user_id, message, link, created_at, type, data, category, actor_name,
                  actor_avatar, actions, group_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        let mut existing = tx.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM notifications WHERE id = ?1"
        ))?;
        'batches: for batch in batches {
            // An id the publisher chose and a notification has already: this user's comes back
            // as it is; another user's refuses the batch, before any of it is written.
            let mut again = Vec::new();
            for (at, new) in batch.iter().enumerate() {
                let Some(id) = &new.id else { continue };
                // (Twice in the batch: once for one user, a conflict for two.)
                let earlier = batch[..at].iter().find(|b| b.id.as_ref() == Some(id));
                if earlier.is_some_and(|b| b.user_id != new.user_id) {
                    outcomes.push(Err(StoreError::Conflict(format!(
                        "the id {id} is given to two users' notifications"
                    ))));
                    continue 'batches;
                }
                let found = existing
                    .query_row([id.as_str()], row_to_notification)
                    .optional()?;
                match found {
                    Some(n) if n.user_id == new.user_id.as_str() => again.push(n),
                    Some(_) => {
                        outcomes.push(Err(StoreError::Conflict(format!(
                            "the id {id} belongs to another user's notification"
                        ))));
                        continue 'batches;
                    }
                    None => {}
                }
            }
            let mut rows = Vec::with_capacity(batch.len());
            for new in batch {
                // Stored before, or earlier in this batch: as it is.
                let known = again
                    .iter()
                    .chain(rows.iter().map(Row::notification))
                    .find(|n| new.id.as_ref().is_some_and(|id| id.as_str() == n.id));
                if let Some(found) = known {
                    rows.push(Row::Again(found.clone()));
                    continue;
                }
                let id = new.id.clone().unwrap_or_default();
                let now = Utc::now();
                let data = new.data.as_ref().map(|d| d.to_value());
                insert.execute(params![
                    id.as_str(),
                    new.user_id.as_str(),
                    new.message.as_str(),
                    new.link.as_ref().map(|l| l.as_str()),
                    now.timestamp_millis(),
                    new.kind.as_ref().map(|k| k.as_str()),
                    data.as_ref().map(|d| d.to_string()),
                    new.category.as_ref().map(|c| c.as_str()),
                    new.actor.as_ref().map(|a| a.name()),
                    new.actor.as_ref().and_then(|a| a.avatar_url()),
                    (!new.actions.is_empty())
                        .then(|| serde_json::to_string(new.actions.as_slice()).ok())
                        .flatten(),
                    new.group_key.as_ref().map(|g| g.as_str()),
                ])?;
                // `seq` is the rowid: what SQLite just assigned.
                let notification = Notification {
                    id: id.as_str().to_owned(),
                    user_id: new.user_id.to_string(),
                    message: new.message.into_string(),
                    link: new.link.map(Link::into_string),
                    read_at: None,
                    created_at: rfc3339(now),
                    kind: new.kind.map(|k| k.as_str().to_owned()),
                    data,
                    category: new.category.map(|c| c.as_str().to_owned()),
                    actions: new.actions.as_slice().to_vec(),
                    group_key: new.group_key.map(|g| g.as_str().to_owned()),
                    actor: new.actor.map(|a| app::notification::Actor {
                        name: a.name().to_owned(),
                        avatar: a.avatar_url().map(str::to_owned),
                    }),
                    ..Notification::default()
                };
                let position = Position {
                    seq: tx.last_insert_rowid(),
                    id,
                };
                rows.push(Row::New(position, notification));
            }
            outcomes.push(Ok(rows));
        }
    }
    tx.commit()?;
    Ok(outcomes)
}
