//! The SSE stream against real servers on port 0 with a real SSE client, on both stores.

use crate::support;
use crate::support::live::{SseClient, StreamRequest, TestServer};
use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;

async fn delivers_to_each_stream_of_its_user_only(database: String) {
    let server = TestServer::start(&database).await;
    let mut alice_1 = SseClient::open(&server.url, "alice").await;
    let mut alice_2 = SseClient::open(&server.url, "alice").await;
    let mut bob = SseClient::open(&server.url, "bob").await;

    let for_alice = server.publish_to("alice", "for alice").await;
    let for_bob = server.publish_to("bob", "for bob").await;

    assert_eq!(alice_1.next_notification().await, for_alice);
    assert_eq!(alice_2.next_notification().await, for_alice);
    // Had bob's stream carried alice's notification, it would have come first.
    assert_eq!(bob.next_notification().await, for_bob);
}

async fn resume_replays_exactly_what_was_missed(database: String) {
    let server = TestServer::start(&database).await;
    let mut client = SseClient::open(&server.url, "alice").await;
    let seen = server.publish_to("alice", "seen").await;
    assert_eq!(client.next_notification().await, seen);
    drop(client);

    let mut missed = Vec::new();
    for i in 0..20 {
        missed.push(server.publish_to("alice", &format!("missed {i}")).await);
        server.publish_to("bob", "not alice's").await;
    }
    let mut client = SseClient::resume(&server.url, "alice", &seen.id).await;
    for expected in &missed {
        assert_eq!(&client.next_notification().await, expected);
    }
    // Then live, with nothing repeated in between.
    let after = server.publish_to("alice", "after").await;
    assert_eq!(client.next_notification().await, after);

    // The same through ?last_event_id= (a new EventSource cannot set the header).
    let mut by_query = SseClient::try_open(StreamRequest {
        base: &server.url,
        token: token("alice"),
        last_event_id: Some(missed[18].id.clone()),
        in_query: true,
    })
    .await
    .expect("the stream opens");
    assert_eq!(by_query.next_notification().await, missed[19]);
    assert_eq!(by_query.next_notification().await, after);
}

async fn refuses_bad_resumes_and_tokens(database: String) {
    let server = TestServer::start(&database).await;
    let open = |token: String, last_event_id: Option<&str>| {
        SseClient::try_open(StreamRequest {
            base: &server.url,
            token,
            last_event_id: last_event_id.map(str::to_owned),
            in_query: false,
        })
    };
    let (status, body) = open(token("alice"), Some("not an id"))
        .await
        .err()
        .expect("refused");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("\"field\":\"last_event_id\""), "{body}");

    let expired = token_with_claims(json!({"sub": "alice", "exp": unix_now() - 3600}));
    let (status, body) = open(expired, None).await.err().expect("refused");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("expired_token"), "{body}");

    // An id that is not alice's (bob's) cannot be resumed from: resync.
    let bobs = server.publish_to("bob", "for bob").await;
    let mut client = open(token("alice"), Some(&bobs.id)).await.expect("opens");
    let event = client.next().await.expect("an event");
    assert_eq!(event.event, "resync");
    assert_eq!(event.data, r#"{"reason":"unknown_id"}"#);
}

async fn read_state_reaches_every_tab(database: String) {
    let server = TestServer::start(&database).await;
    let mut tab_1 = SseClient::open(&server.url, "alice").await;
    let mut tab_2 = SseClient::open(&server.url, "alice").await;
    let first = server.publish_to("alice", "one").await;
    server.publish_to("alice", "two").await;
    for tab in [&mut tab_1, &mut tab_2] {
        tab.next_notification().await;
        tab.next_notification().await;
    }
    let mark = |path: String| {
        reqwest::Client::new()
            .post(format!("{}{path}", server.url))
            .bearer_auth(token("alice"))
            .header("x-requested-with", "XMLHttpRequest")
            .send()
    };
    assert_eq!(
        mark(format!("/notifications/{}/read", first.id))
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    for tab in [&mut tab_1, &mut tab_2] {
        expect_read_event(
            tab,
            json!({"ids": [first.id], "unread_count": 1, "unseen_count": 1}),
        )
        .await;
    }
    assert_eq!(
        mark("/notifications/read-all".into())
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    for tab in [&mut tab_1, &mut tab_2] {
        expect_read_event(
            tab,
            json!({"all": true, "unread_count": 0, "unseen_count": 0}),
        )
        .await;
    }
}

async fn expect_read_event(tab: &mut SseClient, expected: serde_json::Value) {
    let event = tab.next().await.expect("the stream is open");
    assert_eq!(event.event, "notification-read");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&event.data).unwrap(),
        expected
    );
}

async fn limits_streams_per_user(database: String) {
    let server = TestServer::start(&database).await;
    let mut open = Vec::new();
    for _ in 0..16 {
        open.push(SseClient::open(&server.url, "alice").await);
    }
    let request = || StreamRequest {
        base: &server.url,
        token: token("alice"),
        last_event_id: None,
        in_query: false,
    };
    let (status, body) = SseClient::try_open(request())
        .await
        .err()
        .expect("the 17th is refused");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("too_many_streams"), "{body}");
    assert!(SseClient::try_open(StreamRequest {
        token: token("bob"),
        ..request()
    })
    .await
    .is_ok());
    // Closing one makes room; the hub notices when the server next writes to it.
    drop(open.pop());
    server.publish_to("alice", "ping the closed stream").await;
    let deadline = tokio::time::Instant::now() + support::live::PATIENCE;
    loop {
        match SseClient::try_open(request()).await {
            Ok(_) => break,
            Err((StatusCode::TOO_MANY_REQUESTS, _)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
}

async fn shutdown_ends_open_streams(database: String) {
    let server = TestServer::start(&database).await;
    let mut client = SseClient::open(&server.url, "alice").await;
    server.publish_to("alice", "hello").await;
    client.next_notification().await;
    let started = std::time::Instant::now();
    server.stop().await.expect("a clean stop");
    assert!(client.next().await.is_none(), "the stream ended");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

on_stores!(database: [sqlite, mongo, mongo_standalone] [
    delivers_to_each_stream_of_its_user_only,
    resume_replays_exactly_what_was_missed,
    refuses_bad_resumes_and_tokens,
    read_state_reaches_every_tab,
    limits_streams_per_user,
    shutdown_ends_open_streams,
]);

/// `belfry send` in another process writes to the same SQLite file: the open stream gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_another_process_reaches_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::sqlite_url(&dir);
    let server = TestServer::start(&url).await;
    let mut client = SseClient::open(&server.url, "alice").await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_belfry"))
        .args([
            "send",
            "--database",
            &url,
            "--user",
            "alice",
            "--message",
            "from belfry send",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: app::Notification = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(client.next_notification().await, sent);
}

/// A document the Laravel app inserts straight into the collection (integer user id) is pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_a_direct_insert_reaches_the_stream() {
    use mongodb::bson::{doc, oid::ObjectId, DateTime};
    let uri = fresh_mongo_uri();
    let server = TestServer::start(&uri).await;
    let mut client = SseClient::open(&server.url, "42").await;
    let store = belfry::store::mongo::MongoStore::connect(&uri, "notifications")
        .await
        .unwrap();
    let id = ObjectId::new();
    insert_raw(
        &store,
        doc! { "_id": id, "user_id": 42_i32, "message": "Order #7 shipped",
        "link": "/orders/7", "created_at": DateTime::now() },
    )
    .await;
    let pushed = client.next_notification().await;
    assert_eq!(pushed.id, id.to_hex());
    assert_eq!(pushed.user_id, "42");
    assert_eq!(pushed.message, "Order #7 shipped");
}

/// A stream lives no longer than its token (plus the leeway): then it ends, and the client has
/// to come back with a fresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_when_its_token_expires() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&support::sqlite_url(&dir)).await;
    let short = token_with_claims(json!({"sub": "alice", "exp": unix_now() + 1}));
    let started = std::time::Instant::now();
    let mut client = SseClient::try_open(StreamRequest {
        base: &server.url,
        token: short,
        last_event_id: None,
        in_query: false,
    })
    .await
    .expect("a valid token opens the stream");
    assert!(
        client.next().await.is_none(),
        "the stream ended with its token"
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
}

/// Two documents inserted in one MongoDB transaction share their cluster time. They are published
/// in `_id` order, the order a resume uses, so a client resuming from the first gets the second
/// (even though the transaction wrote the higher `_id` first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_a_transaction_is_published_in_the_order_resume_uses() {
    use mongodb::bson::{doc, oid::ObjectId, DateTime};

    let uri = support::fresh_mongo_uri();
    let server = TestServer::start(&uri).await;
    let mut tab = SseClient::open(&server.url, "tx").await;
    // The stream is live once a first notification arrives.
    let first = server.publish_to("tx", "before").await;
    assert_eq!(tab.next_notification().await, first);

    let (client, collection) = support::direct::mongo(&uri).await;
    let (a, b) = (ObjectId::new(), ObjectId::new());
    let (higher, lower) = (a.max(b), a.min(b));
    let mut session = client.start_session().await.unwrap();
    session.start_transaction().await.unwrap();
    for id in [higher, lower] {
        let document = doc! { "_id": id, "user_id": "tx", "message": "in one transaction",
        "read_at": null, "created_at": DateTime::now() };
        collection
            .insert_one(document)
            .session(&mut session)
            .await
            .unwrap();
    }
    session.commit_transaction().await.unwrap();

    let got = [tab.next_notification().await, tab.next_notification().await];
    assert_eq!(got[0].id, lower.to_hex(), "published in _id order");
    assert_eq!(got[1].id, higher.to_hex());
    let mut resumed = SseClient::resume(&server.url, "tx", &got[0].id).await;
    assert_eq!(resumed.next_notification().await, got[1]);
}
