//! The user routes: a signed-in user reads and marks their own notifications, and only those.

use app::Notification;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::query::Query;
use crate::auth::{AuthUser, CsrfGuard};
use crate::error::{AppError, ErrorBody};
use crate::model::{Category, NotificationId};
use crate::store::{Action, Page, Selection, Status};
use crate::AppState;

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 100;

/// Query values arrive as text so that a bad one gets the contract's error, naming it.
#[derive(Deserialize)]
pub struct ListParams {
    limit: Option<String>,
    before: Option<String>,
    status: Option<String>,
    category: Option<String>,
}

impl ListParams {
    fn page(&self) -> Result<Page, AppError> {
        let mut page = parse_page(self.limit.as_deref(), self.before.as_deref())?;
        if let Some(raw) = &self.status {
            page.status = Status::parse(raw).ok_or_else(|| {
                let known: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                AppError::invalid(
                    "status",
                    format!("status must be one of {}, not {raw:?}", known.join(", ")),
                )
            })?;
        }
        page.category = category(self.category.as_deref())?;
        Ok(page)
    }
}

/// `?category=`, if given, as a category or the contract's 422.
fn category(raw: Option<&str>) -> Result<Option<Category>, AppError> {
    raw.map(Category::parse)
        .transpose()
        .map_err(|m| AppError::invalid("category", m))
}

/// The list's `limit` and `before` query values, as given, into a page or the contract's error.
pub fn parse_page(limit: Option<&str>, before: Option<&str>) -> Result<Page, AppError> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(raw) => {
            let n: i64 = raw.trim().parse().map_err(|_| {
                AppError::malformed(
                    format!("limit must be a whole number, not {raw:?}"),
                    Some("limit"),
                )
            })?;
            if !(1..=i64::from(MAX_LIMIT)).contains(&n) {
                return Err(AppError::invalid(
                    "limit",
                    format!("limit must be between 1 and {MAX_LIMIT}, not {n}"),
                ));
            }
            n as u32
        }
    };
    let before = before
        .map(NotificationId::parse)
        .transpose()
        .map_err(|msg| AppError::malformed(msg, Some("before")))?;
    Ok(Page {
        limit,
        before,
        status: Status::default(),
        category: None,
    })
}

/// The user's notifications of a status (the inbox by default), newest first.
#[utoipa::path(
    get,
    path = "/notifications",
    tag = "user",
    params(
        ("limit" = Option<u32>, Query, description = "1..=100; default 10", minimum = 1, maximum = 100),
        ("before" = Option<String>, Query, description = "An `_id`: the page older than it"),
        ("status" = Option<String>, Query, description = "`inbox` (the default: neither archived nor snoozed), `unread`, `unseen` (both in the inbox), `archived`, `snoozed` or `all`"),
        ("category" = Option<String>, Query, description = "Only this category's"),
    ),
    responses(
        (status = 200, description = "Newest first", body = [Notification]),
        (status = 400, description = "A `limit` that is not a whole number, or a `before` that is not an id", body = ErrorBody),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 422, description = "A `limit` outside 1..=100, an unknown `status`, or a `category` that breaks the rule", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Notification>>, AppError> {
    let page = params.page()?;
    Ok(Json(state.store.list(&user, page).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UnreadCount {
    unread_count: u64,
}

/// How many of the user's notifications in the inbox are unread (`/notifications/counts`
/// also says how many are unseen).
#[utoipa::path(
    get,
    path = "/notifications/unread-count",
    tag = "user",
    responses(
        (status = 200, description = "The count", body = UnreadCount),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn unread_count(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<UnreadCount>, AppError> {
    let unread_count = state.store.unread_count(&user).await?;
    Ok(Json(UnreadCount { unread_count }))
}

/// Marks one notification read; every tab of the user is told through the stream.
#[utoipa::path(
    post,
    path = "/notifications/{id}/read",
    tag = "user",
    params(("id" = String, Path, description = "The notification's `_id`")),
    responses(
        (status = 204, description = "Read (also when it was read already)"),
        (status = 400, description = "A malformed id", body = ErrorBody),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 403, description = "Neither `Content-Type: application/json` nor `X-Requested-With` (CSRF guard)", body = ErrorBody),
        (status = 404, description = "Not one of this user's notifications", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn mark_read(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    _csrf: CsrfGuard,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    // As every action on one notification; the store's feed tells every tab, on every instance.
    super::states::one(&state, &user, &id, Action::Read).await
}

/// `?category=` of read-all.
#[derive(Deserialize)]
pub struct ReadAllParams {
    category: Option<String>,
}

/// Marks every notification of the user read (of one category, with `?category=`).
#[utoipa::path(
    post,
    path = "/notifications/read-all",
    tag = "user",
    params(("category" = Option<String>, Query, description = "Only this category's (a tab's)")),
    responses(
        (status = 204, description = "All read"),
        (status = 401, description = "No valid user token", body = ErrorBody),
        (status = 422, description = "A `category` that breaks the rule", body = ErrorBody),
        (status = 403, description = "Neither `Content-Type: application/json` nor `X-Requested-With` (CSRF guard)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("user_token" = []), ("token_cookie" = [])),
)]
pub async fn mark_all_read(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    _csrf: CsrfGuard,
    Query(params): Query<ReadAllParams>,
) -> Result<StatusCode, AppError> {
    match category(params.category.as_deref())? {
        None => state.store.mark_all_read(&user).await?,
        Some(category) => {
            let selection = Selection::InCategory(category);
            state
                .store
                .update(&user, &selection, Action::Read)
                .await?
                .changed
        }
    };
    Ok(StatusCode::NO_CONTENT)
}
