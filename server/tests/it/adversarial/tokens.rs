//! Tokens in every position (header, cookie, query) and of every broken kind: each is refused
//! with the contract's 401 (never a 500), and the precedence of an explicit token over the
//! cookie holds.

use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::support::live::{SseClient, StreamRequest, TestServer};
use belfry::store::Notifications;

use crate::support::*;

/// An `alg: none` token and an HS512 one, both for "alice".
fn odd_algorithms() -> [(&'static str, String); 2] {
    let claims = json!({"sub": "alice", "exp": unix_now() + 600});
    // `{"alg":"none","typ":"JWT"}`, base64url, over a genuine token's claims, unsigned.
    let genuine = token_with_claims(claims.clone());
    let payload = genuine.split('.').nth(1).unwrap();
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    [("alg none", none), ("HS512", hs512)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_tokens_are_refused_in_every_position() {
    let db = sqlite().await;
    let router = belfry::app(state(db.store.clone()));
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "alice", "exp": unix_now() + 600}),
        &jsonwebtoken::EncodingKey::from_secret(b"not the secret"),
    )
    .unwrap();
    let expired = token_with_claims(json!({"sub": "alice", "exp": unix_now() - 3600}));
    let mut broken = vec![("forged", forged), ("expired", expired)];
    broken.extend(odd_algorithms());
    for (kind, token) in &broken {
        let positions = [
            (
                "header",
                "/notifications".to_owned(),
                Some(format!("Bearer {token}")),
                None,
            ),
            (
                "cookie",
                "/notifications".to_owned(),
                None,
                Some(format!("belfry_token={token}")),
            ),
            (
                "query",
                format!("/notifications/stream?token={token}"),
                None,
                None,
            ),
        ];
        for (position, uri, authorization, cookie) in positions {
            let mut request = Request::builder().method(Method::GET).uri(&uri);
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            if let Some(value) = cookie {
                request = request.header("cookie", value);
            }
            let (status, body) =
                call(&router, request.body(axum::body::Body::empty()).unwrap()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{kind} token in the {position}: {body}"
            );
            assert!(
                body["error"]
                    .as_str()
                    .is_some_and(|e| e.ends_with("_token")),
                "{kind} {position}: {body}"
            );
        }
    }
}

/// PHP JWT libraries mint `"sub": 42` from an integer user id: it is user "42".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_numeric_subject_is_its_decimal_user_id() {
    let db = sqlite().await;
    db.store
        .insert(&[new_notification("42", "for 42", None)])
        .await
        .unwrap();
    let router = belfry::app(state(db.store.clone()));
    let numeric = token_with_claims(json!({"sub": 42, "exp": unix_now() + 600}));
    let request = Request::get("/notifications")
        .header("authorization", format!("Bearer {numeric}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, body) = call(&router, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["message"], "for 42");
}

/// A token that says it never expires is not a 500: the request is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_expiry_is_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&sqlite_url(&dir)).await;
    let huge = token_with_claims(json!({"sub": "alice", "exp": u64::MAX / 2}));
    let mut tab = SseClient::try_open(StreamRequest {
        base: &server.url,
        token: huge.clone(),
        last_event_id: None,
        in_query: true,
    })
    .await
    .expect("a stream with a far-future token opens");
    let sent = server.publish_to("alice", "far future").await;
    assert_eq!(tab.next_notification().await, sent);
    let list = reqwest::Client::new()
        .get(format!("{}/notifications", server.url))
        .bearer_auth(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
}

/// An embedded bell passes its token in the query; a stale `belfry_token` cookie of the same
/// origin must not shadow it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_token_wins_over_a_stale_cookie() {
    let db = sqlite().await;
    let router = belfry::app(state(db.store.clone()));
    let stale = token_with_claims(json!({"sub": "alice", "exp": unix_now() - 3600}));
    let request = Request::get(format!(
        "/notifications/stream?token={}&last_event_id=z%20z",
        token("alice")
    ))
    .header("cookie", format!("belfry_token={stale}"))
    .body(axum::body::Body::empty())
    .unwrap();
    // The query's valid token is taken: past authentication, the malformed id answers 400.
    let (status, body) = call(&router, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "last_event_id");
}
