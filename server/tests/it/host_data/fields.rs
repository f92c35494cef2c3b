//! One rule per field, whatever path reads it: the stream, the list, the count and mark-read
//! agree on documents the host wrote with odd `user_id`s, `read_at`s and dates.

use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime, Document};
use serde_json::json;

use super::{host, list_of, metric, mongo_uri, next_event, post_as, unread_count};

fn support_now() -> i64 {
    i64::try_from(crate::support::unix_now()).expect("a time")
}
use crate::support::live::{serve_args, SseClient, TestServer};

/// An ObjectId `user_id` is the user whose id is its 24 hex digits, on every path; a value that
/// names no user is delivered to nobody (not to users called "null", "true", "42.5", "MinKey").
async fn user_ids_of_any_type(database: String) {
    let (_client, collection) = host(&mongo_uri(&database)).await;
    let server = TestServer::start(&database).await;
    let owner = "5ecd2b3fed5d0000dd000dd2";
    let mut tab = SseClient::open(&server.url, owner).await;
    collection
        .insert_one(doc! { "user_id": ObjectId::parse_str(owner).unwrap(), "message": "x" })
        .await
        .unwrap();
    let pushed = tab.next_notification().await;
    assert_eq!(
        (pushed.user_id.as_str(), pushed.message.as_str()),
        (owner, "x")
    );
    assert_eq!(list_of(&server, owner).await, vec![pushed.clone()]);
    assert_eq!(unread_count(&server, owner).await, 1);
    let read = format!("/notifications/{}/read", pushed.id);
    assert_eq!(post_as(&server.url, owner, &read).await, 204);
    assert_eq!(unread_count(&server, owner).await, 0);
    assert!(list_of(&server, owner).await[0].read_at.is_some());

    let (_, metrics) = server.get("/metrics").await;
    let skipped = metric(&metrics, "belfry_skipped_records_total");
    let nobody = [
        ("null", Bson::Null),
        ("true", Bson::Boolean(true)),
        ("42.5", Bson::Double(42.5)),
        ("MinKey", Bson::MinKey),
    ];
    let mut tabs = Vec::new();
    for (name, _) in &nobody {
        tabs.push(SseClient::open(&server.url, name).await);
    }
    let ghosts: Vec<Document> = nobody
        .iter()
        .map(|(_, value)| doc! { "user_id": value.clone(), "message": "ghost" })
        .collect();
    collection.insert_many(ghosts).await.unwrap();
    for ((name, _), tab) in nobody.iter().zip(&mut tabs) {
        let marker = server.publish_to(name, "marker").await;
        assert_eq!(tab.next_notification().await, marker, "{name}");
        assert_eq!(unread_count(&server, name).await, 1, "{name}");
    }
    let (_, metrics) = server.get("/metrics").await;
    assert!(metric(&metrics, "belfry_skipped_records_total") >= skipped + 4.0);
}

/// `read_at` values other programs write: `false`, `0` and `""` are unread like `null`; a date
/// in any form, `true`, or epoch milliseconds are read. The list, the count and mark-read agree:
/// marking read what the list shows unread makes it read.
async fn read_at_of_any_form(database: String) {
    let (_client, collection) = host(&mongo_uri(&database)).await;
    let server = TestServer::start(&database).await;
    let at = DateTime::parse_rfc3339_str("2026-11-28T07:00:00Z").unwrap();
    let carbon = doc! { "date": "2026-11-28 08:00:00.000000", "timezone_type": 3, "timezone": "Europe/Paris" };
    let forms: [(&str, Option<Bson>, Option<&str>); 10] = [
        ("missing", None, None),
        ("null", Some(Bson::Null), None),
        ("false", Some(false.into()), None),
        ("zero", Some(Bson::Int32(0)), None),
        ("empty", Some("".into()), None),
        (
            "epoch ms",
            Some(Bson::Int64(at.timestamp_millis())),
            Some("2026-11-28T07:00:00.000Z"),
        ),
        (
            "carbon",
            Some(carbon.into()),
            Some("2026-11-28T07:00:00.000Z"),
        ),
        (
            "text",
            Some("2026-11-28 07:00:00".into()),
            Some("2026-11-28T07:00:00.000Z"),
        ),
        // Read, at no time it tells: at `updated_at`.
        ("true", Some(true.into()), Some("2026-11-28T07:00:00.000Z")),
        (
            "array",
            Some(Bson::Array(vec![Bson::Null])),
            Some("2026-11-28T07:00:00.000Z"),
        ),
    ];
    for (message, read_at, _) in &forms {
        let mut document = doc! { "user_id": "r", "message": *message, "updated_at": at };
        if let Some(value) = read_at {
            document.insert("read_at", value.clone());
        }
        collection.insert_one(document).await.unwrap();
    }
    let listed = list_of(&server, "r").await;
    for (message, _, want) in &forms {
        let n = listed
            .iter()
            .find(|n| n.message == *message)
            .expect("listed");
        assert_eq!(n.read_at.as_deref(), *want, "{message}");
    }
    assert_eq!(unread_count(&server, "r").await, 5);
    for n in listed.iter().filter(|n| n.read_at.is_none()) {
        let read = format!("/notifications/{}/read", n.id);
        assert_eq!(post_as(&server.url, "r", &read).await, 204, "{}", n.message);
    }
    assert_eq!(unread_count(&server, "r").await, 0);
    assert!(list_of(&server, "r")
        .await
        .iter()
        .all(|n| n.read_at.is_some()));
}

/// With change streams, the host marking one read in Carbon's document form is pushed.
async fn a_host_read_in_any_form_is_pushed(database: String) {
    let (_client, collection) = host(&mongo_uri(&database)).await;
    let server = TestServer::start(&database).await;
    let mut tab = SseClient::open(&server.url, "r").await;
    let n = server.publish_to("r", "n").await;
    assert_eq!(tab.next_notification().await, n);
    let carbon = doc! { "date": "2026-11-28 08:00:00.000000", "timezone_type": 3, "timezone": "Europe/Paris" };
    collection
        .update_one(
            doc! { "_id": ObjectId::parse_str(&n.id).unwrap() },
            doc! { "$set": { "read_at": carbon } },
        )
        .await
        .unwrap();
    let (name, data) = next_event(&mut tab).await;
    assert_eq!(name, "notification-read");
    assert_eq!(
        data,
        json!({ "all": true, "unread_count": 0, "unseen_count": 0 })
    );
}

/// Dates as text in the common forms come back as RFC 3339 UTC with milliseconds, on the stream
/// and in the list, `Y-m-d H:i:s` read in `--time-zone`; an unreadable `created_at` falls back to
/// the ObjectId's second, and without an ObjectId the document is skipped (counted).
async fn dates_as_text(database: String) {
    let (_client, collection) = host(&mongo_uri(&database)).await;
    let args = serve_args(&database, &["--time-zone", "Europe/Paris"]);
    let server = TestServer::start_with(args).await;
    let mut tab = SseClient::open(&server.url, "d").await;
    // A second from now, to the second: after the server's first start, so new on a
    // standalone server too (docs/API.md).
    let at = chrono::DateTime::from_timestamp(support_now() + 1, 0).unwrap();
    let paris = at.with_timezone(&chrono_tz::Europe::Paris).naive_local();
    let plus_two = at.with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap());
    let want = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let forms = [
        plus_two.format("%Y-%m-%dT%H:%M:%S+02:00").to_string(),
        paris.format("%Y-%m-%d %H:%M:%S").to_string(),
        at.format("%Y-%m-%dT%H:%M:%S.000000Z").to_string(),
        at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    ];
    let read_at = paris.format("%Y-%m-%d %H:%M:%S").to_string();
    for (i, created_at) in forms.iter().enumerate() {
        collection
            .insert_one(doc! {
                "user_id": "d", "message": format!("f{i}"), "created_at": created_at,
                "read_at": &read_at,
            })
            .await
            .unwrap();
        let pushed = tab.next_notification().await;
        assert_eq!(pushed.created_at, want, "{created_at}");
        assert_eq!(
            pushed.read_at.as_deref(),
            Some(want.as_str()),
            "{created_at}"
        );
    }
    let listed = list_of(&server, "d").await;
    assert!(listed.iter().all(|n| n.created_at == want), "{listed:?}");
    let (_, metrics) = server.get("/metrics").await;
    let skipped = metric(&metrics, "belfry_skipped_records_total");
    let oid = ObjectId::new();
    collection
        .insert_many([
            doc! { "_id": oid, "user_id": "d", "message": "undated", "created_at": "yesterday" },
            doc! { "_id": "no-time", "user_id": "d", "message": "unknowable", "created_at": "yesterday" },
        ])
        .await
        .unwrap();
    let marker = server.publish_to("d", "marker").await;
    // Both, and not the undatable one. (In either order: on a standalone server, documents
    // found by one poll are ordered by `_id`, and the test's ObjectId and the server's come
    // from two processes.)
    let mut pushed = [tab.next_notification().await, tab.next_notification().await];
    pushed.sort_by(|a, b| a.message.cmp(&b.message));
    let [pushed_marker, undated] = pushed;
    assert_eq!(pushed_marker, marker, "the undatable one is not pushed");
    let made = oid
        .timestamp()
        .to_chrono()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(
        (undated.message.as_str(), undated.created_at.as_str()),
        ("undated", made.as_str())
    );
    let listed = list_of(&server, "d").await;
    assert_eq!(listed.len(), forms.len() + 2, "{listed:?}");
    assert!(listed.iter().all(|n| n.message != "unknowable"));
    assert!(listed
        .iter()
        .all(|n| n.created_at.ends_with('Z') && n.created_at.len() == 24));
    let (_, metrics) = server.get("/metrics").await;
    assert!(metric(&metrics, "belfry_skipped_records_total") > skipped);
}

/// A page is full even where the decoder skips documents the query could not tell apart (text
/// that holds no date, without an ObjectId), and paging reaches every document whatever its
/// `_id` looks like (strings "5", "17" and "100" sort as strings).
async fn pages_are_full_and_reach_everything(database: String) {
    let (_client, collection) = host(&mongo_uri(&database)).await;
    let server = TestServer::start(&database).await;
    collection
        .insert_one(
            doc! { "user_id": "p", "message": "the real one", "created_at": DateTime::now() },
        )
        .await
        .unwrap();
    let undatable: Vec<Document> = (0..12)
        .map(|i| doc! { "_id": format!("zz-{i}"), "user_id": "p", "message": "x", "created_at": "yesterday" })
        .collect();
    collection.insert_many(undatable).await.unwrap();
    let (_, page) = server.get_as("p", "/notifications?limit=10").await;
    assert!(page.contains("the real one"), "{page}");

    let ids = ["5", "9", "10", "17", "100", "6747f1f0a3b2c1d0e9f8a7b6"];
    let numbered: Vec<Document> = ids
        .iter()
        .map(
            |id| doc! { "_id": *id, "user_id": "q", "message": "m", "created_at": DateTime::now() },
        )
        .collect();
    collection.insert_many(numbered).await.unwrap();
    let mut seen = Vec::new();
    let mut before = String::new();
    for _ in 0..10 {
        let path = format!("/notifications?limit=2{before}");
        let (_, body) = server.get_as("q", &path).await;
        let page: Vec<app::Notification> = serde_json::from_str(&body).unwrap();
        let Some(last) = page.last() else { break };
        before = format!("&before={}", last.id);
        seen.extend(page.into_iter().map(|n| n.id));
    }
    let mut want: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    want.sort();
    let mut got = seen.clone();
    got.sort();
    assert_eq!(got, want, "each once, in pages: {seen:?}");
}

on_stores!(database: [mongo, mongo_standalone] [
    pages_are_full_and_reach_everything,
    user_ids_of_any_type,
    read_at_of_any_form,
    dates_as_text,
]);

mod change_streams {
    use super::*;
    on_stores!(database: [mongo] [a_host_read_in_any_form_is_pushed]);
}
