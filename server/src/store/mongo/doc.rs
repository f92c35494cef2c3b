//! Documents in the Laravel model's shape, read as other programs write them, and written as
//! the Laravel model would.

use app::Notification;
use mongodb::bson::{doc, Bson, DateTime as BsonDateTime, Document};

use crate::model::{NewNotification, NotificationId, UserId};
use crate::store::rfc3339;

/// A new notification's document, created `now`.
pub fn new_document(new: &NewNotification, now: BsonDateTime) -> Document {
    doc! {
        "_id": NotificationId::new().object_id(),
        "user_id": new.user_id.as_str(),
        "message": new.message.as_str(),
        "link": new.link.as_ref().map_or(Bson::Null, |l| Bson::from(l.as_str())),
        "read_at": Bson::Null,
        "created_at": now,
        "updated_at": now,
    }
}

/// Matches the documents of `user`, whether the writer stored the id as a string or (as the
/// Laravel model's integer cast does) as a number.
pub fn user_filter(user: &UserId) -> Bson {
    match user.as_integer() {
        Some(n) => doc! { "$in": [user.as_str(), n] }.into(),
        None => user.as_str().into(),
    }
}

fn id_to_string(value: Option<&Bson>) -> String {
    match value {
        Some(Bson::ObjectId(oid)) => oid.to_hex(),
        Some(Bson::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn user_id_to_string(value: Option<&Bson>) -> String {
    match value {
        Some(Bson::Int32(n)) => n.to_string(),
        Some(Bson::Int64(n)) => n.to_string(),
        Some(Bson::Double(d)) if d.fract() == 0.0 => format!("{d:.0}"),
        other => id_to_string(other),
    }
}

fn date_to_string(value: Option<&Bson>) -> Option<String> {
    match value {
        Some(Bson::DateTime(at)) => Some(rfc3339(at.to_chrono())),
        Some(Bson::String(s)) => Some(s.clone()),
        _ => None,
    }
}

pub fn to_notification(doc: &Document) -> Notification {
    let created_at = date_to_string(doc.get("created_at")).unwrap_or_else(|| {
        // A writer that left out `created_at`: the ObjectId carries its creation second.
        match doc.get("_id") {
            Some(Bson::ObjectId(oid)) => rfc3339(oid.timestamp().to_chrono()),
            _ => String::new(),
        }
    });
    Notification {
        id: id_to_string(doc.get("_id")),
        user_id: user_id_to_string(doc.get("user_id")),
        message: doc.get_str("message").unwrap_or_default().to_owned(),
        link: doc.get_str("link").ok().map(str::to_owned),
        read_at: date_to_string(doc.get("read_at")),
        created_at,
    }
}
