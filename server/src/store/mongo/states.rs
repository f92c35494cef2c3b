//! The inbox's writes on MongoDB: read and unread, seen, archived, snoozed, deleted, and the
//! waker that ends snoozes, as fields of the host's documents (`read_at`, `seen_at`,
//! `archived_at`, `snoozed_until`: docs/API.md, "States" and "Documents other programs
//! write"). What the host
//! writes to them itself is read by the decoder's rules and, with change streams, pushed as
//! Belfry's own writes are.
//!
//! With change streams the feed sees every update, with its ids. A standalone server tells
//! nobody, so there each write first finds the ids it will change, changes exactly those, and
//! logs them (`changes.rs`) for the polling feed.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime as BsonDateTime, Document};
use mongodb::options::FindOptions;

use super::decode::{is_unset, unset_filter};
use super::{laravel, store_error, MongoStore, Schema};
use crate::model::{ActionName, NotificationId, UserId};
use crate::store::{Action, ChangeKind, Completion, Selection, Status, StoreError, Updated};

/// The most snoozes one waker round ends; more wait for the next round.
const WAKE_BATCH: i64 = 500;

/// How long the waker goes without looking while it knows of no snooze: a snooze another
/// program writes on a server without change streams ends at most this late.
const IDLE_LOOK: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether the waker must look: while any document is snoozed, each round (once a second);
/// else once a minute, or as soon as a snooze is written here or seen by the change stream. A
/// collection without snoozes, most of them, then costs the database one query a minute, not
/// one a second per instance.
#[derive(Default)]
pub(super) struct WakerState {
    /// No document was snoozed at the last look.
    idle: std::sync::atomic::AtomicBool,
    last_look: std::sync::Mutex<Option<std::time::Instant>>,
}

impl WakerState {
    fn must_look(&self) -> bool {
        let last = self.last_look.lock().unwrap_or_else(|e| e.into_inner());
        let idle = self.idle.load(std::sync::atomic::Ordering::Relaxed);
        !idle || last.is_none_or(|at| at.elapsed() >= IDLE_LOOK)
    }

    fn looked(&self, any_snoozed: bool) {
        *self.last_look.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
        self.idle
            .store(!any_snoozed, std::sync::atomic::Ordering::Relaxed);
    }

    fn snoozed(&self) {
        self.idle.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The filter of documents whose flag `field` is unset (by the decoder's rule).
pub(super) fn unset(field: &str) -> Document {
    doc! { field: unset_filter() }
}

/// The filter of documents whose flag `field` is set.
fn set(field: &str) -> Document {
    doc! { "$nor": [unset(field)] }
}

/// The filter a list of `status` adds (at the top level, beside the owner's fields).
pub(super) fn of_status(status: Status) -> Document {
    let mut filter = Document::new();
    let unset_fields: &[&str] = match status {
        Status::Inbox => &["archived_at", "snoozed_until"],
        Status::Unread => &["read_at", "archived_at", "snoozed_until"],
        Status::Unseen => &["read_at", "seen_at", "archived_at", "snoozed_until"],
        Status::Archived => return set("archived_at"),
        Status::Snoozed => return set("snoozed_until"),
        Status::All => &[],
    };
    for field in unset_fields {
        filter.extend(unset(field));
    }
    filter
}

impl MongoStore {
    /// A snooze was written (here, or by another, as the change stream says): the waker looks
    /// at its next round.
    pub(super) fn snoozes_exist(&self) {
        self.waker.snoozed();
    }

    /// [`Notifications::update`](crate::store::Notifications::update) on this collection.
    pub(super) async fn update_states(
        &self,
        user: &UserId,
        selection: &Selection,
        action: Action,
    ) -> Result<Updated, StoreError> {
        let mut selected = self.of_user(user);
        match selection {
            Selection::Ids(ids) => {
                let each: Vec<Document> = ids.iter().map(|id| self.decoder.id_match(id)).collect();
                selected.insert("$or", each);
                let found = self.count(selected.clone()).await?;
                if found < selection.distinct() {
                    return Ok(Updated { found, changed: 0 });
                }
                // A grouped notification changes with its group.
                let groups = self.groups_of(selected.clone()).await?;
                if !groups.is_empty() {
                    let mut each: Vec<Document> =
                        ids.iter().map(|id| self.decoder.id_match(id)).collect();
                    each.push(doc! { "group_key": { "$in": groups } });
                    selected.insert("$or", each);
                }
            }
            Selection::All => {}
            Selection::AllRead => selected.extend(set("read_at")),
            Selection::InCategory(category) => {
                selected.extend(self.decoder.category_match(category))
            }
        }
        let kind = kind_of(action);
        let mut filter = doc! { "$and": [&selected, unless(action)] };
        // Standalone: exactly the documents found here are changed and logged, so one
        // committed meanwhile is neither changed nor told changed.
        let mut logged = Vec::new();
        if self.is_standalone() {
            let only_ids = FindOptions::builder()
                .projection(doc! { "_id": 1, "id": 1 })
                .build();
            let matched = self.find_all(filter.clone(), only_ids).await?;
            let keys: Vec<Bson> = matched
                .iter()
                .filter_map(|d| d.get("_id").cloned())
                .collect();
            if keys.is_empty() {
                let found = self.found_after(&selected, selection, action, 0).await?;
                return Ok(Updated { found, changed: 0 });
            }
            filter = doc! { "$and": [filter, { "_id": { "$in": keys } }] };
            logged = matched
                .iter()
                .filter_map(|d| self.decoder.id_in(d))
                .collect();
        }
        let changed = self.apply(filter, action).await?;
        if matches!(action, Action::Snooze(_)) && changed > 0 {
            self.waker.snoozed();
        }
        if !logged.is_empty() {
            self.change_log.log(kind, user, &logged).await?;
        }
        let found = self
            .found_after(&selected, selection, action, changed)
            .await?;
        Ok(Updated { found, changed })
    }

    /// How many of the named ids are the user's, after a write that changed `changed` of them:
    /// they all were when counted before it, but a delete racing it may have taken some since.
    /// Counted again then (a delete: what it deleted), so that of two deletes of one id, one
    /// answers 404, as on SQLite, whose check and write are one transaction.
    async fn found_after(
        &self,
        selected: &Document,
        selection: &Selection,
        action: Action,
        changed: u64,
    ) -> Result<u64, StoreError> {
        let named = selection.distinct();
        Ok(match action {
            _ if named == 0 => 0,
            Action::Delete => changed,
            _ if changed < named => self.count(selected.clone()).await?,
            _ => named,
        })
    }

    /// Writes `action` on what `filter` selects; how many it changed.
    async fn apply(&self, filter: Document, action: Action) -> Result<u64, StoreError> {
        let now = BsonDateTime::from_chrono(Utc::now());
        let fields = match action {
            Action::Read => return self.set_read(filter).await,
            Action::Delete => {
                return self
                    .collection
                    .delete_many(filter)
                    .await
                    .map(|result| result.deleted_count)
                    .map_err(store_error)
            }
            Action::Unread => doc! { "read_at": Bson::Null },
            Action::Seen => doc! { "seen_at": now },
            Action::Archive => doc! { "archived_at": now },
            Action::Unarchive => doc! { "archived_at": Bson::Null },
            Action::Snooze(until) => doc! { "snoozed_until": BsonDateTime::from_chrono(until) },
            Action::Unsnooze => doc! { "snoozed_until": Bson::Null },
        };
        self.update(filter, self.touched(fields, now)).await
    }

    /// `fields`, with `updated_at` in Belfry's schema (Laravel's own model keeps its own).
    fn touched(&self, mut fields: Document, now: BsonDateTime) -> Document {
        if self.decoder.schema == Schema::Belfry {
            fields.insert("updated_at", now);
        }
        fields
    }

    /// Sets `read_at` (and, in Belfry's schema, `updated_at`) to now on what `filter`
    /// selects; how many it changed. In Laravel's, `read_at` alone, in the type the document's
    /// dates have, so Laravel's own model reads it: text (`Y-m-d H:i:s` in `--time-zone`) where
    /// `created_at` is text, a BSON date otherwise (two updates).
    pub(super) async fn set_read(&self, filter: Document) -> Result<u64, StoreError> {
        let now = Utc::now();
        let date = BsonDateTime::from_chrono(now);
        if self.decoder.schema == Schema::Belfry {
            return self
                .update(filter, self.touched(doc! { "read_at": date }, date))
                .await;
        }
        let text = laravel::text_date(now, self.decoder.zone);
        let as_text = doc! { "$and": [&filter, { "created_at": { "$type": "string" } }] };
        let as_date =
            doc! { "$and": [&filter, { "created_at": { "$not": { "$type": "string" } } }] };
        Ok(self.update(as_text, doc! { "read_at": text }).await?
            + self.update(as_date, doc! { "read_at": date }).await?)
    }

    /// [`Notifications::wake`](crate::store::Notifications::wake): the documents whose
    /// `snoozed_until` is due, each ended by an update conditional on the value it was found
    /// with, so that of several instances one ends it, once.
    pub(super) async fn wake_due(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        if !self.waker.must_look() {
            return Ok(0);
        }
        let any_snoozed = self
            .collection
            .find_one(set("snoozed_until"))
            .projection(doc! { "_id": 1 })
            .await
            .map_err(store_error)?
            .is_some();
        self.waker.looked(any_snoozed);
        if !any_snoozed {
            return Ok(0);
        }
        let candidates = doc! { "$and": [
            set("snoozed_until"),
            { "$or": [
                { "snoozed_until": { "$lte": BsonDateTime::from_chrono(now) } },
                // Text, a number: read by the decoder's rule below.
                { "snoozed_until": { "$not": { "$type": "date" } } },
            ] },
        ] };
        let options = FindOptions::builder().limit(WAKE_BATCH).build();
        let mut found = self
            .collection
            .find(candidates)
            .with_options(options)
            .await
            .map_err(store_error)?;
        let mut woken = 0;
        while let Some(document) = found.try_next().await.map_err(store_error)? {
            if self.wake_one(&document, now).await? {
                woken += 1;
            }
        }
        Ok(woken)
    }

    /// Ends `document`'s snooze if it is due at `now`: whether this call did.
    async fn wake_one(&self, document: &Document, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let Some(until) = self.decoder.snoozed_until(document) else {
            return Ok(false);
        };
        if until > now {
            return Ok(false);
        }
        let (Some(key), Some(value)) = (document.get("_id"), document.get("snoozed_until")) else {
            return Ok(false);
        };
        if self.decoder.date_of(value).is_none() {
            crate::metrics::skipped("snoozed_until");
            tracing::warn!(id = %key, "a snoozed_until that is no date: ending the snooze now");
        }
        let stamp = BsonDateTime::from_chrono(now);
        let fields = doc! {
            "snoozed_until": Bson::Null,
            "read_at": Bson::Null,
            "seen_at": Bson::Null,
            "woke_at": stamp,
        };
        let woke = self
            .collection
            .update_one(
                doc! { "_id": key, "snoozed_until": value },
                doc! { "$set": self.touched(fields, stamp) },
            )
            .await
            .map_err(store_error)?
            .modified_count
            == 1;
        if woke && self.is_standalone() {
            if let Some((id, notification)) = self.decoder.read_with_id(document) {
                if let Ok(user) = UserId::parse(&notification.user_id) {
                    let ids = [id];
                    self.change_log
                        .log(ChangeKind::Unsnoozed, &user, &ids)
                        .await?;
                    if !is_unset(document.get("read_at")) {
                        self.change_log.log(ChangeKind::Unread, &user, &ids).await?;
                    }
                }
            }
        }
        Ok(woke)
    }

    /// [`Notifications::complete`](crate::store::Notifications::complete): judged on the
    /// document as read, then written only if no action of it was completed meanwhile.
    pub(super) async fn complete_action(
        &self,
        user: &UserId,
        id: &NotificationId,
        name: &ActionName,
    ) -> Result<Completion, StoreError> {
        let filter = self.one_of_user(user, id);
        let document = self
            .collection
            .find_one(filter.clone())
            .await
            .map_err(store_error)?;
        let notification = document.as_ref().and_then(|d| self.decoder.read(d));
        if let Some(judged) = Completion::judge(notification.as_ref(), name) {
            return Ok(judged);
        }
        let now = BsonDateTime::from_chrono(Utc::now());
        let fields = doc! { "completed_action": name.as_str(), "completed_at": now };
        let pending = doc! { "$and": [filter, unset("completed_at")] };
        if self.update(pending, self.touched(fields, now)).await? == 0 {
            return Ok(Completion::Already);
        }
        if self.is_standalone() {
            self.change_log
                .log(ChangeKind::Completed, user, std::slice::from_ref(id))
                .await?;
        }
        Ok(Completion::Completed)
    }

    /// How many notifications `filter` matches, a group counting once: those without a group
    /// key, and the group keys of the others (Belfry's schema; Laravel's keeps its group key in
    /// its data, which a query cannot read, so there each counts).
    pub(super) async fn count_grouped(&self, filter: Document) -> Result<u64, StoreError> {
        if self.decoder.schema != Schema::Belfry {
            return self.count(filter).await;
        }
        let alone = doc! { "$and": [&filter, { "group_key": { "$not": { "$type": "string" } } }] };
        let grouped = doc! { "$and": [&filter, { "group_key": { "$type": "string" } }] };
        let groups = self
            .collection
            .distinct("group_key", grouped)
            .await
            .map_err(store_error)?;
        Ok(self.count(alone).await? + groups.len() as u64)
    }

    /// The group keys of the documents `filter` matches (Belfry's schema).
    async fn groups_of(&self, filter: Document) -> Result<Vec<Bson>, StoreError> {
        if self.decoder.schema != Schema::Belfry {
            return Ok(Vec::new());
        }
        let grouped = doc! { "$and": [filter, { "group_key": { "$type": "string" } }] };
        self.collection
            .distinct("group_key", grouped)
            .await
            .map_err(store_error)
    }

    /// How many documents `filter` matches.
    pub(super) async fn count(&self, filter: Document) -> Result<u64, StoreError> {
        self.collection
            .count_documents(filter)
            .await
            .map_err(store_error)
    }
}

/// The change an action makes.
fn kind_of(action: Action) -> ChangeKind {
    match action {
        Action::Read => ChangeKind::Read,
        Action::Unread => ChangeKind::Unread,
        Action::Seen => ChangeKind::Seen,
        Action::Archive => ChangeKind::Archived,
        Action::Unarchive => ChangeKind::Unarchived,
        Action::Snooze(_) => ChangeKind::Snoozed,
        Action::Unsnooze => ChangeKind::Unsnoozed,
        Action::Delete => ChangeKind::Removed,
    }
}

/// The documents `action` changes something of (a read of a read one is no change).
fn unless(action: Action) -> Document {
    match action {
        Action::Read => unset("read_at"),
        Action::Unread => set("read_at"),
        Action::Seen => unset("seen_at"),
        Action::Archive => unset("archived_at"),
        Action::Unarchive => set("archived_at"),
        Action::Snooze(until) => {
            doc! { "snoozed_until": { "$ne": BsonDateTime::from_chrono(until) } }
        }
        Action::Unsnooze => set("snoozed_until"),
        Action::Delete => Document::new(),
    }
}
