//! Writes another program makes straight in the database (the host application, the sqlite3
//! shell), bypassing Belfry.

use belfry::config::DatabaseUrl;
use belfry::model::NotificationId;

/// Sets `read_at` on `ids` as another program would: one update of many rows or documents.
pub async fn set_read(database: &str, ids: &[NotificationId]) {
    match database.parse::<DatabaseUrl>().unwrap() {
        DatabaseUrl::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let list: Vec<String> = ids.iter().map(|id| format!("'{}'", id.to_hex())).collect();
            let sql = format!(
                "UPDATE notifications SET read_at = 1 WHERE id IN ({})",
                list.join(",")
            );
            conn.execute(&sql, []).unwrap();
        }
        DatabaseUrl::Mongo(uri) => {
            let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
            let db = client.default_database().unwrap();
            let oids: Vec<_> = ids.iter().map(|id| id.object_id()).collect();
            db.collection::<mongodb::bson::Document>("notifications")
                .update_many(
                    mongodb::bson::doc! { "_id": { "$in": oids } },
                    mongodb::bson::doc! { "$set": { "read_at": mongodb::bson::DateTime::now() } },
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
            conn.execute("DELETE FROM notifications WHERE id = ?1", [id.to_hex()])
                .unwrap();
        }
        DatabaseUrl::Mongo(uri) => {
            let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
            let db = client.default_database().unwrap();
            db.collection::<mongodb::bson::Document>("notifications")
                .delete_one(mongodb::bson::doc! { "_id": id.object_id() })
                .await
                .unwrap();
        }
    }
}
