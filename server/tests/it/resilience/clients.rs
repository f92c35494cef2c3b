//! Clients that misbehave: one that stops reading, one that sends its request a byte at a time.

use std::time::Duration;

use crate::support::live::{SseClient, TestServer, PATIENCE};
use crate::support::*;

/// A client that never reads is cut off; a reading client beside it gets everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_client_that_stops_reading_is_closed_and_others_get_everything() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let server =
        TestServer::start(&format!("sqlite://{}", dir.path().join("b.db").display())).await;
    let slow_closes = |metrics: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("belfry_slow_consumer_closes_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let before = slow_closes(&server.get("/metrics").await.1);

    // The stuck client: a socket with a small receive buffer that sends its request and never
    // reads a byte.
    let addr: std::net::SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stuck = socket.connect(addr).await.unwrap();
    let request = format!(
        "GET /notifications/stream?token={} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
        token("alice")
    );
    stuck.write_all(request.as_bytes()).await.unwrap();
    let mut reader = SseClient::open(&server.url, "alice").await;

    // 4-byte characters: each notification is ~8 KB on the wire.
    let message = "🔔".repeat(2000);
    let mut sent = 0;
    let deadline = tokio::time::Instant::now() + PATIENCE * 4;
    while slow_closes(&server.get("/metrics").await.1) == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stuck stream was never closed"
        );
        let created = server.publish_to("alice", &message).await;
        assert_eq!(reader.next_notification().await, created);
        sent += 1;
    }
    assert!(
        sent > belfry::hub::STREAM_QUEUE,
        "closed only once its queue was full ({sent})"
    );
    drop(stuck);
}

/// A client that sends its request a byte at a time is cut off once the header deadline passes;
/// the server answers everyone else meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_client_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let url = crate::support::sqlite_url(&dir);
    let server = TestServer::start_with(crate::support::live::serve_args(
        &url,
        &["--header-read-timeout-secs", "1"],
    ))
    .await;
    let addr = server.url.trim_start_matches("http://").to_owned();
    let socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut reader, mut writer) = socket.into_split();

    // Endless headers, one byte every 50 ms: it would never finish on its own.
    let dribble = tokio::spawn(async move {
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ");
        for byte in request.bytes().chain(std::iter::repeat(b'a')) {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    server.wait_for("/healthz", |status, _| status == 200).await;
    let mut answer = Vec::new();
    let cut = tokio::time::timeout(PATIENCE, reader.read_to_end(&mut answer)).await;
    assert!(cut.is_ok(), "the server closed the slow connection");
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "it was not served"
    );
    dribble.abort();
    server.wait_for("/healthz", |status, _| status == 200).await;
}
