//! The API's happy paths, on both stores, through the router without a socket.

use std::sync::Arc;

use crate::support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use belfry::store::Store;
use serde_json::{json, Value};

async fn publish(router: &Router, body: Value) -> (StatusCode, Value) {
    let request = Request::post("/api/notifications")
        .header("authorization", format!("Bearer {SERVICE_KEY}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    call(router, request).await
}

async fn get_as(router: &Router, user_id: &str, uri: &str) -> (StatusCode, Value) {
    let request = Request::get(uri)
        .header("authorization", format!("Bearer {}", token(user_id)))
        .body(Body::empty())
        .unwrap();
    call(router, request).await
}

async fn post_as(router: &Router, user_id: &str, uri: &str) -> StatusCode {
    let request = Request::post(uri)
        .header("authorization", format!("Bearer {}", token(user_id)))
        .header("x-requested-with", "XMLHttpRequest")
        .body(Body::empty())
        .unwrap();
    call(router, request).await.0
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|n| n["_id"].as_str().unwrap())
        .collect()
}

async fn publish_then_list_only_for_its_user(store: Arc<dyn Store>) {
    let router = belfry::app(state(store));
    let (status, created) = publish(
        &router,
        json!({"user_id": 42, "message": "  Order #7 shipped ", "link": "/orders/7"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let created = &created[0];
    assert_eq!(created["user_id"], "42");
    assert_eq!(created["message"], "Order #7 shipped");
    assert_eq!(created["link"], "/orders/7");
    assert_eq!(created["read_at"], Value::Null);

    let (status, list) = get_as(&router, "42", "/notifications").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!([created]));
    let (_, other) = get_as(&router, "43", "/notifications").await;
    assert_eq!(other, json!([]));
}

async fn bulk_publish_pages_and_counts(store: Arc<dyn Store>) {
    let router = belfry::app(state(store));
    for i in 0..12 {
        let (status, _) = publish(
            &router,
            json!({"user_ids": ["alice", "bob"], "message": format!("m{i}"), "link": null}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, first) = get_as(&router, "alice", "/notifications").await;
    assert_eq!(first.as_array().unwrap().len(), 10, "default limit");
    assert_eq!(first[0]["message"], "m11");
    let last = ids(&first)[9].to_owned();
    let (_, rest) = get_as(
        &router,
        "alice",
        &format!("/notifications?limit=100&before={last}"),
    )
    .await;
    let rest_messages: Vec<&str> = rest
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["message"].as_str().unwrap())
        .collect();
    assert_eq!(rest_messages, ["m1", "m0"]);

    let (_, count) = get_as(&router, "bob", "/notifications/unread-count").await;
    assert_eq!(count, json!({"unread_count": 12}));
}

async fn read_and_read_all(store: Arc<dyn Store>) {
    let router = belfry::app(state(store));
    let (_, created) = publish(
        &router,
        json!({"user_ids": ["alice", "bob"], "message": "hi"}),
    )
    .await;
    publish(&router, json!({"user_id": "alice", "message": "again"})).await;
    let alice_id = created[0]["_id"].as_str().unwrap();
    let bob_id = created[1]["_id"].as_str().unwrap();

    assert_eq!(
        post_as(&router, "alice", &format!("/notifications/{bob_id}/read")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post_as(&router, "alice", &format!("/notifications/{alice_id}/read")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        post_as(&router, "alice", &format!("/notifications/{alice_id}/read")).await,
        StatusCode::NO_CONTENT,
        "idempotent"
    );
    let (_, count) = get_as(&router, "alice", "/notifications/unread-count").await;
    assert_eq!(count["unread_count"], 1);

    assert_eq!(
        post_as(&router, "alice", "/notifications/read-all").await,
        StatusCode::NO_CONTENT
    );
    let (_, count) = get_as(&router, "alice", "/notifications/unread-count").await;
    assert_eq!(count["unread_count"], 0);
    let (_, bobs) = get_as(&router, "bob", "/notifications/unread-count").await;
    assert_eq!(bobs["unread_count"], 1, "bob's notification is untouched");
}

async fn cookie_and_health(store: Arc<dyn Store>) {
    let router = belfry::app(state(store.clone()));
    publish(&router, json!({"user_id": "alice", "message": "hi"})).await;
    let request = Request::get("/notifications/unread-count")
        .header(
            "cookie",
            format!("theme=dark; belfry_token={}", token("alice")),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        call(&router, request).await,
        (StatusCode::OK, json!({"unread_count": 1}))
    );

    let request = Request::get("/healthz").body(Body::empty()).unwrap();
    assert_eq!(
        call(&router, request).await,
        (
            StatusCode::OK,
            json!({"status": "ok", "database": "ok", "feed": "following"})
        )
    );

    // A feed that cannot follow its database makes the instance unready, the database up.
    let stalled = state(store.clone());
    stalled.feed.stalled("the change stream ended");
    let request = Request::get("/healthz").body(Body::empty()).unwrap();
    assert_eq!(
        call(&belfry::app(stalled), request).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "database": "ok", "feed": "stalled"})
        )
    );
}

/// A tab's category: its list, its count beside the others', its read-all; the actor as sent.
async fn categories_over_http(store: Arc<dyn Store>) {
    let router = belfry::app(state(store));
    let actor = json!({"name": "Anna Lee", "avatar": "https://cdn.example/anna.png"});
    for (message, category) in [("paid", json!("billing")), ("hi", Value::Null)] {
        let body =
            json!({"user_id": "carol", "message": message, "category": category, "actor": actor});
        assert_eq!(publish(&router, body).await.0, StatusCode::CREATED);
    }
    let (_, listed) = get_as(&router, "carol", "/notifications?category=billing").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["category"], "billing");
    assert_eq!(listed[0]["actor"], actor);
    let (status, counts) = get_as(
        &router,
        "carol",
        "/notifications/counts?categories=billing,social",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let one = json!({"unread_count": 1, "unseen_count": 1});
    let none = json!({"unread_count": 0, "unseen_count": 0});
    let all = json!({"unread_count": 2, "unseen_count": 2, "categories": {"billing": one, "social": none}});
    assert_eq!(counts, all);
    let read = post_as(&router, "carol", "/notifications/read-all?category=billing").await;
    assert_eq!(read, StatusCode::NO_CONTENT);
    let (_, counts) = get_as(&router, "carol", "/notifications/counts?categories=billing").await;
    assert_eq!(
        counts,
        json!({"unread_count": 1, "unseen_count": 1, "categories": {"billing": none}})
    );
}

on_stores!(store: [sqlite, mongo] [
    publish_then_list_only_for_its_user,
    bulk_publish_pages_and_counts,
    read_and_read_all,
    cookie_and_health,
    categories_over_http,
]);

/// A panicking handler answers the contract's 500 and takes nothing else down.
#[tokio::test]
async fn a_panic_in_a_handler_is_a_500_not_a_crash() {
    async fn boom() -> &'static str {
        panic!("a bug in a handler")
    }
    let router = Router::new()
        .route("/boom", axum::routing::get(boom))
        .route("/fine", axum::routing::get(|| async { "fine" }))
        .layer(belfry::catch_panics());
    let (status, body) = call(&router, Request::get("/boom").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"], "internal");
    assert!(
        !body.to_string().contains("a bug"),
        "nothing internal is sent: {body}"
    );
    let response =
        tower::ServiceExt::oneshot(router, Request::get("/fine").body(Body::empty()).unwrap())
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// The `Authorization` scheme is case-insensitive (RFC 9110 §11.1), for the service key and for
/// user tokens alike; another scheme is still refused.
#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let db = sqlite().await;
    let router = belfry::app(state(db.store.clone()));
    let request = Request::post("/api/notifications")
        .header("authorization", format!("BEARER {SERVICE_KEY}"))
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"user_id": "alice", "message": "hi"}).to_string(),
        ))
        .unwrap();
    assert_eq!(call(&router, request).await.0, StatusCode::CREATED);
    let list = |scheme: &str| {
        Request::get("/notifications")
            .header("authorization", format!("{scheme} {}", token("alice")))
            .body(Body::empty())
            .unwrap()
    };
    let (status, body) = call(&router, list("bearer")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(1));
    assert_eq!(
        call(&router, list("Token")).await.0,
        StatusCode::UNAUTHORIZED
    );
}
