//! Laravel's own documents, written as laravel-mongodb writes them, read in place.

use chrono::Utc;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, Bson, DateTime};
use serde_json::json;

use super::*;
use crate::support::direct;

/// `at` as Laravel writes a date as text in the app's zone (Paris).
fn paris_text(at: chrono::DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Shapes A, B and C and a team's notification, written by the host: each pushed live to its
/// user only, listed with RFC 3339 dates, counted, marked read in the document's own date type;
/// a publish through Belfry is a document Laravel reads as its own; `read_at` the host writes
/// as text is pushed (with change streams, which see the host's updates).
async fn laravel_documents_in_place(database: String) {
    let uri = crate::host_data::mongo_uri(&database);
    let (_client, collection) = direct::mongo(&uri).await;
    let server = laravel_server(&database, &[]).await;
    let mongo_user = ObjectId::new();
    let mut tab_42 = SseClient::open(&server.url, "42").await;
    let mut tab_oid = SseClient::open(&server.url, &mongo_user.to_hex()).await;
    // A second from now: after the server's first start, so new on a standalone server too.
    let at = chrono::DateTime::from_timestamp(Utc::now().timestamp() + 1, 0).unwrap();
    let text = paris_text(at);
    let rfc3339 = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (uuid_a, uuid_b, uuid_c) = (
        "0a6f2b7e-1c3d-4e5f-8a9b-0c1d2e3f4a5b",
        "1b7f3c8e-2d4e-4f6a-9b0c-1d2e3f4a5b6c",
        "2c8a4d9f-3e5f-4a7b-8c1d-2e3f4a5b6c7d",
    );
    collection
        .insert_many([
            // A: laravel-mongodb 5.x, the stock model.
            doc! {
                "_id": uuid_a, "type": "App\\Notifications\\InvoicePaid",
                "notifiable_type": "App\\Models\\User", "notifiable_id": "42",
                "data": r#"{"message":"Invoice paid","url":"/invoices/7","amount":5}"#,
                "read_at": Bson::Null, "created_at": &text, "updated_at": &text,
            },
            // B: 4.x, the UUID in `id`, the user an ObjectId.
            doc! {
                "_id": ObjectId::new(), "id": uuid_b, "type": "App\\Notifications\\Welcome",
                "notifiable_type": "App\\Models\\User", "notifiable_id": mongo_user,
                "data": r#"{"title":"Welcome","action_url":"https://example.com/start"}"#,
                "read_at": Bson::Null, "created_at": &text, "updated_at": &text,
            },
            // C: a custom model, BSON dates, `data` a document.
            doc! {
                "_id": uuid_c, "type": "App\\Notifications\\Shipped",
                "notifiable_type": "App\\Models\\User", "notifiable_id": "42",
                "data": { "body": "Shipped", "link": "/orders/9" },
                "read_at": Bson::Null, "created_at": DateTime::from_chrono(at),
            },
            // Another notifiable with the same id: never user 42's.
            doc! {
                "_id": "3d9b5e0a-4f6a-4b8c-9d2e-3f4a5b6c7d8e", "type": "App\\Notifications\\Team",
                "notifiable_type": "App\\Models\\Team", "notifiable_id": "42",
                "data": r#"{"message":"team"}"#, "read_at": Bson::Null, "created_at": &text,
            },
        ])
        .await
        .unwrap();

    let mut pushed = [
        tab_42.next_notification().await,
        tab_42.next_notification().await,
    ];
    pushed.sort_by(|a, b| a.message.cmp(&b.message));
    let [paid, shipped] = pushed;
    assert_eq!(
        (
            paid.id.as_str(),
            paid.message.as_str(),
            paid.link.as_deref()
        ),
        (uuid_a, "Invoice paid", Some("/invoices/7"))
    );
    assert_eq!(
        paid.kind.as_deref(),
        Some("App\\Notifications\\InvoicePaid")
    );
    assert_eq!(paid.data.as_ref().unwrap()["amount"], 5);
    assert_eq!(paid.created_at, rfc3339, "text read in Paris time");
    assert_eq!(
        (
            shipped.id.as_str(),
            shipped.message.as_str(),
            shipped.link.as_deref()
        ),
        (uuid_c, "Shipped", Some("/orders/9"))
    );
    assert_eq!(shipped.created_at, rfc3339);
    let welcome = tab_oid.next_notification().await;
    assert_eq!(
        (
            welcome.id.as_str(),
            welcome.message.as_str(),
            welcome.link.as_deref()
        ),
        (uuid_b, "Welcome", Some("https://example.com/start"))
    );
    assert_eq!(welcome.user_id, mongo_user.to_hex());

    // A publish through Belfry: pushed, and stored as Laravel's database channel stores one.
    let published = server
        .publish(json!({"user_id": 42, "message": "From Belfry", "link": "/x", "type": "App\\Notifications\\Note", "data": {"k": 1}}))
        .await
        .remove(0);
    assert_eq!(
        tab_42.next_notification().await,
        published,
        "the team's is not pushed"
    );
    let stored = collection
        .find_one(doc! { "_id": &published.id })
        .await
        .unwrap()
        .expect("stored under its UUID");
    assert_eq!(stored.get_str("notifiable_type"), Ok("App\\Models\\User"));
    assert_eq!(stored.get_i64("notifiable_id"), Ok(42));
    assert_eq!(stored.get_str("type"), Ok("App\\Notifications\\Note"));
    assert_eq!(stored.get("read_at"), Some(&Bson::Null));
    let data: serde_json::Value = serde_json::from_str(stored.get_str("data").unwrap()).unwrap();
    assert_eq!(data, json!({"k": 1, "message": "From Belfry", "url": "/x"}));
    let created = stored.get_str("created_at").unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(created, "%Y-%m-%d %H:%M:%S").is_ok(),
        "{created}"
    );
    assert!(
        uuid_like(&published.id),
        "a UUID, as Laravel's: {}",
        published.id
    );

    // Listed (newest first by created_at; a BSON date sorts above text, so C, the one dated
    // document among text ones, comes first: docs/LARAVEL.md) and counted: user 42's three,
    // not the team's.
    let listed = list_of(&server, "42").await;
    let ids: Vec<&str> = listed.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "{listed:?}");
    assert_eq!(ids[0], uuid_c);
    assert!(ids.contains(&uuid_a) && ids.contains(&published.id.as_str()));
    assert!(listed.iter().all(|n| n.created_at.ends_with('Z')));
    assert_eq!(unread_count(&server, "42").await, 3);

    // Marked read in the document's own type: text where its dates are text, else a date.
    let read_a = format!("/notifications/{uuid_a}/read");
    assert_eq!(post_as(&server.url, "42", &read_a).await, 204);
    let (name, data) = next_event(&mut tab_42).await;
    assert_eq!(
        (name.as_str(), &data["ids"]),
        ("notification-read", &json!([uuid_a]))
    );
    let read_c = format!("/notifications/{uuid_c}/read");
    assert_eq!(post_as(&server.url, "42", &read_c).await, 204);
    let (name, _) = next_event(&mut tab_42).await;
    assert_eq!(name, "notification-read");
    let a = collection
        .find_one(doc! { "_id": uuid_a })
        .await
        .unwrap()
        .unwrap();
    let read_at = a
        .get_str("read_at")
        .expect("read_at as text, as created_at");
    assert!(chrono::NaiveDateTime::parse_from_str(read_at, "%Y-%m-%d %H:%M:%S").is_ok());
    assert_eq!(
        a.get_str("updated_at"),
        Ok(text.as_str()),
        "nothing else changed"
    );
    let c = collection
        .find_one(doc! { "_id": uuid_c })
        .await
        .unwrap()
        .unwrap();
    assert!(c.get_datetime("read_at").is_ok(), "{c:?}");
    // By its id in `id` (shape B), and told by that id, with another one left unread.
    collection
        .insert_one(doc! {
            "_id": ObjectId::new(), "id": "5e1d7b2c-6a8b-4c9d-8e0f-5a6b7c8d9e0f",
            "notifiable_type": "App\\Models\\User", "notifiable_id": mongo_user,
            "data": r#"{"message":"second"}"#, "read_at": Bson::Null,
            "created_at": paris_text(Utc::now() + chrono::Duration::seconds(1)),
        })
        .await
        .unwrap();
    assert_eq!(tab_oid.next_notification().await.message, "second");
    let read_b = format!("/notifications/{uuid_b}/read");
    assert_eq!(
        post_as(&server.url, &mongo_user.to_hex(), &read_b).await,
        204
    );
    let (name, data) = next_event(&mut tab_oid).await;
    assert_eq!(
        (name.as_str(), data),
        (
            "notification-read",
            json!({"ids": [uuid_b], "unread_count": 1, "unseen_count": 1})
        )
    );
    assert_eq!(unread_count(&server, "42").await, 1);
    assert_eq!(
        post_as(&server.url, "42", "/notifications/read-all").await,
        204
    );
    assert_eq!(unread_count(&server, "42").await, 0);
    let team = collection
        .find_one(doc! { "notifiable_type": "App\\Models\\Team" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        team.get("read_at"),
        Some(&Bson::Null),
        "the team's is untouched"
    );

    // The host marks one read itself, as Laravel's `markAsRead()` writes it: pushed where the
    // database tells (change streams).
    if !crate::host_data::is_standalone(&database) {
        let (name, _) = next_event(&mut tab_42).await;
        assert_eq!(name, "notification-read", "the read-all");
        let uuid_d = "4e0c6f1b-5a7b-4c9d-8e3f-4a5b6c7d8e9f";
        collection
            .insert_one(doc! {
                "_id": uuid_d, "type": "App\\Notifications\\Note",
                "notifiable_type": "App\\Models\\User", "notifiable_id": "42",
                "data": r#"{"message":"later"}"#, "read_at": Bson::Null,
                "created_at": paris_text(Utc::now()),
            })
            .await
            .unwrap();
        assert_eq!(tab_42.next_notification().await.id, uuid_d);
        collection
            .update_one(
                doc! { "_id": uuid_d },
                doc! { "$set": { "read_at": paris_text(Utc::now()) } },
            )
            .await
            .unwrap();
        let (name, data) = next_event(&mut tab_42).await;
        assert_eq!(
            (name.as_str(), data["unread_count"].as_u64()),
            ("notification-read", Some(0))
        );
    }
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4
}

/// What the list skips is not counted, and not marked read either: a notification whose data
/// holds no message (a common `toArray()`), and one whose `notifiable_id` is an array.
async fn what_is_not_listed_is_not_counted(database: String) {
    let uri = crate::host_data::mongo_uri(&database);
    let (_client, collection) = direct::mongo(&uri).await;
    let server = laravel_server(&database, &[]).await;
    let text = paris_text(Utc::now() + chrono::Duration::seconds(1));
    let laravel = |id: &str, notifiable_id: Bson, data: Bson| {
        doc! {
            "_id": id, "type": "App\\Notifications\\Note",
            "notifiable_type": "App\\Models\\User", "notifiable_id": notifiable_id,
            "data": data, "read_at": Bson::Null, "created_at": &text,
        }
    };
    collection
        .insert_many([
            laravel("no-message", "42".into(), r#"{"invoice_id":5}"#.into()),
            laravel("blank", "42".into(), r#"{"message":"  "}"#.into()),
            laravel("not-json", "42".into(), "message: hi".into()),
            laravel("nested", "42".into(), Bson::Document(doc! { "body": 7 })),
            laravel(
                "shared",
                vec![Bson::from("42"), Bson::from("43")].into(),
                r#"{"message":"both"}"#.into(),
            ),
            laravel("shown", "42".into(), r#"{"title":"Shown"}"#.into()),
        ])
        .await
        .unwrap();
    let listed: Vec<String> = list_of(&server, "42")
        .await
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(listed, ["shown"]);
    assert_eq!(unread_count(&server, "42").await, 1);
    assert_eq!(unread_count(&server, "43").await, 0);
    assert_eq!(
        post_as(&server.url, "42", "/notifications/shared/read").await,
        404
    );
    assert_eq!(
        post_as(&server.url, "42", "/notifications/read-all").await,
        204
    );
    let shared = collection
        .find_one(doc! { "_id": "shared" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shared.get("read_at"), Some(&Bson::Null), "not 42's to mark");
}

on_stores!(database: [mongo, mongo_standalone] [
    laravel_documents_in_place,
    what_is_not_listed_is_not_counted,
]);
