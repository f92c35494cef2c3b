//! The values Belfry accepts, each checked once at the edge by its constructor, so that
//! everything behind the API (stores, hub, CLI) only ever sees valid data; and [`Position`], the
//! commit order that the stores produce and the streams resume by.
//!
//! Every caller (the publish API, the `--dev` form, `belfry send`) builds a [`NewNotification`]
//! from these types, so the rules live here once and the callers only say which field failed.

use std::fmt;
use std::sync::Arc;

use bson::oid::ObjectId;

/// A user id: 1..=128 characters of `A-Z a-z 0-9 _ . : @ -`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

pub const MAX_USER_ID_LEN: usize = 128;

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > MAX_USER_ID_LEN {
            return Err(format!(
                "a user id has 1 to {MAX_USER_ID_LEN} characters, this one has {}",
                raw.chars().count()
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_.:@-".contains(c);
        if let Some(bad) = raw.chars().find(|c| !allowed(*c)) {
            return Err(format!(
                "a user id may only contain A-Z a-z 0-9 _ . : @ -, not {bad:?}"
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The integer a host application may have stored for this user (the Laravel model casts
    /// `user_id` to an integer). Only the canonical decimal form maps: "42" is 42, "042" is not.
    pub fn as_integer(&self) -> Option<i64> {
        let n: i64 = self.0.parse().ok()?;
        (n.to_string() == self.0).then_some(n)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A notification id, as the API shows it and takes it back: the 24 lower-case hexadecimal
/// digits of a MongoDB ObjectId (what Belfry makes, on both stores), or the text form of an id
/// another program chose for its document (a UUID string, as Laravel's notifications have; a
/// number, in canonical decimal). 1 to 128 characters, none of them a space or a control
/// character (an SSE `id:` line cannot carry a line break). Ordered as text, which for
/// ObjectIds is their own order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotificationId(Arc<str>);

pub const MAX_NOTIFICATION_ID_LEN: usize = 128;

impl NotificationId {
    /// A new ObjectId.
    pub fn new() -> Self {
        Self::from(ObjectId::new())
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let chars = raw.chars().count();
        if chars == 0 || chars > MAX_NOTIFICATION_ID_LEN {
            return Err(format!(
                "{raw:?} is not a notification id (1 to {MAX_NOTIFICATION_ID_LEN} characters)"
            ));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!(
                "{raw:?} is not a notification id (no spaces or control characters)"
            ));
        }
        // A path segment of its own in every route: `.` and `..` would be read as "here" and
        // "up" by browsers and HTTP clients before the request leaves.
        if raw == "." || raw == ".." {
            return Err(format!("{raw:?} is not a notification id (not . or ..)"));
        }
        Ok(Self(Arc::from(raw)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ObjectId this id is the hex form of, if it is one.
    pub fn object_id(&self) -> Option<ObjectId> {
        let oid = ObjectId::parse_str(&self.0).ok()?;
        (oid.to_hex() == *self.0).then_some(oid)
    }

    /// The integer this id is the canonical decimal form of, if it is one.
    pub fn as_integer(&self) -> Option<i64> {
        let n: i64 = self.0.parse().ok()?;
        (n.to_string() == *self.0).then_some(n)
    }
}

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Default for NotificationId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<ObjectId> for NotificationId {
    fn from(oid: ObjectId) -> Self {
        Self(Arc::from(oid.to_hex()))
    }
}

/// Recipients of one bulk publish at most; a larger fan-out is several requests.
pub const MAX_RECIPIENTS: usize = 1000;
pub const MAX_MESSAGE_CHARS: usize = 2000;
pub const MAX_LINK_CHARS: usize = 2048;

/// A message: 1..=2000 characters after trimming. Kept trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message(String);

impl Message {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        let len = trimmed.chars().count();
        if len == 0 {
            return Err("the message is empty".into());
        }
        if len > MAX_MESSAGE_CHARS {
            return Err(format!(
                "the message has {len} characters, at most {MAX_MESSAGE_CHARS} are allowed"
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A link: a path starting with a single `/`, or an absolute `http`/`https` URL, at most 2048
/// characters. Anything a browser could run or that leaves the site unannounced is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link(String);

impl Link {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > MAX_LINK_CHARS {
            return Err(format!("a link has at most {MAX_LINK_CHARS} characters"));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("a link may not contain spaces or control characters".into());
        }
        if raw.starts_with('/') {
            if raw.starts_with("//") || raw.starts_with("/\\") {
                return Err("a link may not start with // (it would leave the site)".into());
            }
            return Ok(Self(raw.to_owned()));
        }
        let lower = raw.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"));
        match rest {
            Some(after) if !after.is_empty() && !after.starts_with('/') => Ok(Self(raw.to_owned())),
            Some(_) => Err("an http(s) link needs a host".into()),
            None => Err("a link is a path starting with / or an http:// or https:// URL".into()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

pub const MAX_KIND_CHARS: usize = 255;
/// The largest `data` object, serialised as JSON.
pub const MAX_DATA_BYTES: usize = 16 * 1024;

/// What kind of notification this is, for a client's own rendering (the API's `type`; Laravel
/// stores the notification's class name or its `databaseType()` there): 1..=255 characters, no
/// control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kind(String);

impl Kind {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if len == 0 || len > MAX_KIND_CHARS {
            return Err(format!(
                "a type has 1 to {MAX_KIND_CHARS} characters, this one has {len}"
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err("a type may not contain control characters".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free-form data for a client's own rendering (the API's `data`, Laravel's `toArray()`): a
/// JSON object of at most [`MAX_DATA_BYTES`] serialised. Belfry stores and passes it on; it
/// reads nothing in it (but the message and link of Laravel's own documents, `decode.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Data(serde_json::Map<String, serde_json::Value>);

impl Data {
    pub fn parse(value: &serde_json::Value) -> Result<Self, String> {
        let serde_json::Value::Object(object) = value else {
            return Err("data must be a JSON object".into());
        };
        let bytes = value.to_string().len();
        if bytes > MAX_DATA_BYTES {
            return Err(format!(
                "data is {bytes} bytes as JSON, at most {MAX_DATA_BYTES} are allowed"
            ));
        }
        Ok(Self(object.clone()))
    }

    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.clone())
    }
}

/// A notification's category, what the bell's tabs filter by (the API's `category`; on
/// Laravel's documents, their `type`): 1..=255 characters, no control characters and no comma
/// (`?categories=` lists them comma-separated).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Category(String);

pub const MAX_CATEGORY_CHARS: usize = 255;
/// The most categories one counts request names.
pub const MAX_CATEGORIES: usize = 20;

impl Category {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if len == 0 || len > MAX_CATEGORY_CHARS {
            return Err(format!(
                "a category has 1 to {MAX_CATEGORY_CHARS} characters, this one has {len}"
            ));
        }
        if raw.chars().any(|c| c.is_control() || c == ',') {
            return Err("a category may not contain control characters or commas".into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// A comma-separated list (`?categories=billing,social`), each once, at most
    /// [`MAX_CATEGORIES`].
    pub fn parse_list(raw: &str) -> Result<Vec<Self>, String> {
        let mut list: Vec<Self> = Vec::new();
        for part in raw.split(',') {
            let category = Self::parse(part)?;
            if !list.contains(&category) {
                list.push(category);
            }
        }
        if list.len() > MAX_CATEGORIES {
            return Err(format!(
                "at most {MAX_CATEGORIES} categories, not {}",
                list.len()
            ));
        }
        Ok(list)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What groups notifications in the bell (the API's `group_key`): those of a user sharing one
/// show as one item, count once, and are changed together. 1..=255 characters, no control
/// characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupKey(String);

impl GroupKey {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if len == 0 || len > 255 {
            return Err(format!(
                "a group key has 1 to 255 characters, this one has {len}"
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err("a group key may not contain control characters".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who a notification is from, for the bell to show: a name (1..=100 characters, no control
/// characters) and an avatar, an `https://` URL or a path (`/…`, on the page the bell is in), at
/// most 2,048 characters — never `http:` from elsewhere, `data:` or `javascript:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    name: String,
    avatar: Option<String>,
}

pub const MAX_ACTOR_NAME_CHARS: usize = 100;

impl Actor {
    /// The API's `actor`: `{"name": "Anna", "avatar": "https://…"}` (`avatar` optional); the
    /// error names the part (`actor.name`, `actor.avatar`) with its message.
    pub fn parse(value: &serde_json::Value) -> Result<Self, (&'static str, String)> {
        let serde_json::Value::Object(fields) = value else {
            return Err(("actor", "actor must be an object with a name".into()));
        };
        let name = match fields.get("name") {
            Some(serde_json::Value::String(name)) => name.trim(),
            _ => return Err(("actor.name", "actor.name must be a string".into())),
        };
        let len = name.chars().count();
        if len == 0 || len > MAX_ACTOR_NAME_CHARS {
            return Err((
                "actor.name",
                format!("a name has 1 to {MAX_ACTOR_NAME_CHARS} characters, this one has {len}"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err((
                "actor.name",
                "a name may not contain control characters".into(),
            ));
        }
        let avatar = match fields.get("avatar") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(url)) => {
                Some(Self::avatar(url).map_err(|m| ("actor.avatar", m))?)
            }
            Some(_) => {
                return Err((
                    "actor.avatar",
                    "actor.avatar must be a string or null".into(),
                ))
            }
        };
        Ok(Self {
            name: name.to_owned(),
            avatar,
        })
    }

    /// An avatar URL as the rule above has it.
    pub fn avatar(raw: &str) -> Result<String, String> {
        let link = Link::parse(raw)?;
        let url = link.as_str();
        if !(url.to_ascii_lowercase().starts_with("https://") || url.starts_with('/')) {
            return Err(format!(
                "an avatar is an https:// URL or a path (/…), not {url:?}"
            ));
        }
        Ok(url.to_owned())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn avatar_url(&self) -> Option<&str> {
        self.avatar.as_deref()
    }
}

/// The name of a notification's action, what the page is told when it is clicked: 1..=64
/// characters of `A-Z a-z 0-9 _ . : -`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionName(String);

impl ActionName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if len == 0 || len > 64 {
            return Err(format!(
                "an action name has 1 to 64 characters, this one has {len}"
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_.:-".contains(c);
        if let Some(bad) = raw.chars().find(|c| !allowed(*c)) {
            return Err(format!(
                "an action name may only contain A-Z a-z 0-9 _ . : -, not {bad:?}"
            ));
        }
        // (A segment of the route that completes it: see `NotificationId::parse`.)
        if raw == "." || raw == ".." {
            return Err("an action name may not be . or ..".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A notification's actions (the API's `actions`): at most [`MAX_ACTIONS`], the first the
/// primary; each a label (1..=40 characters, no control characters) and either a `link` (a
/// link's rule) or a `name` (an [`ActionName`], each once).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actions(Vec<app::notification::Action>);

pub const MAX_ACTIONS: usize = 2;

impl Actions {
    pub fn parse(value: &serde_json::Value) -> Result<Self, String> {
        let serde_json::Value::Array(items) = value else {
            return Err("actions must be an array".into());
        };
        if items.len() > MAX_ACTIONS {
            return Err(format!(
                "at most {MAX_ACTIONS} actions, not {}",
                items.len()
            ));
        }
        let mut actions: Vec<app::notification::Action> = Vec::new();
        for item in items {
            let serde_json::Value::Object(fields) = item else {
                return Err("each action is an object with a label".into());
            };
            let label = match fields.get("label") {
                Some(serde_json::Value::String(label)) => label.trim(),
                _ => return Err("each action needs a label (a string)".into()),
            };
            let len = label.chars().count();
            if len == 0 || len > 40 || label.chars().any(char::is_control) {
                return Err(format!(
                    "an action's label has 1 to 40 characters and no control characters, not {label:?}"
                ));
            }
            let text = |field: &str| match fields.get(field) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(text)) => Ok(Some(text.as_str())),
                Some(_) => Err(format!("an action's {field} must be a string")),
            };
            let (link, name) = match (text("link")?, text("name")?) {
                (Some(link), None) => (Some(Link::parse(link)?.into_string()), None),
                (None, Some(name)) => (None, Some(ActionName::parse(name)?.as_str().to_owned())),
                _ => return Err("an action has either a link or a name".into()),
            };
            if name.is_some() && actions.iter().any(|a| a.name == name) {
                return Err("two actions have the same name".into());
            }
            actions.push(app::notification::Action {
                label: label.to_owned(),
                link,
                name,
            });
        }
        Ok(Self(actions))
    }

    pub fn as_slice(&self) -> &[app::notification::Action] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// When a snooze ends: an RFC 3339 time with an offset, after now and at most
/// [`MAX_SNOOZE_DAYS`] days ahead (a user's "next week", not a reminder system).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnoozeUntil(chrono::DateTime<chrono::Utc>);

pub const MAX_SNOOZE_DAYS: i64 = 366;

impl SnoozeUntil {
    /// `raw` as a snooze's end, judged at `now`.
    pub fn parse(raw: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Self, String> {
        let until = chrono::DateTime::parse_from_rfc3339(raw.trim())
            .map_err(|_| format!("until must be an RFC 3339 time with an offset, not {raw:?}"))?
            .with_timezone(&chrono::Utc);
        if until <= now {
            return Err(format!("until must be in the future, not {raw}"));
        }
        if until - now > chrono::Duration::days(MAX_SNOOZE_DAYS) {
            return Err(format!(
                "until must be at most {MAX_SNOOZE_DAYS} days ahead, not {raw}"
            ));
        }
        Ok(Self(until))
    }

    pub fn at(self) -> chrono::DateTime<chrono::Utc> {
        self.0
    }
}

/// The ids of a bulk change (`{"ids": […]}`): 1 to `max` valid ids.
pub fn parse_ids(
    value: Option<&serde_json::Value>,
    max: usize,
) -> Result<Vec<NotificationId>, String> {
    let Some(serde_json::Value::Array(items)) = value else {
        return Err("ids must be an array of notification ids".into());
    };
    if items.is_empty() || items.len() > max {
        return Err(format!(
            "ids must name 1 to {max} notifications, not {}",
            items.len()
        ));
    }
    items
        .iter()
        .map(|item| match item {
            serde_json::Value::String(id) => NotificationId::parse(id),
            other => Err(format!("each id must be a string, not {other}")),
        })
        .collect()
}

/// A notification to be created, already validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNotification {
    pub user_id: UserId,
    pub message: Message,
    pub link: Option<Link>,
    /// The id the publisher chose (so a retry stores nothing new), or `None`: the store makes
    /// one.
    pub id: Option<NotificationId>,
    pub kind: Option<Kind>,
    pub data: Option<Data>,
    pub category: Option<Category>,
    pub actor: Option<Actor>,
    pub actions: Actions,
    pub group_key: Option<GroupKey>,
}

impl NewNotification {
    /// A notification of `message` (and `link`) for `user_id`, with an id the store makes, no
    /// type and no data.
    pub fn new(user_id: UserId, message: Message, link: Option<Link>) -> Self {
        Self {
            user_id,
            message,
            link,
            id: None,
            kind: None,
            data: None,
            category: None,
            actor: None,
            actions: Actions::default(),
            group_key: None,
        }
    }
}

/// Where a notification stands in commit order: `seq` orders commits (each store says how it
/// makes them), `id` breaks the rare tie. Streams replay and de-duplicate by position, never by
/// `_id` alone, because ObjectIds from several writers are not in commit order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub seq: i64,
    pub id: NotificationId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids() {
        for ok in ["42", "a", "user.name:x@example-1_2", &"x".repeat(128)] {
            assert!(UserId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "ü", "<script>", &"x".repeat(129)] {
            assert!(UserId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_canonical_decimals_map_to_integers() {
        let int = |s: &str| UserId::parse(s).unwrap().as_integer();
        assert_eq!(int("42"), Some(42));
        assert_eq!(int("-7"), Some(-7));
        assert_eq!(int("042"), None);
        assert_eq!(int("42.0"), None);
        assert_eq!(int("4.2"), None);
        assert_eq!(int("99999999999999999999"), None);
    }

    #[test]
    fn messages_are_trimmed_and_bounded() {
        assert_eq!(Message::parse("  hi \n").unwrap().as_str(), "hi");
        assert!(Message::parse(" \t ").is_err());
        assert!(Message::parse(&"é".repeat(2000)).is_ok());
        assert!(Message::parse(&"é".repeat(2001)).is_err());
    }

    #[test]
    fn links() {
        for ok in [
            "/orders/7",
            "/",
            "https://example.com/x?y=1",
            "HTTP://example.com",
        ] {
            assert!(Link::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            "//evil.example",
            "/\\evil.example",
            "https://",
            "https:///x",
            "ftp://example.com",
            "orders/7",
            "/a b",
            "",
        ] {
            assert!(Link::parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert!(Link::parse(&long).is_err());
    }

    #[test]
    fn notification_ids_round_trip_as_hex() {
        let id = NotificationId::new();
        assert_eq!(NotificationId::parse(id.as_str()).unwrap(), id);
        assert!(id.object_id().is_some());
        // Ids other programs chose: UUIDs, numbers.
        let uuid = NotificationId::parse("9f0c3a52-5d1e-4c1b-9a43-0f2b7f6c1d2e").unwrap();
        assert_eq!((uuid.object_id(), uuid.as_integer()), (None, None));
        assert_eq!(NotificationId::parse("42").unwrap().as_integer(), Some(42));
        assert_eq!(NotificationId::parse("042").unwrap().as_integer(), None);
        // Upper-case hex is a string id, not the ObjectId (whose text is lower-case).
        assert_eq!(
            NotificationId::parse("6747F0C0A1B2C3D4E5F60712")
                .unwrap()
                .object_id(),
            None
        );
        for bad in ["", "a b", "a\nb", &"x".repeat(129)] {
            assert!(NotificationId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
