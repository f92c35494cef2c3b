//! The inbox's states on every store: each action moves what it should and counts follow, a
//! selection naming another user's notification changes nothing, snoozes end once, and the
//! feed reports each change — also one the host writes to the field itself.

use std::sync::Arc;

use belfry::model::NotificationId;
use belfry::store::{Action, Counts, Page, Selection, Status, Store, Updated};
use chrono::{Duration, Utc};

use crate::support::user;

async fn three(store: &dyn Store, owner: &str) -> Vec<NotificationId> {
    let batch = [
        super::new(owner, "a"),
        super::new(owner, "b"),
        super::new(owner, "c"),
    ];
    let created = store.insert(&batch).await.unwrap();
    created
        .iter()
        .map(|n| NotificationId::parse(&n.id).unwrap())
        .collect()
}

async fn listed(store: &dyn Store, owner: &str, status: Status) -> Vec<String> {
    let page = Page {
        limit: 100,
        before: None,
        status,
        category: None,
    };
    let list = store.list(&user(owner), page).await.unwrap();
    list.into_iter().map(|n| n.message).collect()
}

fn counts(unread_count: u64, unseen_count: u64) -> Counts {
    Counts {
        unread_count,
        unseen_count,
    }
}

async fn act(store: &dyn Store, owner: &str, id: &NotificationId, action: Action) -> Updated {
    let one = Selection::Ids(vec![id.clone()]);
    store.update(&user(owner), &one, action).await.unwrap()
}

async fn each_action_moves_what_it_should(store: Arc<dyn Store>) {
    let store = &*store;
    let ids = three(store, "s1").await;
    let (a, b, c) = (&ids[0], &ids[1], &ids[2]);
    let u = user("s1");
    assert_eq!(store.counts(&u).await.unwrap(), counts(3, 3));

    // Seen: still unread, no longer unseen.
    assert_eq!(act(store, "s1", a, Action::Seen).await.changed, 1);
    assert_eq!(act(store, "s1", a, Action::Seen).await.changed, 0, "once");
    assert_eq!(store.counts(&u).await.unwrap(), counts(3, 2));
    // Read: a read one is seen.
    act(store, "s1", b, Action::Read).await;
    assert_eq!(store.counts(&u).await.unwrap(), counts(2, 1));
    assert_eq!(listed(store, "s1", Status::Unseen).await, ["c"]);
    assert_eq!(listed(store, "s1", Status::Unread).await, ["c", "a"]);
    // Unread again: unread, and (never shown) unseen.
    assert_eq!(act(store, "s1", b, Action::Unread).await.changed, 1);
    assert_eq!(store.counts(&u).await.unwrap(), counts(3, 2));

    // Archived: out of the inbox and its counts, into the archive; and back.
    assert_eq!(act(store, "s1", c, Action::Archive).await.changed, 1);
    assert_eq!(listed(store, "s1", Status::Inbox).await, ["b", "a"]);
    assert_eq!(listed(store, "s1", Status::Archived).await, ["c"]);
    assert_eq!(store.counts(&u).await.unwrap(), counts(2, 1));
    let archived = &store.list(&u, archived_page()).await.unwrap()[0];
    assert!(archived.archived_at.is_some());
    assert_eq!(act(store, "s1", c, Action::Unarchive).await.changed, 1);
    assert_eq!(listed(store, "s1", Status::Inbox).await, ["c", "b", "a"]);

    // Archive the read ones, then all.
    act(store, "s1", a, Action::Read).await;
    store
        .update(&u, &Selection::AllRead, Action::Archive)
        .await
        .unwrap();
    assert_eq!(listed(store, "s1", Status::Archived).await, ["a"]);
    store
        .update(&u, &Selection::All, Action::Archive)
        .await
        .unwrap();
    assert!(listed(store, "s1", Status::Inbox).await.is_empty());
    assert_eq!(store.counts(&u).await.unwrap(), counts(0, 0));
    assert_eq!(listed(store, "s1", Status::All).await, ["c", "b", "a"]);

    // Deleted: gone, and then not found; of two deletes at once, one finds it.
    assert_eq!(act(store, "s1", b, Action::Delete).await.changed, 1);
    assert_eq!(listed(store, "s1", Status::All).await, ["c", "a"]);
    assert_eq!(act(store, "s1", b, Action::Delete).await.found, 0);
    let (first, second) = tokio::join!(
        act(store, "s1", a, Action::Delete),
        act(store, "s1", a, Action::Delete)
    );
    assert_eq!(first.found + second.found, 1, "{first:?} {second:?}");
}

fn archived_page() -> Page {
    Page {
        limit: 10,
        before: None,
        status: Status::Archived,
        category: None,
    }
}

/// Ids that are not all the user's change nothing, and say how many were.
async fn another_users_id_changes_nothing(store: Arc<dyn Store>) {
    let store = &*store;
    let mine = three(store, "s2").await;
    let theirs = three(store, "s3").await;
    let both = Selection::Ids(vec![mine[0].clone(), theirs[0].clone()]);
    for action in [Action::Seen, Action::Archive, Action::Delete] {
        let updated = store.update(&user("s2"), &both, action).await.unwrap();
        assert_eq!(
            updated,
            Updated {
                found: 1,
                changed: 0
            },
            "{action:?}"
        );
    }
    assert_eq!(store.counts(&user("s2")).await.unwrap(), counts(3, 3));
    assert_eq!(store.counts(&user("s3")).await.unwrap(), counts(3, 3));
    // The same id twice is one notification.
    let twice = Selection::Ids(vec![mine[1].clone(), mine[1].clone()]);
    let updated = store
        .update(&user("s2"), &twice, Action::Seen)
        .await
        .unwrap();
    assert_eq!(
        updated,
        Updated {
            found: 1,
            changed: 1
        }
    );
}

/// A snooze hides a notification until its time; then it is unread and unseen again, ended
/// once however often (and by however many instances) the waker asks.
async fn a_snooze_ends_once_at_its_time(store: Arc<dyn Store>) {
    let store = &*store;
    let ids = three(store, "s4").await;
    let u = user("s4");
    act(store, "s4", &ids[0], Action::Read).await;
    let until = Utc::now() + Duration::hours(1);
    assert_eq!(
        act(store, "s4", &ids[0], Action::Snooze(until))
            .await
            .changed,
        1
    );
    assert_eq!(listed(store, "s4", Status::Inbox).await, ["c", "b"]);
    assert_eq!(listed(store, "s4", Status::Snoozed).await, ["a"]);
    assert_eq!(store.counts(&u).await.unwrap(), counts(2, 2));

    // Not yet: nothing ends.
    assert_eq!(store.wake(until - Duration::minutes(1)).await.unwrap(), 0);
    assert_eq!(listed(store, "s4", Status::Snoozed).await, ["a"]);
    // Its time: ended once, by whichever of two asks first.
    let later = until + Duration::seconds(1);
    let (first, second) = tokio::join!(store.wake(later), store.wake(later));
    assert_eq!(first.unwrap() + second.unwrap(), 1);
    assert!(listed(store, "s4", Status::Snoozed).await.is_empty());
    assert_eq!(listed(store, "s4", Status::Unseen).await, ["c", "b", "a"]);
    assert_eq!(store.counts(&u).await.unwrap(), counts(3, 3));
    let back = store.get(&u, &ids[0]).await.unwrap().unwrap();
    assert!(back.woke_at.is_some() && back.snoozed_until.is_none() && back.read_at.is_none());

    // Unsnoozed by the user: back as it was, still read.
    act(store, "s4", &ids[1], Action::Read).await;
    act(store, "s4", &ids[1], Action::Snooze(until)).await;
    assert_eq!(act(store, "s4", &ids[1], Action::Unsnooze).await.changed, 1);
    assert_eq!(listed(store, "s4", Status::Unread).await, ["c", "a"]);
}

/// A notification's actions come back as published; the page's confirmation of a named one is
/// recorded once, and an unknown name is told apart.
async fn an_action_completes_once(store: Arc<dyn Store>) {
    use belfry::model::{ActionName, Actions};
    use belfry::store::Completion;
    let store = &*store;
    let actions = serde_json::json!([
        {"label": "Approve", "name": "approve"},
        {"label": "View", "link": "/orders/7"}
    ]);
    let mut new = super::new("a1", "Approve order 7?");
    new.actions = Actions::parse(&actions).unwrap();
    let created = store.insert(&[new]).await.unwrap();
    assert_eq!(serde_json::to_value(&created[0].actions).unwrap(), actions);
    let u = user("a1");
    let id = NotificationId::parse(&created[0].id).unwrap();
    let name = |n: &str| ActionName::parse(n).unwrap();
    assert_eq!(
        store.complete(&u, &id, &name("reject")).await.unwrap(),
        Completion::NoSuchAction
    );
    assert_eq!(
        store
            .complete(&user("a2"), &id, &name("approve"))
            .await
            .unwrap(),
        Completion::NotFound
    );
    let approve = name("approve");
    let (first, second) = tokio::join!(
        store.complete(&u, &id, &approve),
        store.complete(&u, &id, &approve)
    );
    let mut both = [first.unwrap(), second.unwrap()];
    both.sort_by_key(|c| *c as u8);
    assert_eq!(both, [Completion::Completed, Completion::Already]);
    let stored = store.get(&u, &id).await.unwrap().unwrap();
    assert_eq!(stored.completed_action.as_deref(), Some("approve"));
    assert!(stored.completed_at.is_some());
    assert_eq!(serde_json::to_value(&stored.actions).unwrap(), actions);
}

/// A group counts once, and a change of one of it changes all of it.
async fn a_group_counts_once_and_changes_together(store: Arc<dyn Store>) {
    use belfry::model::GroupKey;
    let store = &*store;
    let mut batch = Vec::new();
    for message in ["anna commented", "bob commented", "carol commented"] {
        let mut new = super::new("g1", message);
        new.group_key = Some(GroupKey::parse("thread-7").unwrap());
        batch.push(new);
    }
    batch.push(super::new("g1", "alone"));
    batch.push(super::new("g2", "another user's"));
    let created = store.insert(&batch).await.unwrap();
    assert_eq!(created[0].group_key.as_deref(), Some("thread-7"));
    let u = user("g1");
    assert_eq!(store.counts(&u).await.unwrap(), counts(2, 2));
    let newest = NotificationId::parse(&created[2].id).unwrap();
    let read = act(store, "g1", &newest, Action::Read).await;
    assert_eq!(
        (read.found, read.changed),
        (1, 3),
        "the group is read with it"
    );
    assert_eq!(store.counts(&u).await.unwrap(), counts(1, 1));
    act(store, "g1", &newest, Action::Archive).await;
    assert_eq!(listed(store, "g1", Status::Inbox).await, ["alone"]);
    assert_eq!(store.counts(&user("g2")).await.unwrap(), counts(1, 1));
}

on_stores!(store: [sqlite, mongo, mongo_standalone] [
    a_group_counts_once_and_changes_together,
    an_action_completes_once,
    each_action_moves_what_it_should,
    another_users_id_changes_nothing,
    a_snooze_ends_once_at_its_time,
    categories_and_actors,
]);

/// Categories: the list, the counts and a tab's read-all by category; an actor comes back as
/// published.
async fn categories_and_actors(store: Arc<dyn Store>) {
    use belfry::model::{Actor, Category};
    let store = &*store;
    let billing = Category::parse("billing").unwrap();
    let actor = Actor::parse(&serde_json::json!({"name": "Anna", "avatar": "/a.png"})).unwrap();
    let mut batch = Vec::new();
    for (message, category) in [
        ("paid", Some(&billing)),
        ("hi", None),
        ("due", Some(&billing)),
    ] {
        let mut new = super::new("c1", message);
        new.category = category.cloned();
        new.actor = Some(actor.clone());
        batch.push(new);
    }
    let created = store.insert(&batch).await.unwrap();
    let anna = created[0].actor.as_ref().unwrap();
    assert_eq!(
        (anna.name.as_str(), anna.avatar.as_deref()),
        ("Anna", Some("/a.png"))
    );
    assert_eq!(created[0].category.as_deref(), Some("billing"));
    let u = user("c1");
    let page = Page {
        limit: 10,
        before: None,
        status: Status::Inbox,
        category: Some(billing.clone()),
    };
    let listed: Vec<String> = store
        .list(&u, page)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.message)
        .collect();
    assert_eq!(listed, ["due", "paid"]);
    assert_eq!(
        store
            .get(&u, &NotificationId::parse(&created[1].id).unwrap())
            .await
            .unwrap()
            .unwrap()
            .actor,
        created[1].actor
    );
    assert_eq!(
        store.counts_in(&u, Some(&billing)).await.unwrap(),
        counts(2, 2)
    );
    let in_billing = Selection::InCategory(billing.clone());
    assert_eq!(
        store
            .update(&u, &in_billing, Action::Read)
            .await
            .unwrap()
            .changed,
        2
    );
    assert_eq!(
        store.counts_in(&u, Some(&billing)).await.unwrap(),
        counts(0, 0)
    );
    assert_eq!(
        store.counts(&u).await.unwrap(),
        counts(1, 1),
        "the other tab's is unread"
    );
}
