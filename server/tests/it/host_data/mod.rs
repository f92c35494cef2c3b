//! The host's data as it really is: documents and rows written the way other programs write
//! them (the host application, a restore, a migration, the sqlite3 shell), never through
//! Belfry's API, and what the list, the count, the stream, mark-read and replay make of them.
//! One test binary, a module per concern:
//! - `feeds.rs`: feeds that survive a dropped or renamed collection, a first start on a full
//!   collection, ids of any type, whole-document rewrites, read-all beside a publish, their own
//!   stamps;
//! - `fields.rs`: one rule per field (`user_id`, `read_at`, dates) on every path.

mod feeds;
mod fields;

use crate::support;
use crate::support::live::{SseClient, TestServer};
use crate::support::token;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::Document;
use serde_json::Value;

/// The MongoDB URI a test's database URL names (the test runs on MongoDB only).
pub(crate) fn mongo_uri(database: &str) -> String {
    match database.parse::<belfry::config::DatabaseUrl>() {
        Ok(belfry::config::DatabaseUrl::Mongo(uri)) => uri,
        other => panic!("a MongoDB test, not {other:?}"),
    }
}

/// Whether a test's database is on the server without change streams.
pub(crate) fn is_standalone(database: &str) -> bool {
    let base = support::standalone_mongo_uri();
    let authority = base
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    database.starts_with(&format!("{authority}/"))
}

/// The database name in a MongoDB URL (what `support::direct::mongo` opens).
fn database_name(uri: &str) -> String {
    let path = uri.rsplit('/').next().unwrap_or_default();
    path.split('?').next().unwrap_or_default().to_owned()
}

/// The host's own client on `uri` and its `notifications` collection.
async fn host(uri: &str) -> (mongodb::Client, mongodb::Collection<Document>) {
    support::direct::mongo(uri).await
}

/// An ObjectId made `seconds_ago`, as a writer then (or a restore of its documents) has it.
fn oid_made(seconds_ago: u32) -> ObjectId {
    let now = u32::try_from(support::unix_now()).expect("before 2106");
    let mut bytes = ObjectId::new().bytes();
    bytes[..4].copy_from_slice(&(now - seconds_ago).to_be_bytes());
    ObjectId::from_bytes(bytes)
}

/// `POST path` as `user`, as the bell sends it; the status.
pub(crate) async fn post_as(base: &str, user: &str, path: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token(user))
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .expect("POST")
        .status()
        .as_u16()
}

/// The next event on `tab`: its name and JSON data.
pub(crate) async fn next_event(tab: &mut SseClient) -> (String, Value) {
    let event = tab.next().await.expect("the stream is open");
    let data = serde_json::from_str(&event.data).expect("JSON data");
    (event.event, data)
}

/// `GET /notifications` as `user`: the list, newest first.
pub(crate) async fn list_of(server: &TestServer, user: &str) -> Vec<app::Notification> {
    let (status, body) = server.get_as(user, "/notifications?limit=100").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("a JSON list")
}

/// `GET /notifications/unread-count` as `user`.
pub(crate) async fn unread_count(server: &TestServer, user: &str) -> u64 {
    let (status, body) = server.get_as(user, "/notifications/unread-count").await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    body["unread_count"].as_u64().expect("a count")
}

/// A counter's value in a `/metrics` text, summed over its labels.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(name))
        .filter(|line| line[name.len()..].starts_with([' ', '{']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
