//! The document Belfry writes: the Laravel model's shape, with an ObjectId `_id`, the user id
//! as the string it was given, and BSON dates. (Reading is `decode.rs`'s, whoever wrote it.)

use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime as BsonDateTime, Document};

use crate::model::NewNotification;

/// A new notification's document, created `now`.
pub fn new_document(new: &NewNotification, now: BsonDateTime) -> Document {
    doc! {
        "_id": ObjectId::new(),
        "user_id": new.user_id.as_str(),
        "message": new.message.as_str(),
        "link": new.link.as_ref().map_or(Bson::Null, |l| Bson::from(l.as_str())),
        "read_at": Bson::Null,
        "created_at": now,
        "updated_at": now,
    }
}
