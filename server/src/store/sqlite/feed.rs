//! The SQLite feed: reports the table's new rows to the sink in `seq` (commit) order, whoever
//! wrote them (this process, another `belfry serve` on the same file, `belfry send`).
//!
//! The feed has a connection of its own. `PRAGMA data_version` on it changes whenever any other
//! connection, in this process or another one, has committed, so the tail costs one cheap pragma
//! per tick while nothing happens, and a query only when something did. An insert in this process
//! also wakes it at once, so in-process writes do not wait for the tick.
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

use super::schema::{
    open_connection, row_to_change, row_with_position, ChangeRow, CHANGE_COLUMNS, COLUMNS,
    UNREAD_COUNT,
};
use super::{run_blocking, SqliteStore};
use crate::metrics;
use crate::model::{NotificationId, Position, UserId};
use crate::store::tail::{self, Tail};
use crate::store::{ByUser, FeedSink, Started, StoreError};

/// How often the feed asks whether another process committed.
const TAIL_INTERVAL: Duration = Duration::from_millis(50);
/// Rows the feed reads per query; a larger backlog takes several rounds, without waiting.
const TAIL_BATCH: usize = 500;

struct SqliteTail {
    conn: Arc<Mutex<Connection>>,
    sink: Arc<dyn FeedSink>,
    /// The last row reported.
    last_seq: i64,
    /// The last change-log row reported.
    last_change: i64,
    /// `data_version` when the table was last read to its end.
    last_version: Option<i64>,
}

pub async fn run(
    store: Arc<SqliteStore>,
    sink: Arc<dyn FeedSink>,
    shutdown: CancellationToken,
    mut started: Started,
) {
    let path = store.path().to_path_buf();
    let opened = tokio::task::spawn_blocking(move || open_connection(&path))
        .await
        .unwrap_or_else(|e| Err(StoreError::Other(e.to_string())));
    let conn = match opened {
        Ok(conn) => Arc::new(Mutex::new(conn)),
        Err(err) => {
            tracing::error!(%err, "the SQLite feed cannot start; streams get no live events");
            return;
        }
    };
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
            return;
        }
    };
    started.now();
    let mut tail = SqliteTail {
        conn,
        sink,
        last_seq,
        last_change,
        last_version: None,
    };
    tail::follow(&mut tail, TAIL_INTERVAL, Some(store.written()), &shutdown).await;
}

impl Tail for SqliteTail {
    const NAME: &'static str = "sqlite";

    async fn poll(&mut self) -> Result<(), StoreError> {
        loop {
            let (after, after_change) = (self.last_seq, self.last_change);
            let seen = self.last_version;
            let polled = run_blocking(&self.conn, move |c| {
                read_since(c, seen, after, after_change)
            })
            .await?;
            let Some(polled) = polled else {
                return Ok(());
            };
            let full = polled.rows.len() == TAIL_BATCH || polled.changes.len() == TAIL_BATCH;
            for (seq, row) in polled.rows {
                match row {
                    Ok((position, notification)) => self.sink.committed(position, &notification),
                    Err(err) => {
                        metrics::skipped();
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
    rows: Vec<(i64, rusqlite::Result<(Position, Notification)>)>,
    changes: Vec<ChangeRow>,
    /// The unread count of each user a change concerns, in the same snapshot.
    counts: HashMap<String, u64>,
}

/// New rows and changes since the last poll, or `None` if nothing committed since `seen`.
fn read_since(
    c: &mut Connection,
    seen: Option<i64>,
    after: i64,
    after_change: i64,
) -> rusqlite::Result<Option<Polled>> {
    let version: i64 = c.query_row("PRAGMA data_version", [], |r| r.get(0))?;
    if seen == Some(version) {
        return Ok(None);
    }
    // One read transaction: the rows, the changes and the counts agree with each other.
    let tx = c.transaction()?;
    let rows = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT seq, {COLUMNS} FROM notifications WHERE seq > ?1 ORDER BY seq LIMIT ?2"
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
        let changes = stmt.query_map(params![after_change, TAIL_BATCH], row_to_change)?;
        changes.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let mut counts = HashMap::new();
    for change in &changes {
        if !counts.contains_key(&change.user_id) {
            let count = tx.query_row(UNREAD_COUNT, [&change.user_id], |r| r.get(0))?;
            counts.insert(change.user_id.clone(), count);
        }
    }
    tx.commit()?;
    Ok(Some(Polled {
        version,
        rows,
        changes,
        counts,
    }))
}

/// Reports a poll's changes, one `read` and one `removed` per user, with the unread counts of
/// the poll's snapshot.
fn report_changes(sink: &dyn FeedSink, changes: Vec<ChangeRow>, counts: &HashMap<String, u64>) {
    let mut by_user = ByUser::default();
    for change in changes {
        let (Ok(user), Ok(id)) = (
            UserId::parse(&change.user_id),
            NotificationId::parse(&change.id),
        ) else {
            continue;
        };
        by_user.add(user, id, change.removed, change.seq);
    }
    by_user.report(sink, |user| {
        counts.get(user.as_str()).copied().unwrap_or_default()
    });
}
