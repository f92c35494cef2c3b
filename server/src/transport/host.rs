//! The `Host` rule of HTTP/1.1, which neither hyper nor httparse applies for their user.
//!
//! RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
//! request message that lacks a Host header field and to any request message that contains more
//! than one Host header field line or a Host header field with an invalid field value." A
//! request whose host is unclear is one a proxy and Belfry could read as meant for different
//! origins, so it is refused before it reaches a route, on both transports (the lean one hands
//! its requests to the same router). HTTP/1.0 may leave `Host` out, and HTTP/2 carries the
//! authority in `:authority` (hyper puts it in the URI), so only doubling or an invalid value is
//! refused there.

use axum::extract::Request;
use axum::http::header::{CONNECTION, HOST};
use axum::http::{HeaderValue, StatusCode, Version};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Whether `request` names its host as RFC 9112 §3.2 requires.
pub fn is_valid(request: &Request) -> bool {
    let mut hosts = request.headers().get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => false,
        (None, _) => request.version() != Version::HTTP_11,
        // Empty is allowed (a target without an authority); anything else must be one.
        (Some(host), None) => host.is_empty() || is_host_and_port(host.as_bytes()),
    }
}

/// RFC 9110 §7.2: `Host = uri-host [ ":" port ]`, a port being digits. An authority as
/// `http::uri::Authority` reads it would also take a user part (`user@host`) and a port that is
/// not a number, neither of which a `Host` may carry.
fn is_host_and_port(host: &[u8]) -> bool {
    if host.contains(&b'@') || axum::http::uri::Authority::try_from(host).is_err() {
        return false;
    }
    // The port is what follows the last colon, unless that colon is inside an IPv6 literal.
    let port = match host.iter().rposition(|&b| b == b':') {
        Some(colon) if !host[colon..].contains(&b']') => &host[colon + 1..],
        _ => return true,
    };
    port.iter().all(u8::is_ascii_digit)
}

/// Middleware: a request that breaks the rule gets an empty 400 and its connection closes, as
/// the transports answer a malformed head (each transport dates its answers itself).
pub async fn require(request: Request, next: Next) -> Response {
    if is_valid(&request) {
        return next.run(request).await;
    }
    tracing::debug!("refused a request without one valid Host");
    (
        StatusCode::BAD_REQUEST,
        [(CONNECTION, HeaderValue::from_static("close"))],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: Version, hosts: &[&str]) -> Request {
        let mut builder = Request::builder().uri("/healthz").version(version);
        for host in hosts {
            builder = builder.header(HOST, *host);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn http_1_1_needs_exactly_one_valid_host() {
        assert!(is_valid(&request(
            Version::HTTP_11,
            &["belfry.example:8443"]
        )));
        assert!(is_valid(&request(Version::HTTP_11, &["[::1]:3000"])));
        assert!(is_valid(&request(Version::HTTP_11, &[""])));
        assert!(!is_valid(&request(Version::HTTP_11, &[])));
        assert!(!is_valid(&request(Version::HTTP_11, &["a", "b"])));
        assert!(!is_valid(&request(Version::HTTP_11, &["a b"])));
        assert!(!is_valid(&request(Version::HTTP_11, &["a/b"])));
        for invalid in [
            "evil@127.0.0.1",
            "user:pw@host",
            "@host",
            "host:80x",
            "h:ab",
            "a:b:c",
        ] {
            assert!(
                !is_valid(&request(Version::HTTP_11, &[invalid])),
                "{invalid}"
            );
        }
        for valid in [
            "host:",
            "[::1]",
            "[::1]:8443",
            "127.0.0.1:3000",
            "b.example",
        ] {
            assert!(is_valid(&request(Version::HTTP_11, &[valid])), "{valid}");
        }
    }

    #[test]
    fn http_1_0_and_http_2_may_leave_it_out_but_not_double_it() {
        for version in [Version::HTTP_10, Version::HTTP_2] {
            assert!(is_valid(&request(version, &[])));
            assert!(!is_valid(&request(version, &["a", "a"])));
        }
    }
}
