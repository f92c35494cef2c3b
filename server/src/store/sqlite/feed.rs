//! The SQLite feed: reports the table's new rows to the sink in `seq` (commit) order, whoever
//! wrote them (this process, another `belfry serve` on the same file, `belfry send`).
//!
//! The feed has a connection of its own. `PRAGMA data_version` on it changes whenever any other
//! connection, in this process or another one, has committed, so the tail costs one cheap pragma
//! per tick while nothing happens, and a query only when something did. An insert in this process
//! also wakes it at once, so in-process writes do not wait for the tick.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection};
use tokio_util::sync::CancellationToken;

use super::schema::{open_connection, row_with_position, COLUMNS};
use super::{run_blocking, SqliteStore};
use crate::metrics;
use crate::store::tail::{self, Tail};
use crate::store::{FeedSink, StoreError};

/// How often the feed asks whether another process committed.
const TAIL_INTERVAL: Duration = Duration::from_millis(50);
/// Rows the feed reads per query; a larger backlog takes several rounds, without waiting.
const TAIL_BATCH: usize = 500;

struct SqliteTail {
    conn: Arc<Mutex<Connection>>,
    sink: Arc<dyn FeedSink>,
    /// The last row reported.
    last_seq: i64,
    /// `data_version` when the table was last read to its end.
    last_version: Option<i64>,
}

pub async fn run(store: Arc<SqliteStore>, sink: Arc<dyn FeedSink>, shutdown: CancellationToken) {
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
        c.query_row("SELECT COALESCE(MAX(seq), 0) FROM notifications", [], |r| {
            r.get(0)
        })
    })
    .await;
    let last_seq = match start {
        Ok(seq) => seq,
        Err(err) => {
            tracing::error!(%err, "the SQLite feed cannot read its starting point");
            return;
        }
    };
    let mut tail = SqliteTail {
        conn,
        sink,
        last_seq,
        last_version: None,
    };
    tail::follow(&mut tail, TAIL_INTERVAL, Some(store.written()), &shutdown).await;
}

impl Tail for SqliteTail {
    const NAME: &'static str = "sqlite";

    async fn poll(&mut self) -> Result<(), StoreError> {
        loop {
            let after = self.last_seq;
            let seen = self.last_version;
            let (version, rows) = run_blocking(&self.conn, move |c| {
                let version: i64 = c.query_row("PRAGMA data_version", [], |r| r.get(0))?;
                if seen == Some(version) {
                    return Ok((version, Vec::new()));
                }
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT seq, {COLUMNS} FROM notifications WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                ))?;
                // Each row's `seq` apart from the rest, so a row that does not read as a
                // notification is skipped (and counted) without stopping the feed.
                let rows = stmt.query_map(params![after, TAIL_BATCH], |row| {
                    Ok((row.get::<_, i64>(0)?, row_with_position(row)))
                })?;
                Ok((version, rows.collect::<rusqlite::Result<Vec<_>>>()?))
            })
            .await?;
            let full = rows.len() == TAIL_BATCH;
            for (seq, row) in rows {
                match row {
                    Ok((position, notification)) => self.sink.committed(position, &notification),
                    Err(err) => {
                        metrics::skipped();
                        tracing::warn!(%err, seq, "the feed skips a row Belfry cannot read");
                    }
                }
                self.last_seq = seq;
            }
            // A full batch may have more behind it: read on before remembering the version.
            if !full {
                self.last_version = Some(version);
                return Ok(());
            }
        }
    }
}
