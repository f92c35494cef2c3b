//! Every answer on the stream path, on both transports, as a strict client reads it: one
//! `Content-Length` (or none, for the stream), a `Date`, and a body that matches.

use serde_json::{json, Value};

use crate::support::live::{serve_args, SseClient, TestServer};
use crate::support::*;

/// Runs the cases through Node's HTTP client (llhttp, strict) and returns its results.
fn strict_client(server: &TestServer, cases: &Value) -> Vec<Value> {
    let port = server.url.rsplit(':').next().expect("a port");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/adversarial/strict_client.js"
    );
    let out = std::process::Command::new("node")
        .args([script, port, &cases.to_string()])
        .output()
        .expect("node runs (the README's test command needs Node.js)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the strict client prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stream_answer_parses_strictly_on_both_transports() {
    let dir = tempfile::tempdir().unwrap();
    let args = serve_args(&sqlite_url(&dir), &["--max-streams-per-user", "1"]);
    let server = TestServer::start_with(args).await;
    // "busy" holds its one allowed stream, so a second one is 429.
    let _busy = SseClient::open(&server.url, "busy").await;
    let expired = token_with_claims(json!({"sub": "alice", "exp": unix_now() - 3600}));
    let stream = "/notifications/stream";
    let answers = [
        (
            "401 expired",
            format!("{stream}?token={expired}"),
            json!({}),
            401,
        ),
        ("401 missing", stream.to_owned(), json!({}), 401),
        (
            "400 malformed Last-Event-ID",
            format!("{stream}?token={}", token("alice")),
            json!({"last-event-id": "not an id"}),
            400,
        ),
        (
            "429 too many",
            format!("{stream}?token={}", token("busy")),
            json!({}),
            429,
        ),
        (
            "200 the stream",
            format!("{stream}?token={}", token("alice")),
            json!({}),
            200,
        ),
    ];
    for keep_alive in [false, true] {
        let cases: Vec<Value> = answers
            .iter()
            .map(|(_, path, headers, _)| json!({"path": path, "headers": headers, "keepAlive": keep_alive}))
            .collect();
        let results = strict_client(&server, &json!(cases));
        for ((name, _, _, status), result) in answers.iter().zip(&results) {
            let transport = if keep_alive { "hyper" } else { "lean" };
            assert_eq!(
                result["status"],
                json!(status),
                "{name} on {transport}: {result}"
            );
            assert!(
                result["headers"]["date"].is_string(),
                "{name} on {transport} has a Date"
            );
            if *status != 200 {
                let body: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
                assert!(
                    body["error"].is_string(),
                    "{name} on {transport}: the JSON error"
                );
            }
        }
    }
}
