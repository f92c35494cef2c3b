//! Input that is not what it should be: repeated query values, a resume too large to hold, a
//! row another program wrote in a shape Belfry cannot serve, a wildcard origin, a cross-site
//! form post to a `--dev` server.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::support::live::{serve_args, SseClient, TestServer};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_query_values_get_the_json_error() {
    let db = sqlite().await;
    let router = belfry::app(state(db.store.clone()));
    let alice = token("alice");
    // (URI, whether the token is also in the Authorization header, which wins over `?token=`)
    for (uri, bearer) in [
        ("/notifications?limit=1&limit=2".to_owned(), true),
        (
            format!("/notifications/stream?token={alice}&last_event_id=a&last_event_id=b"),
            false,
        ),
        // A token given twice is refused, not passed over for the cookie (it was
        // `missing_token`).
        (
            format!("/notifications/stream?token=x&token={alice}"),
            false,
        ),
        // Bytes that are not UTF-8 are refused, as in the `Last-Event-ID` header, not read as
        // U+FFFD (an id nobody was sent, so a `resync`).
        (
            format!("/notifications/stream?token={alice}&last_event_id=%ff"),
            false,
        ),
        ("/notifications?before=%C3%28".to_owned(), true),
        // On every route, whether or not it reads the name: a name given twice, or not UTF-8.
        (format!("/notifications/stream?token=a&token={alice}"), true),
        ("/notifications?foo=1&foo=2".to_owned(), true),
        ("/healthz?x=%ff".to_owned(), false),
        ("/notifications/unread-count?x=%ff".to_owned(), true),
    ] {
        let mut request = Request::get(&uri);
        if bearer {
            request = request.header("authorization", format!("Bearer {alice}"));
        }
        let (status, body) = call(&router, request.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(body["error"], "malformed", "{uri}: {body}");
    }
}

/// A header that must say one thing, said twice: neither is taken (a proxy reading the other one
/// would disagree with Belfry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_or_resume_given_twice_is_refused() {
    let db = sqlite().await;
    let router = belfry::app(state(db.store.clone()));
    let alice = format!("Bearer {}", token("alice"));
    let request = Request::get("/notifications")
        .header("authorization", &alice)
        .header("authorization", format!("Bearer {}", token("bob")))
        .body(Body::empty())
        .unwrap();
    let (status, body) = call(&router, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "malformed", "{body}");
    let request = Request::get("/notifications/stream")
        .header("authorization", &alice)
        .header("last-event-id", "a")
        .header("last-event-id", "b")
        .body(Body::empty())
        .unwrap();
    let (status, body) = call(&router, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "last_event_id", "{body}");
}

/// 150 notifications of 2,000 four-byte characters are 1.2 MB: a resume from before them is
/// told to resync instead of being built in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_past_the_byte_bound_resyncs() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&sqlite_url(&dir)).await;
    let first = server.publish_to("alice", "the last one seen").await;
    let long = "😀".repeat(2000);
    for _ in 0..3 {
        let users: Vec<&str> = vec!["alice"; 1];
        for _ in 0..50 {
            server
                .publish(serde_json::json!({"user_ids": users, "message": long}))
                .await;
        }
    }
    let mut tab = SseClient::resume(&server.url, "alice", &first.id).await;
    let event = tab.next().await.expect("an event");
    assert_eq!(event.event, "resync");
    assert!(event.data.contains("too_far_behind"), "{}", event.data);
}

/// A row another program wrote with an id that is not an ObjectId and a text date: skipped and
/// counted; the list serves the rest and live delivery carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_sqlite_row_costs_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let server = TestServer::start(&url).await;
    let mut tab = SseClient::open(&server.url, "alice").await;
    let before = server.publish_to("alice", "before").await;
    assert_eq!(tab.next_notification().await, before);

    let other = rusqlite::Connection::open(dir.path().join("belfry.db")).unwrap();
    other
        .execute(
            "INSERT INTO notifications (id, user_id, message, created_at) VALUES
             ('not an id', 'alice', 'bad id', 0),
             ('6747f0c0a1b2c3d4e5f60718', 'alice', 'bad date', 'yesterday')",
            [],
        )
        .unwrap();
    let after = server.publish_to("alice", "after").await;
    assert_eq!(
        tab.next_notification().await,
        after,
        "live delivery carries on"
    );

    let list = reqwest::Client::new()
        .get(format!("{}/notifications", server.url))
        .bearer_auth(token("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let listed: Vec<app::Notification> =
        serde_json::from_slice(&list.bytes().await.unwrap()).unwrap();
    let messages: Vec<&str> = listed.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(messages, ["after", "before"]);
    let (_, metrics) = server.get("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("belfry_skipped_records_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
}

#[test]
fn a_wildcard_origin_is_refused_at_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_belfry"))
        .args([
            "serve",
            "--dev",
            "--addr",
            "127.0.0.1:0",
            "--allowed-origins",
            "*",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allowed-origins"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Another site's page posting a form to a local `--dev` instance is refused, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_routes_refuse_cross_site_posts() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(serve_args(&sqlite_url(&dir), &["--dev"])).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (route, form) in [
        ("/dev/send", "user=1&message=hi"),
        ("/dev/sign-in", "user=1"),
    ] {
        for (header, value) in [
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ] {
            let answer = client
                .post(format!("{}{route}", server.url))
                .header("content-type", "application/x-www-form-urlencoded")
                .header(header, value)
                .body(form)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 403, "{route} with {header}: {value}");
            assert!(answer.headers().get("set-cookie").is_none());
        }
    }
    let list = client
        .get(format!("{}/notifications", server.url))
        .bearer_auth(token("1"))
        .send()
        .await
        .unwrap();
    assert_eq!(list.text().await.unwrap(), "[]", "nothing was written");
}

/// A listed origin's preflight may send every method the user routes take (DELETE too); an
/// unlisted origin's gets no CORS answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflights_allow_the_user_routes_methods_to_listed_origins_only() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--allowed-origins", "https://app.example"];
    let server = TestServer::start_with(serve_args(&sqlite_url(&dir), &args)).await;
    let client = reqwest::Client::new();
    for (origin, allowed) in [
        ("https://app.example", true),
        ("https://evil.example", false),
    ] {
        let answer = client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/notifications/000000000000000000000000", server.url),
            )
            .header("origin", origin)
            .header("access-control-request-method", "DELETE")
            .header("access-control-request-headers", "x-requested-with")
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            let value = answer.headers().get(name);
            value
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        match allowed {
            true => {
                assert_eq!(header("access-control-allow-origin"), origin);
                assert!(header("access-control-allow-methods").contains("DELETE"));
            }
            false => assert_eq!(header("access-control-allow-origin"), ""),
        }
    }
}

/// 10,000 `Last-Event-ID`s of random bytes (one in ten a well-formed id of nothing): each is a
/// 400 `malformed` or a stream that resyncs, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_last_event_ids() {
    use rand::Rng;

    let db = sqlite().await;
    let router = belfry::app(state(db.store.clone()));
    let alice = token("alice");
    let mut rng = rand::rng();
    for i in 0..10_000 {
        let id: Vec<u8> = if i % 10 == 0 {
            let hex: String = (0..24)
                .map(|_| format!("{:x}", rng.random_range(0..16)))
                .collect();
            hex.into_bytes()
        } else {
            (0..rng.random_range(0..64)).map(|_| rng.random()).collect()
        };
        let request = Request::get("/notifications/stream")
            .header("authorization", format!("Bearer {alice}"));
        // Bytes a header cannot carry go in the query, percent-encoded.
        let request = match axum::http::HeaderValue::from_bytes(&id) {
            Ok(value) => request.header("last-event-id", value),
            Err(_) => {
                let encoded: String = id.iter().map(|b| format!("%{b:02X}")).collect();
                request.uri(format!("/notifications/stream?last_event_id={encoded}"))
            }
        };
        let response = respond(&router, request.body(Body::empty()).unwrap()).await;
        let status = response.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::OK,
            "{:?}: {status}",
            String::from_utf8_lossy(&id)
        );
    }
}

/// `--dev` with configured secrets prints neither.
#[test]
fn dev_mode_prints_only_the_secrets_it_made_up() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_belfry"))
        .args(["serve", "--dev", "--addr", "127.0.0.1:0", "--database"])
        .arg(format!(
            "sqlite://{}",
            tempfile::tempdir().unwrap().keep().join("d.db").display()
        ))
        .env("BELFRY_JWT_SECRET", "configured-jwt-secret")
        .env("BELFRY_SERVICE_KEY", "configured-service-key")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut banner = String::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("List user 1") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(banner.contains("Belfry dev mode"), "{banner}");
    assert!(!banner.contains("configured-jwt-secret"), "{banner}");
    assert!(!banner.contains("configured-service-key"), "{banner}");
}
