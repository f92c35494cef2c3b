//! The standalone stamper cannot collide: the instance holding the lease is paused (SIGSTOP)
//! in the middle of a stamping run, for longer than the lease, while another instance takes
//! over; then it resumes its run. Every notification reaches a stream exactly once.

use std::collections::HashSet;
use std::time::Duration;

use mongodb::bson::{doc, DateTime, Document};

use crate::support::live::{publish_to, ServerProcess, SseClient};
use crate::support::*;

fn signal(process: &ServerProcess, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &process.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Documents the host inserts at once: a backlog the stamper needs a while for.
const BACKLOG: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_standalone_a_stamper_paused_mid_run_cannot_collide() {
    let uri = fresh_standalone_uri();
    // A alone first, so A holds the lease.
    let a = ServerProcess::spawn(&uri, "127.0.0.1:0");
    let mut on_a = SseClient::open(&a.url, "s").await;
    let first = publish_to(&a.url, "s", "first").await;
    assert_eq!(on_a.next_notification().await, first);
    drop(on_a);
    let b = ServerProcess::spawn(&uri, "127.0.0.1:0");

    // Read on B as a browser does, resuming when the stream is closed (a burst larger than a
    // stream's queue closes it).
    let reader = {
        let url = b.url.clone();
        tokio::spawn(async move {
            let mut seen: Vec<String> = Vec::new();
            let mut tab = SseClient::resume(&url, "s", &first.id).await;
            while seen.len() < BACKLOG {
                match tab.next().await {
                    Some(event) => {
                        assert_eq!(event.event, "new-notification", "{event:?}");
                        seen.push(event.id);
                    }
                    None => {
                        let last = seen.last().cloned().unwrap_or(first.id.clone());
                        tab = SseClient::resume(&url, "s", &last).await;
                    }
                }
            }
            seen
        })
    };

    // The backlog, then A paused as soon as its run has begun.
    let (_client, collection) = crate::support::direct::mongo(&uri).await;
    let backlog: Vec<Document> = (0..BACKLOG)
        .map(|i| doc! { "user_id": "s", "message": format!("n{i}"), "read_at": null, "created_at": DateTime::now() })
        .collect();
    let inserted = collection.insert_many(backlog).await.unwrap();
    let sent: HashSet<String> = inserted
        .inserted_ids
        .values()
        .map(|id| id.as_object_id().unwrap().to_hex())
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let stamped = collection
            .count_documents(doc! { "belfry_pos": { "$type": "long" } })
            .await
            .unwrap();
        if stamped > 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "A starts stamping");
    }
    signal(&a, "-STOP");
    tokio::time::sleep(Duration::from_secs(7)).await; // longer than the 5 s lease
    signal(&a, "-CONT");

    let seen = reader.await.unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "nothing twice");
    assert_eq!(unique, sent.iter().collect(), "everything once");
}
