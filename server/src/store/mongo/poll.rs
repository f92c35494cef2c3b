//! The feed for a MongoDB without change streams (a standalone `mongod`): an indexed tail query
//! on a short interval, with the same guarantees as the change-stream feed.
//!
//! ## Who hands out positions
//! Positions come from a counter instead of the operation log. One instance at a time, the
//! holder of a lease (the document `<collection>:stamper` in `belfry_feed`), gives new documents
//! positions from a counter kept in that same document, and cannot collide with another:
//! - the lease is judged by the database's clock (`hello`'s `localTime`), never an instance's;
//! - taking it over raises its `generation`, as a compare-and-swap on the generation it read;
//! - a stamping run reserves its positions (`$inc` of `next`), stamps the documents
//!   (`belfry_pos` and `belfry_gen`, one command) and makes them visible (`$max` of `visible`);
//!   the reservation and the `visible` write name the holder's generation, so an instance that
//!   lost the lease (it paused, or its run outlived the lease) can no longer publish positions.
//!   Stamps it still writes are above the lease's `floor` (what was visible when the lease
//!   moved) with an older generation: void. Publishers skip them and the new holder stamps those
//!   documents again.
//!
//! Every instance (the holder too) publishes, in position order, the stamped documents up to
//! `visible` beyond the last one it published: the same sequence on every instance, whoever
//! wrote the documents.
//!
//! Reads made through Belfry travel the same way: on a standalone server they are logged
//! (`changes.rs`), the holder stamps the entries from the same counter, and every instance
//! reports them after the batch's new notifications, by user, with the unread count.
//!
//! Which unstamped documents are new (and so get a position that is published) is
//! `fresh.rs`'s: only those made recently, never the history a first start finds.
//!
//! About 500 lines in one file on purpose: the lease, stamping and publishing are one protocol
//! over one lease document, and read best together; `fresh.rs` and `changes.rs` hold the parts
//! that stand alone.

use std::sync::Arc;
use std::time::Duration;

use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime, Document};
use mongodb::options::{FindOptions, IndexOptions, ReturnDocument};
use mongodb::{Collection, IndexModel};
use tokio_util::sync::CancellationToken;

use super::changes::add_entry;
use super::fresh::{self, GRACE, NOT_NEW};
use super::{find_in, store_error, MongoStore, GEN_FIELD, OF_FIELD, SEQ_FIELD};
use crate::metrics;
use crate::model::Position;
use crate::store::kit::tail::{self, Reason, Tail};
use crate::store::kit::ByUser;
use crate::store::{FeedSink, FeedStatus, Started, StoreError};

pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long a stamper's lease lasts without renewal (it renews on every poll).
const LEASE: Duration = Duration::from_secs(5);
const BATCH: i64 = 500;
pub async fn run(
    store: Arc<MongoStore>,
    sink: Arc<dyn FeedSink>,
    shutdown: CancellationToken,
    started: Started,
    status: FeedStatus,
) {
    let mut poller = Poller {
        store,
        sink,
        me: ObjectId::new(),
        generation: None,
        last_published: None,
        since: None,
        unstampable: Vec::new(),
        started,
    };
    tail::follow(&mut poller, POLL_INTERVAL, None, &shutdown, &status).await;
}

struct Poller {
    store: Arc<MongoStore>,
    sink: Arc<dyn FeedSink>,
    /// This instance, as a lease holder.
    me: ObjectId,
    /// The lease's generation while this instance holds it.
    generation: Option<i64>,
    /// The position last reported; `None` until the first poll.
    last_published: Option<i64>,
    /// The lease's `since` as last read: kept if the lease has to be made again.
    since: Option<i64>,
    /// Documents that could not take a stamp (at most [`MAX_UNSTAMPABLE`], the newest).
    unstampable: Vec<Bson>,
    started: Started,
}

/// The stamper's lease document.
struct Lease {
    holder: Option<ObjectId>,
    generation: i64,
    until: i64,
    visible: i64,
    floor: i64,
    /// The next position to hand out.
    next: i64,
    /// When the feed first started on the collection (the database's clock, ms): nothing made
    /// before is new.
    since: i64,
}

impl Lease {
    fn read(document: &Document) -> Option<Self> {
        Some(Self {
            since: document
                .get_datetime("since")
                .map_or(0, |d| d.timestamp_millis()),
            holder: document.get_object_id("holder").ok(),
            generation: document.get_i64("generation").ok()?,
            until: document
                .get_datetime("until")
                .map_or(0, |d| d.timestamp_millis()),
            visible: document.get_i64("visible").ok()?,
            floor: document.get_i64("floor").unwrap_or_default(),
            next: document.get_i64("next").ok()?,
        })
    }
}

/// What a stream may be replayed on a standalone server: positions up to `visible`, without the
/// void stamps of a lapsed holder. `None` where no stamper runs (change streams).
pub(super) struct Window {
    visible: i64,
    generation: i64,
    floor: i64,
}

impl Window {
    pub(super) async fn of(store: &MongoStore) -> Result<Option<Self>, StoreError> {
        let lease = store
            .feed_state()
            .find_one(doc! { "_id": stamper_key(store) })
            .await
            .map_err(store_error)?;
        Ok(lease.as_ref().and_then(Lease::read).map(|lease| Self {
            visible: lease.visible,
            generation: lease.generation,
            floor: lease.floor,
        }))
    }

    /// Whether a stamped document may be replayed: visible, and not void.
    pub(super) fn admits(&self, document: &Document) -> bool {
        let Ok(seq) = document.get_i64(SEQ_FIELD) else {
            return false;
        };
        seq <= self.visible && !is_void(document, seq, self.generation, self.floor)
    }
}

/// The lease document's `_id` in `belfry_feed`.
fn stamper_key(store: &MongoStore) -> String {
    format!("{}:stamper", store.collection().name())
}

/// A lapsed holder's stamp: above the floor of a later generation.
fn is_void(document: &Document, seq: i64, generation: i64, floor: i64) -> bool {
    document
        .get_i64(GEN_FIELD)
        .is_ok_and(|stamped| stamped < generation && seq > floor)
}

impl Tail for Poller {
    const NAME: &'static str = "mongodb-poll";

    async fn poll(&mut self, _: Reason) -> Result<(), StoreError> {
        if self.last_published.is_none() {
            self.start().await?;
        }
        let (mut lease, now) = match self.lease().await? {
            Some(found) => found,
            None => {
                // Gone with its collection or database (a drop, `migrate:fresh`): made again,
                // counting on from where this instance stands, with the same `since`.
                tracing::warn!("the stamper's lease is gone (dropped); making it again");
                self.prepare().await?;
                return Ok(());
            }
        };
        let held = self.hold(&lease, now).await?;
        if let Some(generation) = held.filter(|g| *g != lease.generation) {
            // Taken over just now: the lease is as this instance wrote it.
            lease.generation = generation;
            lease.floor = lease.visible;
        }
        if let Some(generation) = held {
            self.count_on(generation, &mut lease).await?;
        }
        let visible = match held {
            Some(generation) => self
                .stamp(generation, &lease, now)
                .await?
                .max(lease.visible),
            None => lease.visible,
        };
        self.publish(visible, &lease).await
    }
}

/// How many unstampable documents a stamper remembers to leave out.
const MAX_UNSTAMPABLE: usize = 1000;

/// How far past its last published position a holder moves a lease that went back: more than
/// any instance can be ahead of it, so none skips a position handed out after.
const COUNT_ON_MARGIN: i64 = 1000;

impl Poller {
    fn key(&self) -> String {
        stamper_key(&self.store)
    }

    /// The lease document, if this instance holds it with `generation`: the filter of every
    /// write only a holder may make (the fence).
    fn held_with(&self, generation: i64) -> Document {
        doc! { "_id": self.key(), "holder": self.me, "generation": generation }
    }

    /// First poll: make the indexes and the lease, and report only what comes from now on.
    async fn start(&mut self) -> Result<(), StoreError> {
        self.prepare().await?;
        let (lease, _) = self.lease().await?.ok_or_else(|| {
            StoreError::Other("the stamper's lease is missing or malformed".into())
        })?;
        self.last_published = Some(lease.visible);
        self.started.now();
        Ok(())
    }

    /// The indexes, and the lease if there is none: one that starts past every stamp there is
    /// and every position this instance published. A lease in use is left as it is.
    async fn prepare(&mut self) -> Result<(), StoreError> {
        metrics::feed_requests(1);
        self.store
            .collection()
            .create_index(
                IndexModel::builder()
                    .keys(doc! { SEQ_FIELD: 1 })
                    .options(
                        IndexOptions::builder()
                            .name("belfry_pos".to_owned())
                            .build(),
                    )
                    .build(),
            )
            .await
            .map_err(store_error)?;
        metrics::feed_requests(2);
        self.store.change_log.create().await?;
        fresh::create_index(&self.store).await?;
        self.store.create_indexes().await?;
        let highest = self
            .highest_seq()
            .await?
            .max(self.last_published.unwrap_or(0));
        let now = self.clock().await?;
        // (A lease an earlier version wrote, without a counter, is given one.)
        let fresh = doc! {
            "next": highest + 1, "visible": highest, "floor": highest, "generation": 0_i64,
        };
        metrics::feed_requests(3);
        self.store
            .feed_state()
            .update_one(
                doc! { "_id": self.key() },
                doc! { "$setOnInsert": fresh.clone() },
            )
            .upsert(true)
            .await
            .map_err(store_error)?;
        self.store
            .feed_state()
            .update_one(
                doc! { "_id": self.key(), "next": { "$exists": false } },
                doc! { "$set": fresh },
            )
            .await
            .map_err(store_error)?;
        // Nothing made before the feed's first start (of this version) is new.
        let since = self.since.unwrap_or(now);
        self.store
            .feed_state()
            .update_one(
                doc! { "_id": self.key(), "since": { "$exists": false } },
                doc! { "$set": { "since": DateTime::from_millis(since) } },
            )
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// A lease that went back (restored with its database from a dump taken earlier) would hand
    /// out positions this instance published already, and what gets them would never be
    /// published: its holder moves it past them first.
    async fn count_on(&mut self, generation: i64, lease: &mut Lease) -> Result<(), StoreError> {
        let last = self.last_published.unwrap_or(0);
        if lease.next > last {
            return Ok(());
        }
        tracing::warn!(
            next = lease.next,
            last,
            "the stamper's lease went back (restored?); counting on past what was published"
        );
        let past = last + COUNT_ON_MARGIN;
        metrics::feed_requests(1);
        self.store
            .feed_state()
            .update_one(
                self.held_with(generation),
                doc! { "$max": { "next": past + 1, "visible": past, "floor": past } },
            )
            .await
            .map_err(store_error)?;
        lease.next = past + 1;
        lease.visible = lease.visible.max(past);
        lease.floor = lease.floor.max(past);
        Ok(())
    }

    async fn highest_seq(&self) -> Result<i64, StoreError> {
        metrics::feed_requests(1);
        let top = self
            .store
            .collection()
            .find_one(doc! { SEQ_FIELD: { "$type": "long" } })
            .sort(doc! { SEQ_FIELD: -1 })
            .projection(doc! { SEQ_FIELD: 1 })
            .await
            .map_err(store_error)?;
        Ok(top.and_then(|d| d.get_i64(SEQ_FIELD).ok()).unwrap_or(0))
    }

    /// The lease as it stands (`None` if it is gone), and the database's clock.
    async fn lease(&mut self) -> Result<Option<(Lease, i64)>, StoreError> {
        metrics::feed_requests(1);
        let document = self
            .store
            .feed_state()
            .find_one(doc! { "_id": self.key() })
            .await
            .map_err(store_error)?;
        let Some(lease) = document.as_ref().and_then(Lease::read) else {
            return Ok(None);
        };
        if lease.since > 0 {
            self.since = Some(lease.since);
        }
        let now = self.clock().await?;
        Ok(Some((lease, now)))
    }

    /// The database's clock (ms since 1970), as `hello` tells it.
    async fn clock(&self) -> Result<i64, StoreError> {
        metrics::feed_requests(1);
        let hello = self
            .store
            .database
            .run_command(doc! { "hello": 1 })
            .await
            .map_err(store_error)?;
        let now = hello
            .get_datetime("localTime")
            .map(|d| d.timestamp_millis())
            .map_err(|_| StoreError::Other("the database reports no localTime".into()))?;
        Ok(now)
    }

    /// Renews the lease if this instance holds it, takes it over if it lapsed; the generation
    /// this instance holds it with, or `None`.
    async fn hold(&mut self, lease: &Lease, now: i64) -> Result<Option<i64>, StoreError> {
        let until = DateTime::from_millis(now + LEASE.as_millis() as i64);
        let key = self.key();
        let (filter, update) = match self.generation {
            Some(generation) if lease.holder == Some(self.me) && lease.generation == generation => {
                (
                    self.held_with(generation),
                    doc! { "$set": { "until": until } },
                )
            }
            _ if lease.until < now => (
                // Only from the state read: if anything moved meanwhile, someone else won.
                doc! { "_id": &key, "generation": lease.generation, "visible": lease.visible },
                doc! {
                    "$set": { "holder": self.me, "until": until, "floor": lease.visible },
                    "$inc": { "generation": 1_i64 },
                },
            ),
            _ => {
                self.generation = None;
                return Ok(None);
            }
        };
        metrics::feed_requests(1);
        let held = self
            .store
            .feed_state()
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After)
            .await
            .map_err(store_error)?;
        self.generation = held.and_then(|d| d.get_i64("generation").ok());
        Ok(self.generation)
    }

    /// Gives the new documents without a (valid) position the next ones, in `_id` order (new
    /// notifications, then change log entries), and makes them visible; returns the highest
    /// visible position this run made. `now` is the database's clock (ms).
    async fn stamp(&mut self, generation: i64, lease: &Lease, now: i64) -> Result<i64, StoreError> {
        let notifications = self.store.collection().clone();
        let log = self.store.change_log.entries().clone();
        let new_from = (now - GRACE.as_millis() as i64).max(lease.since);
        let mut recent = fresh::recent(new_from);
        if !self.unstampable.is_empty() {
            recent = doc! { "$and": [recent, { "_id": { "$nin": &self.unstampable } }] };
        }
        let candidates = unstamped(&notifications, recent, generation, lease).await?;
        let entries = unstamped(
            &log,
            self.store.change_log.of_collection(),
            generation,
            lease,
        )
        .await?;
        let (fresh, old) = fresh::new_or_old(&self.store, candidates, new_from).await?;
        // Older than they looked: a position that is never published, so never looked at again.
        let not_new: Vec<(&Document, i64)> = old.iter().map(|d| (d, NOT_NEW)).collect();
        self.stamp_documents(&notifications, &not_new, generation)
            .await?;
        let count = (fresh.len() + entries.len()) as i64;
        if count == 0 {
            return Ok(lease.visible);
        }
        // Reserve the positions, as the holder of this generation only.
        metrics::feed_requests(1);
        let reserved = self
            .store
            .feed_state()
            .find_one_and_update(
                self.held_with(generation),
                doc! { "$inc": { "next": count } },
            )
            .return_document(ReturnDocument::Before)
            .await
            .map_err(store_error)?;
        let Some(first) = reserved.and_then(|d| d.get_i64("next").ok()) else {
            self.generation = None;
            return Ok(lease.visible);
        };
        let after_fresh = first + fresh.len() as i64;
        // A rewritten document takes its own position back (`known`), the others the next ones.
        let fresh: Vec<(&Document, i64)> = fresh
            .iter()
            .zip(first..)
            .map(|((document, known), next)| (document, known.unwrap_or(next)))
            .collect();
        fresh::remember(&self.store, &fresh).await?;
        self.stamp_documents(&notifications, &fresh, generation)
            .await?;
        let entries = entries.iter().zip(after_fresh..);
        self.store
            .writes
            .update_many_statements(log.name(), position_statements(entries, generation))
            .await?;
        let last = first + count - 1;
        metrics::feed_requests(1);
        let committed = self
            .store
            .feed_state()
            .update_one(
                self.held_with(generation),
                doc! { "$max": { "visible": last } },
            )
            .await
            .map_err(store_error)?;
        if committed.matched_count == 0 {
            self.generation = None;
            return Ok(lease.visible);
        }
        Ok(last)
    }

    /// Gives each document its position; one that cannot take it (too large, refused by a
    /// validator) is left out of the candidates from then on, so it costs no write per poll.
    async fn stamp_documents(
        &mut self,
        notifications: &Collection<Document>,
        stamped: &[(&Document, i64)],
        generation: i64,
    ) -> Result<(), StoreError> {
        let statements = position_statements(stamped.iter().copied(), generation);
        let refused = self
            .store
            .writes
            .stamp_statements(notifications.name(), statements)
            .await?;
        for index in refused {
            if let Some(key) = stamped.get(index).and_then(|(d, _)| d.get("_id")) {
                if self.unstampable.len() >= MAX_UNSTAMPABLE {
                    self.unstampable.remove(0);
                }
                self.unstampable.push(key.clone());
            }
        }
        Ok(())
    }

    /// Reports what is visible beyond the last reported position, in position order: new
    /// notifications one by one, then the batch's reads, by user, with the unread count.
    async fn publish(&mut self, visible: i64, lease: &Lease) -> Result<(), StoreError> {
        let last = self.last_published.unwrap_or(visible);
        if visible <= last {
            return Ok(());
        }
        let window = doc! { SEQ_FIELD: { "$gt": last, "$lte": visible } };
        let notifications = self.store.collection();
        let stamped = in_position_order(notifications, window.clone()).await?;
        let mut of_log = self.store.change_log.of_collection();
        of_log.extend(window);
        let entries = in_position_order(self.store.change_log.entries(), of_log).await?;
        // What both reads cover in full: a batch cut at BATCH covers up to its last position.
        let upto = [&stamped, &entries]
            .into_iter()
            .filter(|found| found.len() as i64 == BATCH)
            .filter_map(|found| found.last()?.get_i64(SEQ_FIELD).ok())
            .fold(visible, i64::min);
        let valid = |document: &Document| {
            let seq = document
                .get_i64(SEQ_FIELD)
                .ok()
                .filter(|seq| *seq <= upto)?;
            // A lapsed holder's stamp: the document is stamped again, and reported then.
            (!is_void(document, seq, lease.generation, lease.floor)).then_some(seq)
        };
        let mut changes = ByUser::default();
        for entry in &entries {
            if let Some(seq) = valid(entry) {
                add_entry(&mut changes, entry, seq);
            }
        }
        // Everything the report needs from the database first, so that a failure reports
        // nothing and the next poll reports the same window once.
        let counted = self
            .store
            .writes
            .count_changes(changes, &*self.store)
            .await?;
        let decoder = self.store.decoder();
        for document in &stamped {
            let Some(seq) = valid(document) else {
                continue;
            };
            let Some((id, notification)) = decoder.read_with_id(document) else {
                continue;
            };
            self.sink.committed(Position { seq, id }, &notification);
        }
        counted.report(&*self.sink);
        // Positions up to `upto` that no document holds are gaps, never filled later.
        self.last_published = Some(upto);
        Ok(())
    }
}

/// The documents of `collection` matching `filter` without a (valid) position: new ones, and
/// those a lapsed holder stamped after the lease moved (void); oldest first, at most a batch.
async fn unstamped(
    collection: &Collection<Document>,
    filter: Document,
    generation: i64,
    lease: &Lease,
) -> Result<Vec<Document>, StoreError> {
    // Unstamped: no position, or one copied from another document (Eloquent's `replicate()`,
    // a copy made by hand): a stamp names the `_id` it was given to.
    let copied = doc! { "$expr": { "$ne": [format!("${OF_FIELD}"), "$_id"] } };
    let filter = doc! { "$or": [
        { "$and": [filter, { "$or": [{ SEQ_FIELD: Bson::Null }, copied] }] },
        { GEN_FIELD: { "$lt": generation }, SEQ_FIELD: { "$gt": lease.floor } },
    ] };
    let oldest_first = FindOptions::builder()
        .sort(doc! { "_id": 1 })
        .projection(doc! { "_id": 1, SEQ_FIELD: 1, GEN_FIELD: 1, OF_FIELD: 1, "created_at": 1 })
        .limit(BATCH)
        .build();
    metrics::feed_requests(1);
    find_in(collection, filter, oldest_first).await
}

/// The statements giving each document its position, with `generation` and its own `_id`
/// (`belfry_of`); each only as found, so a document stamped meanwhile keeps its stamp.
fn position_statements<'a>(
    documents: impl IntoIterator<Item = (&'a Document, i64)>,
    generation: i64,
) -> Vec<Document> {
    documents
        .into_iter()
        .filter_map(|(document, seq)| {
            let key = document.get("_id")?.clone();
            let as_found = doc! {
                "_id": key.clone(),
                SEQ_FIELD: document.get(SEQ_FIELD).cloned().unwrap_or(Bson::Null),
                GEN_FIELD: document.get(GEN_FIELD).cloned().unwrap_or(Bson::Null),
            };
            let stamp = doc! { SEQ_FIELD: seq, GEN_FIELD: generation, OF_FIELD: key };
            Some(doc! { "q": as_found, "u": { "$set": stamp } })
        })
        .collect()
}

/// At most a batch of what `filter` finds, in position order.
async fn in_position_order(
    collection: &Collection<Document>,
    filter: Document,
) -> Result<Vec<Document>, StoreError> {
    let in_order = FindOptions::builder()
        .sort(doc! { SEQ_FIELD: 1 })
        .limit(BATCH)
        .build();
    metrics::feed_requests(1);
    find_in(collection, filter, in_order).await
}
