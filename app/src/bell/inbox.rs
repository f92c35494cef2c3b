//! The inbox's pure logic: what a change told by the stream, or an action the user takes, does
//! to the list the bell shows (the inbox or the archive) and to its counts. The same on the
//! server and in the browser, tested without either; `browser.rs` applies it.

use crate::protocol::{ChangeKind, Changed, Counts, Status};
use crate::Notification;

use super::logic::{mark_all_read, mark_read};

/// An action on one notification, from its buttons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemAction {
    Read,
    Unread,
    Archive,
    Unarchive,
    /// Until this RFC 3339 time.
    Snooze(String),
    Delete,
}

impl ItemAction {
    /// The route's last segment (`POST /notifications/{id}/<segment>`); `None` for a delete
    /// (`DELETE /notifications/{id}`).
    pub fn segment(&self) -> Option<&'static str> {
        Some(match self {
            ItemAction::Read => "read",
            ItemAction::Unread => "unread",
            ItemAction::Archive => "archive",
            ItemAction::Unarchive => "unarchive",
            ItemAction::Snooze(_) => "snooze",
            ItemAction::Delete => return None,
        })
    }
}

/// What the list needs after a change, beyond what was applied in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetch {
    Nothing,
    /// Notifications came into the list shown that it does not hold: its first page again.
    List,
    /// These came back from a snooze: fetched one by one and put at the top.
    Items(Vec<String>),
}

/// Applies a change the stream told to `list`, the bell's view of `view`, at `at` (now, RFC
/// 3339): in place where it can, else says what to fetch. The counts come with the change.
pub fn apply_change(
    list: &mut Vec<Notification>,
    view: Status,
    kind: ChangeKind,
    changed: &Changed,
    at: &str,
) -> Fetch {
    let ids = &changed.ids;
    let remove = |list: &mut Vec<Notification>| list.retain(|n| !ids.contains(&n.id));
    let inbox = view == Status::Inbox;
    match kind {
        ChangeKind::Read if changed.all => mark_all_read(list, at),
        ChangeKind::Read => mark_read(list, ids, at),
        ChangeKind::Unread => {
            for item in list.iter_mut().filter(|n| ids.contains(&n.id)) {
                item.read_at = None;
            }
        }
        ChangeKind::Seen => {
            for item in list.iter_mut().filter(|n| ids.contains(&n.id)) {
                item.seen_at.get_or_insert_with(|| at.to_owned());
            }
        }
        ChangeKind::Removed => remove(list),
        // (Which action is the page's business: the bell shows it done.)
        ChangeKind::Completed => {
            for item in list.iter_mut().filter(|n| ids.contains(&n.id)) {
                item.completed_at.get_or_insert_with(|| at.to_owned());
            }
        }
        ChangeKind::Archived | ChangeKind::Snoozed if inbox => remove(list),
        ChangeKind::Unarchived if !inbox => remove(list),
        ChangeKind::Archived | ChangeKind::Unarchived => return Fetch::List,
        ChangeKind::Unsnoozed if inbox => {
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !list.iter().any(|n| &n.id == *id))
                .cloned()
                .collect();
            for item in list.iter_mut().filter(|n| ids.contains(&n.id)) {
                item.read_at = None;
                item.seen_at = None;
                item.snoozed_until = None;
                item.woke_at = Some(at.to_owned());
            }
            bring_to_top(list, ids);
            if !missing.is_empty() {
                return Fetch::Items(missing);
            }
        }
        ChangeKind::Snoozed | ChangeKind::Unsnoozed => {}
    }
    Fetch::Nothing
}

/// The list as the bell shows it: each notification with a group key stands for its group, the
/// newest first, the others of the group (newest first) behind it; one without a key alone.
/// (The list is newest first, so a group's first is its newest.)
pub fn group_rows(list: &[Notification]) -> Vec<(Notification, Vec<Notification>)> {
    let mut rows: Vec<(Notification, Vec<Notification>)> = Vec::new();
    for item in list {
        let key = item.group_key.as_deref();
        let row = key.and_then(|key| {
            rows.iter_mut()
                .find(|(head, _)| head.group_key.as_deref() == Some(key))
        });
        match row {
            Some((_, rest)) => rest.push(item.clone()),
            None => rows.push((item.clone(), Vec::new())),
        }
    }
    rows
}

/// Moves the listed ids the list holds to its top, in their order.
pub fn bring_to_top(list: &mut Vec<Notification>, ids: &[String]) {
    let (mut top, rest): (Vec<_>, Vec<_>) = std::mem::take(list)
        .into_iter()
        .partition(|n| ids.contains(&n.id));
    top.extend(rest);
    *list = top;
}

/// Applies `action` on `id` at once, before the server confirms it (the stream's event and the
/// counts it carries follow): the list shown and the counts as they will be.
pub fn apply_action(
    list: &mut Vec<Notification>,
    counts: &mut Counts,
    id: &str,
    action: &ItemAction,
    at: &str,
) {
    let Some(index) = list.iter().position(|n| n.id == id) else {
        return;
    };
    let item = &mut list[index];
    let unread = item.read_at.is_none() && item.archived_at.is_none();
    let unseen = unread && item.seen_at.is_none();
    let less = |counts: &mut Counts| {
        counts.unread_count = counts.unread_count.saturating_sub(u64::from(unread));
        counts.unseen_count = counts.unseen_count.saturating_sub(u64::from(unseen));
    };
    match action {
        ItemAction::Read => {
            less(counts);
            item.read_at = Some(at.to_owned());
        }
        ItemAction::Unread => {
            if item.read_at.take().is_some() {
                counts.unread_count += 1;
            }
        }
        ItemAction::Archive | ItemAction::Snooze(_) | ItemAction::Delete => {
            less(counts);
            list.remove(index);
        }
        ItemAction::Unarchive => {
            if item.read_at.is_none() {
                counts.unread_count += 1;
            }
            list.remove(index);
        }
    }
}

/// The ids of the inbox's items shown unseen (the open bell marks them seen, in one request),
/// at most `max`.
pub fn unseen_ids(list: &[Notification], max: usize) -> Vec<String> {
    list.iter()
        .filter(|n| n.seen_at.is_none() && n.read_at.is_none())
        .take(max)
        .map(|n| n.id.clone())
        .collect()
}

/// Marks `ids` seen at `at`; how many were unseen.
pub fn mark_seen(list: &mut [Notification], ids: &[String], at: &str) -> u64 {
    let mut marked = 0;
    for item in list.iter_mut().filter(|n| ids.contains(&n.id)) {
        if item.seen_at.is_none() {
            item.seen_at = Some(at.to_owned());
            marked += 1;
        }
    }
    marked
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "2026-11-29T10:00:00.000Z";

    fn n(id: &str) -> Notification {
        Notification {
            id: id.into(),
            message: id.into(),
            created_at: "2026-11-28T07:00:00.000Z".into(),
            ..Notification::default()
        }
    }

    fn ids(list: &[Notification]) -> Vec<&str> {
        list.iter().map(|n| n.id.as_str()).collect()
    }

    fn changed(ids: &[&str]) -> Changed {
        Changed {
            ids: ids.iter().map(|id| id.to_string()).collect(),
            ..Changed::default()
        }
    }

    #[test]
    fn changes_apply_in_place_or_say_what_to_fetch() {
        let mut list = vec![n("c"), n("b"), n("a")];
        let inbox = Status::Inbox;
        let apply = |list: &mut Vec<Notification>, kind, which: &[&str]| {
            apply_change(list, inbox, kind, &changed(which), AT)
        };
        assert_eq!(apply(&mut list, ChangeKind::Read, &["b"]), Fetch::Nothing);
        assert_eq!(list[1].read_at.as_deref(), Some(AT));
        apply(&mut list, ChangeKind::Unread, &["b"]);
        assert_eq!(list[1].read_at, None);
        apply(&mut list, ChangeKind::Seen, &["a"]);
        assert_eq!(list[2].seen_at.as_deref(), Some(AT));
        apply(&mut list, ChangeKind::Archived, &["c"]);
        assert_eq!(ids(&list), ["b", "a"]);
        assert_eq!(
            apply(&mut list, ChangeKind::Unarchived, &["c"]),
            Fetch::List
        );
        apply(&mut list, ChangeKind::Snoozed, &["b"]);
        assert_eq!(ids(&list), ["a"]);
        // Back from a snooze: to the top, fetched if the list does not hold it.
        let mut two = vec![n("y"), n("x")];
        assert_eq!(
            apply(&mut two, ChangeKind::Unsnoozed, &["x"]),
            Fetch::Nothing
        );
        assert_eq!(ids(&two), ["x", "y"]);
        assert_eq!(
            apply(&mut two, ChangeKind::Unsnoozed, &["z"]),
            Fetch::Items(vec!["z".into()])
        );
        // The archive's view: an archive brings in, an unarchive takes out.
        let mut archive = vec![n("c")];
        let kind = ChangeKind::Archived;
        assert_eq!(
            apply_change(&mut archive, Status::Archived, kind, &changed(&["d"]), AT),
            Fetch::List
        );
        let kind = ChangeKind::Unarchived;
        apply_change(&mut archive, Status::Archived, kind, &changed(&["c"]), AT);
        assert!(archive.is_empty());
    }

    #[test]
    fn actions_apply_at_once_with_the_counts() {
        let mut list = vec![n("c"), n("b"), n("a")];
        list[1].seen_at = Some(AT.into());
        let mut counts = Counts {
            unread_count: 3,
            unseen_count: 2,
        };
        apply_action(&mut list, &mut counts, "b", &ItemAction::Read, AT);
        assert_eq!((counts.unread_count, counts.unseen_count), (2, 2));
        apply_action(&mut list, &mut counts, "b", &ItemAction::Unread, AT);
        assert_eq!((counts.unread_count, counts.unseen_count), (3, 2));
        apply_action(&mut list, &mut counts, "c", &ItemAction::Archive, AT);
        assert_eq!((counts.unread_count, counts.unseen_count), (2, 1));
        let until = ItemAction::Snooze("2026-11-29T11:00:00Z".into());
        apply_action(&mut list, &mut counts, "a", &until, AT);
        assert_eq!((counts.unread_count, counts.unseen_count), (1, 0));
        assert_eq!(ids(&list), ["b"]);
        apply_action(&mut list, &mut counts, "b", &ItemAction::Delete, AT);
        assert!(list.is_empty());
        assert_eq!((counts.unread_count, counts.unseen_count), (0, 0));
    }

    #[test]
    fn a_group_is_one_row_headed_by_its_newest() {
        let grouped = |id: &str, key: &str| Notification {
            group_key: Some(key.into()),
            ..n(id)
        };
        let list = vec![
            grouped("c", "t"),
            n("b"),
            grouped("a", "t"),
            grouped("z", "u"),
        ];
        let rows: Vec<(String, Vec<String>)> = group_rows(&list)
            .into_iter()
            .map(|(head, rest)| (head.id, rest.into_iter().map(|n| n.id).collect()))
            .collect();
        let want = |head: &str, rest: &[&str]| {
            (
                head.to_owned(),
                rest.iter().map(|id| id.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(rows, [want("c", &["a"]), want("b", &[]), want("z", &[])]);
    }

    #[test]
    fn the_open_bell_sees_what_is_unseen() {
        let mut list = vec![n("b"), n("a")];
        list[0].read_at = Some(AT.into());
        assert_eq!(unseen_ids(&list, 100), ["a"]);
        assert_eq!(mark_seen(&mut list, &["a".into()], AT), 1);
        assert!(unseen_ids(&list, 100).is_empty());
    }
}
