//! The feed's contract, with a plain list as its sink (no hub, no SSE): every committed row is
//! reported once, in position order, whoever wrote it (this store, another connection to the
//! same database, `belfry send` in another process).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::Notification;
use belfry::model::{NotificationId, Position, UserId};
use belfry::store::{ChangeKind, FeedSink, Store};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::support::live::PATIENCE;

#[derive(Default)]
struct Recorder {
    reported: Mutex<Vec<(Position, String)>>,
    changes: Mutex<Vec<Change>>,
    changed: Notify,
}

/// A change as reported: the user, the ids, the unread count (and the kind, for the others).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Change {
    Read(String, Vec<NotificationId>, u64),
    Removed(String, Vec<NotificationId>, u64),
    Other(ChangeKind, String, Vec<NotificationId>, u64),
}

impl FeedSink for Recorder {
    fn committed(&self, position: Position, notification: &Notification) {
        let mut reported = self.reported.lock().unwrap();
        reported.push((position, notification.id.clone()));
        self.changed.notify_waiters();
    }

    fn changed(&self, user: &UserId, change: &belfry::store::Change) {
        // Ids in id order: one `updateMany` is reported in whatever order the server wrote it.
        let mut ids = change.ids.clone();
        ids.sort();
        let (user, count) = (user.to_string(), change.counts.unread_count);
        let change = match change.kind {
            ChangeKind::Read => Change::Read(user, ids, count),
            ChangeKind::Removed => Change::Removed(user, ids, count),
            kind => Change::Other(kind, user, ids, count),
        };
        self.changes.lock().unwrap().push(change);
        self.changed.notify_waiters();
    }
}

impl Recorder {
    /// Waits up to `wait` for `check` to hold of what was reported; says whether it did.
    async fn holds_within(
        &self,
        wait: Duration,
        check: impl Fn(&[(Position, String)]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if check(&self.reported.lock().unwrap()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }

    fn has(&self, id: &str) -> impl Fn(&[(Position, String)]) -> bool + '_ {
        let id = id.to_owned();
        move |reported| reported.iter().any(|(_, seen)| *seen == id)
    }
}

/// `belfry send` in a process of its own; returns the notification's id.
fn send_from_another_process(database: &str, user: &str, message: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_belfry"))
        .args([
            "send",
            "--database",
            database,
            "--user",
            user,
            "--message",
            message,
        ])
        .output()
        .expect("belfry send runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: Notification = serde_json::from_slice(&out.stdout).expect("belfry send prints JSON");
    sent.id
}

/// `batches` inserts of `size` notifications each, one after the other; their ids.
async fn write_batches(store: &dyn Store, label: &str, batches: usize, size: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..batches {
        let batch: Vec<_> = (0..size)
            .map(|j| super::new(&format!("u{}", (i + j) % 3), &format!("{label} {i}.{j}")))
            .collect();
        let created = store.insert(&batch).await.unwrap();
        ids.extend(created.into_iter().map(|n| n.id));
    }
    ids
}

/// Two stores on `database` (this one, and another connection), and this one's feed, started
/// and known to report.
struct Started {
    store: Arc<dyn Store>,
    other: Arc<dyn Store>,
    recorder: Arc<Recorder>,
    shutdown: CancellationToken,
    feed: tokio::task::JoinHandle<()>,
}

async fn start(database: &str) -> Started {
    let args = crate::support::database_args(database);
    let store = belfry::store::open(&args.location()).await.unwrap();
    let other = belfry::store::open(&args.location()).await.unwrap();
    let recorder = Arc::new(Recorder::default());
    let shutdown = CancellationToken::new();
    let feed = Arc::clone(&store)
        .start_feed(recorder.clone(), shutdown.clone())
        .task;

    // A feed reports what is committed after it started: write markers until one arrives.
    let mut started = false;
    for attempt in 0..20 {
        let marker = store
            .insert(&[super::new("marker", &format!("m{attempt}"))])
            .await
            .unwrap();
        if recorder
            .holds_within(Duration::from_secs(1), recorder.has(&marker[0].id))
            .await
        {
            started = true;
            break;
        }
    }
    assert!(started, "the feed reports a marker within 20 attempts");
    Started {
        store,
        other,
        recorder,
        shutdown,
        feed,
    }
}

async fn reports_every_commit_once_in_position_order(database: String) {
    let Started {
        store,
        other,
        recorder,
        shutdown,
        feed,
    } = start(&database).await;
    let before = recorder.reported.lock().unwrap().len();

    // Three writers at once: this store, another connection, and (meanwhile) another process.
    let mine = write_batches(&*store, "mine", 20, 1);
    let theirs = write_batches(&*other, "theirs", 10, 2);
    let process = {
        let database = database.clone();
        tokio::task::spawn_blocking(move || {
            (0..3)
                .map(|i| send_from_another_process(&database, "u1", &format!("process {i}")))
                .collect::<Vec<_>>()
        })
    };
    let (mine, theirs) = futures::join!(mine, theirs);
    let process = process.await.unwrap();
    let written: Vec<String> = mine.into_iter().chain(theirs).chain(process).collect();

    let all_in = |reported: &[(Position, String)]| {
        written
            .iter()
            .all(|id| reported.iter().any(|(_, seen)| seen == id))
    };
    assert!(
        recorder.holds_within(PATIENCE, all_in).await,
        "every write is reported"
    );
    shutdown.cancel();
    feed.await.unwrap();

    let reported = recorder.reported.lock().unwrap().clone();
    let mut times: HashMap<&str, usize> = HashMap::new();
    for (_, id) in &reported[before..] {
        *times.entry(id.as_str()).or_default() += 1;
    }
    for id in &written {
        assert_eq!(times.get(id.as_str()), Some(&1), "{id} is reported once");
    }
    assert_eq!(
        reported.len() - before,
        written.len(),
        "nothing else is reported"
    );
    for pair in reported.windows(2) {
        assert!(pair[0].0 < pair[1].0, "positions increase: {pair:?}");
    }
}

/// Read state and removals are reported too, whoever made them (this store, another
/// connection, a program deleting straight in the database), with the unread count after them.
async fn reports_reads_and_removals_with_the_count(database: String) {
    let started = start(&database).await;
    let ids: Vec<NotificationId> = started
        .store
        .insert(&[
            super::new("r", "a"),
            super::new("r", "b"),
            super::new("r", "c"),
        ])
        .await
        .unwrap()
        .iter()
        .map(|n| NotificationId::parse(&n.id).unwrap())
        .collect();
    let last = ids[2].to_string();
    assert!(
        started
            .recorder
            .holds_within(PATIENCE, started.recorder.has(&last))
            .await
    );
    let user = support_user("r");

    let expect = async |change: Change| {
        let seen = started
            .recorder
            .holds_within(PATIENCE, |_| {
                started.recorder.changes.lock().unwrap().contains(&change)
            })
            .await;
        assert!(
            seen,
            "reported: {change:?}, got {:?}",
            started.recorder.changes.lock().unwrap()
        );
    };
    started
        .store
        .mark_read(&user, ids[0].clone())
        .await
        .unwrap();
    expect(Change::Read("r".into(), vec![ids[0].clone()], 2)).await;
    // One update of many rows: reported in one event per user and batch, and MongoDB may hand
    // its documents to the feed in more than one batch. Together they name both, and the last
    // carries the count after all of them.
    let reads_before = started.recorder.changes.lock().unwrap().len();
    started.other.mark_all_read(&user).await.unwrap();
    let both_read = |_: &[(Position, String)]| {
        let changes = started.recorder.changes.lock().unwrap();
        let reads: Vec<_> = changes[reads_before..]
            .iter()
            .filter_map(|c| match c {
                Change::Read(u, ids, count) if u == "r" => Some((ids.clone(), *count)),
                _ => None,
            })
            .collect();
        let named: Vec<NotificationId> = reads.iter().flat_map(|(ids, _)| ids.clone()).collect();
        named.contains(&ids[1]) && named.contains(&ids[2]) && reads.last().is_some_and(|r| r.1 == 0)
    };
    assert!(
        started.recorder.holds_within(PATIENCE, both_read).await,
        "read-all reported: {:?}",
        started.recorder.changes.lock().unwrap()
    );
    crate::support::direct::delete(&database, ids[2].clone()).await;
    expect(Change::Removed("r".into(), vec![ids[2].clone()], 0)).await;
    started.shutdown.cancel();
    started.feed.await.unwrap();
}

/// Every state change is reported as its kind, in the order made, with the counts after it;
/// `host` also writes fields straight in the database, as the host application would (which
/// a standalone MongoDB cannot report).
async fn reports_each_state_change(database: String, host: bool) {
    use belfry::store::{Action, Selection};
    let started = start(&database).await;
    let mut with_action = super::new("k", "a");
    let action = serde_json::json!([{"label": "OK", "name": "ok"}]);
    with_action.actions = belfry::model::Actions::parse(&action).unwrap();
    let ids: Vec<NotificationId> = started
        .store
        .insert(&[with_action, super::new("k", "b")])
        .await
        .unwrap()
        .iter()
        .map(|n| NotificationId::parse(&n.id).unwrap())
        .collect();
    let user = support_user("k");
    let (a, b) = (&ids[0], &ids[1]);
    let kinds_of = |id: &NotificationId| -> Vec<ChangeKind> {
        let changes = started.recorder.changes.lock().unwrap();
        changes
            .iter()
            .filter_map(|c| match c {
                Change::Read(_, ids, _) if ids.contains(id) => Some(ChangeKind::Read),
                Change::Removed(_, ids, _) if ids.contains(id) => Some(ChangeKind::Removed),
                Change::Other(kind, _, ids, _) if ids.contains(id) => Some(*kind),
                _ => None,
            })
            .collect()
    };
    let one = |id: &NotificationId| Selection::Ids(vec![id.clone()]);
    let until = chrono::Utc::now() + chrono::Duration::hours(1);
    for action in [
        Action::Seen,
        Action::Archive,
        Action::Unarchive,
        Action::Read,
        Action::Unread,
        Action::Snooze(until),
        Action::Unsnooze,
    ] {
        started.store.update(&user, &one(a), action).await.unwrap();
    }
    let ok = belfry::model::ActionName::parse("ok").unwrap();
    started.store.complete(&user, a, &ok).await.unwrap();
    let want = [
        ChangeKind::Seen,
        ChangeKind::Archived,
        ChangeKind::Unarchived,
        ChangeKind::Read,
        ChangeKind::Unread,
        ChangeKind::Snoozed,
        ChangeKind::Unsnoozed,
        ChangeKind::Completed,
    ];
    let all_in = |_: &[(Position, String)]| kinds_of(a) == want;
    assert!(
        started.recorder.holds_within(PATIENCE, all_in).await,
        "reported in order: {:?}",
        kinds_of(a)
    );
    if host {
        use crate::support::direct::{set_state, HostWrite};
        for (field, write) in [
            ("archived_at", HostWrite::Now),
            ("archived_at", HostWrite::Unset),
            ("seen_at", HostWrite::Now),
            ("read_at", HostWrite::Now),
            // Laravel's `markAsUnread()`.
            ("read_at", HostWrite::Null),
        ] {
            set_state(&database, b, field, write).await;
        }
        let want = [
            ChangeKind::Archived,
            ChangeKind::Unarchived,
            ChangeKind::Seen,
            ChangeKind::Read,
            ChangeKind::Unread,
        ];
        let all_in = |_: &[(Position, String)]| kinds_of(b) == want;
        assert!(
            started.recorder.holds_within(PATIENCE, all_in).await,
            "the host's writes reported: {:?}",
            kinds_of(b)
        );
    }
    started.shutdown.cancel();
    started.feed.await.unwrap();
}

async fn reports_each_state_change_also_the_hosts(database: String) {
    reports_each_state_change(database, true).await;
}

async fn reports_each_state_change_of_belfry(database: String) {
    reports_each_state_change(database, false).await;
}

fn support_user(id: &str) -> UserId {
    crate::support::user(id)
}

on_stores!(database: [sqlite, mongo] [
    reports_reads_and_removals_with_the_count,
    reports_each_state_change_also_the_hosts,
]);

mod all_stores {
    use super::*;

    on_stores!(database: [sqlite, mongo, mongo_standalone] [
        reports_every_commit_once_in_position_order,
        reports_each_state_change_of_belfry,
    ]);
}
