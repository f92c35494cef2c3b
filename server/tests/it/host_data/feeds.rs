//! Feeds on the host's collection as restores, migrations and ODMs leave it.

use std::time::Duration;

use belfry::config::DatabaseUrl;
use mongodb::bson::{doc, Bson, DateTime};
use serde_json::json;

use super::{host, list_of, metric, mongo_uri, next_event, oid_made, post_as};
use crate::support::live::{ServerProcess, SseClient, TestServer};

const YEAR: u32 = 365 * 24 * 3600;

/// What ends a collection's change stream, done as the host's tools do it.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// `db.notifications.drop()`: `mongorestore --drop`, `php artisan migrate:fresh`.
    Drop,
    /// `renameCollection` of it to another name.
    Rename,
    /// `db.dropDatabase()`.
    DropDatabase,
}

/// With user 7's stream open, the collection ends and is written again: the new document is
/// pushed to the open stream, to a stream opened after, and after a restart; meanwhile the
/// instance says it is healthy and counts the invalidation (change streams).
async fn live_delivery_survives(database: String, ending: Ending) {
    let uri = mongo_uri(&database);
    let (client, collection) = host(&uri).await;
    let server = TestServer::start(&database).await;
    let mut tab = SseClient::open(&server.url, "7").await;
    collection
        .insert_one(doc! { "user_id": 7, "message": "a" })
        .await
        .unwrap();
    assert_eq!(tab.next_notification().await.message, "a");

    let name = super::database_name(&uri);
    match ending {
        Ending::Drop => collection.drop().await.unwrap(),
        Ending::Rename => {
            let rename = doc! {
                "renameCollection": format!("{name}.notifications"),
                "to": format!("{name}.archived"),
            };
            client.database("admin").run_command(rename).await.unwrap();
        }
        Ending::DropDatabase => client.database(&name).drop().await.unwrap(),
    }
    collection
        .insert_one(doc! { "user_id": 7, "message": "b" })
        .await
        .unwrap();
    assert_eq!(tab.next_notification().await.message, "b", "{ending:?}");

    let mut later = SseClient::open(&server.url, "7").await;
    collection
        .insert_one(doc! { "user_id": 7, "message": "c" })
        .await
        .unwrap();
    assert_eq!(tab.next_notification().await.message, "c");
    assert_eq!(later.next_notification().await.message, "c");
    let (status, health) = server.get("/healthz").await;
    assert_eq!(
        (status.as_u16(), health.contains("\"following\"")),
        (200, true),
        "{health}"
    );
    // (A change stream is invalidated; a standalone server's polling feed has nothing to
    // invalidate, and goes on as it did.)
    let (_, metrics) = server.get("/metrics").await;
    let invalidations = metric(&metrics, "belfry_feed_invalidations_total");
    match super::is_standalone(&database) {
        true => assert_eq!(invalidations, 0.0, "{metrics}"),
        false => assert!(invalidations >= 1.0, "{metrics}"),
    }

    // A restart goes on after the invalidation (its saved point), not from before it.
    server.stop().await.unwrap();
    let server = TestServer::start(&database).await;
    let mut after_restart = SseClient::open(&server.url, "7").await;
    collection
        .insert_one(doc! { "user_id": 7, "message": "d" })
        .await
        .unwrap();
    assert_eq!(after_restart.next_notification().await.message, "d");
}

async fn a_dropped_collection_is_followed(database: String) {
    live_delivery_survives(database, Ending::Drop).await;
}

async fn a_renamed_collection_is_followed(database: String) {
    live_delivery_survives(database, Ending::Rename).await;
}

async fn a_dropped_database_is_followed(database: String) {
    live_delivery_survives(database, Ending::DropDatabase).await;
}

/// Belfry's first start on a collection holding a year of notifications (read and unread, as a
/// restore leaves them): nothing of it is pushed, nothing of it is written; it is all listed.
async fn a_first_start_pushes_nothing_old(database: String) {
    let uri = mongo_uri(&database);
    let (_client, collection) = host(&uri).await;
    let year_ago =
        DateTime::from_millis(DateTime::now().timestamp_millis() - i64::from(YEAR) * 1000);
    let history: Vec<_> = (0..30)
        .map(|i| {
            let read_at = if i % 2 == 0 {
                Bson::DateTime(year_ago)
            } else {
                Bson::Null
            };
            doc! {
                "_id": oid_made(YEAR - i), "user_id": "7", "message": format!("old {i}"),
                "read_at": read_at, "created_at": year_ago, "updated_at": year_ago,
            }
        })
        .collect();
    collection.insert_many(history).await.unwrap();

    let server = TestServer::start(&database).await;
    let mut tab = SseClient::open(&server.url, "7").await;
    let now = server.publish_to("7", "now").await;
    assert_eq!(tab.next_notification().await, now, "nothing old is pushed");
    let written = collection
        .count_documents(doc! { "message": { "$ne": "now" }, "belfry_pos": { "$exists": true } })
        .await
        .unwrap();
    assert_eq!(written, 0, "the history is not rewritten");
    assert_eq!(list_of(&server, "7").await.len(), 31);
}

/// Documents with string (UUID) or number `_id`s, as Laravel and other ODMs write them, are fed
/// like any other, once: 500 of them for other users, then the user's own, then a publish.
async fn ids_of_any_type_are_fed_once(database: String) {
    let uri = mongo_uri(&database);
    let (_client, collection) = host(&uri).await;
    let server = TestServer::start(&database).await;
    let mut tab = SseClient::open(&server.url, "s").await;
    let others: Vec<_> = (0..500)
        .map(|i| {
            let id = format!("9f0c3a52-5d1e-4c1b-9a43-{i:012x}");
            doc! { "_id": id, "user_id": format!("o{}", i % 10), "message": "x", "created_at": DateTime::now() }
        })
        .collect();
    collection.insert_many(others).await.unwrap();
    collection
        .insert_many([
            doc! { "_id": "0d9b1c7e-8a53-4f3e-b1f2-2c5d6e7f8a9b", "user_id": "s", "message": "uuid", "created_at": DateTime::now() },
            doc! { "_id": 41_i64, "user_id": "s", "message": "long", "created_at": DateTime::now() },
            doc! { "_id": 42, "user_id": "s", "message": "int", "created_at": DateTime::now() },
        ])
        .await
        .unwrap();
    let published = server.publish_to("s", "published").await;
    let mut got = Vec::new();
    for _ in 0..4 {
        let n = tab.next_notification().await;
        got.push((n.id, n.message));
    }
    got.sort();
    let mut want = vec![
        (
            "0d9b1c7e-8a53-4f3e-b1f2-2c5d6e7f8a9b".to_owned(),
            "uuid".to_owned(),
        ),
        ("41".to_owned(), "long".to_owned()),
        ("42".to_owned(), "int".to_owned()),
        (published.id, "published".to_owned()),
    ];
    want.sort();
    assert_eq!(got, want);

    // Each got one position, and keeps it: a later publish stamps nothing of them again.
    let positions = || async {
        let mut found = collection
            .find(doc! { "message": "x" })
            .projection(doc! { "belfry_pos": 1 })
            .await
            .unwrap();
        let mut positions = Vec::new();
        while found.advance().await.unwrap() {
            let document = found.deserialize_current().unwrap();
            positions.push(document.get_i64("belfry_pos").expect("fed, so stamped"));
        }
        positions
    };
    let before = positions().await;
    assert_eq!(before.len(), 500);
    let again = server.publish_to("s", "again").await;
    assert_eq!(tab.next_notification().await, again);
    assert_eq!(positions().await, before);
    // The API takes them back: mark-read by the id the stream gave.
    assert_eq!(
        post_as(&server.url, "s", "/notifications/41/read").await,
        204
    );
    let uuid = "/notifications/0d9b1c7e-8a53-4f3e-b1f2-2c5d6e7f8a9b/read";
    assert_eq!(post_as(&server.url, "s", uuid).await, 204);
}

/// Rewrites a notification whole, as an ODM's `save()` (`replaceOne`) or `REPLACE INTO` does:
/// Belfry's own fields are gone, the id stays.
async fn rewrite(database: &str, id: &str, user: &str, message: &str) {
    match database.parse::<DatabaseUrl>().unwrap() {
        DatabaseUrl::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute(
                "REPLACE INTO notifications (id, user_id, message, read_at, created_at)
                 VALUES (?1, ?2, ?3, 1, 0)",
                [id, user, message],
            )
            .unwrap();
        }
        DatabaseUrl::Mongo(uri) => {
            let (_client, collection) = host(&uri).await;
            let key = match mongodb::bson::oid::ObjectId::parse_str(id) {
                Ok(oid) => Bson::ObjectId(oid),
                Err(_) => Bson::from(id),
            };
            // As an ODM's `save()`: the fields it knows, as they were, and now read.
            let found = collection
                .find_one(doc! { "_id": &key })
                .await
                .unwrap()
                .unwrap();
            let mut whole =
                doc! { "user_id": user, "message": message, "read_at": DateTime::now() };
            if let Some(created_at) = found.get("created_at") {
                whole.insert("created_at", created_at.clone());
            }
            let replaced = collection
                .replace_one(doc! { "_id": key }, whole)
                .await
                .unwrap();
            assert_eq!(replaced.matched_count, 1);
        }
    }
}

/// A notification is new once: rewritten whole, it is not pushed again (a recent one, and on
/// MongoDB a year-old one too).
async fn a_rewrite_is_not_new(database: String) {
    let old_id = oid_made(YEAR);
    if let DatabaseUrl::Mongo(uri) = database.parse().unwrap() {
        let (_client, collection) = host(&uri).await;
        collection
            .insert_one(doc! { "_id": old_id, "user_id": "7", "message": "old" })
            .await
            .unwrap();
    }
    let server = TestServer::start(&database).await;
    let mut tab = SseClient::open(&server.url, "7").await;
    let a = server.publish_to("7", "a").await;
    assert_eq!(tab.next_notification().await, a);
    rewrite(&database, &a.id, "7", "a").await;
    if let DatabaseUrl::Mongo(uri) = database.parse().unwrap() {
        rewrite(&database, &old_id.to_hex(), "7", "old").await;
        // An update that dates it now does not make it new either (its ObjectId says when).
        let (_client, collection) = host(&uri).await;
        let now = doc! { "$set": { "created_at": DateTime::now() } };
        collection
            .update_one(doc! { "_id": old_id }, now)
            .await
            .unwrap();
    }
    let b = server.publish_to("7", "b").await;
    // (A rewrite that reads it may tell the tabs so; it never brings it back as new.)
    loop {
        let (name, data) = next_event(&mut tab).await;
        if name == "new-notification" {
            assert_eq!(data["_id"], b.id.as_str(), "{data}");
            break;
        }
        assert_eq!(name, "notification-read", "{data}");
    }
}

/// A read-all, then a publish at once, five times: the stream never says that the new one is
/// read, and `all: true` only ever comes with nothing unread.
async fn read_all_never_covers_a_newer_notification(database: String) {
    let server = TestServer::start(&database).await;
    let mut tab = SseClient::open(&server.url, "7").await;
    for round in 0..5 {
        let before = server.publish_to("7", &format!("before {round}")).await;
        assert_eq!(tab.next_notification().await, before);
        assert_eq!(
            post_as(&server.url, "7", "/notifications/read-all").await,
            204
        );
        let newer = server.publish_to("7", &format!("newer {round}")).await;
        let mut read_before = false;
        let mut newer_seen = false;
        while !(read_before && newer_seen) {
            let (name, data) = next_event(&mut tab).await;
            match name.as_str() {
                "new-notification" => {
                    assert_eq!(data["_id"], newer.id.as_str());
                    newer_seen = true;
                }
                "notification-read" => {
                    if data["all"] == json!(true) {
                        assert_eq!(data["unread_count"], 0, "{data}");
                        assert!(!newer_seen, "all read after the newer one came: {data}");
                    } else {
                        let ids = data["ids"].as_array().expect("ids");
                        assert!(!ids.contains(&json!(newer.id)), "{data}");
                    }
                    read_before = true;
                }
                other => panic!("unexpected {other}: {data}"),
            }
        }
        let listed = list_of(&server, "7").await;
        assert_eq!(listed[0].id, newer.id);
        assert_eq!(listed[0].read_at, None, "the newer one is unread");
    }
}

/// A collection whose validator refuses unknown fields refuses Belfry's position stamp: that
/// costs only the documents concerned (counted), never the feed. With change streams they are
/// still pushed; standalone, where a position comes only from the stamp, they cannot be.
async fn a_document_that_refuses_its_stamp_stops_nobody(database: String) {
    let uri = mongo_uri(&database);
    let (client, _) = host(&uri).await;
    let fields = [
        "_id",
        "user_id",
        "message",
        "link",
        "read_at",
        "created_at",
        "updated_at",
    ];
    let properties: mongodb::bson::Document = fields
        .iter()
        .map(|f| (f.to_string(), Bson::from(doc! {})))
        .collect();
    let validator =
        doc! { "$jsonSchema": { "additionalProperties": false, "properties": properties } };
    client
        .database(&super::database_name(&uri))
        .create_collection("notifications")
        .validator(validator)
        .await
        .unwrap();
    let server = TestServer::start(&database).await;
    let mut tab = SseClient::open(&server.url, "7").await;
    let (_, metrics) = server.get("/metrics").await;
    let skipped = metric(&metrics, "belfry_skipped_records_total{reason=\"stamp\"}");
    let one = server.publish_to("7", "one").await;
    let two = server.publish_to("7", "two").await;
    if !super::is_standalone(&database) {
        assert_eq!(tab.next_notification().await, one);
        assert_eq!(tab.next_notification().await, two);
    }
    server
        .wait_for("/metrics", |_, text| {
            metric(text, "belfry_skipped_records_total{reason=\"stamp\"}") >= skipped + 2.0
        })
        .await;
    let (status, health) = server.get("/healthz").await;
    assert_eq!(
        (status.as_u16(), health.contains("\"following\"")),
        (200, true),
        "{health}"
    );
    assert_eq!(list_of(&server, "7").await.len(), 2);
}

/// A copy of a notification (Eloquent's `replicate()` copies every attribute, Belfry's stamp
/// too) is a new notification: pushed, and given a position of its own.
async fn a_copied_document_is_new(database: String) {
    let (_client, collection) = host(&mongo_uri(&database)).await;
    let server = TestServer::start(&database).await;
    let mut tab = SseClient::open(&server.url, "7").await;
    let original = server.publish_to("7", "original").await;
    assert_eq!(tab.next_notification().await, original);
    let oid = mongodb::bson::oid::ObjectId::parse_str(&original.id).unwrap();
    let stamped = collection
        .find_one(doc! { "_id": oid, "belfry_pos": { "$exists": true } })
        .await
        .unwrap()
        .expect("the original is stamped once delivered");
    let mut copy = stamped.clone();
    copy.insert("_id", mongodb::bson::oid::ObjectId::new());
    copy.insert("message", "replicated");
    collection.insert_one(&copy).await.unwrap();
    assert_eq!(tab.next_notification().await.message, "replicated");
    let after = server.publish_to("7", "after").await;
    assert_eq!(tab.next_notification().await, after);
    let copied = collection
        .find_one(doc! { "_id": copy.get("_id").unwrap() })
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        copied.get("belfry_pos"),
        stamped.get("belfry_pos"),
        "a position of its own"
    );
}

/// A standalone database restored from a dump taken earlier brings back an older stamper's
/// lease, which would hand out positions already published: what is written after is still
/// pushed, each once.
async fn a_restored_lease_loses_nothing(database: String) {
    let uri = mongo_uri(&database);
    let (client, _) = host(&uri).await;
    let state = client
        .database(&super::database_name(&uri))
        .collection::<mongodb::bson::Document>("belfry_feed");
    let server = TestServer::start(&database).await;
    let mut tab = SseClient::open(&server.url, "7").await;
    let first = server.publish_to("7", "before the dump").await;
    assert_eq!(tab.next_notification().await, first);
    let dump = state
        .find_one(doc! { "_id": "notifications:stamper" })
        .await
        .unwrap()
        .expect("the lease");
    for i in 0..3 {
        let n = server.publish_to("7", &format!("after the dump {i}")).await;
        assert_eq!(tab.next_notification().await, n);
    }
    // The restore: the lease as it was in the dump.
    state
        .replace_one(doc! { "_id": "notifications:stamper" }, dump)
        .await
        .unwrap();
    for i in 0..3 {
        let n = server
            .publish_to("7", &format!("after the restore {i}"))
            .await;
        assert_eq!(tab.next_notification().await, n);
    }
}

/// The change-stream feed does not ask for the update events its own stamps cause: 30
/// notifications, each awaited on a stream, cost one batch and one stamp each (and a resume
/// token saved a second), not a third request for the stamp's own event. Counted on a server
/// process of its own, whose `/metrics` only it writes.
async fn the_feed_skips_its_own_stamps(database: String) {
    let server = ServerProcess::spawn(&database, "127.0.0.1:0");
    let mut tab = SseClient::open(&server.url, "7").await;
    let requests = || async {
        let text = reqwest::get(format!("{}/metrics", server.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metric(&text, "belfry_feed_database_requests_total")
    };
    let first = requests().await;
    let started = std::time::Instant::now();
    for i in 0..30 {
        let sent = crate::support::live::publish_to(&server.url, "7", &format!("n{i}")).await;
        assert_eq!(tab.next_notification().await, sent);
    }
    // The last stamp's event would come after its notification was delivered.
    assert!(tab.next_within(Duration::from_millis(300)).await.is_err());
    let spent = requests().await - first;
    let token_saves = started.elapsed().as_secs_f64().ceil() + 1.0;
    assert!(
        spent <= 60.0 + token_saves,
        "{spent} feed requests for 30 notifications"
    );
}

on_stores!(database: [mongo] [the_feed_skips_its_own_stamps]);

mod both_mongodbs {
    use super::*;
    on_stores!(database: [mongo, mongo_standalone] [
        a_dropped_collection_is_followed,
        a_renamed_collection_is_followed,
        a_dropped_database_is_followed,
        a_first_start_pushes_nothing_old,
        ids_of_any_type_are_fed_once,
        a_document_that_refuses_its_stamp_stops_nobody,
        a_copied_document_is_new,
    ]);
}

mod standalone {
    use super::*;
    on_stores!(database: [mongo_standalone] [a_restored_lease_loses_nothing]);
}

mod every_store {
    use super::*;
    on_stores!(database: [sqlite, mongo, mongo_standalone] [
        a_rewrite_is_not_new,
        read_all_never_covers_a_newer_notification,
    ]);
}
