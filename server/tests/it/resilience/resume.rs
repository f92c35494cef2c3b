//! Two instances and a direct writer on one database, clients resuming at random.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use belfry::store::mongo::MongoStore;
use mongodb::bson::{doc, oid::ObjectId, DateTime};
use rand::Rng;
use tokio::sync::watch;

use crate::support::live::{SseClient, TestServer, PATIENCE};
use crate::support::*;

/// One user's client: reads a few events, hangs up, resumes with the last id on a random
/// instance, again and again, until it holds `expected` (known once the writers are done).
async fn restless_client(
    urls: Vec<String>,
    user_id: &'static str,
    expected: watch::Receiver<Option<HashMap<&'static str, usize>>>,
) -> Vec<String> {
    let mut received: Vec<String> = Vec::new();
    let mut client = SseClient::open(&urls[0], user_id).await;
    loop {
        let burst = rand::rng().random_range(1..=5);
        let mut read = 0;
        while read < burst {
            match client.next_within(Duration::from_millis(200)).await {
                Ok(Some(event)) => {
                    assert_eq!(event.event, "new-notification", "{user_id}: {event:?}");
                    received.push(event.id);
                    read += 1;
                }
                Ok(None) => panic!("{user_id}: the stream ended"),
                Err(()) => {
                    let done = expected.borrow().as_ref().map(|counts| counts[user_id]);
                    if done.is_some_and(|n| received.len() >= n) {
                        return received;
                    }
                }
            }
        }
        let url = &urls[rand::rng().random_range(0..urls.len())];
        client = match received.last() {
            Some(last) => SseClient::resume(url, user_id, last).await,
            None => SseClient::open(url, user_id).await,
        };
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_three_writers_and_random_resumes_lose_nothing_and_repeat_nothing() {
    three_writers_and_random_resumes(fresh_mongo_uri()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_standalone_three_writers_and_random_resumes_lose_nothing_and_repeat_nothing() {
    three_writers_and_random_resumes(fresh_standalone_uri()).await;
}

/// Two Belfry instances on one database and a program inserting directly, while every user's
/// client hangs up and resumes at random, on either instance.
async fn three_writers_and_random_resumes(uri: String) {
    const USERS: [&str; 4] = ["u1", "u2", "u3", "u4"];
    const PER_WRITER: usize = 40;
    let a = TestServer::start(&uri).await;
    let b = TestServer::start(&uri).await;
    let direct = Arc::new(MongoStore::connect(&uri, "notifications").await.unwrap());
    let urls = vec![a.url.clone(), b.url.clone()];

    let (expected_tx, expected_rx) = watch::channel(None);
    let clients: Vec<_> = USERS
        .iter()
        .map(|u| tokio::spawn(restless_client(urls.clone(), u, expected_rx.clone())))
        .collect();
    // Every client is subscribed once its stream opened; give them a first notification each
    // so that every later reconnect is a resume.
    for u in USERS {
        a.publish_to(u, "first").await;
    }

    let writer = |server: &TestServer| {
        let url = server.url.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..PER_WRITER {
                let user_id = USERS[rand::rng().random_range(0..USERS.len())];
                let response = client
                    .post(format!("{url}/api/notifications"))
                    .bearer_auth(SERVICE_KEY)
                    .body(serde_json::json!({"user_id": user_id, "message": format!("via {url} #{i}")}).to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), reqwest::StatusCode::CREATED);
            }
        })
    };
    let via_a = writer(&a);
    let via_b = writer(&b);
    let raw = {
        let direct = Arc::clone(&direct);
        tokio::spawn(async move {
            for i in 0..PER_WRITER {
                let user_id = USERS[rand::rng().random_range(0..USERS.len())];
                insert_raw(
                    &direct,
                    doc! { "_id": ObjectId::new(), "user_id": user_id,
                    "message": format!("direct #{i}"), "created_at": DateTime::now() },
                )
                .await;
            }
        })
    };
    for writer in [via_a, via_b, raw] {
        writer.await.unwrap();
    }

    let mut in_db = HashMap::new();
    let mut counts = HashMap::new();
    for u in USERS {
        let ids: Vec<String> = all_of(&*direct, u)
            .await
            .into_iter()
            .map(|n| n.id)
            .collect();
        counts.insert(u, ids.len());
        in_db.insert(u, ids);
    }
    assert_eq!(counts.values().sum::<usize>(), 3 * PER_WRITER + USERS.len());
    expected_tx.send(Some(counts)).unwrap();

    for (u, client) in USERS.iter().zip(clients) {
        let received = tokio::time::timeout(PATIENCE * 4, client)
            .await
            .expect("clients finish")
            .unwrap();
        let unique: HashSet<&String> = received.iter().collect();
        assert_eq!(
            unique.len(),
            received.len(),
            "{u} received a notification twice"
        );
        let expected: HashSet<&String> = in_db[u].iter().collect();
        assert_eq!(
            unique, expected,
            "{u} holds exactly its notifications from the database"
        );
    }
}
