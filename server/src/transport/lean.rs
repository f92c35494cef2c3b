//! A lean HTTP/1.1 transport for connections that open with a stream request.
//!
//! ## Why not hyper for these
//! An idle stream is almost all of what a Belfry server holds, and hyper keeps two buffers of
//! 8 KiB or more per connection for as long as it lives (its read buffer, grown to 16 KiB while
//! it waits for the client's next request, and its write buffer for response heads). Measured
//! with `valgrind --tool=dhat`, those were 24 of the 33 KiB an idle stream cost. A connection
//! whose first request is `GET /notifications/stream` never carries another request (the
//! response lasts until the connection ends), so it needs none of hyper's keep-alive machinery:
//! this module reads that one request head, hands it to the same axum `Router` as every other
//! request (routing, auth, CORS, errors and the SSE body are all axum's), writes the response
//! head, and copies the body's frames to the socket. Everything else, and a stream request
//! arriving on a connection hyper already serves, goes through hyper.
//!
//! The response is close-delimited (`Connection: close`, no chunked encoding), which HTTP/1.1
//! allows and every EventSource implementation reads.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::header::{self, HeaderName};
use axum::http::{Request, Response, Version};
use http_body_util::BodyExt;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use crate::stream;

/// What a connection's first bytes must be for this transport to take it: `GET `, the stream's
/// path, then a space or a query.
const METHOD: &[u8] = b"GET ";
const PEEK: usize = METHOD.len() + stream::PATH.len() + 1;
/// Largest request head accepted (a token in the query string fits many times over).
pub const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// A client that does not take a frame within this long is disconnected (it resumes with
/// `Last-Event-ID`). The hub closes a stream whose queue is full long before that; this is for
/// a client that stops reading mid-frame. Each stream gets a slightly different deadline so a
/// stall does not end thousands of streams in the same instant.
const WRITE_DEADLINE: Duration = Duration::from_secs(30);

/// Whether the connection's first bytes, as far as they arrived, open a stream request. Only
/// what the first segment brought is looked at: a client that trickles its request line in goes
/// to hyper, which handles that (and its timeout) like any other request.
pub async fn opens_a_stream(socket: &TcpStream) -> bool {
    let mut first = [0u8; PEEK];
    match socket.peek(&mut first).await {
        Ok(n) if n == PEEK => {
            let (method, rest) = first.split_at(METHOD.len());
            let (path, after) = rest.split_at(stream::PATH.len());
            method == METHOD && path == stream::PATH.as_bytes() && matches!(after, [b' ' | b'?'])
        }
        _ => false,
    }
}

/// Serves the connection's one stream request with `router`, until the response ends, the
/// client hangs up, or a write stalls. The request head must have arrived by `head_by`.
pub async fn serve(mut socket: TcpStream, router: axum::Router, head_by: tokio::time::Instant) {
    let request = match tokio::time::timeout_at(head_by, read_head(&mut socket)).await {
        Ok(Ok(request)) => request,
        // Boxed: a refusal's state (its lingering read) is no part of an idle stream's task.
        Ok(Err(HeadError::Malformed)) => {
            return Box::pin(refuse(&mut socket, "400 Bad Request")).await
        }
        Ok(Err(HeadError::TooLarge)) => {
            return Box::pin(refuse(&mut socket, "431 Request Header Fields Too Large")).await
        }
        Ok(Err(HeadError::UriTooLong)) => {
            return Box::pin(refuse(&mut socket, "414 URI Too Long")).await
        }
        Ok(Err(HeadError::Closed)) | Err(_) => return,
    };
    let Ok(response) = router.oneshot(request).await;
    if let Err(err) = write_response(&mut socket, response).await {
        tracing::debug!(%err, "stream connection ended");
    }
}

/// Answers a head this transport will not serve with `status` and no body, then the
/// connection ends.
async fn refuse(socket: &mut TcpStream, status: &str) {
    let answer = format!(
        "HTTP/1.1 {status}\r\nconnection: close\r\n{}content-length: 0\r\n\r\n",
        date()
    );
    if socket.write_all(answer.as_bytes()).await.is_ok() {
        close_in_stages(socket).await;
    }
}

/// How long, and for how many bytes, a connection is still read after an answer that ends it.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 * 1024;

/// Ends a connection after an answer that is not a stream (a refused head, an error), whose
/// request may not have been read to its end, without losing the answer: closing a socket with
/// unread input makes the kernel send a reset, which can reach the client before it has read
/// the answer and discard it. So, as RFC 9112 §9.6 describes, the write side closes first (the client reads the answer, then its end),
/// and what the client still sends is read and dropped until it closes too, for at most
/// [`LINGER`] or [`LINGER_BYTES`].
async fn close_in_stages(socket: &mut TcpStream) {
    if socket.shutdown().await.is_err() {
        return;
    }
    let mut sink = vec![0u8; 4096];
    let drain = async {
        let mut read = 0;
        while read < LINGER_BYTES {
            match socket.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// The `Date` header line every answer of this transport carries (RFC 9110 §6.6.1).
fn date() -> String {
    format!("date: {}\r\n", httpdate::fmt_http_date(SystemTime::now()))
}

/// Why no request came of a connection's head.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Not a request this transport serves (answered 400).
    Malformed,
    /// A head past [`MAX_HEAD`] bytes or [`MAX_HEADERS`] headers (answered 431).
    TooLarge,
    /// A request line alone past [`MAX_HEAD`] bytes (answered 414).
    UriTooLong,
    /// The client hung up first.
    Closed,
}

/// Reads and parses the request head. Its buffer lives only until the head is parsed.
async fn read_head(socket: &mut TcpStream) -> Result<Request<Body>, HeadError> {
    let mut buffer = Vec::with_capacity(1024);
    loop {
        if socket
            .read_buf(&mut buffer)
            .await
            .map_err(|_| HeadError::Closed)?
            == 0
        {
            return Err(HeadError::Closed);
        }
        if let Some(request) = parse_head(&buffer)? {
            return Ok(request);
        }
    }
}

/// The request head at the start of `buffer`: `Ok(None)` while it is incomplete (and within
/// the limits), an error once it cannot become a stream request Belfry serves. Whatever follows
/// the head (a pipelined request, say) is ignored: a stream connection carries one request.
pub fn parse_head(buffer: &[u8]) -> Result<Option<Request<Body>>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(buffer) {
        Ok(httparse::Status::Complete(_)) => to_request(&parsed).map(Some),
        Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => Ok(None),
        // RFC 9112 §3: a request line longer than the server reads is a 414.
        Ok(httparse::Status::Partial) if !buffer.contains(&b'\n') => Err(HeadError::UriTooLong),
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
            Err(HeadError::TooLarge)
        }
        Err(_) => Err(HeadError::Malformed),
    }
}

fn to_request(parsed: &httparse::Request<'_, '_>) -> Result<Request<Body>, HeadError> {
    // A stream request has no body, and this transport reads none: one announced (a length, or
    // an encoding, let alone both) is refused rather than left unread on the connection.
    let has_body = parsed.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            || (h.name.eq_ignore_ascii_case("content-length") && !is_zero(h.value))
    });
    if has_body {
        return Err(HeadError::Malformed);
    }
    let mut request = Request::builder()
        .method(parsed.method.unwrap_or_default())
        .uri(parsed.path.unwrap_or_default())
        .version(if parsed.version == Some(0) {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        });
    for header in parsed.headers.iter() {
        request = request.header(header.name, header.value);
    }
    request
        .body(Body::empty())
        .map_err(|_| HeadError::Malformed)
}

/// Whether a `Content-Length` value says 0 (`0`, `00`: RFC 9110 §8.6 allows leading zeros).
fn is_zero(value: &[u8]) -> bool {
    let value = value.trim_ascii();
    !value.is_empty() && value.iter().all(|&b| b == b'0')
}

/// Headers about the message's framing, which this transport writes itself.
const FRAMING: [HeaderName; 4] = [
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
    header::DATE,
];

/// Writes the head, then the body: frame by frame for a stream (watching for the client hanging
/// up meanwhile), or whole with its length for anything else (an error, say).
///
/// A task's future is one allocation as large as its largest state, held for the connection's
/// life: the states an idle stream does not need (collecting a whole body, writing a frame
/// under its deadline) are boxed, so they take memory only while they run.
async fn write_response(socket: &mut TcpStream, response: Response<Body>) -> std::io::Result<()> {
    let (parts, body) = response.into_parts();
    let is_stream = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let mut head = response_head(parts);
    if is_stream {
        head.extend_from_slice(b"\r\n");
        Box::pin(write_with_deadline(socket, &head)).await?;
        drop(head);
        copy_frames(socket, body).await
    } else {
        // An error answer may leave input unread (a body the client sends anyway, say).
        Box::pin(async {
            write_whole(socket, head, body).await?;
            close_in_stages(socket).await;
            Ok(())
        })
        .await
    }
}

/// The status line and headers, without the blank line that ends them.
fn response_head(parts: axum::http::response::Parts) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_str(),
        parts.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        // The framing is this transport's own (close-delimited, or one length it computes
        // below): a length or encoding the router set would contradict it, and two
        // `Content-Length`s make strict clients and proxies refuse the answer.
        if FRAMING.contains(name) {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"connection: close\r\n");
    head.extend_from_slice(date().as_bytes());
    head
}

/// A response that is not a stream: its whole body, with its length.
async fn write_whole(socket: &mut TcpStream, mut head: Vec<u8>, body: Body) -> std::io::Result<()> {
    let bytes = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    head.extend_from_slice(format!("content-length: {}\r\n\r\n", bytes.len()).as_bytes());
    head.extend_from_slice(&bytes);
    write_with_deadline(socket, &head).await
}

/// Copies a stream's frames to the socket until the body ends or the client hangs up: the
/// state an idle stream's task rests in.
async fn copy_frames(socket: &mut TcpStream, mut body: Body) -> std::io::Result<()> {
    let (mut reader, mut writer) = socket.split();
    // The client sends nothing after its request; a read returning is its hang-up.
    let mut hang_up = [0u8; 64];
    loop {
        tokio::select! {
            frame = body.frame() => {
                let Some(Ok(frame)) = frame else { return Ok(()) };
                if let Ok(data) = frame.into_data() {
                    Box::pin(write_with_deadline(&mut writer, &data)).await?;
                }
            }
            read = reader.read(&mut hang_up) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return Ok(());
                }
            }
        }
    }
}

async fn write_with_deadline<W: AsyncWriteExt + Unpin>(
    writer: &mut W,
    bytes: &[u8],
) -> std::io::Result<()> {
    let jitter = rand::rng().random_range(Duration::ZERO..WRITE_DEADLINE / 10);
    tokio::time::timeout(WRITE_DEADLINE + jitter, writer.write_all(bytes))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "write deadline passed"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_length_in_any_spelling_is_no_body() {
        for length in ["0", "00", " 0 "] {
            let head = format!(
                "GET /notifications/stream HTTP/1.1\r\nhost: b\r\ncontent-length: {length}\r\n\r\n"
            );
            assert!(
                matches!(parse_head(head.as_bytes()), Ok(Some(_))),
                "{length:?}"
            );
        }
        let head = b"GET /notifications/stream HTTP/1.1\r\nhost: b\r\ncontent-length: 01\r\n\r\n";
        assert_eq!(parse_head(head).err(), Some(HeadError::Malformed));
    }

    #[test]
    fn a_request_line_past_the_limit_is_414_and_headers_past_it_431() {
        let long_line = format!(
            "GET /notifications/stream?x={} HTTP/1.1",
            "a".repeat(MAX_HEAD)
        );
        assert_eq!(
            parse_head(long_line.as_bytes()).err(),
            Some(HeadError::UriTooLong)
        );
        let long_header = format!(
            "GET /notifications/stream HTTP/1.1\r\nx: {}",
            "a".repeat(MAX_HEAD)
        );
        assert_eq!(
            parse_head(long_header.as_bytes()).err(),
            Some(HeadError::TooLarge)
        );
    }
}
