//! Helpers for store authors: what both stores' feeds need and nothing outside `store` uses.
//! A third store starts here: [`tail`] is the polling loop, [`ByUser`] gathers a batch's
//! changes by user, in order, [`rfc3339`] formats every timestamp, [`category_of`] and
//! [`actor_of`] read what another program may have stored.

pub mod tail;

use super::{Change, ChangeKind, Counts, FeedSink};
use crate::model::{Actions, Actor, Category, GroupKey};
use crate::model::{NotificationId, UserId};

/// Changes gathered by user, in the order each user's first change came: what a feed reports,
/// per batch. A user's changes keep their order, consecutive ones of one kind joined into one
/// [`Change`] (a read-all is one event, not one per notification), so that undoing kinds
/// (archived, then unarchived) arrive in the order they happened.
#[derive(Default)]
pub struct ByUser(Vec<(UserId, UserChanges)>);

#[derive(Default)]
pub struct UserChanges {
    /// The user's changes in order, runs of one kind joined.
    runs: Vec<(ChangeKind, Vec<NotificationId>)>,
    /// The position of the user's last change.
    seq: i64,
}

impl ByUser {
    pub fn add(&mut self, user: UserId, id: NotificationId, kind: ChangeKind, seq: i64) {
        let changes = self.of(user, seq);
        match changes.runs.last_mut() {
            Some((last, ids)) if *last == kind => ids.push(id),
            _ => changes.runs.push((kind, vec![id])),
        }
    }

    fn of(&mut self, user: UserId, seq: i64) -> &mut UserChanges {
        let at = match self.0.iter().position(|(u, _)| *u == user) {
            Some(at) => at,
            None => {
                self.0.push((user, UserChanges::default()));
                self.0.len() - 1
            }
        };
        let change = &mut self.0[at].1;
        change.seq = change.seq.max(seq);
        change
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each user, with the position of their last change.
    pub fn last_positions(&self) -> impl Iterator<Item = (&UserId, i64)> {
        self.0.iter().map(|(user, change)| (user, change.seq))
    }

    /// Each user's changes, in order, with the counts `count` gives for them.
    pub fn into_changes(
        self,
        count: impl Fn(&UserId) -> Counts,
    ) -> impl Iterator<Item = (UserId, Vec<Change>)> {
        self.0.into_iter().map(move |(user, changes)| {
            let counts = count(&user);
            let changes = changes
                .runs
                .into_iter()
                .map(|(kind, ids)| Change { kind, ids, counts })
                .collect();
            (user, changes)
        })
    }

    /// Reports every user's changes to `sink`, with the counts `count` gives for them.
    pub fn report(self, sink: &dyn FeedSink, count: impl Fn(&UserId) -> Counts) {
        for (user, changes) in self.into_changes(count) {
            for change in &changes {
                sink.changed(&user, change);
            }
        }
    }
}

/// A stored category as the API's rule has it ([`Category`]); another program's value that
/// breaks it is left out (warned and counted), the notification still served.
pub fn category_of(stored: Option<&str>) -> Option<String> {
    by_rule(stored, Category::parse, "category")
}

/// A stored group key as the API's rule has it ([`GroupKey`]); another program's value that
/// breaks it is left out (warned and counted): the notification shows on its own.
pub fn group_key_of(stored: Option<&str>) -> Option<String> {
    by_rule(stored, GroupKey::parse, "group_key")
}

/// `stored` if `parse` (the API's rule for the field `reason` names) takes it; else left out,
/// warned and counted under `reason`.
fn by_rule<T>(
    stored: Option<&str>,
    parse: fn(&str) -> Result<T, String>,
    reason: &'static str,
) -> Option<String> {
    let stored = stored?;
    if let Err(err) = parse(stored) {
        crate::metrics::skipped(reason);
        tracing::warn!(field = reason, %err, "leaving out a field that breaks its rule");
        return None;
    }
    Some(stored.to_owned())
}

/// A stored actor as the API's rule has it ([`Actor`]): one whose name breaks it is left out,
/// an avatar that breaks it (`http:` from elsewhere, `javascript:`) is left out of the actor;
/// each warned and counted.
pub fn actor_of(name: Option<&str>, avatar: Option<&str>) -> Option<app::notification::Actor> {
    let name = name?;
    let view = |actor: Actor| app::notification::Actor {
        name: actor.name().to_owned(),
        avatar: actor.avatar_url().map(str::to_owned),
    };
    match Actor::parse(&serde_json::json!({ "name": name, "avatar": avatar })) {
        Ok(actor) => Some(view(actor)),
        Err(("actor.avatar", _)) => {
            crate::metrics::skipped("avatar");
            tracing::warn!("leaving out an actor's avatar: it is not https or a path");
            Actor::parse(&serde_json::json!({ "name": name }))
                .ok()
                .map(view)
        }
        Err(_) => {
            crate::metrics::skipped("actor");
            tracing::warn!("leaving out a notification's actor: its name breaks the rule");
            None
        }
    }
}

/// Stored actions as the API's rule has them ([`Actions`]); another program's that break it are
/// left out, all of them (warned and counted): a button must not lead where a publish could not.
pub fn actions_of(stored: Option<&serde_json::Value>) -> Vec<app::notification::Action> {
    let Some(stored) = stored.filter(|v| !v.is_null()) else {
        return Vec::new();
    };
    match Actions::parse(stored) {
        Ok(actions) => actions.as_slice().to_vec(),
        Err(err) => {
            crate::metrics::skipped("actions");
            tracing::warn!(%err, "leaving out a notification's actions: they break the rule");
            Vec::new()
        }
    }
}

/// Formats a UTC instant the way the API sends every timestamp.
pub fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
