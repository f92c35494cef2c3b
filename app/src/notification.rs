//! A notification as clients see it, in the field names of the Laravel application's
//! MongoDB documents so that its own Vue bell works against Belfry unchanged.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Notification {
    /// Opaque to clients; also the SSE `id:` of the event that carries it.
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub message: String,
    pub link: Option<String>,
    /// RFC 3339, UTC; `None` while unread.
    pub read_at: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// When the user was shown it in the open bell (RFC 3339, UTC); left out while unseen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_at: Option<String>,
    /// When it was archived (RFC 3339, UTC); left out while in the inbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<String>,
    /// Hidden until then (RFC 3339, UTC); left out when not snoozed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<String>,
    /// Its category, what the bell's tabs filter by; left out when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Who it is from, for the bell to show; left out when it says nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// Up to two buttons (the first the primary): each a link to follow, or a name the page is
    /// told when it is clicked. Left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// Notifications of a user sharing it show as one item in the bell, count once, and are
    /// changed together. Left out when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_key: Option<String>,
    /// The named action the page confirmed done, and when (RFC 3339, UTC); left out until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// When it last came back from a snooze (RFC 3339, UTC): the bell lists it as arrived
    /// then. Left out when it never did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub woke_at: Option<String>,
    /// What kind of notification it is, for a page's own rendering (Laravel's `type`: the
    /// notification's class name or `databaseType()`). Left out when there is none.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Free-form data for a page's own rendering (a JSON object: Laravel's `data`). Left out
    /// when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub data: Option<serde_json::Value>,
}

/// A notification's action: a label, and either a `link` or a `name`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Action {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Who a notification is from: a name, and an avatar (an `https://` URL or a path on the page's own
/// site; the bell shows the name's initials without one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Actor {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_the_laravel_field_names() {
        let n = Notification {
            id: "6747f0c0a1b2c3d4e5f60718".into(),
            user_id: "42".into(),
            message: "Order #7 shipped".into(),
            link: Some("/orders/7".into()),
            read_at: None,
            created_at: "2026-11-28T07:00:00.000Z".into(),
            kind: None,
            data: None,
            ..Notification::default()
        };
        let json = serde_json::to_value(&n).unwrap();
        assert_eq!(json["_id"], "6747f0c0a1b2c3d4e5f60718");
        assert_eq!(json["read_at"], serde_json::Value::Null);
        let back: Notification = serde_json::from_value(json).unwrap();
        assert_eq!(back, n);
    }
}
