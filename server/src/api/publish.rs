//! `POST /api/notifications`: the host application (holding the service key) creates
//! notifications for one user or many. The whole body is validated before anything is written.
//! A notification with an `id` the publisher chose is stored once: publishing it again (a retry
//! after a timeout or a lost answer) stores and pushes nothing and answers 200 with it.

use app::Notification;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{Map, Value};

use super::body::JsonBody;
use crate::auth::Service;
use crate::error::{AppError, ErrorBody};
use crate::model::{
    Actions, Actor, Category, Data, GroupKey, Kind, Link, Message, NewNotification, NotificationId,
    UserId, MAX_RECIPIENTS,
};
use crate::AppState;

/// The body's shape, for the OpenAPI document. `parse_publish` reads the JSON field by field
/// instead of deserialising this, so that an error names the field at fault.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PublishRequest {
    /// One recipient (a string, or an integer taken as its decimal form). Exactly one of
    /// `user_id` and `user_ids`.
    #[schema(value_type = Option<String>, example = "42")]
    user_id: Option<String>,
    /// Up to 1,000 recipients; duplicates are dropped.
    #[schema(value_type = Option<Vec<String>>, max_items = 1000)]
    user_ids: Option<Vec<String>>,
    /// 1..=2000 characters after trimming; plain text.
    #[schema(example = "Order #7 shipped")]
    message: String,
    /// A path starting with one `/`, or an http(s) URL of at most 2048 characters.
    #[schema(example = "/orders/7")]
    link: Option<String>,
    /// An id of the publisher's choosing (1..=128 characters, no spaces or control
    /// characters; a UUID, say), with `user_id` only: publishing it again for the same user
    /// stores and pushes nothing and answers 200 with the notification as first stored; for
    /// another user, 409.
    #[schema(example = "9b2f6d1e-3c4a-4f6e-8a1b-2c3d4e5f6a7b")]
    id: Option<String>,
    /// What kind of notification it is, for the page's own rendering (1..=255 characters).
    #[serde(rename = "type")]
    #[schema(example = "App\\Notifications\\InvoicePaid")]
    kind: Option<String>,
    /// Free-form data for the page's own rendering: a JSON object of at most 16 KiB.
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    /// Its category, what the bell's tabs filter by (1..=255 characters).
    #[schema(example = "billing")]
    category: Option<String>,
    /// Who it is from: a name (1..=100 characters) and an avatar (an `https://` URL or a path
    /// on the page's own site).
    actor: Option<app::notification::Actor>,
    /// Up to two buttons, the first the primary: each `{"label": …}` (1..=40 characters) with
    /// either a `link` (a link's rule) or a `name` (1..=64 characters of `A-Z a-z 0-9 _ . : -`,
    /// each once), which the page is told when it is clicked.
    actions: Option<Vec<app::notification::Action>>,
    /// Notifications of a user sharing it show as one item in the bell ("the newest, +2
    /// more"), count once, and are changed together (1..=255 characters).
    #[schema(example = "order-7")]
    group_key: Option<String>,
}

/// Creates a notification for each recipient; all or none.
#[utoipa::path(
    post,
    path = "/api/notifications",
    tag = "host",
    request_body = PublishRequest,
    responses(
        (status = 201, description = "Created, in recipient order", body = [Notification]),
        (status = 200, description = "Published again with its `id`: nothing new was stored or pushed; the notification as first stored", body = [Notification]),
        (status = 400, description = "The body is not a JSON object", body = ErrorBody),
        (status = 401, description = "No valid service key", body = ErrorBody),
        (status = 404, description = "The server was started without a service key", body = ErrorBody),
        (status = 408, description = "Not answered within `--request-timeout-ms`: it may still be stored; retry with the same `id`", body = ErrorBody),
        (status = 409, description = "The `id` is another user's notification's", body = ErrorBody),
        (status = 413, description = "The body is over 64 KiB", body = ErrorBody),
        (status = 422, description = "A value breaks a rule; `field` names it", body = ErrorBody),
        (status = 429, description = "Over `--publish-rate`", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("service_key" = [])),
)]
pub async fn publish(
    State(state): State<AppState>,
    _service: Service,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Vec<Notification>>), AppError> {
    let batch = parse_publish(&body)?;
    if !state.publish_limit.allow(batch.len()) {
        return Err(AppError::RateLimited);
    }
    let stored = state.store.publish(&batch).await?;
    let status = match stored.iter().all(|s| s.again) {
        true => StatusCode::OK,
        false => StatusCode::CREATED,
    };
    Ok((
        status,
        Json(stored.into_iter().map(|s| s.notification).collect()),
    ))
}

/// Turns a publish body into the notifications it asks for, or the first error in it.
pub fn parse_publish(body: &Value) -> Result<Vec<NewNotification>, AppError> {
    let Value::Object(fields) = body else {
        return Err(AppError::malformed("the body must be a JSON object", None));
    };
    let users = recipients(fields)?;
    let message = match fields.get("message") {
        Some(Value::String(s)) => Message::parse(s).map_err(|m| AppError::invalid("message", m))?,
        Some(_) => return Err(AppError::invalid("message", "message must be a string")),
        None => return Err(AppError::invalid("message", "message is required")),
    };
    let link = match fields.get("link") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Link::parse(s).map_err(|m| AppError::invalid("link", m))?),
        Some(_) => return Err(AppError::invalid("link", "link must be a string or null")),
    };
    let id = match fields.get("id") {
        None | Some(Value::Null) => None,
        Some(_) if users.len() > 1 || fields.contains_key("user_ids") => {
            return Err(AppError::invalid(
                "id",
                "an id names one notification: give it with user_id, not user_ids",
            ))
        }
        Some(Value::String(s)) => {
            Some(NotificationId::parse(s).map_err(|m| AppError::invalid("id", m))?)
        }
        Some(_) => return Err(AppError::invalid("id", "id must be a string")),
    };
    let kind = match fields.get("type") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Kind::parse(s).map_err(|m| AppError::invalid("type", m))?),
        Some(_) => return Err(AppError::invalid("type", "type must be a string")),
    };
    let data = match fields.get("data") {
        None | Some(Value::Null) => None,
        Some(value) => Some(Data::parse(value).map_err(|m| AppError::invalid("data", m))?),
    };
    let category = match fields.get("category") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(Category::parse(s).map_err(|m| AppError::invalid("category", m))?)
        }
        Some(_) => return Err(AppError::invalid("category", "category must be a string")),
    };
    let actions = match fields.get("actions") {
        None | Some(Value::Null) => Actions::default(),
        Some(value) => Actions::parse(value).map_err(|m| AppError::invalid("actions", m))?,
    };
    let group_key = match fields.get("group_key") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(GroupKey::parse(s).map_err(|m| AppError::invalid("group_key", m))?)
        }
        Some(_) => return Err(AppError::invalid("group_key", "group_key must be a string")),
    };
    let actor = match fields.get("actor") {
        None | Some(Value::Null) => None,
        Some(value) => Some(Actor::parse(value).map_err(|(f, m)| AppError::invalid(f, m))?),
    };
    Ok(users
        .into_iter()
        .map(|user_id| NewNotification {
            id: id.clone(),
            kind: kind.clone(),
            data: data.clone(),
            category: category.clone(),
            actor: actor.clone(),
            actions: actions.clone(),
            group_key: group_key.clone(),
            ..NewNotification::new(user_id, message.clone(), link.clone())
        })
        .collect())
}

/// `user_id` (one) or `user_ids` (many, duplicates dropped), exactly one of the two.
fn recipients(fields: &Map<String, Value>) -> Result<Vec<UserId>, AppError> {
    match (fields.get("user_id"), fields.get("user_ids")) {
        (Some(_), Some(_)) => Err(AppError::invalid(
            "user_ids",
            "give either user_id or user_ids, not both",
        )),
        (None, None) => Err(AppError::invalid(
            "user_id",
            "user_id or user_ids is required",
        )),
        (Some(one), None) => Ok(vec![user_id(one, "user_id")?]),
        (None, Some(Value::Array(many))) => {
            if many.is_empty() || many.len() > MAX_RECIPIENTS {
                return Err(AppError::invalid(
                    "user_ids",
                    format!(
                        "user_ids holds 1 to {MAX_RECIPIENTS} ids, this one {}",
                        many.len()
                    ),
                ));
            }
            let mut users: Vec<UserId> = Vec::with_capacity(many.len());
            for value in many {
                let user = user_id(value, "user_ids")?;
                if !users.contains(&user) {
                    users.push(user);
                }
            }
            Ok(users)
        }
        (None, Some(_)) => Err(AppError::invalid("user_ids", "user_ids must be an array")),
    }
}

/// A user id given as a string, or as a JSON integer (a host application's numeric id).
fn user_id(value: &Value, field: &'static str) -> Result<UserId, AppError> {
    let raw = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        _ => {
            return Err(AppError::invalid(
                field,
                "a user id is a string or an integer",
            ))
        }
    };
    UserId::parse(&raw).map_err(|m| AppError::invalid(field, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integer_user_ids_become_decimal_strings() {
        let batch = parse_publish(&json!({"user_id": 42, "message": "hi"})).unwrap();
        assert_eq!(batch[0].user_id.as_str(), "42");
    }

    #[test]
    fn bulk_drops_duplicate_recipients_and_keeps_order() {
        let batch =
            parse_publish(&json!({"user_ids": ["b", 1, "b", "1"], "message": "hi"})).unwrap();
        let ids: Vec<_> = batch.iter().map(|n| n.user_id.as_str()).collect();
        assert_eq!(ids, ["b", "1"]);
    }
}
