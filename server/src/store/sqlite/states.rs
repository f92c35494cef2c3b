//! The inbox's writes on SQLite: read and unread, seen, archived, snoozed, deleted, and the
//! waker that ends snoozes. Each is one `UPDATE` (or `DELETE`) of the rows it changes something
//! of, so a row that is already in the state is left alone. The schema's triggers log every
//! change (`notification_changes`), whoever made it: the feed reports it to every tab and a
//! resume replays it from there, as for a write by another program.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, TransactionBehavior};

use super::schema::{readable, row_to_notification, COLUMNS};
use crate::model::{ActionName, NotificationId};
use crate::store::{Action, Completion, Selection, Updated};

/// Applies `action` to `selection` of `user`'s rows in one immediate transaction. Ids that are
/// not all the user's change nothing (`found` says how many are); a named one that has a
/// group key changes with every notification of its group.
pub fn update(
    conn: &mut Connection,
    user: &str,
    selection: &Selection,
    action: Action,
) -> rusqlite::Result<Updated> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut values: Vec<Value> = vec![user.to_owned().into()];
    let mut selected = String::from("user_id = ?1");
    match selection {
        Selection::Ids(ids) => {
            let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
            values.push(serde_json::to_string(&ids).unwrap_or_default().into());
            selected.push_str(" AND id IN (SELECT value FROM json_each(?2))");
        }
        Selection::All => {}
        Selection::AllRead => selected.push_str(" AND read_at IS NOT NULL"),
        Selection::InCategory(category) => {
            values.push(category.as_str().to_owned().into());
            selected.push_str(" AND category = ?2");
        }
    }
    let found: u64 = tx.query_row(
        &format!("SELECT COUNT(*) FROM notifications WHERE {selected}"),
        params_from_iter(&values),
        |row| row.get(0),
    )?;
    if found < selection.distinct() {
        return Ok(Updated { found, changed: 0 });
    }
    if let Selection::Ids(_) = selection {
        // A grouped notification changes with its group.
        selected = "user_id = ?1 AND (id IN (SELECT value FROM json_each(?2))
            OR group_key IN (SELECT group_key FROM notifications WHERE user_id = ?1
                AND id IN (SELECT value FROM json_each(?2)) AND group_key IS NOT NULL))"
            .to_owned();
    }
    let now = chrono::Utc::now().timestamp_millis();
    let value = format!("?{}", values.len() + 1);
    let (set, unless) = match action {
        Action::Read => (format!("read_at = {value}"), "read_at IS NULL".into()),
        Action::Unread => ("read_at = NULL".into(), "read_at IS NOT NULL".into()),
        Action::Seen => (format!("seen_at = {value}"), "seen_at IS NULL".into()),
        Action::Archive => (
            format!("archived_at = {value}"),
            "archived_at IS NULL".into(),
        ),
        Action::Unarchive => (
            "archived_at = NULL".into(),
            "archived_at IS NOT NULL".into(),
        ),
        // (`IS NOT`: also where it is NULL.)
        Action::Snooze(_) => (
            format!("snoozed_until = {value}"),
            format!("snoozed_until IS NOT {value}"),
        ),
        Action::Unsnooze => (
            "snoozed_until = NULL".into(),
            "snoozed_until IS NOT NULL".into(),
        ),
        Action::Delete => (String::new(), String::new()),
    };
    match action {
        Action::Snooze(until) => values.push(until.timestamp_millis().into()),
        Action::Read | Action::Seen | Action::Archive => values.push(now.into()),
        _ => {}
    }
    let sql = match action {
        Action::Delete => format!("DELETE FROM notifications WHERE {selected}"),
        _ => format!("UPDATE notifications SET {set} WHERE {selected} AND {unless}"),
    };
    let changed = tx.execute(&sql, params_from_iter(&values))? as u64;
    tx.commit()?;
    Ok(Updated { found, changed })
}

/// Records the action `name` of `user`'s notification `id` done, in one immediate transaction
/// (so of two confirmations one records it).
pub fn complete(
    conn: &mut Connection,
    user: &str,
    id: &NotificationId,
    name: &ActionName,
) -> rusqlite::Result<Completion> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM notifications WHERE id = ?1 AND user_id = ?2"
        ))?;
        let rows = readable(stmt.query_map(params![id.as_str(), user], row_to_notification)?)?;
        rows.into_iter().next()
    };
    if let Some(judged) = Completion::judge(found.as_ref(), name) {
        return Ok(judged);
    }
    tx.execute(
        "UPDATE notifications SET completed_action = ?1, completed_at = ?2
         WHERE id = ?3 AND user_id = ?4 AND completed_at IS NULL",
        params![
            name.as_str(),
            chrono::Utc::now().timestamp_millis(),
            id.as_str(),
            user
        ],
    )?;
    tx.commit()?;
    Ok(Completion::Completed)
}

/// Ends every snooze due at `now` (milliseconds since 1970): unread and unseen again, woken
/// at `now`. One
/// `UPDATE`, so two processes on one file end each snooze once.
pub fn wake(conn: &mut Connection, now: i64) -> rusqlite::Result<u64> {
    let woken = conn.execute(
        "UPDATE notifications
         SET snoozed_until = NULL, read_at = NULL, seen_at = NULL, woke_at = ?1
         WHERE snoozed_until <= ?1",
        [now],
    )?;
    Ok(woken as u64)
}
