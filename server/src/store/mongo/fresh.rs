//! What is new on a MongoDB without change streams: which unstamped documents the stamper
//! (`poll.rs`) gives a position that is published, and which it does not.
//!
//! A standalone server tells nobody what was inserted, and a document's own fields say nothing
//! of when it was committed. So only documents made recently are candidates: made (by the
//! ObjectId's second, which no rewrite changes; for other ids, the decoder's `created_at`) at
//! most [`GRACE`] before the database's clock, and not before the lease's `since` (the feed's
//! first start on the collection). The
//! existing history is then neither pushed nor written at a first start, and an old document
//! rewritten whole (`replaceOne`, an ODM's `save()`, which drops the stamp) is not new again.
//! A candidate that the query's coarse bounds let through but that is older is stamped
//! [`NOT_NEW`]: never published, never replayed, never looked at again. Each stamp is
//! remembered for twice [`GRACE`] in `belfry_stamps`, so a recent document rewritten whole gets
//! its own position back instead of a new one.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime, Document};
use mongodb::options::{FindOptions, IndexOptions, InsertManyOptions};
use mongodb::{Collection, IndexModel};

use super::{find_in, store_error, MongoStore, SEQ_FIELD};
use crate::metrics;
use crate::store::StoreError;

/// How long after it was made a document may still be new: the delay between a writer making
/// a document and committing it, and the writer's clock ahead of the database's.
pub const GRACE: Duration = Duration::from_secs(5 * 60);
/// Recent stamps, so that a document rewritten whole gets its position back.
const STAMPS_COLLECTION: &str = "belfry_stamps";
/// The position of a document that was not new when first seen: never published.
pub(super) const NOT_NEW: i64 = 0;

fn stamps(store: &MongoStore) -> Collection<Document> {
    store.database.collection(STAMPS_COLLECTION)
}

/// The expiry of remembered stamps.
pub(super) async fn create_index(store: &MongoStore) -> Result<(), StoreError> {
    let expiry = IndexModel::builder()
        .keys(doc! { "at": 1 })
        .options(
            IndexOptions::builder()
                .name("belfry_stamps_ttl".to_owned())
                .expire_after(GRACE * 2)
                .build(),
        )
        .build();
    stamps(store)
        .create_index(expiry)
        .await
        .map(drop)
        .map_err(store_error)
}

/// The filter of documents that may have been made from `from` (ms) on: by their ObjectId, or
/// a `created_at` in any form the decoder reads. Text is compared a day early (its offset is
/// unknown to the query); the decoder then judges exactly ([`new_or_old`]).
pub(super) fn recent(from: i64) -> Document {
    let at = DateTime::from_millis(from);
    let day_early = chrono::DateTime::from_timestamp_millis(from)
        .unwrap_or_default()
        .checked_sub_signed(TimeDelta::days(1))
        .unwrap_or_default()
        .with_timezone(&Utc)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let oid = ObjectId::from_bytes({
        let mut bytes = [0; 12];
        let secs = u32::try_from(from / 1000).unwrap_or(0);
        bytes[..4].copy_from_slice(&secs.to_be_bytes());
        bytes
    });
    doc! { "$or": [
        { "_id": { "$gte": oid } },
        { "created_at": { "$gte": at } },
        { "created_at": { "$gte": &day_early, "$type": "string" } },
        { "created_at.date": { "$gte": &day_early } },
        { "created_at": { "$gte": from / 1000, "$type": ["int", "long", "double"] } },
    ] }
}

/// Splits the candidates into the new ones (each with the position it had, if it was
/// stamped recently and rewritten since) and those made before `new_from` (ms).
pub(super) async fn new_or_old(
    store: &MongoStore,
    candidates: Vec<Document>,
    new_from: i64,
) -> Result<(Vec<(Document, Option<i64>)>, Vec<Document>), StoreError> {
    let decoder = store.decoder();
    // An ObjectId says when the document was made, and no rewrite changes it (a `created_at`
    // can be set to now by any update); it holds whole seconds, so it may have been made up to
    // a second later. Other ids: `created_at`.
    // Text (Laravel's `Y-m-d H:i:s`) is often whole seconds too: the same second's slack.
    let made = |document: &Document| match document.get_object_id("_id") {
        Ok(oid) => Some(oid.timestamp().timestamp_millis() + 999),
        Err(_) => {
            let value = document.get("created_at")?;
            let at = decoder.date_of(value)?.timestamp_millis();
            Some(if matches!(value, Bson::String(_)) {
                at + 999
            } else {
                at
            })
        }
    };
    let (new, old): (Vec<Document>, Vec<Document>) = candidates.into_iter().partition(|d| {
        // A lapsed holder's stamp is stamped again, whenever the document was made.
        d.get(SEQ_FIELD).is_some_and(|s| *s != Bson::Null)
            || made(d).is_some_and(|at| at >= new_from)
    });
    let known = known(store, &new).await?;
    let new = new
        .into_iter()
        .map(|d| {
            let had = d
                .get("_id")
                .and_then(|key| known.iter().find(|(k, _)| k == key));
            let had = had.map(|(_, seq)| *seq);
            (d, had)
        })
        .collect();
    Ok((new, old))
}

/// The positions `documents` were stamped with recently, by `_id`.
async fn known(store: &MongoStore, documents: &[Document]) -> Result<Vec<(Bson, i64)>, StoreError> {
    let keys: Vec<Document> = documents
        .iter()
        .filter(|d| d.get(SEQ_FIELD).is_none_or(|s| *s == Bson::Null))
        .filter_map(|d| Some(stamp_key(store, d.get("_id")?)))
        .collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let found = find_in(
        &stamps(store),
        doc! { "_id": { "$in": keys } },
        FindOptions::default(),
    )
    .await?;
    metrics::feed_requests(1);
    Ok(found
        .iter()
        .filter_map(|d| {
            let key = d.get_document("_id").ok()?.get("id")?.clone();
            Some((key, d.get_i64(SEQ_FIELD).ok()?))
        })
        .collect())
}

/// Remembers the positions given to `stamped` for a while (see [`GRACE`]).
pub(super) async fn remember(
    store: &MongoStore,
    stamped: &[(&Document, i64)],
) -> Result<(), StoreError> {
    let at = DateTime::now();
    let entries: Vec<Document> = stamped
        .iter()
        .filter_map(|(d, seq)| {
            Some(doc! { "_id": stamp_key(store, d.get("_id")?), SEQ_FIELD: seq, "at": at })
        })
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    metrics::feed_requests(1);
    // A key remembered already (the position given back) is a duplicate: fine.
    let unordered = InsertManyOptions::builder().ordered(false).build();
    match stamps(store)
        .insert_many(entries)
        .with_options(unordered)
        .await
    {
        Ok(_) => Ok(()),
        Err(err) if only_duplicates(&err) => Ok(()),
        Err(err) => Err(store_error(err)),
    }
}

fn stamp_key(store: &MongoStore, key: &Bson) -> Document {
    doc! { "c": store.collection().name(), "id": key.clone() }
}

/// Whether an unordered insert failed only on keys that exist (code 11000).
fn only_duplicates(err: &mongodb::error::Error) -> bool {
    match &*err.kind {
        mongodb::error::ErrorKind::InsertMany(failure) => {
            failure.write_concern_error.is_none()
                && failure
                    .write_errors
                    .as_ref()
                    .is_some_and(|errors| errors.iter().all(|e| e.code == 11000))
        }
        _ => false,
    }
}
