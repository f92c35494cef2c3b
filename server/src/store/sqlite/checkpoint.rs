//! Checkpoints the WAL from a task of its own, so that no publish waits for one.
//!
//! SQLite's default checkpoints in the connection that commits, right after its commit: the
//! commit that crosses the threshold copies every page of the WAL into the database and fsyncs
//! it before its caller hears back, and the publishes queued behind it wait too (tens of
//! milliseconds once the WAL holds a few thousand pages: a latency spike every few seconds
//! under load). While a server runs, this task checkpoints instead, every 2 s, on its own
//! connection: a `PASSIVE` checkpoint copies what no reader still needs without taking the
//! write lock, so commits go on meanwhile. The writer keeps an automatic checkpoint as a
//! safety valve, far above what this task lets the WAL reach, for when it falls behind.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use tokio_util::sync::CancellationToken;

use super::{connect, run_blocking, SqliteStore};
use crate::metrics;
use crate::store::StoreError;

/// How often the WAL is checkpointed.
const INTERVAL: Duration = Duration::from_millis(2000);
/// WAL pages past which the writer checkpoints itself (80 MiB at 4 KiB pages).
pub const WRITER_SAFETY_PAGES: i64 = 20_000;

/// This task's connection, once the writer has left checkpoints to it.
async fn take_over(store: &SqliteStore) -> Result<Arc<Mutex<Connection>>, StoreError> {
    let conn = connect(store.path()).await?;
    store
        .with_conn(|c| c.pragma_update(None, "wal_autocheckpoint", WRITER_SAFETY_PAGES))
        .await?;
    Ok(conn)
}

pub async fn run(store: Arc<SqliteStore>, shutdown: CancellationToken) {
    let conn = match take_over(&store).await {
        Ok(conn) => conn,
        Err(err) => {
            tracing::warn!(%err, "no checkpoint task: commits checkpoint the WAL themselves");
            return;
        }
    };
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let done = run_blocking(&conn, |c| {
            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        })
        .await;
        if let Err(err) = done {
            metrics::database_error();
            tracing::warn!(%err, "a WAL checkpoint failed; trying again");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use rusqlite::{Connection, OpenFlags};

    use super::*;
    use crate::model::{Message, NewNotification, UserId};
    use crate::store::Notifications;

    /// Rows of the database file itself, WAL ignored (`immutable`), or `None` while the table
    /// is only in the WAL.
    fn rows_in_the_file(path: &std::path::Path) -> Option<i64> {
        let uri = format!("file:{}?immutable=1", path.display());
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(uri, flags).ok()?;
        conn.query_row("SELECT COUNT(*) FROM notifications", [], |r| r.get(0))
            .ok()
    }

    #[tokio::test]
    async fn the_wal_reaches_the_database_while_the_server_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.db");
        let store = Arc::new(SqliteStore::open(&path).await.unwrap());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(Arc::clone(&store), shutdown.clone()));
        let new = NewNotification::new(
            UserId::parse("1").unwrap(),
            Message::parse("hello").unwrap(),
            None,
        );
        store.insert(&[new]).await.unwrap();
        // The row is in the WAL; SQLite would copy it into the file only past 1,000 pages or
        // at close.
        let deadline = Instant::now() + 5 * INTERVAL;
        let mut tick = tokio::time::interval(INTERVAL / 10);
        loop {
            tick.tick().await;
            if rows_in_the_file(&path) == Some(1) {
                break;
            }
            assert!(Instant::now() < deadline, "no checkpoint copied the WAL");
        }
        shutdown.cancel();
        task.await.unwrap();
    }
}
