//! `--retain-days`: notifications older than the retention are removed, the tabs are told
//! (`notification-removed`), and nothing younger goes. SQLite with a clock the test controls
//! (the store judged "two days from now"); MongoDB through its TTL index, with a document the
//! host wrote three days ago, and the index dropped again when retention is turned off.

use crate::support;
use std::time::Duration;

use crate::support::live::{serve_args, SseClient, TestServer};
use belfry::config::DatabaseUrl;
use belfry::store::{Feed, Notifications, Retention};
use chrono::Utc;
use futures::TryStreamExt;
use mongodb::bson::{doc, DateTime};
use serde_json::{json, Value};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_removes_what_is_older_than_the_retention_and_tells_the_tabs() {
    let dir = tempfile::tempdir().unwrap();
    let database = support::sqlite_url(&dir);
    let server = TestServer::start_with(serve_args(&database, &["--retain-days", "1"])).await;
    let mut tab = SseClient::open(&server.url, "alice").await;
    let old = server.publish_to("alice", "old").await;
    server.publish_to("bob", "old too").await;
    assert_eq!(tab.next_notification().await, old);

    // Another handle on the same file, asked as the server's task asks it, at a later "now".
    let DatabaseUrl::Sqlite(path) = database.parse().unwrap() else {
        unreachable!()
    };
    let store = belfry::store::sqlite::SqliteStore::open(&path)
        .await
        .unwrap();
    let half_a_day_later = Utc::now() + chrono::Duration::hours(12);
    assert_eq!(
        store
            .enforce_retention(Some(DAY), half_a_day_later)
            .await
            .unwrap(),
        0,
        "nothing is a day old yet"
    );
    assert_eq!(
        store.enforce_retention(None, Utc::now()).await.unwrap(),
        0,
        "retention off removes nothing"
    );
    let two_days_later = Utc::now() + chrono::Duration::days(2);
    assert_eq!(
        store
            .enforce_retention(Some(DAY), two_days_later)
            .await
            .unwrap(),
        2
    );
    let event = tab.next().await.expect("the stream is open");
    assert_eq!(event.event, "notification-removed", "{}", event.data);
    assert_eq!(
        serde_json::from_str::<Value>(&event.data).unwrap(),
        json!({"ids": [old.id], "unread_count": 0, "unseen_count": 0})
    );
    for user in ["alice", "bob"] {
        assert_eq!(
            server.get_as(user, "/notifications").await,
            (reqwest::StatusCode::OK, "[]".to_owned())
        );
    }

    // What the server keeps: a new one stays.
    let new = server.publish_to("alice", "new").await;
    assert_eq!(tab.next_notification().await, new);
    assert_eq!(
        store
            .enforce_retention(Some(DAY), Utc::now())
            .await
            .unwrap(),
        0
    );
}

/// The server's own task: rows already expired when it starts are gone soon after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_server_applies_retention_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let database = support::sqlite_url(&dir);
    let DatabaseUrl::Sqlite(path) = database.parse().unwrap() else {
        unreachable!()
    };
    let store = belfry::store::sqlite::SqliteStore::open(&path)
        .await
        .unwrap();
    store
        .insert(&[support::new_notification("alice", "expired", None)])
        .await
        .unwrap();
    drop(store);
    let three_days_ago = (Utc::now() - chrono::Duration::days(3)).timestamp_millis();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE notifications SET created_at = ?1", [three_days_ago])
        .unwrap();

    let server = TestServer::start_with(serve_args(&database, &["--retain-days", "1"])).await;
    server
        .wait_for_as("alice", "/notifications", |status, body| {
            status == 200 && body == "[]"
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_expires_through_a_ttl_index_it_names_and_drops_when_turned_off() {
    let uri = support::fresh_mongo_uri();
    let server = TestServer::start_with(serve_args(&uri, &["--retain-days", "1"])).await;
    let (_client, collection) = support::direct::mongo(&uri).await;
    let index = |expected: Option<u64>| {
        let collection = collection.clone();
        async move {
            for _ in 0..150 {
                let found = collection
                    .list_indexes()
                    .await
                    .unwrap()
                    .try_collect::<Vec<_>>()
                    .await
                    .unwrap()
                    .into_iter()
                    .filter_map(|i| i.options)
                    .find(|o| o.name.as_deref() == Some("belfry_retention"))
                    .map(|o| o.expire_after.map(|d| d.as_secs()));
                if found == expected.map(Some) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the belfry_retention index is not as expected: {expected:?}");
        }
    };
    index(Some(86_400)).await;

    // The host writes one created three days ago: pushed, then expired by the server's TTL
    // monitor (it runs once a minute), and the tab is told.
    let mut tab = SseClient::open(&server.url, "alice").await;
    let three_days_ago =
        DateTime::from_millis((Utc::now() - chrono::Duration::days(3)).timestamp_millis());
    let inserted = collection
        .insert_one(doc! {
            "user_id": "alice", "message": "from long ago", "read_at": null,
            "created_at": three_days_ago,
        })
        .await
        .unwrap();
    let id = inserted.inserted_id.as_object_id().unwrap().to_hex();
    assert_eq!(tab.next_notification().await.id, id);
    let removed = loop {
        let event = tab
            .next_within(Duration::from_secs(100))
            .await
            .expect("the TTL monitor removed it within 100 s")
            .expect("the stream is open");
        if event.event != "notification-removed" {
            continue;
        }
        break event;
    };
    assert_eq!(
        serde_json::from_str::<Value>(&removed.data).unwrap(),
        json!({"ids": [id], "unread_count": 0, "unseen_count": 0})
    );
    server.stop().await.unwrap();

    // Turned off: the index goes.
    let server = TestServer::start(&uri).await;
    index(None).await;
    server.stop().await.unwrap();
}

/// The change log does not grow for ever: each run prunes, one run behind, the changes placed
/// before the oldest notification of the previous run. What a resume from a notification that
/// still exists needs is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_prunes_the_change_log_a_run_behind() {
    use belfry::model::NotificationId;
    use belfry::store::Replay;

    let db = support::sqlite().await;
    let store = &*db.store;
    let alice = support::user("alice");
    let insert = |message: &'static str| async move {
        let new = support::new_notification("alice", message, None);
        store.insert(&[new]).await.unwrap().remove(0).id
    };
    let a = insert("a").await;
    let b = insert("b").await;
    let a_id = NotificationId::parse(&a).unwrap();
    store.mark_read(&alice, a_id).await.unwrap();
    let c = insert("c").await;
    insert("d").await;
    // Another program deletes a and b.
    let file = db.dir.path().join("belfry.db");
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute("DELETE FROM notifications WHERE id IN (?1, ?2)", [&a, &b])
        .unwrap();
    let changes = || -> i64 {
        conn.query_row("SELECT COUNT(*) FROM notification_changes", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    assert_eq!(changes(), 3, "a read, two removals");

    let now = Utc::now();
    store.enforce_retention(Some(DAY), now).await.unwrap();
    assert_eq!(changes(), 3, "the first run only notes where the oldest is");
    store.enforce_retention(Some(DAY), now).await.unwrap();
    assert_eq!(changes(), 2, "the read of a, placed before c, is pruned");

    // A resume from c still replays d and the removals placed after it.
    let c_id = NotificationId::parse(&c).unwrap();
    let Replay::After {
        missed, changed, ..
    } = store.replay(&alice, c_id, 10).await.unwrap()
    else {
        panic!("c is known");
    };
    assert_eq!(missed.len(), 1);
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0].ids.len(), 2);
}
