//! The decoder: one rule per field for the documents of the host's collection, whoever wrote
//! them (Belfry, the host application, a restore, a migration), and the query filters built
//! from the same rules. The list, the count, mark-read, the feeds and replay all read documents
//! through [`Decoder::decode`] and select them with these filters, so they cannot disagree on
//! whose a document is, whether it is read, or when it was made.
//!
//! The rules (docs/API.md, "Documents other programs write"):
//! - `_id`: an ObjectId (its 24 lower-case hex digits), a string (as is, if it is a valid
//!   [`NotificationId`]) or an integer (decimal). Anything else: skipped.
//! - `user_id`: a string that is a valid [`UserId`]; an integer, or a double with an integral
//!   value, as its decimal form; an ObjectId as its 24 hex digits. Anything else (`null`, a
//!   boolean, `42.5`, MinKey, …) names no user: skipped.
//! - `message`: a non-empty string, else skipped. `link`: a valid link, else none (counted).
//! - `read_at`: missing, `null`, `false`, `0` or `""` is **unread**; anything else is read, at
//!   the time it gives if it is a date (see below), else at `updated_at`, else at `created_at`.
//! - `seen_at`, `archived_at`: by `read_at`'s rule (unset: unseen, in the inbox). A read
//!   notification is seen: its `seen_at` is its `read_at` when `seen_at` is unset.
//! - `snoozed_until`: unset by `read_at`'s rule (not snoozed); a date: snoozed until then; any
//!   other value: snoozed with its time already come (the waker ends it at once, and counts it).
//!   `woke_at`, when it last came back: a date, else none.
//! - dates (`created_at`, `read_at`, `updated_at` and the states above): a BSON date; text in RFC 3339 (any offset,
//!   any fraction) or `Y-m-d H:i:s[.u]` (read in the configured zone, UTC by default; Laravel's
//!   `app.timezone`); the `{date, timezone_type, timezone}` document older Carbon versions
//!   wrote; a number of seconds (below 10^11) or milliseconds since 1970. Sent as RFC 3339 UTC
//!   with milliseconds. An unreadable `created_at` falls back to the ObjectId's second; without
//!   an ObjectId the document is skipped.
//!
//! A skipped document is counted (`belfry_skipped_records_total{reason}`) and logged at warn
//! level by whoever met it; it is never delivered and never listed.
//!
//! About 600 lines, half of them the table tests of each odd value: the rules and their tests
//! are read together.

use std::str::FromStr;

use app::Notification;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use mongodb::bson::{doc, Bson, Document};

use crate::model::{Category, Link, NotificationId, UserId};
use crate::store::kit::{actions_of, actor_of, category_of, group_key_of, rfc3339};

/// The shape of the collection's documents (`--schema`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Schema {
    /// Belfry's own (`user_id`, `message`, `link`, `read_at`, …): the rules above.
    #[default]
    Belfry,
    /// Laravel's database channel's, for one notifiable type (`laravel.rs`).
    Laravel {
        notifiable_type: std::sync::Arc<str>,
    },
}

/// Why a document is not a notification Belfry can serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// `_id` is of a type or form no notification id has.
    Id,
    /// `user_id` names no user.
    UserId,
    /// `message` is missing, empty or not a string.
    Message,
    /// Neither `created_at` nor the `_id` tells when it was made.
    CreatedAt,
    /// A Laravel notification of another notifiable (a team, not a user): the host's, not
    /// broken, so counted but not warned of.
    Notifiable,
}

impl Skip {
    /// The `reason` label of `belfry_skipped_records_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Skip::Id => "id",
            Skip::UserId => "user_id",
            Skip::Message => "message",
            Skip::CreatedAt => "created_at",
            Skip::Notifiable => "notifiable_type",
        }
    }
}

/// Reads documents by the rules above (or Laravel's, by `schema`); `zone` is where a date
/// written without an offset was.
#[derive(Clone, Debug)]
pub struct Decoder {
    pub zone: Tz,
    pub schema: Schema,
}

impl Default for Decoder {
    fn default() -> Self {
        Self {
            zone: Tz::UTC,
            schema: Schema::Belfry,
        }
    }
}

/// Seconds since 1970 below this, milliseconds from it on (10^11 s is the year 5138; 10^11 ms
/// is 1973).
const MILLIS_FROM: f64 = 1e11;

impl Decoder {
    /// The notification `document` is, or why it is skipped.
    pub fn decode(&self, document: &Document) -> Result<Notification, Skip> {
        self.decode_with_id(document)
            .map(|(_, notification)| notification)
    }

    /// [`decode`](Self::decode), with the id it read (the feeds and replay place it).
    pub fn decode_with_id(
        &self,
        document: &Document,
    ) -> Result<(NotificationId, Notification), Skip> {
        match &self.schema {
            Schema::Belfry => self.decode_belfry(document),
            Schema::Laravel { notifiable_type } => {
                super::laravel::decode(self, document, notifiable_type)
            }
        }
    }

    fn decode_belfry(&self, document: &Document) -> Result<(NotificationId, Notification), Skip> {
        let id = document.get("_id").and_then(id_of).ok_or(Skip::Id)?;
        let user = document
            .get("user_id")
            .and_then(user_of)
            .ok_or(Skip::UserId)?;
        let message = match document.get("message") {
            Some(Bson::String(message)) if !message.is_empty() => message.clone(),
            _ => return Err(Skip::Message),
        };
        let created_at = self.created_at(document).ok_or(Skip::CreatedAt)?;
        let read_at = self.read_at(document, created_at);
        let link = match document.get("link") {
            None | Some(Bson::Null) => None,
            Some(Bson::String(link)) if Link::parse(link).is_ok() => Some(link.clone()),
            Some(_) => {
                crate::metrics::skipped("link");
                tracing::warn!(%id, "a notification's link is not a valid link; sent without it");
                None
            }
        };
        let mut notification = Notification {
            id: id.as_str().to_owned(),
            user_id: user.as_str().to_owned(),
            message,
            link,
            read_at: read_at.map(rfc3339),
            created_at: rfc3339(created_at),
            kind: document.get_str("type").ok().map(str::to_owned),
            data: data_of(document.get("data")).map(serde_json::Value::Object),
            ..Notification::default()
        };
        self.add_states(document, created_at, &mut notification);
        Ok((id, notification))
    }

    /// When the document was made: its `created_at`, else its ObjectId's second.
    pub(super) fn created_at(&self, document: &Document) -> Option<DateTime<Utc>> {
        document
            .get("created_at")
            .and_then(|value| self.date_of(value))
            .or_else(|| match document.get("_id") {
                Some(Bson::ObjectId(oid)) => Some(oid.timestamp().to_chrono()),
                _ => None,
            })
    }

    /// The notification id of `document` (an entry of a query that projected `_id` and `id`).
    pub fn id_in(&self, document: &Document) -> Option<NotificationId> {
        match &self.schema {
            Schema::Belfry => document.get("_id").and_then(id_of),
            Schema::Laravel { .. } => super::laravel::id_in(document),
        }
    }

    /// Matches the documents of `user`.
    pub fn user_match(&self, user: &UserId) -> Document {
        match &self.schema {
            Schema::Belfry => doc! { "user_id": user_filter(user) },
            Schema::Laravel { notifiable_type } => {
                super::laravel::user_match(notifiable_type, user)
            }
        }
    }

    /// Matches the documents of `category`: Belfry's `category`, Laravel's `type`.
    pub fn category_match(&self, category: &Category) -> Document {
        match &self.schema {
            Schema::Belfry => doc! { "category": category.as_str() },
            Schema::Laravel { .. } => doc! { "type": category.as_str() },
        }
    }

    /// Matches the document whose notification id is `id`.
    pub fn id_match(&self, id: &NotificationId) -> Document {
        match &self.schema {
            Schema::Belfry => doc! { "_id": id_filter(id) },
            Schema::Laravel { .. } => super::laravel::id_match(id),
        }
    }

    /// What every listed or counted document has besides its owner ([`servable`], or
    /// Laravel's, `laravel::servable`).
    pub fn servable(&self) -> Document {
        match &self.schema {
            Schema::Belfry => servable(),
            Schema::Laravel { .. } => {
                let mut all = servable_id_and_time();
                all.extend(super::laravel::servable());
                doc! { "$and": all }
            }
        }
    }

    /// [`decode`](Self::decode), counting and logging a skipped document.
    pub fn read(&self, document: &Document) -> Option<Notification> {
        self.read_with_id(document)
            .map(|(_, notification)| notification)
    }

    /// [`read`](Self::read), with the id it read.
    pub fn read_with_id(&self, document: &Document) -> Option<(NotificationId, Notification)> {
        match self.decode_with_id(document) {
            Ok(decoded) => Some(decoded),
            Err(Skip::Notifiable) => {
                crate::metrics::skipped(Skip::Notifiable.reason());
                tracing::debug!("passing over a notification of another notifiable type");
                None
            }
            Err(skip) => {
                crate::metrics::skipped(skip.reason());
                let id = document.get("_id").map(ToString::to_string);
                tracing::warn!(
                    id = id.as_deref().unwrap_or("none"),
                    reason = skip.reason(),
                    "skipping a document Belfry cannot serve"
                );
                None
            }
        }
    }

    /// When the document was read, or `None` while it is unread.
    pub(super) fn read_at(
        &self,
        document: &Document,
        created_at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.flag_at(document, "read_at", created_at)
    }

    /// When the flag `field` (`read_at`, `seen_at`, `archived_at`) was set, by `read_at`'s rule:
    /// `None` while unset; else its date, or `updated_at`, or `created_at`.
    fn flag_at(
        &self,
        document: &Document,
        field: &str,
        created_at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if is_unset(document.get(field)) {
            return None;
        }
        let date = |field: &str| document.get(field).and_then(|v| self.date_of(v));
        Some(
            date(field)
                .or_else(|| date("updated_at"))
                .unwrap_or(created_at),
        )
    }

    /// Until when the document is snoozed: `None` if it is not; a value that holds no date is
    /// due at once (the Unix epoch).
    pub fn snoozed_until(&self, document: &Document) -> Option<DateTime<Utc>> {
        let value = document.get("snoozed_until")?;
        if is_unset(Some(value)) {
            return None;
        }
        Some(self.date_of(value).unwrap_or(DateTime::UNIX_EPOCH))
    }

    /// Sets `notification`'s states (`seen_at`, `archived_at`, `snoozed_until`) as `document`
    /// has them, by the rules of the module.
    pub(super) fn add_states(
        &self,
        document: &Document,
        created_at: DateTime<Utc>,
        notification: &mut Notification,
    ) {
        let seen_at = self.flag_at(document, "seen_at", created_at);
        notification.seen_at = seen_at
            .map(rfc3339)
            .or_else(|| notification.read_at.clone());
        notification.archived_at = self
            .flag_at(document, "archived_at", created_at)
            .map(rfc3339);
        notification.snoozed_until = self.snoozed_until(document).map(rfc3339);
        notification.woke_at = document
            .get("woke_at")
            .and_then(|value| self.date_of(value))
            .map(rfc3339);
        notification.completed_action =
            document.get_str("completed_action").ok().map(str::to_owned);
        notification.completed_at = self
            .flag_at(document, "completed_at", created_at)
            .map(rfc3339);
        match &self.schema {
            // Belfry's: `category`, `actor` as `{name, avatar}`, `actions`.
            Schema::Belfry => {
                let actions = document
                    .get("actions")
                    .cloned()
                    .map(Bson::into_relaxed_extjson);
                notification.actions = actions_of(actions.as_ref());
                notification.group_key = group_key_of(document.get_str("group_key").ok());
                notification.category = category_of(document.get_str("category").ok());
                let actor = document.get_document("actor").ok();
                notification.actor = actor_of(
                    actor.and_then(|a| a.get_str("name").ok()),
                    actor.and_then(|a| a.get_str("avatar").ok()),
                );
            }
            // Laravel's: the `type` is the category; the actor and actions are in the data.
            Schema::Laravel { .. } => {
                let actions = notification
                    .data
                    .as_ref()
                    .and_then(|d| d.get("actions"))
                    .cloned();
                notification.actions = actions_of(actions.as_ref());
                let data = notification.data.as_ref();
                let group = data
                    .and_then(|d| d.get("group_key"))
                    .and_then(|g| g.as_str());
                notification.group_key = group_key_of(group);
                notification.category = category_of(document.get_str("type").ok());
                let actor = notification
                    .data
                    .as_ref()
                    .and_then(|data| data.get("actor"))
                    .and_then(|actor| actor.as_object());
                let text = |field: &str| actor.and_then(|a| a.get(field)?.as_str());
                notification.actor = actor_of(text("name"), text("avatar"));
            }
        }
    }

    /// The instant a date field stands for, if it is one of the forms in the module's rules.
    pub fn date_of(&self, value: &Bson) -> Option<DateTime<Utc>> {
        match value {
            Bson::DateTime(at) => Some(at.to_chrono()),
            Bson::String(text) => self.date_of_text(text.trim()),
            Bson::Document(carbon) => carbon_date(carbon),
            Bson::Int32(n) => epoch(f64::from(*n)),
            Bson::Int64(n) => epoch(*n as f64),
            Bson::Double(n) => epoch(*n),
            Bson::Timestamp(t) => DateTime::from_timestamp(i64::from(t.time), 0),
            _ => None,
        }
    }

    fn date_of_text(&self, text: &str) -> Option<DateTime<Utc>> {
        if let Some(at) = with_offset(text) {
            return Some(at);
        }
        local(naive(text)?, self.zone)
    }
}

/// Text with an offset or `Z`: RFC 3339, with `T` or a space between date and time, and the
/// offset with or without its colon.
fn with_offset(text: &str) -> Option<DateTime<Utc>> {
    let text = match text.as_bytes().get(10) {
        Some(b' ') => format!("{}T{}", &text[..10], &text[11..]),
        _ => text.to_owned(),
    };
    DateTime::parse_from_rfc3339(&text)
        .or_else(|_| DateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// Text without an offset: `Y-m-d H:i:s`, with an optional fraction, `T` or a space.
fn naive(text: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
}

/// A wall-clock time in `zone`; in a repeated hour the earlier instant, in a skipped hour the
/// instant an hour later (as PHP reads it).
fn local<Z: TimeZone>(at: NaiveDateTime, zone: Z) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&at)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(at + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|at| at.with_timezone(&Utc))
}

/// Carbon's document: `{date: "Y-m-d H:i:s.u", timezone_type: 1|2|3, timezone}`; type 1 is an
/// offset (`+02:00`), 2 an abbreviation (`UTC`, `CET`), 3 a zone name (`Europe/Paris`).
fn carbon_date(carbon: &Document) -> Option<DateTime<Utc>> {
    let at = naive(carbon.get_str("date").ok()?)?;
    let zone = carbon.get_str("timezone").ok()?;
    if let Ok(offset) = FixedOffset::from_str(zone) {
        return local(at, offset);
    }
    match zone {
        "Z" | "UTC" | "GMT" => local(at, Utc),
        name => local(at, Tz::from_str(name).ok()?),
    }
}

fn epoch(n: f64) -> Option<DateTime<Utc>> {
    if !n.is_finite() {
        return None;
    }
    let millis = if n.abs() < MILLIS_FROM { n * 1000.0 } else { n };
    DateTime::from_timestamp_millis(millis.round() as i64)
}

/// `data`: an embedded document, or the JSON text of an object (as Eloquent's `array` cast
/// stores it). Anything else is no data.
pub fn data_of(value: Option<&Bson>) -> Option<serde_json::Map<String, serde_json::Value>> {
    let json = match value? {
        Bson::Document(data) => Bson::Document(data.clone()).into_relaxed_extjson(),
        Bson::String(text) => serde_json::from_str(text).ok()?,
        _ => return None,
    };
    match json {
        serde_json::Value::Object(object) => Some(object),
        _ => None,
    }
}

/// A document's id as the API shows it, if its `_id` can be one.
pub fn id_of(value: &Bson) -> Option<NotificationId> {
    match value {
        Bson::ObjectId(oid) => Some(NotificationId::from(*oid)),
        Bson::String(text) => NotificationId::parse(text).ok(),
        Bson::Int32(n) => NotificationId::parse(&n.to_string()).ok(),
        Bson::Int64(n) => NotificationId::parse(&n.to_string()).ok(),
        _ => None,
    }
}

/// Doubles below this (2^63) are within `i64`, as a filter's integer compares them.
const I64_DOUBLE: f64 = 9_223_372_036_854_775_808.0;

/// The user a `user_id` value names, if it names one.
pub fn user_of(value: &Bson) -> Option<UserId> {
    let text = match value {
        Bson::String(text) => text.clone(),
        Bson::Int32(n) => n.to_string(),
        Bson::Int64(n) => n.to_string(),
        // (`+ 0.0` makes -0.0 the user "0", as the filter's integer 0 matches it.)
        Bson::Double(d) if d.fract() == 0.0 && d.abs() < I64_DOUBLE => format!("{:.0}", d + 0.0),
        Bson::ObjectId(oid) => oid.to_hex(),
        _ => return None,
    };
    UserId::parse(&text).ok()
}

/// Whether a flag's value (or its absence) means unset: an unread `read_at`, an unseen
/// `seen_at`, …
pub fn is_unset(value: Option<&Bson>) -> bool {
    match value {
        None | Some(Bson::Null | Bson::Boolean(false)) => true,
        Some(Bson::Int32(n)) => *n == 0,
        Some(Bson::Int64(n)) => *n == 0,
        Some(Bson::Double(n)) => *n == 0.0,
        Some(Bson::String(s)) => s.is_empty(),
        Some(_) => false,
    }
}

/// Matches an unset flag ([`is_unset`]: an unread `read_at`, …): `null` also matches a
/// missing field, and `0`
/// every numeric zero.
pub fn unset_filter() -> Bson {
    // Not an array (`$in` would match `[null]` by its element) nor a decimal (`0` would match
    // `Decimal128("0")`): the decoder reads both as read.
    doc! {
        "$in": [Bson::Null, false, 0, ""],
        "$not": { "$type": ["array", "decimal"] },
    }
    .into()
}

/// Matches the documents of `user`: every stored value [`user_of`] reads as that user.
pub fn user_filter(user: &UserId) -> Bson {
    let mut forms = vec![Bson::from(user.as_str())];
    if let Some(n) = user.as_integer() {
        // A number matches every numeric type of that value (int, long, double).
        forms.push(Bson::Int64(n));
    }
    if let Some(oid) = NotificationId::parse(user.as_str())
        .ok()
        .and_then(|id| id.object_id())
    {
        forms.push(Bson::ObjectId(oid));
    }
    one_of(forms)
}

/// Matches the document whose `_id` [`id_of`] reads as `id`.
pub fn id_filter(id: &NotificationId) -> Bson {
    let mut forms = vec![Bson::from(id.as_str())];
    if let Some(oid) = id.object_id() {
        forms.push(Bson::ObjectId(oid));
    }
    if let Some(n) = id.as_integer() {
        forms.push(Bson::Int64(n));
    }
    one_of(forms)
}

/// The `$or` of documents listed after the one whose stored `_id` is `key` (newest first by
/// `_id`): a smaller `_id` of the same type, or any `_id` of a type MongoDB sorts lower (numbers,
/// then strings, then ObjectIds), since a comparison only matches values of its own type.
pub fn before(key: &Bson) -> Vec<Document> {
    let lower: &[&str] = match key {
        Bson::ObjectId(_) => &["int", "long", "double", "string"],
        Bson::String(_) => &["int", "long", "double"],
        _ => &[],
    };
    let mut or = vec![doc! { "_id": { "$lt": key.clone() } }];
    if !lower.is_empty() {
        or.push(doc! { "_id": { "$type": lower } });
    }
    or
}

/// The stored `_id` an id most likely has, when no document with it is found: an ObjectId for
/// 24 hex digits, an integer for a decimal, else a string.
pub fn likely_key(id: &NotificationId) -> Bson {
    match (id.object_id(), id.as_integer()) {
        (Some(oid), _) => Bson::ObjectId(oid),
        (None, Some(n)) => Bson::Int64(n),
        (None, None) => Bson::from(id.as_str()),
    }
}

/// What every listed or counted document has besides its owner, by the decoder's rules: an
/// `_id` of a type it reads, a non-empty `message`, and a time it was made (an ObjectId, or a
/// `created_at` of a type that can hold a date). Under `$and`, so a caller's own `_id` or
/// `$or` condition stands beside it. (Text that holds no date is the one skip a query cannot
/// see: such a document, without an ObjectId, is counted unread but not listed.)
pub fn servable() -> Document {
    // `$type` matches an array by its elements, and numbers compare across types: arrays and
    // decimals are ruled out where the decoder does not read them.
    let not_read = ["array", "decimal"];
    let mut all = servable_id_and_time();
    all.extend([
        doc! { "message": { "$type": "string", "$ne": "" } },
        doc! { "message": { "$not": { "$type": "array" } } },
        doc! { "user_id": { "$not": { "$type": not_read.as_slice() } } },
    ]);
    doc! { "$and": all }
}

/// What [`servable`] asks of `_id` and the time a document was made, in either schema. (A
/// Laravel document whose UUID is in `id` has an ObjectId `_id`.)
fn servable_id_and_time() -> Vec<Document> {
    let dated = [
        "date",
        "string",
        "object",
        "int",
        "long",
        "double",
        "timestamp",
    ];
    vec![
        doc! { "_id": { "$type": ["objectId", "string", "int", "long"] } },
        // What `NotificationId::parse` refuses: empty, a space or control character, over 128.
        doc! { "_id": { "$not": { "$regex": "^$|[\\s\\x00-\\x1f\\x7f]|^.{129}" } } },
        doc! { "$or": [
            { "_id": { "$type": "objectId" } },
            { "created_at": { "$type": dated.as_slice() } },
        ] },
    ]
}

fn one_of(mut forms: Vec<Bson>) -> Bson {
    match forms.len() {
        1 => forms.remove(0),
        _ => doc! { "$in": forms }.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::oid::ObjectId;
    use mongodb::bson::spec::BinarySubtype;
    use mongodb::bson::{Binary, DateTime as BsonDateTime, Timestamp};

    fn paris() -> Decoder {
        Decoder {
            zone: Tz::Europe__Paris,
            schema: Schema::Belfry,
        }
    }

    fn at(text: &str) -> Option<String> {
        paris().date_of(&Bson::from(text)).map(rfc3339)
    }

    #[test]
    fn dates_as_text() {
        let utc7 = Some("2026-11-28T07:00:00.000Z".to_owned());
        for text in [
            "2026-11-28T09:00:00+02:00",
            "2026-11-28T07:00:00Z",
            "2026-11-28T07:00:00.000000Z",
            "2026-11-28T07:00:00.000Z",
            "2026-11-28 07:00:00Z",
            "2026-11-28 07:00:00+00:00",
            "2026-11-28 09:00:00+0200",
            // Without an offset: the configured zone (Paris is UTC+1 in November).
            "2026-11-28 08:00:00",
            "2026-11-28T08:00:00",
            "2026-11-28 08:00:00.000000",
            " 2026-11-28 08:00:00 ",
        ] {
            assert_eq!(at(text), utc7, "{text}");
        }
        assert_eq!(
            at("2026-11-28 07:00:00.5Z").as_deref(),
            Some("2026-11-28T07:00:00.500Z")
        );
        // Summer time, and an hour that does not exist (clocks go forward at 02:00).
        assert_eq!(
            at("2026-07-01 09:00:00").as_deref(),
            Some("2026-07-01T07:00:00.000Z")
        );
        assert_eq!(
            at("2026-03-29 02:30:00").as_deref(),
            Some("2026-03-29T01:30:00.000Z")
        );
        for bad in [
            "",
            "yesterday",
            "28/11/2026",
            "2026-11-28",
            "2026-13-01 00:00:00",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_in_other_forms() {
        let d = Decoder::default();
        let date = |value: Bson| d.date_of(&value).map(rfc3339);
        let utc7 = Some("2026-11-28T07:00:00.000Z".to_owned());
        let instant = DateTime::parse_from_rfc3339("2026-11-28T07:00:00Z").unwrap();
        assert_eq!(date(BsonDateTime::from_chrono(instant).into()), utc7);
        assert_eq!(date(Bson::Int64(instant.timestamp())), utc7);
        assert_eq!(date(Bson::Int64(instant.timestamp_millis())), utc7);
        assert_eq!(date(Bson::Double(instant.timestamp() as f64)), utc7);
        for (zone_type, zone, wall) in [
            (3, "Europe/Paris", "2026-11-28 08:00:00.000000"),
            (1, "+02:00", "2026-11-28 09:00:00.000000"),
            (2, "UTC", "2026-11-28 07:00:00.000000"),
            (2, "CET", "2026-11-28 08:00:00.000000"),
        ] {
            let carbon = doc! { "date": wall, "timezone_type": zone_type, "timezone": zone };
            assert_eq!(date(carbon.into()), utc7, "{zone}");
        }
        let unknown =
            doc! { "date": "2026-11-28 08:00:00", "timezone_type": 3, "timezone": "Mars/Base" };
        assert_eq!(date(unknown.into()), None);
        assert_eq!(date(Bson::Double(f64::NAN)), None);
        assert_eq!(date(Bson::Boolean(true)), None);
        assert_eq!(date(Bson::Null), None);
        let ts = Timestamp {
            time: instant.timestamp() as u32,
            increment: 3,
        };
        assert_eq!(date(Bson::Timestamp(ts)), utc7);
    }

    #[test]
    fn user_ids() {
        let oid = ObjectId::parse_str("5ecd2b3fed5d0000dd000dd2").unwrap();
        let cases: [(Bson, Option<&str>); 13] = [
            (Bson::from("42"), Some("42")),
            (Bson::Int32(42), Some("42")),
            (Bson::Int64(42), Some("42")),
            (Bson::Double(42.0), Some("42")),
            (Bson::ObjectId(oid), Some("5ecd2b3fed5d0000dd000dd2")),
            (Bson::Double(42.5), None),
            (Bson::Double(-0.0), Some("0")),
            (Bson::Double(1e300), None),
            (Bson::Null, None),
            (Bson::Boolean(true), None),
            (Bson::MinKey, None),
            (Bson::from("a b"), None),
            (Bson::from(""), None),
        ];
        for (value, want) in cases {
            assert_eq!(
                user_of(&value).as_ref().map(UserId::as_str),
                want,
                "{value:?}"
            );
        }
    }

    #[test]
    fn ids() {
        let oid = ObjectId::new();
        let binary = Binary {
            subtype: BinarySubtype::Uuid,
            bytes: vec![0; 16],
        };
        let cases: [(Bson, Option<String>); 7] = [
            (Bson::ObjectId(oid), Some(oid.to_hex())),
            (
                Bson::from("9f0c3a52-5d1e-4c1b-9a43-0f2b7f6c1d2e"),
                Some("9f0c3a52-5d1e-4c1b-9a43-0f2b7f6c1d2e".into()),
            ),
            (Bson::Int32(7), Some("7".into())),
            (Bson::Int64(-7), Some("-7".into())),
            (Bson::Double(7.0), None),
            (Bson::Binary(binary), None),
            (Bson::from("has space"), None),
        ];
        for (value, want) in cases {
            assert_eq!(
                id_of(&value).map(|id| id.as_str().to_owned()),
                want,
                "{value:?}"
            );
        }
    }

    #[test]
    fn read_state() {
        for unread in [
            None,
            Some(Bson::Null),
            Some(false.into()),
            Some(Bson::Int32(0)),
            Some(Bson::Int64(0)),
            Some(Bson::Double(0.0)),
            Some("".into()),
        ] {
            assert!(is_unset(unread.as_ref()), "{unread:?}");
        }
        for read in [
            Bson::Boolean(true),
            Bson::Int64(1_764_313_200_000),
            "2026-11-28 07:00:00".into(),
            doc! { "date": "x" }.into(),
            BsonDateTime::now().into(),
        ] {
            assert!(!is_unset(Some(&read)), "{read:?}");
        }
    }

    fn document(extra: Document) -> Document {
        let mut document = doc! {
            "_id": ObjectId::parse_str("6747f0c0a1b2c3d4e5f60712").unwrap(),
            "user_id": 7,
            "message": "hi",
        };
        document.extend(extra);
        document
    }

    #[test]
    fn whole_documents() {
        let d = Decoder::default();
        let n = d.decode(&document(doc! {})).unwrap();
        assert_eq!((n.user_id.as_str(), n.read_at, n.link), ("7", None, None));
        // No created_at: the ObjectId's second.
        assert_eq!(n.created_at, "2024-11-28T04:25:36.000Z");
        // Read without a date: at updated_at, else at created_at.
        let read = d
            .decode(&document(
                doc! { "read_at": true, "updated_at": "2026-11-28 07:00:00" },
            ))
            .unwrap();
        assert_eq!(read.read_at.as_deref(), Some("2026-11-28T07:00:00.000Z"));
        let read = d.decode(&document(doc! { "read_at": "soon" })).unwrap();
        assert_eq!(read.read_at.as_deref(), Some("2024-11-28T04:25:36.000Z"));
        let unread = d.decode(&document(doc! { "read_at": false })).unwrap();
        assert_eq!(unread.read_at, None);
        // A link that is not one is left out, the notification is not.
        let n = d
            .decode(&document(doc! { "link": "javascript:alert(1)" }))
            .unwrap();
        assert_eq!(n.link, None);
        assert_eq!(
            d.decode(&document(doc! { "link": "/a" }))
                .unwrap()
                .link
                .as_deref(),
            Some("/a")
        );
        // Skipped, each for its reason.
        assert_eq!(
            d.decode(&document(doc! { "user_id": Bson::Null })),
            Err(Skip::UserId)
        );
        assert_eq!(
            d.decode(&document(doc! { "message": 5 })),
            Err(Skip::Message)
        );
        assert_eq!(
            d.decode(&document(doc! { "message": "" })),
            Err(Skip::Message)
        );
        assert_eq!(d.decode(&document(doc! { "_id": 1.5 })), Err(Skip::Id));
        let no_time = document(doc! { "_id": "uuid-1", "created_at": "yesterday" });
        assert_eq!(d.decode(&no_time), Err(Skip::CreatedAt));
        let string_id = document(doc! { "_id": "uuid-1", "created_at": "2026-11-28 07:00:00" });
        assert_eq!(d.decode(&string_id).unwrap().id, "uuid-1");
    }

    #[test]
    fn filters_name_every_form_the_decoder_reads() {
        let user = UserId::parse("5ecd2b3fed5d0000dd000dd2").unwrap();
        let oid = ObjectId::parse_str(user.as_str()).unwrap();
        assert_eq!(
            user_filter(&user),
            Bson::from(doc! { "$in": [user.as_str(), oid] })
        );
        let user = UserId::parse("42").unwrap();
        assert_eq!(
            user_filter(&user),
            Bson::from(doc! { "$in": ["42", 42_i64] })
        );
        let user = UserId::parse("alice").unwrap();
        assert_eq!(user_filter(&user), Bson::from("alice"));
        let id = NotificationId::parse("17").unwrap();
        assert_eq!(id_filter(&id), Bson::from(doc! { "$in": ["17", 17_i64] }));
    }
}
