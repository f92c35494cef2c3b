//! The change log of a standalone server: how a read made through Belfry reaches every instance
//! when MongoDB has no change streams.
//!
//! A standalone `mongod` tells nobody that a document changed. So on such a server, Belfry's own
//! changes of state (read, seen, archived, snoozed, deleted, ended snoozes; on any instance)
//! also add an entry to `belfry_changes`, after the write itself. The stamper (`poll.rs`) gives entries positions from
//! the same counter as new notifications, so every instance reports them in one order with the
//! inserts. Entries expire after a day (a TTL index): a resume is judged by the user's
//! `changed` mark in `belfry_feed`, not by the entries, so nothing depends on keeping them.
//!
//! What it cannot see: the host application setting `read_at` (or another state) or deleting
//! documents straight in a standalone database. Its tabs learn of that when they next refetch. With change streams
//! (a replica set, as MongoDB recommends for production) every write is seen (`feed.rs`).

use chrono::Utc;
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};

use super::decode::id_of;
use super::{store_error, SEQ_FIELD};
use crate::model::{NotificationId, UserId};
use crate::store::kit::ByUser;
use crate::store::{ChangeKind, StoreError};

const CHANGES_COLLECTION: &str = "belfry_changes";
/// How long an entry is kept: far longer than any stamper takes to order it.
const KEEP_SECS: i64 = 24 * 60 * 60;

/// The log of one notification collection (several share `belfry_changes`, each entry naming
/// its collection).
pub(super) struct ChangeLog {
    entries: Collection<Document>,
    collection: String,
}

impl ChangeLog {
    /// The log of `collection`'s reads, in `database`.
    pub(super) fn new(database: &Database, collection: &str) -> Self {
        Self {
            entries: database.collection(CHANGES_COLLECTION),
            collection: collection.to_owned(),
        }
    }

    /// Where the entries are.
    pub(super) fn entries(&self) -> &Collection<Document> {
        &self.entries
    }

    /// The entries of this log's collection: the filter every query of the log starts from.
    pub(super) fn of_collection(&self) -> Document {
        doc! { "collection": &self.collection }
    }

    /// The log's indexes: entries by position, and their expiry.
    pub(super) async fn create(&self) -> Result<(), StoreError> {
        let by_position = IndexModel::builder()
            .keys(doc! { "collection": 1, SEQ_FIELD: 1 })
            .options(
                IndexOptions::builder()
                    .name("belfry_changes_seq".to_owned())
                    .build(),
            )
            .build();
        let expiry = IndexModel::builder()
            .keys(doc! { "at": 1 })
            .options(
                IndexOptions::builder()
                    .name("belfry_changes_ttl".to_owned())
                    .expire_after(std::time::Duration::from_secs(KEEP_SECS as u64))
                    .build(),
            )
            .build();
        self.entries
            .create_indexes([by_position, expiry])
            .await
            .map(drop)
            .map_err(store_error)
    }

    /// Logs that `kind` happened to `user`'s `ids`, for the stamper to order (a standalone
    /// server only).
    pub(super) async fn log(
        &self,
        kind: ChangeKind,
        user: &UserId,
        ids: &[NotificationId],
    ) -> Result<(), StoreError> {
        let mut entry = self.of_collection();
        entry.insert("kind", kind.as_str());
        entry.insert("user_id", user.as_str());
        entry.insert("at", BsonDateTime::from_chrono(Utc::now()));
        let ids: Vec<&str> = ids.iter().map(NotificationId::as_str).collect();
        entry.insert("ids", ids);
        self.entries
            .insert_one(entry)
            .await
            .map(drop)
            .map_err(store_error)
    }
}

/// Adds a stamped entry at `seq` to `changes`; an entry Belfry did not write as it should is
/// skipped with a warning.
pub(super) fn add_entry(changes: &mut ByUser, entry: &Document, seq: i64) {
    let Some(user) = entry
        .get_str("user_id")
        .ok()
        .and_then(|u| UserId::parse(u).ok())
    else {
        crate::metrics::skipped("entry");
        tracing::warn!("skipping a change log entry without a valid user_id");
        return;
    };
    // An entry of an earlier version has no `kind` (it was a read), and may hold ObjectIds,
    // or say `all`: it names no ids, and the user's count alone is reported. A kind of a later
    // version is skipped.
    let kind = match entry.get_str("kind") {
        Err(_) => ChangeKind::Read,
        Ok(kind) => match ChangeKind::parse(kind) {
            Some(kind) => kind,
            None => {
                crate::metrics::skipped("entry");
                tracing::warn!(
                    kind,
                    "skipping a change log entry of a kind this version does not know"
                );
                return;
            }
        },
    };
    let ids = entry.get_array("ids").map(Vec::as_slice).unwrap_or(&[]);
    for id in ids.iter().filter_map(id_of) {
        changes.add(user.clone(), id, kind, seq);
    }
}
