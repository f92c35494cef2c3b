//! A `belfry.db` written by an earlier version opens with this one: its schema is migrated and
//! it keeps every notification, read state, change and position.

use std::sync::Arc;

use belfry::model::NotificationId;
use belfry::store::sqlite::{schema_version, SqliteStore};
use belfry::store::{Feed, Notifications, Page, Replay};
use rusqlite::params;

use crate::support::user;

/// The schema as version 0.1.0 (f98a450) wrote it, with `user_version` 0: a fixture, kept as it
/// was, whatever the code's migrations become.
const SCHEMA_0_1_0: &str = r#"
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

-- The change log: every notification marked read or deleted, by whatever wrote the file (the
-- triggers see this process, another `belfry`, the sqlite3 shell alike). `after` is the
-- highest notification `seq` handed out when the change committed (AUTOINCREMENT's mark, which
-- a delete does not lower), which places it in commit order among the inserts: after the
-- insert with that `seq`, before the next one.
CREATE TABLE IF NOT EXISTS notification_changes (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT    NOT NULL,
    kind    TEXT    NOT NULL CHECK (kind IN ('read', 'removed')),
    id      TEXT    NOT NULL,
    after   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notification_changes_replay ON notification_changes (user_id, after);
CREATE TRIGGER IF NOT EXISTS notification_read AFTER UPDATE OF read_at ON notifications
    WHEN OLD.read_at IS NULL AND NEW.read_at IS NOT NULL
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    VALUES (NEW.user_id, 'read', NEW.id, (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'notifications'));
END;
CREATE TRIGGER IF NOT EXISTS notification_removed AFTER DELETE ON notifications
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    VALUES (OLD.user_id, 'removed', OLD.id, (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'notifications'));
END;
"#;

/// A file as 0.1.0 left it: three notifications of alice (the first read), one of bob deleted.
fn file_of_0_1_0(path: &std::path::Path) -> [String; 3] {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(SCHEMA_0_1_0).unwrap();
    let ids = [(); 3].map(|()| NotificationId::new().as_str().to_owned());
    for (i, id) in ids.iter().enumerate() {
        conn.execute(
            "INSERT INTO notifications (id, user_id, message, link, created_at)
             VALUES (?1, 'alice', ?2, '/a', ?3)",
            params![id, format!("m{i}"), 1_764_313_200_000_i64 + i as i64],
        )
        .unwrap();
    }
    conn.execute("INSERT INTO notifications (id, user_id, message, created_at) VALUES ('gone', 'bob', 'x', 0)", [])
        .unwrap();
    conn.execute(
        "UPDATE notifications SET read_at = 1764313300000 WHERE id = ?1",
        [&ids[0]],
    )
    .unwrap();
    conn.execute("DELETE FROM notifications WHERE id = 'gone'", [])
        .unwrap();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_0_1_0_is_migrated_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("belfry.db");
    let ids = file_of_0_1_0(&path);

    let store = Arc::new(SqliteStore::open(&path).await.expect("the old file opens"));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema_version());
    let changes: i64 = conn
        .query_row("SELECT COUNT(*) FROM notification_changes", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        changes, 2,
        "the read and the removal are still in the change log"
    );
    let retention_index: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'notifications_created'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(retention_index, 1, "retention's index is added");

    let alice = user("alice");
    let page = Page {
        status: Default::default(),
        category: None,
        limit: 10,
        before: None,
    };
    let listed = store.list(&alice, page).await.unwrap();
    let messages: Vec<&str> = listed.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(messages, ["m2", "m1", "m0"]);
    assert_eq!(
        listed[2].read_at.as_deref(),
        Some("2025-11-28T07:01:40.000Z")
    );
    assert_eq!(listed[0].created_at, "2025-11-28T07:00:00.002Z");
    assert_eq!(store.unread_count(&alice).await.unwrap(), 2);
    // Positions: a resume from the first replays the two after it, in commit order.
    let first = NotificationId::parse(&ids[0]).unwrap();
    let Replay::After { missed, .. } = store.replay(&alice, first, 10).await.unwrap() else {
        panic!("the first notification's position is known");
    };
    let replayed: Vec<&str> = missed.iter().map(|(_, n)| n.message.as_str()).collect();
    assert_eq!(replayed, ["m1", "m2"]);

    // What the new schema adds works on the migrated file: a rewrite is not new.
    conn.execute(
        "REPLACE INTO notifications (id, user_id, message, created_at) VALUES (?1, 'alice', 'm1', 0)",
        [&ids[1]],
    )
    .unwrap();
    let first = NotificationId::parse(&ids[0]).unwrap();
    let Replay::After { missed, .. } = store.replay(&alice, first, 10).await.unwrap() else {
        panic!("still known");
    };
    let replayed: Vec<&str> = missed.iter().map(|(_, n)| n.message.as_str()).collect();
    assert_eq!(replayed, ["m2"], "the rewrite is not replayed as new");

    // Opening again changes nothing.
    drop(store);
    SqliteStore::open(&path).await.expect("opens again");
    let again: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(again, schema_version());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_a_newer_version_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("belfry.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", schema_version() + 1)
        .unwrap();
    let err = SqliteStore::open(&path).await.err().expect("refused");
    assert!(err.to_string().contains("newer Belfry"), "{err}");
    let tables: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 0, "nothing was written");
}

/// Each index keyed by user costs a page written per new row (migration 9): a migrated file
/// keeps one for every row, and the badge counts are read through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_index_keyed_by_user_serves_list_replay_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("belfry.db");
    file_of_0_1_0(&path);
    SqliteStore::open(&path).await.expect("the old file opens");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'notifications'
               AND sql LIKE '%(user_id%' AND sql NOT LIKE '%WHERE%' ORDER BY name",
        )
        .unwrap();
    let for_every_row: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(for_every_row, ["notifications_of_user"]);
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT COUNT(DISTINCT id) FROM notifications
             WHERE user_id = 'alice' AND read_at IS NULL AND archived_at IS NULL
               AND snoozed_until IS NULL",
        )
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.iter()
            .any(|step| step.contains("notifications_of_user")),
        "{plan:?}"
    );
}
