//! Laravel, unchanged: its own database notifications read in place (`--schema laravel`), its
//! broadcasts received on the Pusher routes, and publishes that are safe to retry. Documents are
//! written here as laravel-mongodb writes them, broadcasts sent with the official Pusher
//! clients (PyPI's and npm's `pusher`).
//! - `documents.rs`: shapes A, B and C and another notifiable's, on both MongoDBs;
//! - `retries.rs`: a publish with its own id, again, after a 408, on every store;
//! - `pusher.rs`: the Pusher routes driven by the official clients.

mod documents;
mod pusher;
mod retries;

use crate::support::live::{serve_args, SseClient, TestServer};
use serde_json::Value;

/// The user channel Laravel broadcasts a user's notifications on.
const USER_CHANNEL: &str = "private-App.Models.User.";
/// The event Laravel broadcasts a notification as.
const BROADCAST: &str = "Illuminate\\Notifications\\Events\\BroadcastNotificationCreated";

/// A server on `database` reading Laravel's documents, its text dates in Paris time.
async fn laravel_server(database: &str, extra: &[&str]) -> TestServer {
    let mut args = vec!["--schema", "laravel", "--time-zone", "Europe/Paris"];
    args.extend_from_slice(extra);
    TestServer::start_with(serve_args(database, &args)).await
}

/// The next event on `tab`: its name and JSON data.
async fn next_event(tab: &mut SseClient) -> (String, Value) {
    let event = tab.next().await.expect("the stream is open");
    let data = serde_json::from_str(&event.data).expect("JSON data");
    (event.event, data)
}

/// `GET /notifications` as `user`: the list, newest first.
async fn list_of(server: &TestServer, user: &str) -> Vec<app::Notification> {
    let (status, body) = server.get_as(user, "/notifications?limit=100").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("a JSON list")
}

/// `GET /notifications/unread-count` as `user`.
async fn unread_count(server: &TestServer, user: &str) -> u64 {
    let (status, body) = server.get_as(user, "/notifications/unread-count").await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    body["unread_count"].as_u64().expect("a count")
}

/// `POST path` as `user`, as the bell sends it; the status.
async fn post_as(base: &str, user: &str, path: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(crate::support::token(user))
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .expect("POST")
        .status()
        .as_u16()
}

/// A counter's value in `server`'s `/metrics`, for the series that starts with `series`.
async fn metric(server: &TestServer, series: &str) -> f64 {
    let (_, text) = server.get("/metrics").await;
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}
