//! Laravel's own notifications: the documents its database channel writes through
//! laravel-mongodb when the application calls `$user->notify(...)`, read where they are; and the
//! document Belfry writes in that shape for a publish, which Laravel's `$user->notifications`
//! then lists as its own (`--schema laravel`).
//!
//! Shapes, which one collection may mix (docs/LARAVEL.md):
//! - A (laravel-mongodb 5.x, the stock model): `_id` the UUID, `notifiable_id` a string, `data`
//!   a JSON string, dates as `Y-m-d H:i:s` text in the application's zone (a bulk update writes
//!   `read_at` as a BSON date);
//! - B (4.x): `_id` an ObjectId and the UUID in `id`, `notifiable_id` an ObjectId;
//! - C (a custom model): `_id` the UUID, BSON dates, `data` a JSON string or a document.
//!
//! The rules, beside the decoder's for dates (`decode.rs`):
//! - whose: `notifiable_id` as text (an ObjectId as its 24 hex digits, a number in decimal),
//!   only where `notifiable_type` is the configured one: a notification of another notifiable
//!   (an `App\Models\Team` with id 42) is never user 42's. It is passed over, counted
//!   (`reason="notifiable_type"`) but not warned of: it is the host's, not broken;
//! - the id: `id` when it is a string (B), else `_id`;
//! - the message and the link: read in `data` by `crate::laravel`'s rule; `type` and the whole
//!   `data` are passed on to the client.

use app::Notification;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use mongodb::bson::{doc, Bson, Document};

use super::decode::{data_of, id_of, user_filter, user_of, Decoder, Skip};
use crate::model::{Link, NewNotification, NotificationId, UserId};
use crate::store::kit::rfc3339;

/// The `type` of a notification published through Belfry without one.
pub const DEFAULT_TYPE: &str = "belfry";
/// How Laravel formats a date it stores as text (`Y-m-d H:i:s`).
pub const TEXT_DATE: &str = "%Y-%m-%d %H:%M:%S";

/// The notification a Laravel document is, or why it is skipped.
pub fn decode(
    decoder: &Decoder,
    document: &Document,
    notifiable_type: &str,
) -> Result<(NotificationId, Notification), Skip> {
    let id = id_in(document).ok_or(Skip::Id)?;
    if document.get_str("notifiable_type") != Ok(notifiable_type) {
        return Err(Skip::Notifiable);
    }
    let user = document
        .get("notifiable_id")
        .and_then(user_of)
        .ok_or(Skip::UserId)?;
    let data = data_of(document.get("data"));
    let empty = serde_json::Map::new();
    let fields = data.as_ref().unwrap_or(&empty);
    let message = crate::laravel::message_in(fields)
        .ok_or(Skip::Message)?
        .to_owned();
    let link = crate::laravel::link_in(fields).unwrap_or_else(|_| {
        crate::metrics::skipped("link");
        tracing::warn!(%id, "a notification's url is not a valid link; sent without it");
        None
    });
    let created_at = decoder.created_at(document).ok_or(Skip::CreatedAt)?;
    let mut notification = Notification {
        id: id.as_str().to_owned(),
        user_id: user.as_str().to_owned(),
        message,
        link: link.map(Link::into_string),
        read_at: decoder.read_at(document, created_at).map(rfc3339),
        created_at: rfc3339(created_at),
        kind: document.get_str("type").ok().map(str::to_owned),
        data: data.map(serde_json::Value::Object),
        ..Notification::default()
    };
    decoder.add_states(document, created_at, &mut notification);
    Ok((id, notification))
}

/// The notification id of a document: its `id` when that is a string (shape B), else `_id`.
pub fn id_in(document: &Document) -> Option<NotificationId> {
    match document.get("id") {
        Some(Bson::String(id)) => NotificationId::parse(id).ok(),
        _ => document.get("_id").and_then(id_of),
    }
}

/// Matches the documents of `user` as the configured notifiable.
pub fn user_match(notifiable_type: &str, user: &UserId) -> Document {
    doc! { "notifiable_type": notifiable_type, "notifiable_id": user_filter(user) }
}

/// Matches the document whose notification id is `id`, in either place it may be. (`id` as
/// text only: a query's equality also matches an array holding the value, which the decoder
/// does not read as an id.)
pub fn id_match(id: &NotificationId) -> Document {
    doc! { "$or": [
        { "_id": super::decode::id_filter(id) },
        { "id": { "$eq": id.as_str(), "$not": { "$type": "array" } } },
    ] }
}

/// What a Laravel document the decoder serves has besides its id and time, as far as a query
/// can tell: a `notifiable_id` that is not an array (equality would match an array by its
/// elements; the decoder reads none), and a message where the decoder looks for one (in `data`
/// as a document, or as JSON text holding a `message`, `title` or `body` that is non-blank
/// text). JSON text is matched by a pattern: one whose only such key is nested deeper is
/// counted but not listed, the one skip these filters cannot see.
pub fn servable() -> Vec<Document> {
    let in_document: Vec<Document> = crate::laravel::MESSAGE_FIELDS
        .iter()
        .map(|field| doc! { format!("data.{field}"): { "$type": "string", "$regex": "\\S" } })
        .collect();
    let in_text = doc! {
        "data": {
            "$type": "string",
            "$regex": "\"(message|title|body)\"\\s*:\\s*\"\\s*[^\"\\s]",
        }
    };
    let mut message = in_document;
    message.push(in_text);
    vec![
        doc! { "notifiable_id": { "$not": { "$type": ["array", "decimal"] } } },
        doc! { "$or": message },
    ]
}

/// A publish, as Laravel's database channel would have stored it (shape A): the UUID as `_id`,
/// `data` as JSON text holding the message (`message`) and the link (`url`) beside the
/// publisher's own data, the dates as text in `zone`.
pub fn new_document(
    new: &NewNotification,
    notifiable_type: &str,
    now: DateTime<Utc>,
    zone: Tz,
) -> Document {
    let id = match &new.id {
        Some(id) => id.as_str().to_owned(),
        None => mongodb::bson::Uuid::new().to_string(),
    };
    let mut data = new
        .data
        .as_ref()
        .map(|d| d.as_map().clone())
        .unwrap_or_default();
    data.insert("message".into(), new.message.as_str().into());
    if let Some(link) = &new.link {
        data.insert("url".into(), link.as_str().into());
    }
    if let Some(actor) = &new.actor {
        let fields = serde_json::json!({ "name": actor.name(), "avatar": actor.avatar_url() });
        data.insert("actor".into(), fields);
    }
    if let Some(group) = &new.group_key {
        data.insert("group_key".into(), group.as_str().into());
    }
    if !new.actions.is_empty() {
        let actions = serde_json::to_value(new.actions.as_slice()).unwrap_or_default();
        data.insert("actions".into(), actions);
    }
    // The category is Laravel's `type` (what `databaseType()` names); a type given wins.
    let kind = new.kind.as_ref().map(|k| k.as_str());
    let kind = kind.or(new.category.as_ref().map(|c| c.as_str()));
    let notifiable_id = match new.user_id.as_integer() {
        Some(n) => Bson::Int64(n),
        None => Bson::from(new.user_id.as_str()),
    };
    let at = text_date(now, zone);
    doc! {
        "_id": id,
        "type": kind.unwrap_or(DEFAULT_TYPE),
        "notifiable_type": notifiable_type,
        "notifiable_id": notifiable_id,
        "data": serde_json::Value::Object(data).to_string(),
        "read_at": Bson::Null,
        "created_at": &at,
        "updated_at": &at,
    }
}

/// `at` as Laravel writes a date as text: `Y-m-d H:i:s` in the application's zone.
pub fn text_date(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format(TEXT_DATE).to_string()
}

/// The `$or` of documents listed after the one with `created_at` `created` and stored `_id`
/// `key` (newest first by `created_at`, then `_id`). A comparison only matches values of its
/// own type, so every `created_at` of a type MongoDB sorts lower comes after too (text before
/// BSON dates: a collection that mixes shapes A and C lists its dated documents first).
pub fn before(created: Option<&Bson>, key: &Bson) -> Vec<Document> {
    let created = created.cloned().unwrap_or(Bson::Null);
    let numbers = ["int", "long", "double"];
    let lower: Vec<&str> = match &created {
        Bson::Null => Vec::new(),
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => vec!["null"],
        Bson::String(_) => [&["null"][..], &numbers].concat(),
        Bson::Document(_) => [&["null", "string"][..], &numbers].concat(),
        Bson::DateTime(_) => [&["null", "string", "object"][..], &numbers].concat(),
        _ => [&["null", "string", "object", "date"][..], &numbers].concat(),
    };
    let mut or = vec![doc! { "created_at": created.clone(), "_id": { "$lt": key.clone() } }];
    or.extend(
        super::decode::before(key)
            .into_iter()
            .skip(1)
            .map(|lower_id| {
                let mut same_time = lower_id;
                same_time.insert("created_at", created.clone());
                same_time
            }),
    );
    if !matches!(created, Bson::Null) {
        or.push(doc! { "created_at": { "$lt": created } });
        // (A missing `created_at` sorts as null, lowest.)
        or.push(doc! { "created_at": { "$exists": false } });
    }
    if !lower.is_empty() {
        or.push(doc! { "created_at": { "$type": lower } });
    }
    or
}
