//! The document Belfry writes: the Laravel model's shape, with an ObjectId `_id` (or the id the
//! publisher chose, in the form `decode.rs` matches it by), the user id as the string it was
//! given, and BSON dates; `type`, `data`, `category` and `actor` (`{name, avatar}`) when given. (Reading is `decode.rs`'s, whoever
//! wrote it.)

use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime as BsonDateTime, Document};

use super::decode::likely_key;
use crate::model::NewNotification;

/// A new notification's document, created `now`.
pub fn new_document(new: &NewNotification, now: BsonDateTime) -> Document {
    let id = new
        .id
        .as_ref()
        .map_or_else(|| Bson::ObjectId(ObjectId::new()), likely_key);
    let mut document = doc! {
        "_id": id,
        "user_id": new.user_id.as_str(),
        "message": new.message.as_str(),
        "link": new.link.as_ref().map_or(Bson::Null, |l| Bson::from(l.as_str())),
        "read_at": Bson::Null,
        "created_at": now,
        "updated_at": now,
    };
    if let Some(kind) = &new.kind {
        document.insert("type", kind.as_str());
    }
    if let Some(data) = &new.data {
        if let Ok(Bson::Document(data)) = Bson::try_from(data.to_value()) {
            document.insert("data", data);
        }
    }
    if let Some(group) = &new.group_key {
        document.insert("group_key", group.as_str());
    }
    if let Some(category) = &new.category {
        document.insert("category", category.as_str());
    }
    if !new.actions.is_empty() {
        let actions = serde_json::to_value(new.actions.as_slice()).unwrap_or_default();
        if let Ok(actions) = Bson::try_from(actions) {
            document.insert("actions", actions);
        }
    }
    if let Some(actor) = &new.actor {
        let mut fields = doc! { "name": actor.name() };
        if let Some(avatar) = actor.avatar_url() {
            fields.insert("avatar", avatar);
        }
        document.insert("actor", fields);
    }
    document
}
