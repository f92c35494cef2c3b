//! Retention on MongoDB: a TTL index on `created_at`, so the server itself deletes expired
//! documents (a minute or so after they expire; documents whose `created_at` is not a BSON date
//! are never expired). Belfry creates the index only when asked, under a name of its own
//! (`belfry_retention`), changes its expiry when the setting changes, and drops it when
//! retention is turned off; an index the host made itself is never touched. The deletes reach
//! the tabs through the change stream like any other (`notification-removed`).

use std::time::Duration;

use futures::TryStreamExt;

use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};

use super::store_error;
use crate::store::StoreError;

pub const INDEX: &str = "belfry_retention";

/// Makes `collection`'s TTL index (in `database`) say `keep`, or removes it.
pub(super) async fn keep_for(
    database: &Database,
    collection: &Collection<Document>,
    keep: Option<Duration>,
) -> Result<(), StoreError> {
    let indexes: Vec<IndexModel> = collection
        .list_indexes()
        .await
        .map_err(store_error)?
        .try_collect()
        .await
        .map_err(store_error)?;
    // Whether Belfry's index is there, and the expiry it has.
    let current: Option<Option<Duration>> = indexes
        .into_iter()
        .filter_map(|index| index.options)
        .find(|options| options.name.as_deref() == Some(INDEX))
        .map(|options| options.expire_after);
    match (keep, current) {
        (None, None) => Ok(()),
        (None, Some(_)) => {
            tracing::info!("retention is off: dropping the {INDEX} index");
            collection.drop_index(INDEX).await.map_err(store_error)
        }
        (Some(keep), Some(Some(now))) if now == keep => Ok(()),
        (Some(keep), Some(_)) => {
            tracing::info!(?keep, "retention changed: updating the {INDEX} index");
            database
                .run_command(doc! {
                    "collMod": collection.name(),
                    "index": { "name": INDEX, "expireAfterSeconds": keep.as_secs() as i64 },
                })
                .await
                .map(drop)
                .map_err(store_error)
        }
        (Some(keep), None) => {
            tracing::info!(?keep, "retention is on: creating the {INDEX} TTL index");
            let index = IndexModel::builder()
                .keys(doc! { "created_at": 1 })
                .options(
                    IndexOptions::builder()
                        .name(INDEX.to_owned())
                        .expire_after(keep)
                        .build(),
                )
                .build();
            collection
                .create_index(index)
                .await
                .map(drop)
                .map_err(store_error)
        }
    }
}
