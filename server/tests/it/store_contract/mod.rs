//! One contract, both stores: every test here runs against SQLite and against MongoDB (and the
//! feed's, on a MongoDB without change streams too).

mod feed;
mod migrations;
mod states;

use crate::support;
use std::collections::HashSet;
use std::sync::Arc;

use crate::support::user;
use belfry::model::{NewNotification, NotificationId};
use belfry::store::{MarkRead, Notifications, Page, Store};

fn new(user_id: &str, message: &str) -> NewNotification {
    let link = format!("/n/{}", message.replace(' ', "-"));
    support::new_notification(user_id, message, Some(&link))
}

async fn insert_one(store: &dyn Store, user_id: &str, message: &str) -> String {
    let created = store.insert(&[new(user_id, message)]).await.unwrap();
    created[0].id.clone()
}

fn page(limit: u32, before: Option<&str>) -> Page {
    Page {
        status: Default::default(),
        category: None,
        limit,
        before: before.map(|id| NotificationId::parse(id).unwrap()),
    }
}

async fn insert_returns_what_was_created(store: Arc<dyn Store>) {
    let store = &*store;
    let created = store
        .insert(&[new("alice", "one"), new("bob", "two")])
        .await
        .unwrap();
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].user_id, "alice");
    assert_eq!(created[0].message, "one");
    assert_eq!(created[0].link.as_deref(), Some("/n/one"));
    assert_eq!(created[0].read_at, None);
    assert!(chrono::DateTime::parse_from_rfc3339(&created[0].created_at).is_ok());
    assert_ne!(created[0].id, created[1].id);
    assert_eq!(
        store.list(&user("bob"), page(10, None)).await.unwrap(),
        vec![created[1].clone()]
    );
}

async fn lists_newest_first_within_the_limit(store: Arc<dyn Store>) {
    let store = &*store;
    for i in 0..5 {
        insert_one(store, "alice", &format!("m{i}")).await;
    }
    let messages: Vec<String> = store
        .list(&user("alice"), page(3, None))
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.message)
        .collect();
    assert_eq!(messages, ["m4", "m3", "m2"]);
}

async fn pages_back_with_before(store: Arc<dyn Store>) {
    let store = &*store;
    let mut inserted = Vec::new();
    for i in 0..5 {
        inserted.push(insert_one(store, "alice", &format!("m{i}")).await);
    }
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let batch = store
            .list(&user("alice"), page(2, before.as_deref()))
            .await
            .unwrap();
        if batch.is_empty() {
            break;
        }
        assert!(batch.len() <= 2);
        before = batch.last().map(|n| n.id.clone());
        seen.extend(batch.into_iter().map(|n| n.id));
    }
    inserted.reverse();
    assert_eq!(seen, inserted);
}

async fn users_are_isolated(store: Arc<dyn Store>) {
    let store = &*store;
    let alice_id = insert_one(store, "alice", "for alice").await;
    let bob_id = insert_one(store, "bob", "for bob").await;

    let alice = store.list(&user("alice"), page(10, None)).await.unwrap();
    assert_eq!(
        alice.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        [alice_id.as_str()]
    );

    let bobs = NotificationId::parse(&bob_id).unwrap();
    assert_eq!(
        store.mark_read(&user("alice"), bobs).await.unwrap(),
        MarkRead::NotFound
    );
    assert_eq!(store.mark_all_read(&user("alice")).await.unwrap(), 1);
    assert_eq!(store.unread_count(&user("bob")).await.unwrap(), 1);
    assert!(store
        .list(&user("carol"), page(10, None))
        .await
        .unwrap()
        .is_empty());
}

async fn marks_one_read(store: Arc<dyn Store>) {
    let store = &*store;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(insert_one(store, "alice", &format!("m{i}")).await);
    }
    assert_eq!(store.unread_count(&user("alice")).await.unwrap(), 3);

    let first = NotificationId::parse(&ids[0]).unwrap();
    assert_eq!(
        store
            .mark_read(&user("alice"), first.clone())
            .await
            .unwrap(),
        MarkRead::Marked
    );
    assert_eq!(
        store
            .mark_read(&user("alice"), first.clone())
            .await
            .unwrap(),
        MarkRead::AlreadyRead
    );
    assert_eq!(store.unread_count(&user("alice")).await.unwrap(), 2);
    assert_eq!(
        store
            .mark_read(&user("alice"), NotificationId::new())
            .await
            .unwrap(),
        MarkRead::NotFound
    );

    let listed = store.list(&user("alice"), page(10, None)).await.unwrap();
    let read: Vec<&str> = listed
        .iter()
        .filter(|n| n.read_at.is_some())
        .map(|n| n.id.as_str())
        .collect();
    assert_eq!(read, [ids[0].as_str()]);
}

async fn marks_all_read(store: Arc<dyn Store>) {
    let store = &*store;
    for i in 0..3 {
        insert_one(store, "alice", &format!("m{i}")).await;
    }
    assert_eq!(store.mark_all_read(&user("alice")).await.unwrap(), 3);
    assert_eq!(store.unread_count(&user("alice")).await.unwrap(), 0);
    assert_eq!(store.mark_all_read(&user("alice")).await.unwrap(), 0);
    let listed = store.list(&user("alice"), page(10, None)).await.unwrap();
    assert!(listed.iter().all(|n| n.read_at.is_some()));
}

async fn bulk_insert_reaches_each_user(store: Arc<dyn Store>) {
    let store = &*store;
    let users = ["u1", "u2", "u3"];
    let batch: Vec<_> = users.iter().map(|u| new(u, "hello all")).collect();
    let created = store.insert(&batch).await.unwrap();
    let ids: HashSet<_> = created.iter().map(|n| n.id.clone()).collect();
    assert_eq!(ids.len(), 3);
    for u in users {
        let listed = store.list(&user(u), page(10, None)).await.unwrap();
        assert_eq!(listed.len(), 1, "{u}");
        assert_eq!(listed[0].user_id, u);
    }
}

/// Concurrent inserts may share a commit (SQLite's group commit): each still gets back exactly
/// its own notifications, and every one is stored once.
async fn concurrent_inserts_each_get_their_own(store: Arc<dyn Store>) {
    let store = &*store;
    let batches: Vec<Vec<NewNotification>> = (0..40)
        .map(|i| {
            (0..1 + i % 3)
                .map(|j| new(&format!("user-{}", i % 5), &format!("{i}.{j}")))
                .collect()
        })
        .collect();
    let results = futures::future::join_all(batches.iter().map(|batch| store.insert(batch))).await;
    let mut ids = HashSet::new();
    for (batch, created) in batches.iter().zip(results) {
        let created = created.unwrap();
        let sent: Vec<_> = batch
            .iter()
            .map(|n| (n.user_id.to_string(), n.message.as_str()))
            .collect();
        let got: Vec<_> = created
            .iter()
            .map(|n| (n.user_id.clone(), n.message.as_str()))
            .collect();
        assert_eq!(got, sent);
        ids.extend(created.into_iter().map(|n| n.id));
    }
    assert_eq!(ids.len(), batches.iter().map(Vec::len).sum::<usize>());
    let mut stored = 0;
    for u in 0..5 {
        stored += store
            .list(&user(&format!("user-{u}")), page(100, None))
            .await
            .unwrap()
            .len();
    }
    assert_eq!(stored, ids.len());
}

async fn answers_ping(store: Arc<dyn Store>) {
    let store = &*store;
    store.ping().await.unwrap();
}

on_stores!(store: [sqlite, mongo] [
    insert_returns_what_was_created,
    lists_newest_first_within_the_limit,
    pages_back_with_before,
    users_are_isolated,
    marks_one_read,
    marks_all_read,
    bulk_insert_reaches_each_user,
    concurrent_inserts_each_get_their_own,
    answers_ping,
]);

/// The original application's documents, as jenssegers/laravel-mongodb writes them: an integer
/// `user_id` (the model casts it), BSON dates, no `read_at` until read.
mod laravel_documents {
    use mongodb::bson::{doc, oid::ObjectId, DateTime};

    use super::*;

    #[tokio::test]
    async fn are_read_as_the_users_notifications() {
        let store = crate::support::mongo().await;
        let at = DateTime::parse_rfc3339_str("2026-11-28T07:00:00Z").unwrap();
        let (int32_id, int64_id, read_id) = (ObjectId::new(), ObjectId::new(), ObjectId::new());
        for raw in [
            doc! { "_id": int32_id, "user_id": 42_i32, "message": "Order #7 shipped", "link": "/orders/7",
            "created_at": at, "updated_at": at },
            doc! { "_id": int64_id, "user_id": 42_i64, "message": "Invoice ready", "link": null,
            "read_at": null, "created_at": at, "updated_at": at },
            doc! { "_id": read_id, "user_id": 42_i32, "message": "Old news", "read_at": at, "created_at": at },
            doc! { "user_id": 43_i32, "message": "Not yours", "created_at": at },
        ] {
            crate::support::insert_raw(&store, raw).await;
        }

        let listed = store.list(&user("42"), page(10, None)).await.unwrap();
        let ids: Vec<&str> = listed.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            [read_id.to_hex(), int64_id.to_hex(), int32_id.to_hex()]
        );
        let shipped = &listed[2];
        assert_eq!(shipped.user_id, "42");
        assert_eq!(shipped.message, "Order #7 shipped");
        assert_eq!(shipped.link.as_deref(), Some("/orders/7"));
        assert_eq!(shipped.read_at, None);
        assert_eq!(shipped.created_at, "2026-11-28T07:00:00.000Z");
        assert_eq!(listed[1].link, None);
        assert_eq!(
            listed[0].read_at.as_deref(),
            Some("2026-11-28T07:00:00.000Z")
        );

        assert_eq!(store.unread_count(&user("42")).await.unwrap(), 2);
        let shipped_id = NotificationId::parse(&shipped.id).unwrap();
        assert_eq!(
            store
                .mark_read(&user("42"), shipped_id.clone())
                .await
                .unwrap(),
            MarkRead::Marked
        );
        assert_eq!(store.unread_count(&user("42")).await.unwrap(), 1);

        // "042" is another user: only the canonical decimal form owns an integer id.
        assert!(store
            .list(&user("042"), page(10, None))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store.mark_read(&user("43"), shipped_id).await.unwrap(),
            MarkRead::NotFound
        );
    }
}
