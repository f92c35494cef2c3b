//! Retention on SQLite: rows older than the cut-off deleted in small batches, each its own short
//! write transaction, so inserts are never held up for long. The delete trigger writes each
//! removal to the change log, so the feed tells the tabs (`notification-removed`).

use rusqlite::Connection;

/// Rows deleted per transaction.
pub const BATCH: usize = 500;

/// Deletes at most [`BATCH`] of the oldest rows created before `cutoff_millis`; how many.
pub fn remove_batch(conn: &mut Connection, cutoff_millis: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM notifications WHERE seq IN
             (SELECT seq FROM notifications WHERE created_at < ?1 ORDER BY seq LIMIT ?2)",
        rusqlite::params![cutoff_millis, BATCH as i64],
    )
}
