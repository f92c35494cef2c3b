//! Isolation under load: many users with two streams each (on two instances sharing one
//! MongoDB), notifications to random users from three concurrent writers. Every stream receives
//! exactly its user's notifications, and every notification reaches each of its user's streams.
//!
//! Scaled for the test suite (100 users, 2,000 notifications). The full size:
//!   ulimit -n 20000; BELFRY_LOAD_USERS=1000 BELFRY_LOAD_NOTIFICATIONS=20000 scripts/test.sh
//! (or the same variables on `cargo test -p server --test isolation` with the MongoDB variables set).

use crate::support;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::support::live::{
    assert_each_stream_got_exactly, read_until_expected, SseClient, TestServer,
};
use crate::support::*;
use belfry::store::mongo::MongoStore;
use mongodb::bson::{doc, DateTime};
use rand::seq::IndexedRandom;
use tokio::sync::watch;

fn scale(variable: &str, default: usize) -> usize {
    std::env::var(variable)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_stream_gets_exactly_its_users_notifications() {
    let users: Vec<String> = (0..scale("BELFRY_LOAD_USERS", 100))
        .map(|i| format!("load{i}"))
        .collect();
    let total = scale("BELFRY_LOAD_NOTIFICATIONS", 2000);
    let uri = fresh_mongo_uri();
    let args = support::live::serve_args(&uri, &["--max-streams-per-user", "4"]);
    let a = TestServer::start_with(args.clone()).await;
    let b = TestServer::start_with(args).await;
    let direct = Arc::new(MongoStore::connect(&uri, "notifications").await.unwrap());

    let (expected_tx, expected_rx) = watch::channel(None);
    let mut readers = Vec::new();
    for user in &users {
        for server in [&a, &b] {
            let client = SseClient::open(&server.url, user).await;
            readers.push(tokio::spawn(read_until_expected(
                client,
                user.clone(),
                expected_rx.clone(),
            )));
        }
    }

    // Three writers, a third of the notifications each: bulk publishes of 10 random users
    // through either instance, and single inserts straight into the collection.
    let per_writer = total / 3;
    let api_writer = |url: String| {
        let users = users.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for _ in 0..per_writer / 10 {
                let batch: Vec<&String> = users
                    .choose_multiple(&mut rand::rng(), 10.min(users.len()))
                    .collect();
                let response = client
                    .post(format!("{url}/api/notifications"))
                    .bearer_auth(SERVICE_KEY)
                    .body(serde_json::json!({"user_ids": batch, "message": "bulk"}).to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), reqwest::StatusCode::CREATED);
            }
        })
    };
    let raw_writer = {
        let (users, direct) = (users.clone(), Arc::clone(&direct));
        tokio::spawn(async move {
            for _ in 0..per_writer {
                let user = users.choose(&mut rand::rng()).unwrap();
                insert_raw(
                    &direct,
                    doc! { "user_id": user, "message": "direct", "created_at": DateTime::now() },
                )
                .await;
            }
        })
    };
    for writer in [
        api_writer(a.url.clone()),
        api_writer(b.url.clone()),
        raw_writer,
    ] {
        writer.await.unwrap();
    }

    let mut in_db: HashMap<String, HashSet<String>> = HashMap::new();
    for user_id in &users {
        let ids = all_of(&*direct, user_id)
            .await
            .into_iter()
            .map(|n| n.id)
            .collect();
        in_db.insert(user_id.clone(), ids);
    }
    let written: usize = in_db.values().map(HashSet::len).sum();
    assert_eq!(
        written,
        2 * (per_writer / 10) * 10.min(users.len()) + per_writer
    );
    assert_each_stream_got_exactly(expected_tx, readers, &in_db).await;
}
