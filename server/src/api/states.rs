//! The inbox's routes: a signed-in user moves their own notifications between states (unread,
//! seen, archived, snoozed, deleted), one or all at once, and reads their badge counts. Each
//! route is CSRF-guarded as the read routes are, and changes nothing on bad input. The store's
//! feed tells every tab, on every instance, what changed (docs/API.md, "States").

use app::protocol::AllCounts;
use app::Notification;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::body::JsonBody;
use super::query::Query;
use crate::auth::{AuthUser, CsrfGuard};
use crate::error::{AppError, ErrorBody};
use crate::model::{parse_ids, ActionName, Category, NotificationId, SnoozeUntil, UserId};
use crate::store::{Action, Completion, Selection, MAX_IDS};
use crate::AppState;

/// The body's object, or the contract's `400` for JSON that is not one (as the publish route).
fn object(body: serde_json::Value) -> Result<serde_json::Map<String, serde_json::Value>, AppError> {
    match body {
        serde_json::Value::Object(object) => Ok(object),
        _ => Err(AppError::malformed("the body must be a JSON object", None)),
    }
}

/// Applies `action` to one notification of `user`: 204, or 404 if it is not theirs.
pub(super) async fn one(
    state: &AppState,
    user: &UserId,
    id: &str,
    action: Action,
) -> Result<StatusCode, AppError> {
    let id = NotificationId::parse(id).map_err(|msg| AppError::malformed(msg, Some("id")))?;
    let updated = state
        .store
        .update(user, &Selection::Ids(vec![id]), action)
        .await?;
    match updated.found {
        0 => Err(AppError::NotFound("no such notification")),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// Applies `action` to every notification `selection` names: 204.
async fn all(
    state: &AppState,
    user: &UserId,
    selection: Selection,
    action: Action,
) -> Result<StatusCode, AppError> {
    state.store.update(user, &selection, action).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?categories=billing,social`.
#[derive(serde::Deserialize)]
pub struct CountsParams {
    categories: Option<String>,
}

/// The user's badge counts: unread and unseen notifications in the inbox; and, for each
/// category asked for, those of that category.
#[utoipa::path(
    get,
    path = "/notifications/counts",
    tag = "user",
    params(
        ("categories" = Option<String>, Query, description = "Comma-separated, at most 20: the counts of each too"),
    ),
    responses(
        (status = 200, description = "The counts", body = AllCounts),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 422, description = "A category that breaks the rule, or more than 20", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn counts(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<CountsParams>,
) -> Result<Json<AllCounts>, AppError> {
    let categories = match &params.categories {
        None => Vec::new(),
        Some(raw) => Category::parse_list(raw).map_err(|m| AppError::invalid("categories", m))?,
    };
    let mut all = AllCounts::of(state.store.counts(&user).await?);
    for category in categories {
        let counts = state.store.counts_in(&user, Some(&category)).await?;
        all.categories.insert(category.as_str().to_owned(), counts);
    }
    Ok(Json(all))
}

/// One notification of the user, whatever its state (the bell fetches one that came back from
/// a snooze).
#[utoipa::path(
    get,
    path = "/notifications/{id}",
    tag = "user",
    params(("id" = String, Path, description = "The notification's `_id`")),
    responses(
        (status = 200, description = "The notification", body = Notification),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 404, description = "Not one of this user's notifications", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn get(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Notification>, AppError> {
    let id = NotificationId::parse(&id).map_err(|msg| AppError::malformed(msg, Some("id")))?;
    match state.store.get(&user, &id).await? {
        Some(notification) => Ok(Json(notification)),
        None => Err(AppError::NotFound("no such notification")),
    }
}

/// Marks one notification unread again.
#[utoipa::path(
    post,
    path = "/notifications/{id}/unread",
    tag = "user",
    params(("id" = String, Path, description = "The notification's `_id`")),
    responses(
        (status = 204, description = "Unread (also when it was unread already)"),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 403, description = "Neither `Content-Type: application/json` nor `X-Requested-With` (CSRF guard)", body = ErrorBody),
        (status = 404, description = "Not one of this user's notifications", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn mark_unread(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    _csrf: CsrfGuard,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    one(&state, &user, &id, Action::Unread).await
}

/// Archives one notification: out of the inbox (and its counts) into the archive.
#[utoipa::path(
    post,
    path = "/notifications/{id}/archive",
    tag = "user",
    params(("id" = String, Path, description = "The notification's `_id`")),
    responses(
        (status = 204, description = "Archived (also when it was already)"),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 403, description = "Neither `Content-Type: application/json` nor `X-Requested-With` (CSRF guard)", body = ErrorBody),
        (status = 404, description = "Not one of this user's notifications", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn archive(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    _csrf: CsrfGuard,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    one(&state, &user, &id, Action::Archive).await
}

/// Brings one notification back from the archive into the inbox.
#[utoipa::path(
    post,
    path = "/notifications/{id}/unarchive",
    tag = "user",
    params(("id" = String, Path, description = "The notification's `_id`")),
    responses(
        (status = 204, description = "In the inbox (also when it was already)"),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 403, description = "Neither `Content-Type: application/json` nor `X-Requested-With` (CSRF guard)", body = ErrorBody),
        (status = 404, description = "Not one of this user's notifications", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn unarchive(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    _csrf: CsrfGuard,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    one(&state, &user, &id, Action::Unarchive).await
}

/// The body of a snooze: `{"until": "2026-12-01T09:00:00+01:00"}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SnoozeBody {
    /// RFC 3339 with an offset; after now, at most 366 days ahead.
    until: String,
}

/// Snoozes one notification until a time: hidden from the inbox and its counts until then,
/// when it comes back unread and unseen and every tab is told (`notification-unsnoozed`).
#[utoipa::path(
    post,
    path = "/notifications/{id}/snooze",
    tag = "user",
    params(("id" = String, Path, description = "The notification's `_id`")),
    request_body = SnoozeBody,
    responses(
        (status = 204, description = "Snoozed until then (also when it was already)"),
        (status = 400, description = "A malformed id, or a body that is not a JSON object", body = ErrorBody),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 403, description = "Neither `Content-Type: application/json` nor `X-Requested-With` (CSRF guard)", body = ErrorBody),
        (status = 404, description = "Not one of this user's notifications", body = ErrorBody),
        (status = 422, description = "`until` missing, not RFC 3339 with an offset, not in the future, or more than 366 days ahead", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn snooze(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    _csrf: CsrfGuard,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, AppError> {
    let body = object(body)?;
    let until = match body.get("until") {
        Some(serde_json::Value::String(raw)) => SnoozeUntil::parse(raw, chrono::Utc::now())
            .map_err(|m| AppError::invalid("until", m))?,
        Some(_) => return Err(AppError::invalid("until", "until must be a string")),
        None => return Err(AppError::invalid("until", "until is required")),
    };
    one(&state, &user, &id, Action::Snooze(until.at())).await
}

/// Ends one notification's snooze now, leaving it as it was (read or unread).
#[utoipa::path(
    post,
    path = "/notifications/{id}/unsnooze",
    tag = "user",
    params(("id" = String, Path, description = "The notification's `_id`")),
    responses(
        (status = 204, description = "Not snoozed (also when it was not)"),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 403, description = "Neither `Content-Type: application/json` nor `X-Requested-With` (CSRF guard)", body = ErrorBody),
        (status = 404, description = "Not one of this user's notifications", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn unsnooze(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    _csrf: CsrfGuard,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    one(&state, &user, &id, Action::Unsnooze).await
}

/// Records that the page confirmed one of a notification's named actions done: once for the
/// notification (a second confirmation changes nothing), told to every tab
/// (`notification-completed`).
#[utoipa::path(
    post,
    path = "/notifications/{id}/actions/{name}/complete",
    tag = "user",
    params(
        ("id" = String, Path, description = "The notification's `_id`"),
        ("name" = String, Path, description = "The action's `name`"),
    ),
    responses(
        (status = 204, description = "Completed (also when it was already)"),
        (status = 400, description = "A malformed id or action name", body = ErrorBody),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 403, description = "Neither `Content-Type: application/json` nor `X-Requested-With` (CSRF guard)", body = ErrorBody),
        (status = 404, description = "Not one of this user's notifications, or it has no action of that name", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn complete(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    _csrf: CsrfGuard,
    Path((id, name)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let id = NotificationId::parse(&id).map_err(|msg| AppError::malformed(msg, Some("id")))?;
    let name = ActionName::parse(&name).map_err(|msg| AppError::malformed(msg, Some("name")))?;
    match state.store.complete(&user, &id, &name).await? {
        Completion::Completed | Completion::Already => Ok(StatusCode::NO_CONTENT),
        Completion::NoSuchAction => Err(AppError::NotFound("the notification has no such action")),
        Completion::NotFound => Err(AppError::NotFound("no such notification")),
    }
}

/// Deletes one notification for good.
#[utoipa::path(
    delete,
    path = "/notifications/{id}",
    tag = "user",
    params(("id" = String, Path, description = "The notification's `_id`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 403, description = "Neither `Content-Type: application/json` nor `X-Requested-With` (CSRF guard)", body = ErrorBody),
        (status = 404, description = "Not one of this user's notifications (or deleted already)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn delete(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    _csrf: CsrfGuard,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    one(&state, &user, &id, Action::Delete).await
}

/// The body of `seen`: `{"ids": ["…", …]}`, 1 to 100 ids.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct IdsBody {
    ids: Vec<String>,
}

/// Marks the notifications the user was shown seen, in one request (the bell sends those its
/// open dropdown showed, batched).
#[utoipa::path(
    post,
    path = "/notifications/seen",
    tag = "user",
    request_body = IdsBody,
    responses(
        (status = 204, description = "Seen (also those seen already)"),
        (status = 400, description = "A body that is not a JSON object", body = ErrorBody),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 403, description = "Neither `Content-Type: application/json` nor `X-Requested-With` (CSRF guard)", body = ErrorBody),
        (status = 404, description = "An id that is not one of this user's notifications: none was marked", body = ErrorBody),
        (status = 422, description = "`ids` missing, empty, over 100, or holding a malformed id", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn seen(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    _csrf: CsrfGuard,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, AppError> {
    let body = object(body)?;
    let ids = parse_ids(body.get("ids"), MAX_IDS).map_err(|m| AppError::invalid("ids", m))?;
    let selection = Selection::Ids(ids);
    let updated = state.store.update(&user, &selection, Action::Seen).await?;
    if updated.found < selection.distinct() {
        return Err(AppError::NotFound(
            "not all of these are the user's notifications",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Archives every notification of the user.
#[utoipa::path(
    post,
    path = "/notifications/archive-all",
    tag = "user",
    responses(
        (status = 204, description = "All archived"),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 403, description = "Neither `Content-Type: application/json` nor `X-Requested-With` (CSRF guard)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn archive_all(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    _csrf: CsrfGuard,
) -> Result<StatusCode, AppError> {
    all(&state, &user, Selection::All, Action::Archive).await
}

/// Archives every notification the user has read.
#[utoipa::path(
    post,
    path = "/notifications/archive-read",
    tag = "user",
    responses(
        (status = 204, description = "All read ones archived"),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 403, description = "Neither `Content-Type: application/json` nor `X-Requested-With` (CSRF guard)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn archive_read(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    _csrf: CsrfGuard,
) -> Result<StatusCode, AppError> {
    all(&state, &user, Selection::AllRead, Action::Archive).await
}
