//! Retention on SQLite: rows older than the cut-off deleted in small batches, each its own short
//! write transaction, so inserts are never held up for long. The delete trigger writes each
//! removal to the change log, so the feed tells the tabs (`notification-removed`).
//!
//! The change log is pruned at each run (every minute, retention on or off), one run behind:
//! a row placed before the oldest notification of the *previous* run was committed before
//! that run, so every feed (polling every 50 ms) reported it long since, and no resume needs
//! it (a resume is from a notification that still exists, and replays changes placed at or
//! after it).

use rusqlite::Connection;

/// Rows deleted per transaction.
pub const BATCH: usize = 500;

/// The oldest rows created before `?1`, at most `?2` of them (through `notifications_created`,
/// so a run with nothing to remove reads one index entry, not the table).
const EXPIRED: &str =
    "SELECT seq FROM notifications WHERE created_at < ?1 ORDER BY created_at LIMIT ?2";

/// Deletes at most [`BATCH`] of the oldest rows created before `cutoff_millis`; how many.
pub fn remove_batch(conn: &mut Connection, cutoff_millis: i64) -> rusqlite::Result<usize> {
    conn.execute(
        &format!("DELETE FROM notifications WHERE seq IN ({EXPIRED})"),
        rusqlite::params![cutoff_millis, BATCH as i64],
    )
}

/// Deletes the change log rows (and rewrite records) placed before `below`, a `seq` an earlier
/// run returned (0: none yet); returns the oldest notification's `seq` now (or the next `seq`,
/// if there is none), for the next run.
pub fn prune(conn: &mut Connection, below: i64) -> rusqlite::Result<i64> {
    if below > 0 {
        conn.execute("DELETE FROM notification_changes WHERE after < ?1", [below])?;
        conn.execute("DELETE FROM notification_rewrites WHERE seq < ?1", [below])?;
    }
    conn.query_row(
        "SELECT COALESCE((SELECT MIN(seq) FROM notifications),
                         (SELECT seq + 1 FROM sqlite_sequence WHERE name = 'notifications'), 0)",
        [],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query plan, not a timing: expired rows are found through the index.
    #[test]
    fn expired_rows_are_found_through_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::schema::open_connection(&dir.path().join("b.db")).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {EXPIRED}"))
            .unwrap()
            .query_map(rusqlite::params![0, 1], |row| row.get("detail"))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("notifications_created")),
            "{plan:?}"
        );
        assert!(
            !plan
                .iter()
                .any(|step| step.starts_with("SCAN notifications")),
            "{plan:?}"
        );
    }
}
