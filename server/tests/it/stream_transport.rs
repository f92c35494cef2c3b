//! The two ways a stream is carried: the lean transport for a connection that opens with the
//! stream request, and hyper for one that arrives on a connection already serving other
//! requests. Raw sockets, so the test controls which connection carries what and sees the
//! bytes on the wire.

use crate::support;
use std::time::Duration;

use crate::support::live::{closed_by_server, TestServer, PATIENCE};
use crate::support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Raw {
    socket: TcpStream,
    /// What was read past the last head.
    pending: Vec<u8>,
}

/// A response head: the status line and lower-case headers.
struct Head {
    status_line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Raw {
    async fn connect(server: &TestServer) -> Self {
        let addr = server.url.trim_start_matches("http://");
        let socket = TcpStream::connect(addr).await.expect("connect");
        Self {
            socket,
            pending: Vec::new(),
        }
    }

    /// A connection that already carried one request (`/healthz`, answered): hyper's, kept
    /// alive, so a stream request on it stays with hyper.
    async fn kept_alive(server: &TestServer) -> Self {
        let mut raw = Self::connect(server).await;
        raw.send("GET /healthz HTTP/1.1\r\nhost: belfry\r\n\r\n")
            .await;
        let health = raw.head().await;
        assert_eq!(health.status_line, "HTTP/1.1 200 OK");
        raw.body(&health).await;
        raw
    }

    async fn send(&mut self, request: &str) {
        self.socket
            .write_all(request.as_bytes())
            .await
            .expect("write the request");
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(PATIENCE, self.socket.read(&mut chunk))
            .await
            .expect("the server answers in time")
            .expect("read");
        self.pending.extend_from_slice(&chunk[..n]);
        n
    }

    async fn head(&mut self) -> Head {
        loop {
            if let Some(end) = self.pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8(self.pending[..end].to_vec()).expect("an ASCII head");
                self.pending.drain(..end + 4);
                let mut lines = text.split("\r\n");
                let status_line = lines.next().unwrap_or_default().to_owned();
                let headers = lines
                    .filter_map(|line| line.split_once(':'))
                    .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                return Head {
                    status_line,
                    headers,
                };
            }
            assert!(self.fill().await > 0, "the connection closed before a head");
        }
    }

    /// The body of a response with a `Content-Length`, taken out of what was read.
    async fn body(&mut self, head: &Head) -> Vec<u8> {
        let length: usize = head
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .expect("a content-length");
        while self.pending.len() < length {
            assert!(self.fill().await > 0, "the connection closed inside a body");
        }
        self.pending.drain(..length).collect()
    }

    /// Reads until `needle` has arrived (whatever the framing around it).
    async fn until(&mut self, needle: &str) {
        while !String::from_utf8_lossy(&self.pending).contains(needle) {
            assert!(
                self.fill().await > 0,
                "the connection closed before {needle:?}"
            );
        }
    }
}

fn stream_request(user: &str) -> String {
    format!(
        "GET /notifications/stream?token={} HTTP/1.1\r\nhost: belfry\r\n\r\n",
        token(user)
    )
}

#[tokio::test]
async fn a_fresh_connection_is_streamed_close_delimited() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&support::sqlite_url(&dir)).await;
    let mut raw = Raw::connect(&server).await;
    raw.send(&stream_request("alice")).await;

    let head = raw.head().await;
    assert_eq!(head.status_line, "HTTP/1.1 200 OK");
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    assert_eq!(head.header("cache-control"), Some("no-cache"));
    assert_eq!(head.header("x-accel-buffering"), Some("no"));
    // The lean transport's framing: the body runs until the connection closes.
    assert_eq!(head.header("connection"), Some("close"));
    assert_eq!(head.header("transfer-encoding"), None);
    raw.until("retry: 3000\n").await;

    let sent = server.publish_to("alice", "over the lean transport").await;
    raw.until(&format!("event: new-notification\nid: {}\ndata: ", sent.id))
        .await;
    raw.until("over the lean transport").await;
}

#[tokio::test]
async fn a_stream_on_a_kept_alive_connection_is_carried_by_hyper() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&support::sqlite_url(&dir)).await;
    let mut raw = Raw::kept_alive(&server).await;
    raw.send(&stream_request("alice")).await;
    let head = raw.head().await;
    assert_eq!(head.status_line, "HTTP/1.1 200 OK");
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    let sent = server.publish_to("alice", "over hyper").await;
    raw.until(&sent.id).await;
    raw.until("over hyper").await;
}

#[tokio::test]
async fn errors_on_the_lean_transport_are_whole_responses() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&support::sqlite_url(&dir)).await;

    let mut raw = Raw::connect(&server).await;
    raw.send("GET /notifications/stream HTTP/1.1\r\nhost: belfry\r\n\r\n")
        .await;
    let head = raw.head().await;
    assert_eq!(head.status_line, "HTTP/1.1 401 Unauthorized");
    let body: serde_json::Value = serde_json::from_slice(&raw.body(&head).await).unwrap();
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "{body}"
    );
    assert_eq!(raw.fill().await, 0, "the connection closes after the error");

    let mut raw = Raw::connect(&server).await;
    raw.send("GET /notifications/stream HTTP/1.1\r\nno colon here\r\n\r\n")
        .await;
    let head = raw.head().await;
    assert_eq!(head.status_line, "HTTP/1.1 400 Bad Request");
    assert!(head.header("date").is_some(), "RFC 9110 §6.6.1");

    // More headers than the transport reads: 431, as hyper answers.
    let many: String = (0..100).map(|i| format!("x-{i}: {i}\r\n")).collect();
    let mut raw = Raw::connect(&server).await;
    raw.send(&format!("GET /notifications/stream HTTP/1.1\r\n{many}\r\n"))
        .await;
    let head = raw.head().await;
    assert_eq!(
        head.status_line,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    assert_eq!(head.header("content-length"), Some("0"));
}

/// A head past the limit is refused with the rest of it unread: the answer is followed by the
/// server's end of the connection, not a reset that could discard the answer unread.
#[tokio::test]
async fn a_refused_head_is_closed_without_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&support::sqlite_url(&dir)).await;
    let mut raw = Raw::connect(&server).await;
    let big = "a".repeat(40 * 1024);
    raw.send(&format!(
        "GET /notifications/stream HTTP/1.1\r\nhost: belfry\r\nx-big: {big}\r\n\r\n"
    ))
    .await;
    let head = raw.head().await;
    assert_eq!(
        head.status_line,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    // `fill` fails the test on a read error (a reset); 0 is the server's orderly end.
    assert_eq!(raw.fill().await, 0, "the connection ends without a reset");

    // The same for an error the router answers, with more input behind the request.
    let mut raw = Raw::connect(&server).await;
    let after = "b".repeat(32 * 1024);
    raw.send(&format!(
        "GET /notifications/stream?token=x HTTP/1.1\r\nhost: belfry\r\n\r\n{after}"
    ))
    .await;
    let head = raw.head().await;
    assert_eq!(head.status_line, "HTTP/1.1 401 Unauthorized");
    raw.body(&head).await;
    assert_eq!(raw.fill().await, 0, "the connection ends without a reset");
}

/// `Last-Event-ID` is read as UTF-8, as a browser sends it: an id outside ASCII resumes exactly,
/// and bytes that are not UTF-8 are refused (400) rather than taken for an unknown id.
#[tokio::test]
async fn last_event_id_is_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&support::sqlite_url(&dir)).await;
    support::live::publish(
        &server.url,
        serde_json::json!({"user_id": "alice", "message": "first", "id": "café-1"}),
    )
    .await;
    let after = server.publish_to("alice", "missed").await;

    let request = |last_event_id: &[u8]| {
        let mut bytes = format!(
            "GET /notifications/stream?token={} HTTP/1.1\r\nhost: belfry\r\nlast-event-id: ",
            token("alice")
        )
        .into_bytes();
        bytes.extend_from_slice(last_event_id);
        bytes.extend_from_slice(b"\r\n\r\n");
        bytes
    };
    let mut raw = Raw::connect(&server).await;
    raw.socket
        .write_all(&request("café-1".as_bytes()))
        .await
        .unwrap();
    assert_eq!(raw.head().await.status_line, "HTTP/1.1 200 OK");
    raw.until(&format!("event: new-notification\nid: {}\n", after.id))
        .await;

    // An empty header says nothing: the query's id counts.
    let mut raw = Raw::connect(&server).await;
    raw.send(&format!(
        "GET /notifications/stream?token={}&last_event_id=caf%C3%A9-1 HTTP/1.1\r\nhost: belfry\r\nlast-event-id: \r\n\r\n",
        token("alice")
    ))
    .await;
    assert_eq!(raw.head().await.status_line, "HTTP/1.1 200 OK");
    raw.until(&format!("event: new-notification\nid: {}\n", after.id))
        .await;

    let mut raw = Raw::connect(&server).await;
    raw.socket.write_all(&request(b"\xff\xfe")).await.unwrap();
    let head = raw.head().await;
    assert_eq!(head.status_line, "HTTP/1.1 400 Bad Request");
    let body: serde_json::Value = serde_json::from_slice(&raw.body(&head).await).unwrap();
    assert_eq!(body["field"], "last_event_id", "{body}");
}

/// A client that leaves a stream hyper carries (on a kept-alive connection) is let go at once,
/// not at the next heartbeat's failed write: the end of its input is its hang-up.
#[tokio::test]
async fn a_hang_up_ends_a_stream_on_a_kept_alive_connection() {
    let dir = tempfile::tempdir().unwrap();
    // A heartbeat far past the test's patience, so only the hang-up itself can end the stream.
    let server = TestServer::start_with(support::live::serve_args(
        &support::sqlite_url(&dir),
        &["--heartbeat-secs", "600"],
    ))
    .await;
    let mut raw = Raw::kept_alive(&server).await;
    raw.send(&stream_request("alice")).await;
    assert_eq!(
        raw.head().await.header("transfer-encoding"),
        Some("chunked")
    );
    wait_for_open_streams(&server, 1).await;
    drop(raw);
    wait_for_open_streams(&server, 0).await;
}

/// Waits until the server's `/metrics` counts `n` open streams.
async fn wait_for_open_streams(server: &TestServer, n: usize) {
    let line = format!("belfry_open_streams {n}");
    server
        .wait_for("/metrics", |_, body| body.lines().any(|l| l == line))
        .await;
}

#[tokio::test]
async fn a_hang_up_unsubscribes_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&support::sqlite_url(&dir)).await;
    let mut raw = Raw::connect(&server).await;
    raw.send(&stream_request("alice")).await;
    raw.head().await;
    wait_for_open_streams(&server, 1).await;

    drop(raw);
    wait_for_open_streams(&server, 0).await;
    // The server still serves new streams afterwards.
    let mut again = Raw::connect(&server).await;
    again.send(&stream_request("alice")).await;
    assert_eq!(again.head().await.status_line, "HTTP/1.1 200 OK");
    tokio::time::timeout(Duration::from_secs(5), server.stop())
        .await
        .expect("shutdown ends the lean streams")
        .expect("a clean shutdown");
}

/// Reads until the server closes the connection; fails the test if it does not within PATIENCE.
/// A connection that sends nothing, and a stream request whose headers never end, are both cut
/// off at the header deadline.
#[tokio::test]
async fn silent_and_dribbling_connections_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(support::live::serve_args(
        &support::sqlite_url(&dir),
        &["--header-read-timeout-secs", "1"],
    ))
    .await;
    let addr = server.url.trim_start_matches("http://").to_owned();

    let silent = TcpStream::connect(&addr).await.unwrap();
    assert!(closed_by_server(silent).await.is_empty());

    let socket = TcpStream::connect(&addr).await.unwrap();
    let (reader, mut writer) = socket.into_split();
    // The request line arrives whole (so the lean transport takes it), then a header that
    // never ends, a byte every 50 ms.
    writer
        .write_all(stream_request("alice").trim_end().as_bytes())
        .await
        .unwrap();
    let dribble = tokio::spawn(async move {
        writer.write_all(b"\r\nx-slow: ").await.ok();
        loop {
            if writer.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    assert!(!String::from_utf8_lossy(&closed_by_server(reader).await).contains("200 OK"));
    dribble.abort();
}
