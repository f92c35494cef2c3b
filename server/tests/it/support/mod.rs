//! What the integration tests share: the two stores, a ready `AppState`, tokens.
//!
//! The MongoDB tests run against the server named by `BELFRY_TEST_MONGODB_URI` (the README's test
//! command starts SecantusDB and sets it; a real `mongod` works too). Without it they fail, never
//! skip: a MongoDB test that did not run must not look like one that passed.
#![allow(dead_code)]

pub mod direct;
pub mod fixture;
pub mod live;

/// Runs each named test once per store: `on_stores!(KIND: [sqlite, mongo, …] [test, …])`.
///
/// `KIND` is a module of `support::fixture` (`store`: the test takes an
/// `Arc<dyn Store>`; `database`: it takes a database URL), and each store a function
/// in it, which also names the test's module (`sqlite::test`, `mongo::test`, …).
#[allow(unused_macros)]
macro_rules! on_stores {
    ($kind:ident: [$($store:ident),+ $(,)?] $tests:tt) => {
        $( on_stores!(@module $kind $store $tests); )+
    };
    (@module $kind:ident $store:ident [$($test:ident),* $(,)?]) => {
        mod $store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let fixture = crate::support::fixture::$kind::$store().await;
                    super::$test(fixture.arg()).await;
                }
            )*
        }
    };
}

use std::sync::Arc;
use std::time::Duration;

use belfry::auth::{ServiceKey, TokenKeys};
use belfry::model::{Link, Message, NewNotification, UserId};
use belfry::store::mongo::MongoStore;
use belfry::store::sqlite::SqliteStore;
use belfry::store::Store;
use belfry::AppState;
use leptos::prelude::LeptosOptions;
use mongodb::bson::Document;

pub const JWT_SECRET: &str = "test-secret";
pub const SERVICE_KEY: &str = "test-service-key";

fn env_uri(variable: &str, what: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!(
            "{variable} is not set: run the README's test command (scripts/test.sh), which starts \
             SecantusDB, or point it at {what}"
        )
    })
}

/// The test server with change streams (a replica set member).
pub fn mongo_uri() -> String {
    env_uri("BELFRY_TEST_MONGODB_URI", "a MongoDB replica set member")
}

/// The test server without change streams (a standalone `mongod`).
pub fn standalone_mongo_uri() -> String {
    env_uri("BELFRY_TEST_MONGODB_STANDALONE_URI", "a standalone mongod")
}

/// A fresh database name on the test server, so tests never see each other's data.
pub fn fresh_database() -> String {
    format!(
        "belfry_test_{}",
        mongodb::bson::oid::ObjectId::new().to_hex()
    )
}

/// `base` with its database replaced by a fresh one; its options are kept.
fn with_fresh_database(base: &str) -> String {
    let (authority, options) = match base.split_once('?') {
        Some((a, o)) => (a.to_owned(), format!("?{o}")),
        None => (base.to_owned(), String::new()),
    };
    let scheme_end = authority.find("://").map_or(0, |i| i + 3);
    let host_end = authority[scheme_end..]
        .find('/')
        .map_or(authority.len(), |i| scheme_end + i);
    format!("{}/{}{}", &authority[..host_end], fresh_database(), options)
}

pub fn fresh_mongo_uri() -> String {
    with_fresh_database(&mongo_uri())
}

pub fn fresh_standalone_uri() -> String {
    with_fresh_database(&standalone_mongo_uri())
}

pub struct Sqlite {
    pub store: Arc<SqliteStore>,
    // Kept so the file outlives the test.
    pub dir: tempfile::TempDir,
}

pub async fn sqlite() -> Sqlite {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(&dir.path().join("belfry.db"))
        .await
        .expect("the SQLite store opens");
    Sqlite {
        store: Arc::new(store),
        dir,
    }
}

pub async fn mongo() -> Arc<MongoStore> {
    Arc::new(
        MongoStore::connect(&fresh_mongo_uri(), "notifications")
            .await
            .expect("the MongoDB store connects"),
    )
}

/// Inserts a raw document as another program (the Laravel app) would.
pub async fn insert_raw(store: &MongoStore, doc: Document) {
    store
        .collection()
        .insert_one(doc)
        .await
        .expect("a raw insert");
}

/// The database flags for `url` (the `notifications` collection, dates in UTC).
pub fn database_args(url: &str) -> belfry::config::DatabaseArgs {
    belfry::config::DatabaseArgs {
        database: url.parse().expect("a valid database URL"),
        collection: "notifications".to_owned(),
        time_zone: chrono_tz::Tz::UTC,
        schema: belfry::config::SchemaName::Belfry,
        notifiable_type: "App\\Models\\User".to_owned(),
    }
}

/// The URL of a SQLite file in `dir`.
pub fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("belfry.db").display())
}

/// A valid new notification (the test's own constants: a bad one is a bug in the test).
pub fn new_notification(user_id: &str, message: &str, link: Option<&str>) -> NewNotification {
    NewNotification::new(
        user(user_id),
        Message::parse(message).expect("a valid test message"),
        link.map(|l| Link::parse(l).expect("a valid test link")),
    )
}

pub fn user(id: &str) -> UserId {
    UserId::parse(id).expect("a valid test user id")
}

pub fn token(id: &str) -> String {
    TokenKeys::new(JWT_SECRET.as_bytes())
        .mint(&user(id), Duration::from_secs(600))
        .expect("a signed token")
}

pub fn state(store: Arc<dyn Store>) -> AppState {
    AppState {
        store,
        tokens: Arc::new(TokenKeys::new(JWT_SECRET.as_bytes())),
        service_key: ServiceKey(Some(Arc::from(SERVICE_KEY))),
        leptos_options: LeptosOptions::builder().output_name("belfry").build(),
        hub: belfry::hub::Hub::new(16),
        heartbeat: Duration::from_secs(15),
        shutdown: tokio_util::sync::CancellationToken::new(),
        dev: false,
        publish_limit: Arc::new(belfry::rate::PublishLimit::new(
            std::num::NonZeroU32::new(100_000).unwrap(),
        )),
        feed: belfry::store::FeedStatus::default(),
        request_timeout: Duration::from_secs(10),
        pusher: None,
    }
}

/// The router's response to one request (no socket), its body unread.
pub async fn respond(
    router: &axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> axum::response::Response {
    use tower::ServiceExt;
    router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible router")
}

/// Sends one request through the router (no socket) and returns the status and JSON body
/// (`Value::Null` when the body is empty). Panics if it opens an event stream.
pub async fn call(
    router: &axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, serde_json::Value) {
    use http_body_util::BodyExt;

    let response = respond(router, request).await;
    let status = response.status();
    // A stream never ends: reading it would hang the test instead of failing it.
    let content_type = response.headers().get(axum::http::header::CONTENT_TYPE);
    assert!(
        content_type.is_none_or(|t| t != "text/event-stream"),
        "an event stream opened ({status}) where an answer was expected"
    );
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a readable body")
        .to_bytes();
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("a JSON body, got {:?}", String::from_utf8_lossy(&bytes)))
    };
    (status, json)
}

/// Signs arbitrary claims with the test secret (for expired or incomplete tokens).
pub fn token_with_claims(claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("a signed token")
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Every notification of `user_id` in the store, oldest first (paging back with `before`).
pub async fn all_of(store: &dyn belfry::store::Store, user_id: &str) -> Vec<app::Notification> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list(
                &user(user_id),
                belfry::store::Page {
                    limit: 100,
                    before,
                    status: Default::default(),
                    category: None,
                },
            )
            .await
            .expect("the store lists");
        let Some(last) = page.last() else { break };
        before = Some(belfry::model::NotificationId::parse(&last.id).expect("a stored id"));
        all.extend(page);
    }
    all.reverse();
    all
}
