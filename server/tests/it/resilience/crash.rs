//! A killed server (SIGKILL) restarts and loses nothing; a stopped one (SIGTERM) ends its
//! streams and exits in time.

use std::time::Duration;

use belfry::store::mongo::MongoStore;
use mongodb::bson::{doc, DateTime};

use crate::support::live::{ServerProcess, SseClient};
use crate::support::*;

async fn sigkill_and_restart_lose_nothing(database: String, write_while_down: impl AsyncFn(&str)) {
    let server = ServerProcess::spawn(&database, "127.0.0.1:0");
    let mut client = SseClient::open(&server.url, "alice").await;
    crate::support::live::publish_to(&server.url, "alice", "before the crash").await;
    let seen = client.next_notification().await;
    server.kill();
    assert!(
        client.next().await.is_none(),
        "the stream broke with the server"
    );

    for i in 0..3 {
        write_while_down(&format!("while down #{i}")).await;
    }
    let restarted = ServerProcess::spawn(&database, "127.0.0.1:0");
    let mut client = SseClient::resume(&restarted.url, "alice", &seen.id).await;
    for i in 0..3 {
        assert_eq!(
            client.next_notification().await.message,
            format!("while down #{i}")
        );
    }
    crate::support::live::publish_to(&restarted.url, "alice", "after the restart").await;
    assert_eq!(
        client.next_notification().await.message,
        "after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sigkill_and_restart_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::support::sqlite_url(&dir);
    let send_url = url.clone();
    sigkill_and_restart_lose_nothing(url, async move |message: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_belfry"))
            .args([
                "send",
                "--database",
                &send_url,
                "--user",
                "alice",
                "--message",
                message,
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_sigkill_and_restart_lose_nothing() {
    mongo_sigkill(fresh_mongo_uri()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_standalone_sigkill_and_restart_lose_nothing() {
    mongo_sigkill(fresh_standalone_uri()).await;
}

async fn mongo_sigkill(uri: String) {
    let direct = MongoStore::connect(&uri, "notifications").await.unwrap();
    let direct = &direct;
    sigkill_and_restart_lose_nothing(uri.clone(), async move |message: &str| {
        insert_raw(
            direct,
            doc! { "user_id": "alice", "message": message, "created_at": DateTime::now() },
        )
        .await;
    })
    .await;
}

/// SIGTERM: open streams end cleanly (so clients reconnect elsewhere) and the process exits 0
/// within the 5 s grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_and_exits_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::support::sqlite_url(&dir);
    let server = ServerProcess::spawn(&url, "127.0.0.1:0");
    let mut client = SseClient::open(&server.url, "alice").await;
    let started = std::time::Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(client.next().await.is_none(), "the stream ended");
    let exit = tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.child.wait()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
