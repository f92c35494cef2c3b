//! What the server-rendered page learns about the request: the signed-in user (from the
//! `belfry_token` cookie) and their first page of notifications; and the answer to a path that
//! is no page.

use std::sync::Arc;

use app::bell::{BellSnapshot, PAGE};
use app::page_data::{PageData, PageSource};
use axum::http::StatusCode;
use axum::response::Html;
use axum_extra::extract::CookieJar;

use crate::auth::TOKEN_COOKIE;
use crate::store::{Page, Status};
use crate::AppState;

pub fn page_source(state: AppState, dev: bool) -> PageSource {
    PageSource(Arc::new(move |parts| {
        let state = state.clone();
        Box::pin(async move {
            let now_millis = chrono::Utc::now().timestamp_millis();
            let user = CookieJar::from_headers(&parts.headers)
                .get(TOKEN_COOKIE)
                .and_then(|cookie| state.tokens.verify(cookie.value()).ok());
            let Some(user) = user else {
                return PageData {
                    user: None,
                    snapshot: None,
                    now_millis,
                    dev,
                };
            };
            let page = Page {
                limit: PAGE as u32,
                before: None,
                status: Status::Inbox,
                category: None,
            };
            let snapshot = match (
                state.store.list(&user, page).await,
                state.store.counts(&user).await,
            ) {
                (Ok(notifications), Ok(counts)) => Some(BellSnapshot {
                    notifications,
                    counts,
                }),
                (Err(err), _) | (_, Err(err)) => {
                    // The page still renders; the bell loads the list itself once hydrated.
                    tracing::warn!(%err, "cannot load the bell's first page");
                    Some(BellSnapshot::default())
                }
            };
            PageData {
                user: Some(user.to_string()),
                snapshot,
                now_millis,
                dev,
            }
        })
    }))
}

/// Any path that is neither a route nor an asset: 404, with a short HTML page (the app has one
/// page, `/`; see `app::App`).
pub async fn not_found() -> (StatusCode, Html<&'static str>) {
    (
        StatusCode::NOT_FOUND,
        Html("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found · Belfry</title></head><body><p>Page not found. <a href=\"/\">Belfry</a></p></body></html>"),
    )
}
