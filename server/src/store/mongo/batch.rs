//! A change stream's events taken in batches: what one `getMore` brought is handled as one
//! batch (one stamping write, one count per user), a transaction's events never split across
//! two, and a batch's changes of read state gathered by user (`store::ByUser`).

use std::time::Duration;

use mongodb::bson::Document;
use mongodb::change_stream::event::ChangeStreamEvent;
use tokio::sync::mpsc;

use super::decode::Decoder;
use super::store_error;
use crate::metrics;
use crate::model::UserId;
use crate::store::kit::ByUser;
use crate::store::{ChangeKind, StoreError};

/// What the stream's reader queues: an event, or the error that ended the stream.
pub type Queued = Result<ChangeStreamEvent<Document>, mongodb::error::Error>;

/// Events handled as one batch at most.
pub const MAX_BATCH: usize = 500;

/// `first` and the events already queued behind it (what one `getMore` brought, up to
/// `MAX_BATCH`), and the error that ended the stream, if one did.
pub fn drain(
    events: &mut mpsc::Receiver<Queued>,
    first: Option<Queued>,
) -> (Vec<ChangeStreamEvent<Document>>, Option<StoreError>) {
    let mut batch = Vec::new();
    let mut next = first;
    loop {
        match next {
            Some(Ok(event)) => batch.push(event),
            Some(Err(err)) => return (batch, Some(store_error(err))),
            None if batch.is_empty() => {
                let ended = StoreError::Unavailable("the change stream ended".into());
                return (batch, Some(ended));
            }
            None => return (batch, None),
        }
        if batch.len() >= MAX_BATCH {
            return (batch, None);
        }
        next = events.try_recv().ok();
    }
}

/// How long a batch that ends inside a transaction waits for the transaction's other events.
const TRANSACTION_WAIT: Duration = Duration::from_millis(20);

/// Documents written in one transaction share their cluster time, and are published in `_id`
/// order (the order resume uses), so all of them must be in one batch. The server sends them
/// together; if the batch ends on a transaction's event, its remaining events are awaited a
/// moment. (Writes outside transactions never wait.)
pub async fn complete_transaction(
    events: &mut mpsc::Receiver<Queued>,
    batch: &mut Vec<ChangeStreamEvent<Document>>,
) -> Option<StoreError> {
    while let Some(last) = batch.last() {
        // Outside a transaction there is nothing to wait for.
        last.txn_number?;
        let time = last.cluster_time;
        match tokio::time::timeout(TRANSACTION_WAIT, events.recv()).await {
            Ok(Some(Ok(event))) => {
                let same = event.cluster_time == time;
                batch.push(event);
                if !same {
                    return None;
                }
            }
            Ok(Some(Err(err))) => return Some(store_error(err)),
            Ok(None) | Err(_) => return None,
        }
    }
    None
}

/// Adds to `changes` a change of `kind` (a read, a delete) of the document `key` names, whose
/// owner `document` tells. A delete tells no owner unless the collection keeps pre-images; such
/// a removal reaches the tabs when they next refetch.
pub fn add_change(
    decoder: &Decoder,
    changes: &mut ByUser,
    key: &Option<Document>,
    document: Option<&Document>,
    seq: Option<i64>,
    kind: ChangeKind,
) {
    // The owner and the id by the decoder's rules (the id may be outside `_id`, as in
    // Laravel's shape B): a change to a document it would not serve is not told.
    let Some(document) = document else {
        tracing::debug!("a changed document's owner is unknown (no pre-image)");
        return;
    };
    let (id, owner) = match decoder.decode_with_id(document) {
        Ok(decoded) if key.is_some() => decoded,
        Err(super::decode::Skip::Notifiable) => return,
        _ => {
            metrics::skipped("entry");
            tracing::warn!("skipping a change to a document Belfry does not serve");
            return;
        }
    };
    let Ok(user) = UserId::parse(&owner.user_id) else {
        return;
    };
    changes.add(user, id, kind, seq.unwrap_or_default());
}
