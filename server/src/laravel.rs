//! What Belfry reads in a Laravel notification's data (`toArray()`, `toDatabase()`,
//! `toBroadcast()`): one rule for the documents of `--schema laravel` (`store/mongo/laravel.rs`)
//! and for the broadcasts the Pusher endpoint receives (`pusher.rs`), so a notification sent
//! both ways reads the same.
//!
//! - the message: `message`, else `title`, else `body` (the first that is non-empty text);
//! - the link: `url`, else `link`, else `action_url` (the first that is a valid link, as the
//!   publish API's `link`); the rest is passed on as the notification's `data`.

use serde_json::{Map, Value};

use crate::model::Link;

/// Where the message may be, in order.
pub const MESSAGE_FIELDS: [&str; 3] = ["message", "title", "body"];
/// Where the link may be, in order.
pub const LINK_FIELDS: [&str; 3] = ["url", "link", "action_url"];

/// The class Laravel broadcasts a notification as (`BroadcastNotificationCreated`).
pub const BROADCAST_EVENT: &str = "Illuminate\\Notifications\\Events\\BroadcastNotificationCreated";

fn text<'a>(data: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    match data.get(field) {
        Some(Value::String(text)) if !text.trim().is_empty() => Some(text),
        _ => None,
    }
}

/// The notification's message, if `data` has one.
pub fn message_in(data: &Map<String, Value>) -> Option<&str> {
    MESSAGE_FIELDS.iter().find_map(|field| text(data, field))
}

/// The notification's link: `Ok(None)` when `data` names none, `Err` with the text when what
/// it names is not a valid link (the notification is then sent without one, counted).
pub fn link_in(data: &Map<String, Value>) -> Result<Option<Link>, String> {
    let named: Vec<&str> = LINK_FIELDS.iter().filter_map(|f| text(data, f)).collect();
    match named.iter().find_map(|l| Link::parse(l).ok()) {
        Some(link) => Ok(Some(link)),
        None => match named.first() {
            Some(bad) => Err((*bad).to_owned()),
            None => Ok(None),
        },
    }
}
