//! The SQLite file's tables and how a row becomes a [`Notification`]: what every connection
//! (the store's, the feed's, `belfry send` in another process) agrees on.
//!
//! `seq` (an AUTOINCREMENT rowid) records commit order: SQLite admits one writer at a time and
//! assigns the rowid inside the write transaction, so a higher `seq` was always committed later.
//! The public `_id` is an ObjectId, as on MongoDB, so ids look and sort alike on both stores.

use std::path::Path;

use app::Notification;
use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::store_error;
use crate::metrics;
use crate::model::{NotificationId, Position};
use crate::store::kit::{actions_of, actor_of, category_of, group_key_of, rfc3339};
use crate::store::{ChangeKind, Counts, Status, StoreError};

/// The schema, as ordered migrations: migration N takes a file from `PRAGMA user_version` N-1
/// to N, in one transaction with the version (see [`migrate`]). A migration that has shipped is
/// never edited: a change is the next one. (Version 0.1.0 wrote the first schema with
/// `user_version` 0; its statements say `IF NOT EXISTS`, so such a file is adopted as it is.)
const MIGRATIONS: &[&str] = &[
    V1_FIRST,
    V2_REWRITES,
    V3_RETENTION,
    V4_TYPE_AND_DATA,
    V5_STATES,
    V6_CATEGORY_AND_ACTOR,
    V7_ACTIONS,
    V8_GROUPS,
    V9_ONE_USER_INDEX,
];

/// 1: the notifications, their indexes, and the change log its triggers write (0.1.0).
const V1_FIRST: &str = "
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
";

/// 2: rewrites (`REPLACE INTO` of an existing id) are not new notifications.
const V2_REWRITES: &str = "
-- Rewrites: a row written again whole with an id that exists (`REPLACE INTO`, as another
-- program may) gets a new `seq` but is not a new notification. The trigger before the insert
-- sees the row it replaces (REPLACE deletes it after BEFORE triggers, without firing DELETE
-- triggers), the one after it records the new `seq`, which the feed and replay skip, and a
-- change of read state that the rewrite made.
CREATE TABLE IF NOT EXISTS notification_rewrites (
    id       TEXT    PRIMARY KEY,
    seq      INTEGER,
    was_read INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notification_rewrites_seq ON notification_rewrites (seq);
CREATE TRIGGER IF NOT EXISTS notification_rewriting BEFORE INSERT ON notifications
    WHEN EXISTS (SELECT 1 FROM notifications WHERE id = NEW.id)
BEGIN
    INSERT OR REPLACE INTO notification_rewrites (id, seq, was_read)
    SELECT id, NULL, read_at IS NOT NULL FROM notifications WHERE id = NEW.id;
END;
CREATE TRIGGER IF NOT EXISTS notification_rewritten AFTER INSERT ON notifications
    WHEN EXISTS (SELECT 1 FROM notification_rewrites WHERE id = NEW.id AND seq IS NULL)
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    SELECT NEW.user_id, 'read', NEW.id, NEW.seq
    WHERE NEW.read_at IS NOT NULL
      AND (SELECT was_read FROM notification_rewrites WHERE id = NEW.id) = 0;
    UPDATE notification_rewrites SET seq = NEW.seq WHERE id = NEW.id;
END;
";

/// 3: retention finds expired rows through an index instead of reading the whole table each
/// minute. `created_at` only grows as Belfry inserts, so each commit appends to the index's
/// last page: one page per commit, not one per row as the indexes keyed by user.
const V3_RETENTION: &str = "
CREATE INDEX IF NOT EXISTS notifications_created ON notifications (created_at);
";

/// 4: a notification's `type` and `data` (a JSON object, as text), for a page's own rendering.
const V4_TYPE_AND_DATA: &str = "
ALTER TABLE notifications ADD COLUMN type TEXT;
ALTER TABLE notifications ADD COLUMN data TEXT;
";

/// 5: the inbox's states (seen, archived, snoozed), and their changes in the change log,
/// whose `kind` loses its CHECK (a table rebuild, the triggers that write it made again around
/// it): a kind a later version adds then needs no rebuild, and a kind this version does not
/// know is skipped when read (`row_to_change`).
const V5_STATES: &str = "
ALTER TABLE notifications ADD COLUMN seen_at INTEGER;
ALTER TABLE notifications ADD COLUMN archived_at INTEGER;
ALTER TABLE notifications ADD COLUMN snoozed_until INTEGER;
ALTER TABLE notifications ADD COLUMN woke_at INTEGER;
CREATE INDEX IF NOT EXISTS notifications_snoozed ON notifications (snoozed_until)
    WHERE snoozed_until IS NOT NULL;

DROP TRIGGER IF EXISTS notification_read;
DROP TRIGGER IF EXISTS notification_removed;
DROP TRIGGER IF EXISTS notification_rewritten;
CREATE TABLE notification_changes_v5 (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    after   INTEGER NOT NULL
);
INSERT INTO notification_changes_v5 (seq, user_id, kind, id, after)
    SELECT seq, user_id, kind, id, after FROM notification_changes;
DROP TABLE notification_changes;
ALTER TABLE notification_changes_v5 RENAME TO notification_changes;
CREATE INDEX notification_changes_replay ON notification_changes (user_id, after);

-- `after`: as in migration 1.
CREATE TRIGGER notification_read AFTER UPDATE OF read_at ON notifications
    WHEN OLD.read_at IS NULL AND NEW.read_at IS NOT NULL
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    VALUES (NEW.user_id, 'read', NEW.id, (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'notifications'));
END;
CREATE TRIGGER notification_unread AFTER UPDATE OF read_at ON notifications
    WHEN OLD.read_at IS NOT NULL AND NEW.read_at IS NULL
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    VALUES (NEW.user_id, 'unread', NEW.id, (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'notifications'));
END;
CREATE TRIGGER notification_seen AFTER UPDATE OF seen_at ON notifications
    WHEN OLD.seen_at IS NULL AND NEW.seen_at IS NOT NULL
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    VALUES (NEW.user_id, 'seen', NEW.id, (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'notifications'));
END;
CREATE TRIGGER notification_archived AFTER UPDATE OF archived_at ON notifications
    WHEN OLD.archived_at IS NULL AND NEW.archived_at IS NOT NULL
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    VALUES (NEW.user_id, 'archived', NEW.id, (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'notifications'));
END;
CREATE TRIGGER notification_unarchived AFTER UPDATE OF archived_at ON notifications
    WHEN OLD.archived_at IS NOT NULL AND NEW.archived_at IS NULL
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    VALUES (NEW.user_id, 'unarchived', NEW.id, (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'notifications'));
END;
CREATE TRIGGER notification_snoozed AFTER UPDATE OF snoozed_until ON notifications
    WHEN NEW.snoozed_until IS NOT NULL AND NEW.snoozed_until IS NOT OLD.snoozed_until
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    VALUES (NEW.user_id, 'snoozed', NEW.id, (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'notifications'));
END;
CREATE TRIGGER notification_unsnoozed AFTER UPDATE OF snoozed_until ON notifications
    WHEN OLD.snoozed_until IS NOT NULL AND NEW.snoozed_until IS NULL
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    VALUES (NEW.user_id, 'unsnoozed', NEW.id, (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'notifications'));
END;
CREATE TRIGGER notification_removed AFTER DELETE ON notifications
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    VALUES (OLD.user_id, 'removed', OLD.id, (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'notifications'));
END;
-- As in migration 2.
CREATE TRIGGER notification_rewritten AFTER INSERT ON notifications
    WHEN EXISTS (SELECT 1 FROM notification_rewrites WHERE id = NEW.id AND seq IS NULL)
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    SELECT NEW.user_id, 'read', NEW.id, NEW.seq
    WHERE NEW.read_at IS NOT NULL
      AND (SELECT was_read FROM notification_rewrites WHERE id = NEW.id) = 0;
    UPDATE notification_rewrites SET seq = NEW.seq WHERE id = NEW.id;
END;
";

/// 6: a notification's category (the bell's tabs list and count by it) and its actor.
const V6_CATEGORY_AND_ACTOR: &str = "
ALTER TABLE notifications ADD COLUMN category TEXT;
ALTER TABLE notifications ADD COLUMN actor_name TEXT;
ALTER TABLE notifications ADD COLUMN actor_avatar TEXT;
CREATE INDEX IF NOT EXISTS notifications_category ON notifications (user_id, category, seq)
    WHERE category IS NOT NULL;
";

/// 7: a notification's actions (JSON text), and the named one the page confirmed done.
const V7_ACTIONS: &str = "
ALTER TABLE notifications ADD COLUMN actions TEXT;
ALTER TABLE notifications ADD COLUMN completed_action TEXT;
ALTER TABLE notifications ADD COLUMN completed_at INTEGER;
CREATE TRIGGER notification_completed AFTER UPDATE OF completed_at ON notifications
    WHEN OLD.completed_at IS NULL AND NEW.completed_at IS NOT NULL
BEGIN
    INSERT INTO notification_changes (user_id, kind, id, after)
    VALUES (NEW.user_id, 'completed', NEW.id, (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'notifications'));
END;
";

/// 8: a notification's group, which changes with it and counts once.
const V8_GROUPS: &str = "
ALTER TABLE notifications ADD COLUMN group_key TEXT;
CREATE INDEX IF NOT EXISTS notifications_group ON notifications (user_id, group_key)
    WHERE group_key IS NOT NULL;
";

/// 9: one index keyed by user instead of three. Each index keyed by user costs a page written
/// per new row (a batch's rows go to different users, so to different pages of it): three
/// such indexes were most of the ~16 KiB of WAL per row the profile showed at batch 100. The
/// one left serves the list and replay (`user_id, seq`) and, holding the states, the badge
/// counts (a count reads the user's index entries and only the unread rows). What the others
/// served: `(user_id, id)`, a list cursor that was deleted (rare: it now reads the user's
/// entries); the partial unread index, the counts.
const V9_ONE_USER_INDEX: &str = "
DROP INDEX IF EXISTS notifications_by_user;
DROP INDEX IF EXISTS notifications_unread;
DROP INDEX IF EXISTS notifications_replay;
CREATE INDEX notifications_of_user ON notifications
    (user_id, seq, read_at, archived_at, snoozed_until, seen_at);
";

/// Each connection's page cache, in KiB (SQLite's default is 2,000).
const PAGE_CACHE_KIB: i64 = 32 * 1024;

/// The badge counts of one user, `(unread, unseen)`: unread notifications in the inbox, and
/// those of them not seen (a read one is seen); of category `?2` if it is not NULL. A group
/// counts once. Through `notifications_of_user`, whose entries hold the states: only the
/// unread rows in the inbox are read from the table.
pub const COUNTS: &str = "SELECT COUNT(DISTINCT COALESCE('g:' || group_key, 'n:' || id)),
    COUNT(DISTINCT CASE WHEN seen_at IS NULL THEN COALESCE('g:' || group_key, 'n:' || id) END)
    FROM notifications
    WHERE user_id = ?1 AND read_at IS NULL AND archived_at IS NULL AND snoozed_until IS NULL
      AND (?2 IS NULL OR category = ?2)";

/// Reads [`COUNTS`]' row.
pub fn row_to_counts(row: &rusqlite::Row<'_>) -> rusqlite::Result<Counts> {
    Ok(Counts {
        unread_count: row.get(0)?,
        unseen_count: row.get(1)?,
    })
}

/// The condition a list of `status` puts on the rows.
pub fn status_condition(status: Status) -> &'static str {
    const INBOX: &str = "archived_at IS NULL AND snoozed_until IS NULL";
    match status {
        Status::Inbox => INBOX,
        Status::Unread => "read_at IS NULL AND archived_at IS NULL AND snoozed_until IS NULL",
        Status::Unseen => {
            "read_at IS NULL AND seen_at IS NULL AND archived_at IS NULL AND snoozed_until IS NULL"
        }
        Status::Archived => "archived_at IS NOT NULL",
        Status::Snoozed => "snoozed_until IS NOT NULL",
        Status::All => "1",
    }
}

/// Leaves out rows that rewrote an existing notification (see the schema): never new again.
/// `?N` is the `seq` the query reads after.
pub fn not_a_rewrite(after: &str) -> String {
    format!("seq NOT IN (SELECT seq FROM notification_rewrites WHERE seq > {after})")
}

/// The columns a [`Notification`] is read from (by name, in any order).
pub const COLUMNS: &str =
    "id, user_id, message, link, read_at, created_at, type, data, seen_at, archived_at, snoozed_until, woke_at, category, actor_name, actor_avatar, actions, completed_action, completed_at, group_key";

/// Opens (creating if need be) the file and its schema, in WAL mode with full sync.
pub fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    let conn = Connection::open(path).map_err(store_error)?;
    // WAL lets readers (the feed's connection, another `belfry` process) run beside the
    // writer; FULL sync because a notification once acknowledged must survive a power cut.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(store_error)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(store_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(store_error)?;
    // The rows of a publish go to random users, so each dirties a leaf page of every index:
    // a larger page cache keeps the indexes in memory instead of reading them back from the
    // file. (The WAL's checkpoints: `checkpoint.rs`.)
    conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)
        .map_err(store_error)?;
    let mut conn = conn;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Brings the file's schema up to this version's: every migration past its `user_version`, in
/// one immediate transaction (so two processes opening one file at once apply each once). A
/// file from a newer Belfry is refused rather than written in a shape it does not expect.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(store_error)?;
    let version: usize = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(store_error)?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Other(format!(
            "this database file has schema version {version}, written by a newer Belfry; this \
             one knows versions up to {}",
            MIGRATIONS.len()
        )));
    }
    for migration in &MIGRATIONS[version..] {
        tx.execute_batch(migration).map_err(store_error)?;
    }
    if version < MIGRATIONS.len() {
        tx.pragma_update(None, "user_version", MIGRATIONS.len())
            .map_err(store_error)?;
    }
    tx.commit().map_err(store_error)
}

/// The schema version this Belfry writes.
pub fn schema_version() -> usize {
    MIGRATIONS.len()
}

fn millis_to_rfc3339(millis: i64) -> String {
    rfc3339(DateTime::<Utc>::from_timestamp_millis(millis).unwrap_or_default())
}

/// Reads a notification from a row with the [`COLUMNS`], by their names. A row another
/// program wrote with an `id` that is not one, or a date that is not a number, is an error here
/// (and skipped by the callers, see [`readable`]).
pub fn row_to_notification(row: &rusqlite::Row<'_>) -> rusqlite::Result<Notification> {
    let id: String = row.get("id")?;
    NotificationId::parse(&id).map_err(|msg| {
        let at = row.as_ref().column_index("id").unwrap_or_default();
        rusqlite::Error::FromSqlConversionFailure(at, rusqlite::types::Type::Text, msg.into())
    })?;
    let at = |column: &str| -> rusqlite::Result<Option<String>> {
        Ok(row.get::<_, Option<i64>>(column)?.map(millis_to_rfc3339))
    };
    let read_at = at("read_at")?;
    Ok(Notification {
        id,
        user_id: row.get("user_id")?,
        message: row.get("message")?,
        link: row.get("link")?,
        created_at: millis_to_rfc3339(row.get("created_at")?),
        kind: row.get("type")?,
        data: data_of(row.get("data")?),
        // A read notification is seen.
        seen_at: at("seen_at")?.or_else(|| read_at.clone()),
        archived_at: at("archived_at")?,
        snoozed_until: at("snoozed_until")?,
        woke_at: at("woke_at")?,
        category: category_of(row.get::<_, Option<String>>("category")?.as_deref()),
        actor: actor_of(
            row.get::<_, Option<String>>("actor_name")?.as_deref(),
            row.get::<_, Option<String>>("actor_avatar")?.as_deref(),
        ),
        actions: actions_of(
            row.get::<_, Option<String>>("actions")?
                .and_then(|text| serde_json::from_str(&text).ok())
                .as_ref(),
        ),
        completed_action: row.get("completed_action")?,
        group_key: group_key_of(row.get::<_, Option<String>>("group_key")?.as_deref()),
        completed_at: at("completed_at")?,
        read_at,
    })
}

/// `data` as stored: a JSON object. Text another program wrote that is not one is left out
/// (warned and counted): the notification itself is still served.
fn data_of(text: Option<String>) -> Option<serde_json::Value> {
    let value = serde_json::from_str(&text?)
        .ok()
        .filter(serde_json::Value::is_object);
    if value.is_none() {
        metrics::skipped("data");
        tracing::warn!("leaving out a notification's data: it is not a JSON object");
    }
    value
}

/// Reads `seq` and the [`COLUMNS`]: a notification and its position.
pub fn row_with_position(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Position, Notification)> {
    let seq: i64 = row.get("seq")?;
    let notification = row_to_notification(row)?;
    let id = NotificationId::parse(&notification.id).map_err(|msg| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, msg.into())
    })?;
    Ok((Position { seq, id }, notification))
}

/// The rows that read as notifications. A row that does not (another program wrote it in a
/// shape Belfry cannot serve) is skipped with a warning and counted, so one bad row costs only
/// itself: the list serves the rest, the feed carries on. Any other error is the query's.
pub fn readable<T>(rows: impl Iterator<Item = rusqlite::Result<T>>) -> rusqlite::Result<Vec<T>> {
    let mut out = Vec::new();
    for row in rows {
        match row {
            Ok(row) => out.push(row),
            Err(err) if is_unreadable(&err) => {
                metrics::skipped("row");
                tracing::warn!(%err, "skipping a notifications row Belfry cannot read");
            }
            Err(err) => return Err(err),
        }
    }
    Ok(out)
}

fn is_unreadable(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
    )
}

/// A row of the change log: `(seq, user_id, kind, id)`.
pub struct ChangeRow {
    pub seq: i64,
    pub user_id: String,
    pub kind: ChangeKind,
    pub id: String,
}

pub const CHANGE_COLUMNS: &str = "seq, user_id, kind, id";

/// A change log row; a `kind` this version does not know is an error (skipped by the callers).
pub fn row_to_change(row: &rusqlite::Row<'_>) -> rusqlite::Result<ChangeRow> {
    let kind: String = row.get("kind")?;
    let kind = ChangeKind::parse(&kind).ok_or_else(|| {
        let at = row.as_ref().column_index("kind").unwrap_or_default();
        let msg = format!("no such change kind: {kind:?}");
        rusqlite::Error::FromSqlConversionFailure(at, rusqlite::types::Type::Text, msg.into())
    })?;
    Ok(ChangeRow {
        seq: row.get("seq")?,
        user_id: row.get("user_id")?,
        kind,
        id: row.get("id")?,
    })
}
