//! Laravel's broadcasts, received as a Pusher server receives them: the Pusher HTTP API's
//! `POST /apps/{app_id}/events` and `/apps/{app_id}/batch_events`, signed with the app's key and
//! secret (Pusher's "HTTP API reference", "Authentication"; the official clients sign so). A
//! Laravel application that broadcasts through its `pusher` driver, pointed at Belfry, needs
//! no other change: its `BroadcastNotificationCreated` on a user's private channel becomes that
//! user's notification, under the notification's own UUID, so its database copy (if it also
//! uses that channel) is the same notification, not a second. Other events and channels are
//! answered as Pusher answers them and counted, not stored (`belfry_pusher_events_total`).
//!
//! Here: the app's credentials and the signature check, and what an event becomes. The routes
//! are `api/pusher.rs`.

use serde_json::{Map, Value};

use crate::model::{Data, Kind, Message, NewNotification, NotificationId, UserId};

/// How far `auth_timestamp` may be from the server's clock, in seconds (Pusher's 600).
pub const MAX_CLOCK_SKEW_SECS: i64 = 600;

/// Most channels one event may name (Pusher's limit).
pub const MAX_CHANNELS: usize = 100;

/// The Pusher app Belfry stands in for: `--pusher-app-id`, `--pusher-key`, `--pusher-secret`,
/// `--pusher-user-channel`.
#[derive(Clone, Debug)]
pub struct PusherApp {
    pub app_id: String,
    pub key: String,
    secret: String,
    pub user_channel: UserChannel,
}

impl PusherApp {
    pub fn new(app_id: String, key: String, secret: String, user_channel: UserChannel) -> Self {
        Self {
            app_id,
            key,
            secret,
            user_channel,
        }
    }

    /// Checks a request as the HTTP API specifies: `auth_key` is this app's, `auth_version`
    /// 1.0, `auth_timestamp` (seconds) within [`MAX_CLOCK_SKEW_SECS`] of `now`, `body_md5` the
    /// body's MD5 in hex, and `auth_signature` the hex HMAC-SHA256, keyed with the secret, of
    /// `POST\n{path}\n{query}`, where `query` is every other parameter as `name=value`, sorted by
    /// name and joined by `&`. Why not, for the 401's message.
    pub fn verify(
        &self,
        path: &str,
        query: &[(String, String)],
        body: &[u8],
        now: i64,
    ) -> Result<(), String> {
        use hmac::Mac;
        let param = |name: &str| {
            let mut values = query.iter().filter(|(n, _)| n == name);
            match (values.next(), values.next()) {
                (Some((_, value)), None) => Ok(value.as_str()),
                (None, _) => Err(format!("{name} is missing")),
                (Some(_), Some(_)) => Err(format!("{name} is given twice")),
            }
        };
        if !constant_time_eq::constant_time_eq(param("auth_key")?.as_bytes(), self.key.as_bytes()) {
            return Err("auth_key is not this app's key".into());
        }
        if param("auth_version")? != "1.0" {
            return Err("auth_version must be 1.0".into());
        }
        let timestamp: i64 = param("auth_timestamp")?
            .parse()
            .map_err(|_| "auth_timestamp is not a number of seconds".to_owned())?;
        if (now - timestamp).abs() > MAX_CLOCK_SKEW_SECS {
            return Err(format!(
                "auth_timestamp is more than {MAX_CLOCK_SKEW_SECS} s from the server's clock"
            ));
        }
        let md5 = hex::encode(<md5::Md5 as md5::Digest>::digest(body));
        if param("body_md5")? != md5 {
            return Err("body_md5 is not the body's MD5".into());
        }
        let signature = hex::decode(param("auth_signature")?)
            .map_err(|_| "auth_signature is not hexadecimal".to_owned())?;
        let mut signed: Vec<(&str, &str)> = query
            .iter()
            .filter(|(name, _)| name != "auth_signature")
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        signed.sort();
        let signed: Vec<String> = signed.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.secret.as_bytes())
            .map_err(|_| "the secret cannot key an HMAC".to_owned())?;
        mac.update(format!("POST\n{path}\n{}", signed.join("&")).as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| "auth_signature does not match".to_owned())
    }
}

/// The channel a user's notifications are broadcast on, as a pattern with one `{id}`
/// (Laravel's `private-App.Models.User.{id}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserChannel {
    before: String,
    after: String,
}

impl UserChannel {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        match pattern.split_once("{id}") {
            Some((before, after)) if !after.contains("{id}") => Ok(Self {
                before: before.to_owned(),
                after: after.to_owned(),
            }),
            _ => Err(format!("{pattern:?} must hold {{id}} exactly once")),
        }
    }

    /// The user whose channel `channel` is, if it is one.
    pub fn user_of(&self, channel: &str) -> Option<UserId> {
        let id = channel
            .strip_prefix(&self.before)?
            .strip_suffix(&self.after)?;
        UserId::parse(id).ok()
    }
}

/// One event of a trigger (`/events` takes one, `/batch_events` up to ten): its `name`, its
/// `data` (the JSON text the client sent), and the channels it goes to.
#[derive(Debug, PartialEq)]
pub struct Trigger {
    pub name: String,
    pub data: String,
    pub channels: Vec<String>,
}

impl Trigger {
    /// An event as the HTTP API's body has it: `name`, `data` (text), and `channel` or
    /// `channels` (at most [`MAX_CHANNELS`]); `socket_id` and `info` are allowed and unused.
    pub fn parse(event: &Value) -> Result<Self, String> {
        let Value::Object(fields) = event else {
            return Err("an event is a JSON object".into());
        };
        let text = |field: &str| match fields.get(field) {
            Some(Value::String(text)) => Ok(text.clone()),
            Some(_) => Err(format!("{field} must be a string")),
            None => Err(format!("{field} is required")),
        };
        let channels = match (fields.get("channel"), fields.get("channels")) {
            (Some(Value::String(one)), None) => vec![one.clone()],
            (None, Some(Value::Array(many))) if !many.is_empty() => many
                .iter()
                .map(|c| c.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("channels must be strings")?,
            _ => return Err("give one channel, or channels (a non-empty array)".into()),
        };
        if channels.len() > MAX_CHANNELS {
            return Err(format!("at most {MAX_CHANNELS} channels per event"));
        }
        Ok(Self {
            name: text("name")?,
            data: text("data")?,
            channels,
        })
    }
}

/// What one event on one channel becomes.
#[derive(Debug, PartialEq)]
pub enum Received {
    /// A notification for the channel's user.
    Notification(Box<NewNotification>),
    /// Another event, or not a user's channel: answered, not stored.
    Ignored,
    /// A notification Belfry cannot read (no message, no valid id, data too large): why.
    Unreadable(String),
}

impl PusherApp {
    /// What `trigger` becomes on `channel`: Laravel's notification broadcast on a user's
    /// channel is a notification, with the payload's `id` and `type`, its message and link read
    /// by `crate::laravel`'s rule, and the payload as its `data`.
    pub fn receive(&self, trigger: &Trigger, channel: &str) -> Received {
        if trigger.name != crate::laravel::BROADCAST_EVENT {
            return Received::Ignored;
        }
        let Some(user) = self.user_channel.user_of(channel) else {
            return Received::Ignored;
        };
        match notification(user, &trigger.data) {
            Ok(new) => Received::Notification(Box::new(new)),
            Err(why) => Received::Unreadable(why),
        }
    }
}

fn notification(user: UserId, data: &str) -> Result<NewNotification, String> {
    let Ok(Value::Object(mut payload)) = serde_json::from_str::<Value>(data) else {
        return Err("the data is not a JSON object".into());
    };
    // Laravel's broadcaster adds the sender's socket; not the notification's.
    payload.remove("socket");
    let id = match payload.get("id") {
        Some(Value::String(id)) => NotificationId::parse(id)?,
        _ => return Err("the notification has no id".into()),
    };
    let kind = match payload.get("type") {
        Some(Value::String(kind)) => Some(Kind::parse(kind)?),
        _ => None,
    };
    let message =
        crate::laravel::message_in(&payload).ok_or("the data has no message, title or body")?;
    let message = Message::parse(message)?;
    let link = crate::laravel::link_in(&payload).unwrap_or_else(|bad| {
        crate::metrics::skipped("link");
        tracing::warn!(%id, link = %bad, "a broadcast's url is not a valid link; stored without it");
        None
    });
    let data = Data::parse(&Value::Object(without(&payload, &["id", "type"])))?;
    Ok(NewNotification {
        id: Some(id),
        kind,
        data: Some(data),
        ..NewNotification::new(user, message, link)
    })
}

fn without(payload: &Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
    payload
        .iter()
        .filter(|(name, _)| !fields.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    fn app() -> PusherApp {
        let channel = UserChannel::parse("private-App.Models.User.{id}").unwrap();
        PusherApp::new("1".into(), "key".into(), "secret".into(), channel)
    }

    /// A request signed as the official clients sign it.
    fn signed(body: &[u8], now: i64) -> Vec<(String, String)> {
        let mut query = vec![
            ("auth_key".to_owned(), "key".to_owned()),
            ("auth_timestamp".to_owned(), now.to_string()),
            ("auth_version".to_owned(), "1.0".to_owned()),
            (
                "body_md5".to_owned(),
                hex::encode(<md5::Md5 as md5::Digest>::digest(body)),
            ),
        ];
        let text: Vec<String> = query.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(format!("POST\n/apps/1/events\n{}", text.join("&")).as_bytes());
        query.push((
            "auth_signature".to_owned(),
            hex::encode(mac.finalize().into_bytes()),
        ));
        query
    }

    #[test]
    fn a_signed_request_is_verified_and_a_changed_one_is_not() {
        let body = br#"{"name":"e","data":"{}","channel":"c"}"#;
        let query = signed(body, 1_000_000);
        assert_eq!(
            app().verify("/apps/1/events", &query, body, 1_000_000),
            Ok(())
        );
        assert!(app()
            .verify("/apps/1/events", &query, b"{}", 1_000_000)
            .is_err());
        assert!(app()
            .verify("/apps/2/events", &query, body, 1_000_000)
            .is_err());
        assert!(app()
            .verify("/apps/1/events", &query, body, 1_000_000 + 601)
            .is_err());
        let mut twice = query.clone();
        twice.push(("auth_key".into(), "key".into()));
        assert!(app()
            .verify("/apps/1/events", &twice, body, 1_000_000)
            .is_err());
    }

    #[test]
    fn user_channels() {
        let channel = app().user_channel;
        assert_eq!(
            channel.user_of("private-App.Models.User.42"),
            UserId::parse("42").ok()
        );
        assert_eq!(channel.user_of("private-App.Models.Team.42"), None);
        assert_eq!(channel.user_of("private-App.Models.User."), None);
        assert!(UserChannel::parse("no-id").is_err());
        assert!(UserChannel::parse("{id}.{id}").is_err());
    }

    #[test]
    fn laravel_notification_broadcasts_become_notifications() {
        let data = r#"{"message":"Invoice paid","url":"/invoices/7","amount":5,"id":"9b2f6d1e-3c4a-4f6e-8a1b-2c3d4e5f6a7b","type":"App\\Notifications\\InvoicePaid","socket":null}"#;
        let trigger = Trigger {
            name: crate::laravel::BROADCAST_EVENT.into(),
            data: data.into(),
            channels: vec!["private-App.Models.User.42".into()],
        };
        let Received::Notification(new) = app().receive(&trigger, &trigger.channels[0]) else {
            panic!("a notification");
        };
        assert_eq!(new.user_id.as_str(), "42");
        assert_eq!(
            new.id.as_ref().map(NotificationId::as_str),
            Some("9b2f6d1e-3c4a-4f6e-8a1b-2c3d4e5f6a7b")
        );
        assert_eq!(new.message.as_str(), "Invoice paid");
        assert_eq!(new.link.as_ref().map(|l| l.as_str()), Some("/invoices/7"));
        assert_eq!(
            new.kind.as_ref().map(Kind::as_str),
            Some("App\\Notifications\\InvoicePaid")
        );
        let data = new.data.as_ref().unwrap().to_value();
        assert_eq!(data["amount"], 5);
        assert!(data.get("socket").is_none() && data.get("id").is_none());

        let other = Trigger {
            name: "App\\Events\\OrderShipped".into(),
            ..trigger
        };
        assert_eq!(
            app().receive(&other, "private-App.Models.User.42"),
            Received::Ignored
        );
    }
}
