//! Every tab in step, on every instance: read state and removals travel the store's feed, so a
//! change made on one instance, or by another program straight in the database, reaches a tab
//! streaming from another instance, with the unread count; and a tab that reconnects across a
//! change gets it (or a `resync`), never a stale badge.

use crate::support;
use crate::support::live::{ServerProcess, SseClient, TestServer};
use crate::support::*;
use belfry::model::NotificationId;
use serde_json::{json, Value};

/// Instance A serves the tab (in this process); instance B, a process of its own on the same
/// database, takes the user's reads; a tab that was away across a read gets it when it comes back.
async fn a_read_on_one_instance_reaches_the_other(database: String) {
    let a = TestServer::start(&database).await;
    let b = ServerProcess::spawn(&database, "127.0.0.1:0");
    let mut tab = SseClient::open(&a.url, "alice").await;
    let mut sent = Vec::new();
    for message in ["one", "two"] {
        sent.push(support::live::publish_to(&b.url, "alice", message).await);
    }
    for n in &sent {
        assert_eq!(tab.next_notification().await, *n);
    }
    assert_eq!(
        mark(&b.url, &format!("/notifications/{}/read", sent[0].id)).await,
        204
    );
    expect(
        &mut tab,
        "notification-read",
        json!({"ids": [sent[0].id], "unread_count": 1, "unseen_count": 1}),
    )
    .await;
    // Read-all on the other instance, with one more arrived.
    let three = support::live::publish_to(&b.url, "alice", "three").await;
    assert_eq!(tab.next_notification().await, three);
    assert_eq!(mark(&b.url, "/notifications/read-all").await, 204);
    expect(
        &mut tab,
        "notification-read",
        json!({"all": true, "unread_count": 0, "unseen_count": 0}),
    )
    .await;

    // A tab that was away while a read happened gets it when it comes back.
    let four = support::live::publish_to(&b.url, "alice", "four").await;
    assert_eq!(tab.next_notification().await, four);
    drop(tab);
    assert_eq!(
        mark(&b.url, &format!("/notifications/{}/read", four.id)).await,
        204
    );
    // Whether A's feed has seen the read yet or not: replayed (as a resync), or pushed live.
    let mut back = SseClient::resume(&a.url, "alice", &four.id).await;
    let event = back.next().await.expect("an event");
    match event.event.as_str() {
        "notification-read" => assert_eq!(
            serde_json::from_str::<Value>(&event.data).unwrap(),
            json!({"all": true, "unread_count": 0, "unseen_count": 0})
        ),
        "resync" => assert!(event.data.contains("state_changed"), "{}", event.data),
        other => panic!("a read or a resync, not {other}: {}", event.data),
    }
}

on_stores!(database: [sqlite, mongo, mongo_standalone] [a_read_on_one_instance_reaches_the_other]);

/// (A module of its own: one `on_stores!` per store and module.)
mod host_writes {
    use super::*;

    /// The host application writing the database itself: an update-many setting `read_at`, a delete.
    /// (A standalone MongoDB reports neither: see `store/mongo/changes.rs`.)
    async fn the_host_applications_own_writes_reach_the_tabs(database: String) {
        let a = TestServer::start(&database).await;
        let mut tab = SseClient::open(&a.url, "alice").await;
        let mut sent = Vec::new();
        for message in ["one", "two", "three"] {
            sent.push(support::live::publish_to(&a.url, "alice", message).await);
        }
        for n in &sent {
            assert_eq!(tab.next_notification().await, *n);
        }
        let id = |i: usize| NotificationId::parse(&sent[i].id).unwrap();
        direct::set_read(&database, &[id(0)]).await;
        expect(
            &mut tab,
            "notification-read",
            json!({"ids": [sent[0].id], "unread_count": 2, "unseen_count": 2}),
        )
        .await;
        direct::delete(&database, id(1)).await;
        expect(
            &mut tab,
            "notification-removed",
            json!({"ids": [sent[1].id], "unread_count": 1, "unseen_count": 1}),
        )
        .await;
        direct::set_read(&database, &[id(2)]).await;
        expect(
            &mut tab,
            "notification-read",
            json!({"all": true, "unread_count": 0, "unseen_count": 0}),
        )
        .await;
    }

    on_stores!(database: [sqlite, mongo] [the_host_applications_own_writes_reach_the_tabs]);
}

async fn mark(base: &str, path: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token("alice"))
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn expect(tab: &mut SseClient, name: &str, data: Value) {
    let event = tab.next().await.expect("the stream is open");
    assert_eq!(event.event, name, "{}", event.data);
    assert_eq!(serde_json::from_str::<Value>(&event.data).unwrap(), data);
}

/// Documents the host wrote in a shape Belfry cannot serve (a `user_id` that is an object, a
/// `read_at` that is a number) are skipped with a warning and counted; the feed carries on for
/// everyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_malformed_documents_are_skipped_and_the_feed_carries_on() {
    use mongodb::bson::{doc, DateTime};

    let uri = support::fresh_mongo_uri();
    let server = TestServer::start(&uri).await;
    let mut tab = SseClient::open(&server.url, "alice").await;
    let first = server.publish_to("alice", "first").await;
    assert_eq!(tab.next_notification().await, first);

    let (_client, collection) = support::direct::mongo(&uri).await;
    let odd_owner =
        doc! { "user_id": { "not": "an id" }, "message": "whose?", "created_at": DateTime::now() };
    collection.insert_one(odd_owner).await.unwrap();
    // A number is a read (docs/API.md: anything but null, false, 0 and "" is), pushed as one.
    let id = NotificationId::parse(&first.id).unwrap().object_id();
    collection
        .update_one(doc! { "_id": id }, doc! { "$set": { "read_at": 12345 } })
        .await
        .unwrap();
    let event = tab.next().await.expect("the stream is open");
    assert_eq!(event.event, "notification-read", "{}", event.data);
    let read: Value = serde_json::from_str(&event.data).unwrap();
    assert!(
        read["ids"] == json!([first.id]) || read["all"] == json!(true),
        "{read}"
    );

    // Everyone else's notifications and read state still flow.
    let second = server.publish_to("alice", "second").await;
    assert_eq!(tab.next_notification().await, second);
    assert_eq!(
        mark(&server.url, &format!("/notifications/{}/read", second.id)).await,
        204
    );
    let event = tab.next().await.expect("the stream is open");
    assert_eq!(event.event, "notification-read", "{}", event.data);
    assert_eq!(
        serde_json::from_str::<Value>(&event.data).unwrap(),
        json!({"all": true, "unread_count": 0, "unseen_count": 0})
    );
    let (_, metrics) = server.get("/metrics").await;
    let skipped: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("belfry_skipped_records_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(skipped >= 1.0, "{metrics}");
}
