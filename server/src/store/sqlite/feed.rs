//! The SQLite feed: reports the table's new rows to the sink in `seq` (commit) order, whoever
//! wrote them (this process, another `belfry serve` on the same file, `belfry send`).
//!
//! The feed has a connection of its own. `PRAGMA data_version` on it changes whenever any other
//! connection, in this process or another one, has committed, so the tail costs one cheap pragma
//! per tick while nothing happens, and a query only when something did. An insert in this process
//! also wakes it at once, so in-process writes do not wait for the tick, and leaves its rows in
//! the [`Handoff`]: when they follow on from the last row reported, the feed reports them as
//! they are and reads only what comes after them (`handoff.rs` says why that is exact).
//!
//! Read state and removals come from the change log the schema's triggers fill
//! (`notification_changes`), read in the same snapshot as the new rows: each poll reports its
//! new notifications, then one `read` and one `removed` per user with the unread count of that
//! snapshot, so a badge never shows a count the list has not caught up with.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::collections::HashMap;

use app::Notification;
use rusqlite::{params, Connection};
use tokio_util::sync::CancellationToken;

use super::handoff::Handoff;
use super::schema::{
    not_a_rewrite, readable, row_to_change, row_to_counts, row_with_position, ChangeRow,
    CHANGE_COLUMNS, COLUMNS, COUNTS,
};
use super::{connect, run_blocking, SqliteStore};
use crate::metrics;
use crate::model::{NotificationId, Position, UserId};
use crate::store::kit::tail::{self, Reason, Tail};
use crate::store::kit::ByUser;
use crate::store::{Counts, FeedSink, FeedStatus, Started, StoreError};

/// How often the feed asks whether another process committed.
const TAIL_INTERVAL: Duration = Duration::from_millis(50);
/// Rows the feed reads per query; a larger backlog takes several rounds, without waiting.
const TAIL_BATCH: usize = 500;

struct SqliteTail {
    conn: Arc<Mutex<Connection>>,
    sink: Arc<dyn FeedSink>,
    handoff: Arc<Handoff>,
    /// The last row reported.
    last_seq: i64,
    /// The last change-log row reported.
    last_change: i64,
    /// `data_version` when the table was last read to its end.
    last_version: Option<i64>,
    /// Rows reported as handed over, and as read from the database.
    rows_handed: u64,
    rows_read: u64,
}

pub async fn run(
    store: Arc<SqliteStore>,
    sink: Arc<dyn FeedSink>,
    shutdown: CancellationToken,
    mut started: Started,
    status: FeedStatus,
) {
    let Some(mut tail) = SqliteTail::start(&store, sink).await else {
        status.stalled("the feed cannot read the database");
        return;
    };
    started.now();
    let wake = Some(store.written());
    tail::follow(&mut tail, TAIL_INTERVAL, wake, &shutdown, &status).await;
}

impl SqliteTail {
    /// A tail on a connection of its own, from the table's current end (`None`, logged, if the
    /// database cannot be read).
    async fn start(store: &SqliteStore, sink: Arc<dyn FeedSink>) -> Option<Self> {
        let conn = match connect(store.path()).await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::error!(%err, "the SQLite feed cannot start; streams get no live events");
                return None;
            }
        };
        // Taking before the starting point is read: what commits after it is then handed.
        let handoff = Arc::clone(store.handoff());
        handoff.start_taking();
        let start = run_blocking(&conn, |c| {
            c.query_row(
                "SELECT (SELECT COALESCE(MAX(seq), 0) FROM notifications),
                        (SELECT COALESCE(MAX(seq), 0) FROM notification_changes)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .await;
        let (last_seq, last_change) = match start {
            Ok(seq) => seq,
            Err(err) => {
                tracing::error!(%err, "the SQLite feed cannot read its starting point");
                return None;
            }
        };
        Some(Self {
            conn,
            sink,
            handoff,
            last_seq,
            last_change,
            last_version: None,
            rows_handed: 0,
            rows_read: 0,
        })
    }

    fn report_handed(&mut self, rows: Vec<(Position, Notification)>) {
        self.rows_handed += rows.len() as u64;
        metrics::feed_rows(true, rows.len() as u64);
        for (position, notification) in rows {
            self.last_seq = position.seq;
            self.sink.committed(position, &notification);
        }
    }
}

impl Tail for SqliteTail {
    const NAME: &'static str = "sqlite";

    async fn poll(&mut self, reason: Reason) -> Result<(), StoreError> {
        // Woken by this process's insert, with its rows following on and nothing else written
        // here: report them and stop, without a trip to the blocking pool. What another
        // process committed meanwhile comes after them (it has higher `seq`s) and is read at
        // the next tick, as it would have been.
        if reason == Reason::Woken && !self.handoff.take_must_read() {
            let taken = self.handoff.take_after(self.last_seq);
            let all_handed = !taken.gap && !taken.rows.is_empty();
            self.report_handed(taken.rows);
            if all_handed {
                return Ok(());
            }
        }
        loop {
            let (after, after_change) = (self.last_seq, self.last_change);
            let seen = self.last_version;
            let handoff = Arc::clone(&self.handoff);
            let polled = run_blocking(&self.conn, move |c| {
                read_since(c, &handoff, seen, after, after_change)
            })
            .await?;
            let Some(polled) = polled else {
                return Ok(());
            };
            let full = polled.rows.len() == TAIL_BATCH || polled.changes.len() == TAIL_BATCH;
            self.report_handed(polled.handed);
            self.rows_read += polled.rows.len() as u64;
            metrics::feed_rows(false, polled.rows.len() as u64);
            for (seq, row) in polled.rows {
                match row {
                    Ok((position, notification)) => self.sink.committed(position, &notification),
                    Err(err) => {
                        metrics::skipped("row");
                        tracing::warn!(%err, seq, "the feed skips a row Belfry cannot read");
                    }
                }
                self.last_seq = seq;
            }
            for change in &polled.changes {
                self.last_change = change.seq;
            }
            report_changes(&*self.sink, polled.changes, &polled.counts);
            // A full batch may have more behind it: read on before remembering the version.
            if !full {
                self.last_version = Some(polled.version);
                return Ok(());
            }
        }
    }
}

/// What one poll read, in one snapshot.
struct Polled {
    version: i64,
    /// Rows this process committed, following on from the last one reported: not read.
    handed: Vec<(Position, Notification)>,
    /// Rows read, after those.
    rows: Vec<(i64, rusqlite::Result<(Position, Notification)>)>,
    changes: Vec<ChangeRow>,
    /// The counts of each user a change concerns, in the same snapshot.
    counts: HashMap<String, Counts>,
}

/// New rows and changes since the last poll, or `None` if nothing committed since `seen`.
fn read_since(
    c: &mut Connection,
    handoff: &Handoff,
    seen: Option<i64>,
    after: i64,
    after_change: i64,
) -> rusqlite::Result<Option<Polled>> {
    let version: i64 = c.query_row("PRAGMA data_version", [], |r| r.get(0))?;
    // One read transaction: the rows, the changes and the counts agree with each other. Its
    // snapshot starts with its first query, so what was handed before that query is not read
    // again, and what is handed after it, the query may see (and reads; the hand-off then
    // skips it).
    let tx = c.transaction()?;
    let handed = handoff.take_after(after).rows;
    if seen == Some(version) && handed.is_empty() {
        return Ok(None);
    }
    let after = handed.last().map_or(after, |(position, _)| position.seq);
    let rows = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT seq, {COLUMNS} FROM notifications WHERE seq > ?1 AND {} ORDER BY seq LIMIT ?2",
            not_a_rewrite("?1")
        ))?;
        // Each row's `seq` apart from the rest, so a row that does not read as a notification
        // is skipped (and counted) without stopping the feed.
        let rows = stmt.query_map(params![after, TAIL_BATCH], |row| {
            Ok((row.get::<_, i64>(0)?, row_with_position(row)))
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let changes = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {CHANGE_COLUMNS} FROM notification_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))?;
        let changes = readable(stmt.query_map(params![after_change, TAIL_BATCH], row_to_change)?);
        changes?
    };
    let mut counts = HashMap::new();
    for change in &changes {
        if !counts.contains_key(&change.user_id) {
            let all = None::<String>;
            let count = tx.query_row(COUNTS, params![&change.user_id, all], row_to_counts)?;
            counts.insert(change.user_id.clone(), count);
        }
    }
    tx.commit()?;
    Ok(Some(Polled {
        version,
        handed,
        rows,
        changes,
        counts,
    }))
}

/// Reports a poll's changes, in order by user, with the counts of the poll's snapshot.
fn report_changes(sink: &dyn FeedSink, changes: Vec<ChangeRow>, counts: &HashMap<String, Counts>) {
    let mut by_user = ByUser::default();
    for change in changes {
        let (Ok(user), Ok(id)) = (
            UserId::parse(&change.user_id),
            NotificationId::parse(&change.id),
        ) else {
            continue;
        };
        by_user.add(user, id, change.kind, change.seq);
    }
    by_user.report(sink, |user| {
        counts.get(user.as_str()).copied().unwrap_or_default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewNotification;
    use crate::store::Notifications;

    /// The `seq`s reported, in order.
    #[derive(Default)]
    struct Seqs(Mutex<Vec<i64>>);

    impl FeedSink for Seqs {
        fn committed(&self, position: Position, _: &Notification) {
            self.0.lock().unwrap().push(position.seq);
        }
        fn changed(&self, _: &UserId, _: &crate::store::Change) {}
    }

    /// A store on a new file, and the directory that holds it.
    async fn new_store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("feed.db"))
            .await
            .unwrap();
        (dir, store)
    }

    /// Commits a row for `user` on `other`, a connection that is not the store's.
    fn insert_elsewhere(other: &Connection, user: &str, message: &str) {
        other
            .execute(
                "INSERT INTO notifications (id, user_id, message, created_at)
                 VALUES (?1, ?2, ?3, 0)",
                params![NotificationId::new().as_str(), user, message],
            )
            .unwrap();
    }

    fn new(user: &str, message: &str) -> NewNotification {
        NewNotification::new(
            UserId::parse(user).unwrap(),
            crate::model::Message::parse(message).unwrap(),
            None,
        )
    }

    #[tokio::test]
    async fn rows_this_process_committed_are_not_read_back() {
        let (dir, store) = new_store().await;
        let seqs = Arc::new(Seqs::default());
        let mut tail = SqliteTail::start(&store, seqs.clone()).await.unwrap();

        store.insert(&[new("1", "a"), new("2", "b")]).await.unwrap();
        store.insert(&[new("1", "c")]).await.unwrap();
        tail.poll(Reason::Tick).await.unwrap();
        assert_eq!(*seqs.0.lock().unwrap(), [1, 2, 3]);
        assert_eq!((tail.rows_handed, tail.rows_read), (3, 0));

        // Another connection commits between two of this store's inserts: its row is read, and
        // the store's next row, no longer following on, is read too, in order.
        let other = Connection::open(dir.path().join("feed.db")).unwrap();
        insert_elsewhere(&other, "1", "other");
        store.insert(&[new("2", "d")]).await.unwrap();
        tail.poll(Reason::Tick).await.unwrap();
        assert_eq!(*seqs.0.lock().unwrap(), [1, 2, 3, 4, 5]);
        assert_eq!((tail.rows_handed, tail.rows_read), (3, 2));

        // Caught up again: handed.
        store.insert(&[new("2", "e")]).await.unwrap();
        tail.poll(Reason::Tick).await.unwrap();
        assert_eq!(*seqs.0.lock().unwrap(), [1, 2, 3, 4, 5, 6]);
        assert_eq!((tail.rows_handed, tail.rows_read), (4, 2));

        // Woken by its own insert, the feed reports it without a query; another connection's
        // row committed after it is read at the next tick, in order.
        store.insert(&[new("1", "f")]).await.unwrap();
        insert_elsewhere(&other, "2", "other again");
        tail.poll(Reason::Woken).await.unwrap();
        assert_eq!(*seqs.0.lock().unwrap(), [1, 2, 3, 4, 5, 6, 7]);
        tail.poll(Reason::Tick).await.unwrap();
        assert_eq!(*seqs.0.lock().unwrap(), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!((tail.rows_handed, tail.rows_read), (5, 3));
    }

    #[tokio::test]
    async fn a_read_state_change_of_this_process_is_read_even_beside_an_insert() {
        let (_dir, store) = new_store().await;
        let changes = Arc::new(Seqs::default());
        let mut tail = SqliteTail::start(&store, changes.clone()).await.unwrap();
        let created = store.insert(&[new("1", "a")]).await.unwrap();
        tail.poll(Reason::Woken).await.unwrap();
        // A read and an insert whose wake-ups the feed sees as one.
        let id = NotificationId::parse(&created[0].id).unwrap();
        store
            .mark_read(&UserId::parse("1").unwrap(), id)
            .await
            .unwrap();
        store.insert(&[new("1", "b")]).await.unwrap();
        tail.poll(Reason::Woken).await.unwrap();
        assert_eq!(tail.last_change, 1, "the read was read from the change log");
        assert_eq!(*changes.0.lock().unwrap(), [1, 2]);
    }
}
