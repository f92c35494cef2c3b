//! The server-rendered app: the bell and the user's first page are in the HTML itself.

use crate::support;
use crate::support::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use belfry::store::Notifications;
use http_body_util::BodyExt;

async fn page(router: &axum::Router, cookie: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get("/");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = respond(router, request.body(Body::empty()).unwrap()).await;
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn the_home_page_carries_the_bell_and_the_first_page() {
    let db = sqlite().await;
    let mut batch = Vec::new();
    for message in ["Order #7 shipped", "<img src=x onerror=alert(1)>"] {
        batch.push(support::new_notification(
            "alice",
            message,
            Some("/orders/7"),
        ));
    }
    batch.push(support::new_notification("bob", "for bob only", None));
    for one in batch {
        db.store.insert(&[one]).await.unwrap();
    }
    let router = belfry::app(state(db.store.clone()));

    let (status, html) = page(&router, Some(&format!("belfry_token={}", token("alice")))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("belfry-bell__button"), "{html}");
    assert!(
        html.contains(r#"<h1 class="belfry-brand">Belfry</h1>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<link rel="icon" href="data:image/svg+xml,"#),
        "an inline icon, so no /favicon.ico request: {html}"
    );
    assert!(
        html.contains(r#"aria-label="Notifications, 2 unread""#),
        "{html}"
    );
    assert!(html.contains("Order #7 shipped"), "{html}");
    assert!(html.contains(r#"href="/orders/7""#), "{html}");
    // Rendered as text, never as markup.
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.contains("for bob only"), "{html}");

    let (_, anonymous) = page(&router, None).await;
    assert!(anonymous.contains("Not signed in"));
    assert!(!anonymous.contains("Order #7 shipped"));
    assert!(
        !anonymous.contains("Demo mode"),
        "no demo panel without --dev"
    );
}

/// The app has one page: `/` is it, with its title; any other path is a plain 404 page that
/// loads no bundle.
#[tokio::test]
async fn only_the_root_is_a_page() {
    let db = sqlite().await;
    let router = belfry::app(state(db.store.clone()));

    let (status, html) = page(&router, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<title>Belfry</title>"), "{html}");

    for path in ["/nothing", "/notifications/nothing/else", "/index.html"] {
        let response = respond(&router, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let html = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(html.contains("Page not found."), "{path}: {html}");
        assert!(!html.contains(".wasm"), "{path}: {html}");
    }
}
