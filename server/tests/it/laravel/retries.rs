//! Publishes that are safe to retry: a notification with an id of the publisher's choosing is
//! stored and pushed once, however often it is published, also after a 408.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;
use crate::support;

/// `POST /api/notifications` with `body`: the status and the JSON answer.
async fn publish(server: &TestServer, body: &Value) -> (StatusCode, Value) {
    crate::support::live::try_publish(&server.url, body).await
}

/// Publishes `body` (for user 7, with an id) twice: 201 and pushed to `tab`, then 200 with the
/// same answer and nothing pushed (a marker published after is the next event); what was pushed.
async fn published_twice(
    server: &TestServer,
    tab: &mut SseClient,
    body: &Value,
) -> app::Notification {
    let (status, first) = publish(server, body).await;
    assert_eq!(status, 201, "{first}");
    let pushed = tab.next_notification().await;
    let (status, again) = publish(server, body).await;
    assert_eq!((status, &again), (StatusCode::OK, &first));
    let marker = server.publish_to("7", "marker").await;
    assert_eq!(
        tab.next_notification().await,
        marker,
        "nothing pushed twice"
    );
    pushed
}

/// The first publish of an id is 201, the second 200 with the same notification and nothing
/// pushed; another user's id is 409 and an id with `user_ids` 422, nothing stored.
async fn a_publish_with_its_id_is_stored_once(database: String) {
    let server = TestServer::start(&database).await;
    let mut tab = SseClient::open(&server.url, "7").await;
    let body = json!({"user_id": "7", "id": "order-7-shipped", "message": "Shipped", "type": "shipping", "data": {"order": 7}});
    let pushed = published_twice(&server, &mut tab, &body).await;
    assert_eq!(pushed.id, "order-7-shipped");
    assert_eq!(pushed.kind.as_deref(), Some("shipping"));
    assert_eq!(pushed.data, Some(json!({"order": 7})));
    assert_eq!(list_of(&server, "7").await.len(), 2);

    let mut other = body.clone();
    other["user_id"] = json!("8");
    let (status, error) = publish(&server, &other).await;
    assert_eq!(
        (status, error["error"].as_str(), error["field"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"), Some("id"))
    );
    assert!(list_of(&server, "8").await.is_empty());
    let many = json!({"user_ids": ["7", "8"], "id": "x", "message": "m"});
    let (status, error) = publish(&server, &many).await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("id"))
    );
    let big = json!({"user_id": "7", "message": "m", "data": {"x": "y".repeat(17 * 1024)}});
    let (status, error) = publish(&server, &big).await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("data"))
    );
    assert_eq!(list_of(&server, "7").await.len(), 2, "nothing written");
}

/// The same on Laravel's documents: the id is the document's UUID.
async fn a_laravel_publish_with_its_id_is_stored_once(database: String) {
    let server = laravel_server(&database, &[]).await;
    let mut tab = SseClient::open(&server.url, "7").await;
    let id = "5f1d7a2c-6b8c-4dae-9f40-5b6c7d8e9fa0";
    let body = json!({"user_id": 7, "id": id, "message": "Shipped"});
    assert_eq!(published_twice(&server, &mut tab, &body).await.id, id);
}

/// A publish the database holds up past `--request-timeout-ms` is answered 408 (the contract's
/// JSON), is stored all the same once the database lets it, and its retry with the same id
/// stores and pushes nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_answered_408_is_retried_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::sqlite_url(&dir);
    let args = serve_args(&url, &["--request-timeout-ms", "300"]);
    let server = TestServer::start_with(args).await;
    let mut tab = SseClient::open(&server.url, "7").await;

    // Another program holds the file's write lock for a while (the server waits up to 5 s).
    let mut blocker = rusqlite::Connection::open(dir.path().join("belfry.db")).unwrap();
    let lock = blocker
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let body = json!({"user_id": "7", "id": "retry-after-408", "message": "Once"});
    let (status, error) = publish(&server, &body).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::REQUEST_TIMEOUT, Some("timeout"))
    );
    lock.commit().unwrap();

    // The timed-out publish was stored: it reaches the stream. The retry adds nothing.
    let stored = tab.next_notification().await;
    assert_eq!(stored.id, "retry-after-408");
    let (status, again) = publish(&server, &body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again[0]["_id"], "retry-after-408");
    let marker = server.publish_to("7", "marker").await;
    assert_eq!(
        tab.next_notification().await,
        marker,
        "one notification, not two"
    );
    assert!(
        tab.next_within(Duration::from_millis(300)).await.is_err(),
        "nothing else"
    );
}

on_stores!(database: [sqlite, mongo, mongo_standalone] [a_publish_with_its_id_is_stored_once]);

mod laravel_schema {
    use super::*;
    on_stores!(database: [mongo, mongo_standalone] [a_laravel_publish_with_its_id_is_stored_once]);
}

/// On SQLite the list is in commit order, whatever ids the publishers chose (Laravel's UUIDs
/// are random): newest first, and paging by a cursor goes on from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_list_is_in_commit_order_whatever_the_ids() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&support::sqlite_url(&dir)).await;
    for (id, message) in [
        ("f-uuid", "first"),
        ("a-uuid", "second"),
        ("m-uuid", "third"),
    ] {
        let body = json!({"user_id": "7", "id": id, "message": message});
        assert_eq!(publish(&server, &body).await.0, StatusCode::CREATED);
    }
    let messages = |list: Vec<app::Notification>| -> Vec<String> {
        list.into_iter().map(|n| n.message).collect()
    };
    assert_eq!(
        messages(list_of(&server, "7").await),
        ["third", "second", "first"]
    );
    let (status, page) = server
        .get_as("7", "/notifications?limit=2&before=a-uuid")
        .await;
    assert_eq!(status, 200, "{page}");
    let page: Vec<app::Notification> = serde_json::from_str(&page).unwrap();
    assert_eq!(messages(page), ["first"]);
}
