//! Writes another program makes straight in the database (the host application, the sqlite3
//! shell), bypassing Belfry.

use belfry::config::DatabaseUrl;
use belfry::model::NotificationId;
use mongodb::bson::{doc, DateTime, Document};

/// A client of the host's own, on the URI's database, and its notifications collection.
pub async fn mongo(uri: &str) -> (mongodb::Client, mongodb::Collection<Document>) {
    let client = mongodb::Client::with_uri_str(uri)
        .await
        .expect("a MongoDB client");
    let collection = client
        .default_database()
        .expect("the URI names a database")
        .collection::<Document>("notifications");
    (client, collection)
}

/// Sets `read_at` on `ids` as another program would: one update of many rows or documents.
pub async fn set_read(database: &str, ids: &[NotificationId]) {
    match database.parse::<DatabaseUrl>().unwrap() {
        DatabaseUrl::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let list: Vec<String> = ids.iter().map(|id| format!("'{}'", id.as_str())).collect();
            let sql = format!(
                "UPDATE notifications SET read_at = 1 WHERE id IN ({})",
                list.join(",")
            );
            conn.execute(&sql, []).unwrap();
        }
        DatabaseUrl::Mongo(uri) => {
            let (_client, collection) = mongo(&uri).await;
            let oids: Vec<_> = ids.iter().map(|id| id.object_id()).collect();
            collection
                .update_many(
                    doc! { "_id": { "$in": oids } },
                    doc! { "$set": { "read_at": DateTime::now() } },
                )
                .await
                .unwrap();
        }
    }
}

/// Deletes one as another program would.
pub async fn delete(database: &str, id: NotificationId) {
    match database.parse::<DatabaseUrl>().unwrap() {
        DatabaseUrl::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute("DELETE FROM notifications WHERE id = ?1", [id.as_str()])
                .unwrap();
        }
        DatabaseUrl::Mongo(uri) => {
            let (_client, collection) = mongo(&uri).await;
            collection
                .delete_one(doc! { "_id": id.object_id() })
                .await
                .unwrap();
        }
    }
}

/// How the host writes a state field.
#[derive(Clone, Copy, Debug)]
pub enum HostWrite {
    /// To now.
    Now,
    /// To `null` (Laravel's `markAsUnread()`: `read_at` set to null).
    Null,
    /// Removed (`$unset`); in SQLite, NULL as well.
    Unset,
}

/// Writes a state field (`read_at`, `seen_at`, `archived_at`, `snoozed_until`) of one
/// notification as the host application would: an `UPDATE` of the column, a `$set` or an
/// `$unset` of the field.
pub async fn set_state(database: &str, id: &NotificationId, field: &str, write: HostWrite) {
    match database.parse::<DatabaseUrl>().unwrap() {
        DatabaseUrl::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let value =
                matches!(write, HostWrite::Now).then(|| chrono::Utc::now().timestamp_millis());
            let sql = format!("UPDATE notifications SET {field} = ?1 WHERE id = ?2");
            conn.execute(&sql, rusqlite::params![value, id.as_str()])
                .unwrap();
        }
        DatabaseUrl::Mongo(uri) => {
            let (_client, collection) = mongo(&uri).await;
            let update = match write {
                HostWrite::Now => doc! { "$set": { field: DateTime::now() } },
                HostWrite::Null => doc! { "$set": { field: null } },
                HostWrite::Unset => doc! { "$unset": { field: "" } },
            };
            collection
                .update_one(doc! { "_id": id.object_id() }, update)
                .await
                .unwrap();
        }
    }
}
