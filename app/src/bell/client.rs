//! How the bell reaches its server from the browser: the REST routes and the token.
//!
//! In the full-stack app the bell is same-origin and signed in by the `belfry_token` cookie, so
//! it holds no token at all. Embedded in another site it holds a token, sends it as a Bearer
//! header (and as `?token=` on the stream, which an `EventSource` needs), and when the server
//! says 401 it asks the host page's `token-url` for a fresh one.

use leptos::prelude::*;

use super::logic::encoded;
use crate::Notification;

/// Where the bell's server is and how it signs in. Cheap to copy.
#[derive(Clone, Copy)]
pub struct BellClient {
    /// Base URL without a trailing slash; empty for the page's own origin.
    pub server: StoredValue<String>,
    /// `None`: the same-origin cookie signs the requests in.
    pub token: RwSignal<Option<String>>,
    /// Fetched (with credentials) for a fresh token when the current one is refused.
    pub token_url: StoredValue<Option<String>>,
    /// The signed-in user, when the page knows it (server-rendered pages do; with a token the
    /// bell reads it from the token): the tabs of one user share one live connection.
    pub user: StoredValue<Option<String>>,
    /// The categories of the bell's tabs, whose counts are asked with the user's.
    pub categories: StoredValue<Vec<String>>,
}

impl BellClient {
    pub fn same_origin() -> Self {
        Self::new(String::new(), None, None)
    }

    /// The page's own origin, signed in by its cookie as `user`.
    pub fn same_origin_for(user: Option<String>) -> Self {
        let client = Self::same_origin();
        client.user.set_value(user);
        client
    }

    pub fn new(server: String, token: Option<String>, token_url: Option<String>) -> Self {
        Self {
            server: StoredValue::new(server.trim_end_matches('/').to_owned()),
            token: RwSignal::new(token),
            token_url: StoredValue::new(token_url),
            user: StoredValue::new(None),
            categories: StoredValue::new(Vec::new()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.get_value())
    }

    /// The stream's URL, resuming after `last_event_id` when given.
    pub fn stream_url(&self, last_event_id: Option<&str>) -> String {
        let mut query = Vec::new();
        if let Some(token) = self.token.get_untracked() {
            query.push(format!("token={token}"));
        }
        if let Some(id) = last_event_id {
            query.push(format!("last_event_id={}", encoded(id)));
        }
        let path = if query.is_empty() {
            "/notifications/stream".to_owned()
        } else {
            format!("/notifications/stream?{}", query.join("&"))
        };
        self.url(&path)
    }
}

/// What the list shows first, rendered by the server into the page.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BellSnapshot {
    pub notifications: Vec<Notification>,
    pub counts: crate::protocol::Counts,
}

/// Notifications per page of the dropdown.
pub const PAGE: usize = 10;

/// The most ids one `seen` request names (the server takes up to 100).
pub const MAX_SEEN: usize = 100;

#[cfg(feature = "browser")]
pub use browser::*;

#[cfg(feature = "browser")]
mod browser {
    use gloo_net::http::{Request, RequestBuilder, Response};
    use leptos::prelude::*;
    use web_sys::RequestCredentials;

    use super::{encoded, BellClient, PAGE};
    use crate::bell::inbox::ItemAction;
    use crate::protocol::{AllCounts, Status};
    use crate::Notification;

    #[derive(Clone, Debug)]
    pub struct ApiError(pub String);

    impl std::fmt::Display for ApiError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    fn failed(what: &str, err: impl std::fmt::Display) -> ApiError {
        ApiError(format!("{what}: {err}"))
    }

    impl BellClient {
        fn signed(&self, request: RequestBuilder) -> RequestBuilder {
            match self.token.get_untracked() {
                Some(token) => request.header("Authorization", &format!("Bearer {token}")),
                None => request.credentials(RequestCredentials::SameOrigin),
            }
        }

        /// Sends a request (with `body`, JSON text, if any); after a 401, gets a fresh token (if
        /// there is a token URL) and sends it once more.
        async fn send(
            &self,
            build: impl Fn() -> RequestBuilder,
            body: Option<&str>,
        ) -> Result<Response, ApiError> {
            let once = || async {
                let request = self.signed(build());
                let sent = match body {
                    Some(body) => {
                        request
                            .header("Content-Type", "application/json")
                            .body(body)
                            .map_err(|e| failed("cannot send", e))?
                            .send()
                            .await
                    }
                    None => request.send().await,
                };
                sent.map_err(|e| failed("the server cannot be reached", e))
            };
            let response = once().await?;
            if response.status() == 401 && self.refresh_token().await.is_ok() {
                return once().await;
            }
            Ok(response)
        }

        /// Asks the host page's token URL for a fresh token (JSON `{"token": …}` or plain text);
        /// an answer without one is an error, and the old token stays.
        pub async fn refresh_token(&self) -> Result<(), ApiError> {
            let Some(url) = self.token_url.get_value() else {
                return Err(ApiError("no token URL to renew the token".into()));
            };
            let response = Request::get(&url)
                .credentials(RequestCredentials::Include)
                .send()
                .await
                .map_err(|e| failed("the token URL cannot be reached", e))?;
            if !response.ok() {
                return Err(ApiError(format!(
                    "the token URL answered {}",
                    response.status()
                )));
            }
            let text = response.text().await.map_err(|e| failed("token", e))?;
            let token = super::super::logic::token_in(&text)
                .ok_or_else(|| ApiError("the token URL answered without a token".into()))?;
            self.token.set(Some(token));
            Ok(())
        }

        /// The user the bell's token is for, if it holds one.
        pub fn token_user(&self) -> Option<String> {
            self.token.get_untracked().and_then(|t| token_subject(&t))
        }
    }

    /// The `sub` of a JWT, read without verifying it: only to tell whose the bell is (the
    /// server checks every token).
    pub fn token_subject(token: &str) -> Option<String> {
        let payload = token.split('.').nth(1)?;
        let mut base64: String = payload
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        while !base64.len().is_multiple_of(4) {
            base64.push('=');
        }
        let json = web_sys::window()?.atob(&base64).ok()?;
        let claims: serde_json::Value = crate::json::from_str(&json).ok()?;
        match &claims["sub"] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    impl BellClient {
        async fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
            let url = self.url(path);
            let response = self.send(|| Request::get(&url), None).await?;
            if !response.ok() {
                return Err(ApiError(format!(
                    "the server answered {}",
                    response.status()
                )));
            }
            let text = response
                .text()
                .await
                .map_err(|e| failed("unexpected answer", e))?;
            crate::json::from_str(&text).map_err(|e| failed("unexpected answer", e))
        }

        /// A page of the list of `status` (and `category`), after `before`.
        pub async fn list(
            &self,
            before: Option<&str>,
            status: Status,
            category: Option<&str>,
        ) -> Result<Vec<Notification>, ApiError> {
            let mut path = format!("/notifications?limit={PAGE}&status={}", status.as_str());
            if let Some(id) = before {
                path.push_str(&format!("&before={}", encoded(id)));
            }
            if let Some(category) = category {
                path.push_str(&format!("&category={}", encoded(category)));
            }
            self.json(&path).await
        }

        /// The user's counts, and those of the tabs' categories.
        pub async fn counts(&self) -> Result<AllCounts, ApiError> {
            let categories = self.categories.get_value();
            if categories.is_empty() {
                return self.json("/notifications/counts").await;
            }
            let list: Vec<String> = categories.iter().map(|c| encoded(c)).collect();
            let path = format!("/notifications/counts?categories={}", list.join(","));
            self.json(&path).await
        }

        /// One notification, whatever its state.
        pub async fn get(&self, id: &str) -> Result<Notification, ApiError> {
            self.json(&format!("/notifications/{}", encoded(id))).await
        }

        /// Sends a change (with the CSRF header) and checks it was taken.
        async fn change(
            &self,
            build: impl Fn(&str) -> RequestBuilder,
            path: &str,
            body: Option<String>,
        ) -> Result<(), ApiError> {
            let url = self.url(path);
            let response = self
                .send(
                    || build(&url).header("X-Requested-With", "XMLHttpRequest"),
                    body.as_deref(),
                )
                .await?;
            if response.ok() {
                Ok(())
            } else {
                Err(ApiError(format!(
                    "the server answered {}",
                    response.status()
                )))
            }
        }

        async fn post(&self, path: &str) -> Result<(), ApiError> {
            self.change(Request::post, path, None).await
        }

        pub async fn mark_read(&self, id: &str) -> Result<(), ApiError> {
            self.act(id, &ItemAction::Read).await
        }

        /// Marks every one read (a tab's: of its category).
        pub async fn mark_all_read(&self, category: Option<&str>) -> Result<(), ApiError> {
            match category {
                None => self.post("/notifications/read-all").await,
                Some(category) => {
                    let path = format!("/notifications/read-all?category={}", encoded(category));
                    self.post(&path).await
                }
            }
        }

        pub async fn archive_read(&self) -> Result<(), ApiError> {
            self.post("/notifications/archive-read").await
        }

        /// Marks these seen, in one request.
        pub async fn seen(&self, ids: &[String]) -> Result<(), ApiError> {
            #[derive(serde::Serialize)]
            struct Seen<'a> {
                ids: &'a [String],
            }
            let body =
                crate::json::to_string(&Seen { ids }).map_err(|e| failed("cannot send", e))?;
            self.change(Request::post, "/notifications/seen", Some(body))
                .await
        }

        /// Records a notification's named action done.
        pub async fn complete(&self, id: &str, name: &str) -> Result<(), ApiError> {
            let path = format!(
                "/notifications/{}/actions/{}/complete",
                encoded(id),
                encoded(name)
            );
            self.post(&path).await
        }

        /// Applies an item's action.
        pub async fn act(&self, id: &str, action: &ItemAction) -> Result<(), ApiError> {
            let one = format!("/notifications/{}", encoded(id));
            match (action.segment(), action) {
                (None, _) => self.change(Request::delete, &one, None).await,
                (Some(segment), ItemAction::Snooze(until)) => {
                    #[derive(serde::Serialize)]
                    struct Snooze<'a> {
                        until: &'a str,
                    }
                    let body = crate::json::to_string(&Snooze { until })
                        .map_err(|e| failed("cannot send", e))?;
                    let path = format!("{one}/{segment}");
                    self.change(Request::post, &path, Some(body)).await
                }
                (Some(segment), _) => self.post(&format!("{one}/{segment}")).await,
            }
        }
    }
}
