//! Connections that send too little, too slowly, too much, or something odd. Each is answered or
//! cut off at the header deadline (1 s here), and a normal stream beside them keeps receiving.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::live::{closed_by_server, serve_args, SseClient, TestServer};
use crate::support::*;

async fn server(dir: &tempfile::TempDir) -> TestServer {
    TestServer::start_with(serve_args(
        &sqlite_url(dir),
        &["--header-read-timeout-secs", "1"],
    ))
    .await
}

/// Sends `bytes` on a fresh connection and returns what the server sent before closing it.
async fn send(server: &TestServer, bytes: &[u8]) -> Vec<u8> {
    let mut socket = TcpStream::connect(server.url.trim_start_matches("http://"))
        .await
        .expect("connect");
    socket.write_all(bytes).await.expect("send");
    closed_by_server(socket).await
}

fn status_of(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    text.lines().next().unwrap_or_default().to_owned()
}

/// A real user beside the attack: still streaming, still receiving.
async fn unharmed(server: &TestServer, user: &mut SseClient) {
    let sent = server.publish_to("bystander", "still here").await;
    assert_eq!(
        user.next_notification().await,
        sent,
        "the bystander still receives"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalls_are_cut_off_at_the_header_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir).await;
    let mut bystander = SseClient::open(&server.url, "bystander").await;
    let attacks: [(&str, &[u8]); 5] = [
        ("one byte, then nothing", b"P"),
        ("the HTTP/2 preface, then nothing", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        ("a header that never ends", b"GET /healthz HTTP/1.1\r\nX-Slow: aaaa"),
        (
            "a stream request whose header never ends",
            b"GET /notifications/stream HTTP/1.1\r\nX-Slow: aaaa",
        ),
        ("a POST whose body never arrives", b"POST /api/notifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-service-key\r\nContent-Length: 100\r\n\r\n{"),
    ];
    let cut_off =
        futures::future::join_all(attacks.iter().map(|(_, bytes)| send(&server, bytes))).await;
    for ((name, _), answer) in attacks.iter().zip(cut_off) {
        // Cut off: closed (`send` waits for that), with at most an error answer (a 408 for the
        // body that never came) or, to the HTTP/2 preface, hyper's opening SETTINGS frame.
        let status = status_of(&answer);
        assert!(!status.contains(" 200 "), "{name}: {status}");
    }
    unharmed(&server, &mut bystander).await;
}

/// The header deadline (1 s here) runs from the connect: a client that waits before it sends
/// the start of a request and then stalls is cut off then, not a whole deadline after its first
/// bytes (each step of reading a head once had a deadline of its own: about 1.9 s here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_deadline_runs_from_the_connect() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir).await;
    let starts: [&[u8]; 2] = [b"GET /notifications/stream?token=", b"G"];
    for start in starts {
        let connected = std::time::Instant::now();
        let mut socket = TcpStream::connect(server.url.trim_start_matches("http://"))
            .await
            .expect("connect");
        // The attack itself: nothing for most of the deadline, then a request that stalls.
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        socket.write_all(start).await.expect("send");
        closed_by_server(socket).await;
        let held = connected.elapsed();
        assert!(
            held < std::time::Duration::from_millis(1600),
            "{:?} held the connection for {held:?}",
            String::from_utf8_lossy(start)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_requests_get_a_clear_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir).await;
    let mut bystander = SseClient::open(&server.url, "bystander").await;
    let token = token("alice");
    let stream = format!("/notifications/stream?token={token}");
    let many_headers: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let big_header = format!("X-Big: {}\r\n", "a".repeat(20 * 1024));
    let cases: Vec<(&str, String, &str)> = vec![
        ("100 headers on a stream request", format!("GET {stream} HTTP/1.1\r\n{many_headers}\r\n"), " 431 "),
        ("a 20 KiB header on a stream request", format!("GET {stream} HTTP/1.1\r\n{big_header}\r\n"), " 431 "),
        (
            "Transfer-Encoding and Content-Length on a stream request",
            format!("GET {stream} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"),
            " 400 ",
        ),
        (
            "a request pipelined after a stream request",
            format!("GET {stream}&last_event_id=z%20z HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n"),
            " 400 ",
        ),
        (
            "an absolute-form URI",
            format!("GET http://127.0.0.1{stream}&last_event_id=z%20z HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
            " 400 ",
        ),
        ("HTTP/1.0", format!("GET {stream}&last_event_id=z%20z HTTP/1.0\r\n\r\n"), " 400 "),
        // RFC 9112 §3.2: an HTTP/1.1 request needs exactly one valid Host, on either transport.
        ("no Host on a stream request", format!("GET {stream} HTTP/1.1\r\n\r\n"), " 400 "),
        ("two Hosts on a stream request", format!("GET {stream} HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), " 400 "),
        ("an invalid Host on a stream request", format!("GET {stream} HTTP/1.1\r\nHost: a b\r\n\r\n"), " 400 "),
        ("a request line past 16 KiB", format!("GET {stream}&x={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(17 * 1024)), " 414 "),
        ("a Host with a user part", format!("GET {stream} HTTP/1.1\r\nHost: evil@127.0.0.1\r\n\r\n"), " 400 "),
        ("a Host whose port is not a number", "GET /healthz HTTP/1.1\r\nHost: h:80x\r\n\r\n".to_owned(), " 400 "),
        ("no Host on another request", "GET /healthz HTTP/1.1\r\n\r\n".to_owned(), " 400 "),
        ("two Hosts on another request", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_owned(), " 400 "),
    ];
    for (name, request, expected) in &cases {
        let answer = send(&server, request.as_bytes()).await;
        let status = status_of(&answer);
        assert!(status.contains(expected), "{name}: {status}");
        // One answer per connection on the stream path: nothing after it.
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{name}: {text}");
    }
    unharmed(&server, &mut bystander).await;
}
