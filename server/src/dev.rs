//! `--dev` only: sign in as a demo user (the token goes into the `belfry_token` cookie) and
//! send a notification from a form, so someone who just started Belfry sees one arrive live.

use std::time::Duration;

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde::Deserialize;

use crate::auth::TOKEN_COOKIE;
use crate::error::AppError;
use crate::model::{Link, Message, NewNotification, UserId};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dev/sign-in", post(sign_in))
        .route("/dev/send", post(send))
}

#[derive(Deserialize)]
struct SignIn {
    user: String,
}

/// The demo routes are plain form posts (the demo page works without scripts), so the CSRF
/// guard of the API (a JSON content type) does not fit them. Instead a request another site's
/// page made is refused: the browser says so in `Sec-Fetch-Site`, or, in older browsers, in an
/// `Origin` that is not this server. Requests without either (curl) are not a browser's.
fn refuse_cross_site(headers: &HeaderMap) -> Result<(), AppError> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => Ok(()),
            _ => Err(AppError::CsrfRejected),
        };
    }
    let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST))
    else {
        return Ok(());
    };
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    match origin_host {
        Some(origin_host) if origin_host.as_bytes() == host.as_bytes() => Ok(()),
        _ => Err(AppError::CsrfRejected),
    }
}

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Result<Response, AppError> {
    refuse_cross_site(&headers)?;
    let user = UserId::parse(&form.user).map_err(|m| AppError::invalid("user", m))?;
    let token = state
        .tokens
        .mint(&user, Duration::from_secs(24 * 3600))
        .map_err(|_| AppError::Internal)?;
    // HttpOnly: scripts cannot read it; SameSite=Lax: other sites' forms do not send it. No
    // Secure flag: demo mode serves plain http on localhost.
    let cookie = format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400");
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

#[derive(Deserialize)]
struct Send {
    user: String,
    message: String,
    #[serde(default)]
    link: Option<String>,
}

/// A form post (redirects back) or the page's background JSON post (201).
async fn send(State(state): State<AppState>, request: Request) -> Result<Response, AppError> {
    refuse_cross_site(request.headers())?;
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let form: Send = if is_json {
        Json::from_request(request, &state)
            .await
            .map_err(|e| AppError::malformed(e.body_text(), None))?
            .0
    } else {
        Form::from_request(request, &state)
            .await
            .map_err(|e| AppError::malformed(e.body_text(), None))?
            .0
    };
    let new = NewNotification::new(
        UserId::parse(form.user.trim()).map_err(|m| AppError::invalid("user", m))?,
        Message::parse(&form.message).map_err(|m| AppError::invalid("message", m))?,
        form.link
            .filter(|l| !l.trim().is_empty())
            .map(|l| Link::parse(l.trim()))
            .transpose()
            .map_err(|m| AppError::invalid("link", m))?,
    );
    state.store.insert(&[new]).await?;
    Ok(if is_json {
        StatusCode::CREATED.into_response()
    } else {
        Redirect::to("/").into_response()
    })
}
