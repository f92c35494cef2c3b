//! What the server knows when it renders a page: who is signed in (from the cookie), their
//! first page of notifications, whether demo mode is on. The server crate provides the loader;
//! the app only describes what it needs.

use serde::{Deserialize, Serialize};

use crate::bell::BellSnapshot;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PageData {
    /// The signed-in user, if the request carried a valid `belfry_token` cookie.
    pub user: Option<String>,
    pub snapshot: Option<BellSnapshot>,
    /// The server's clock, so relative times render the same before and after hydration.
    pub now_millis: i64,
    /// `belfry serve --dev`: the demo sign-in and send form are shown.
    pub dev: bool,
}

#[cfg(feature = "ssr")]
pub use server::PageSource;

#[cfg(feature = "ssr")]
mod server {
    use std::sync::Arc;

    use futures::future::BoxFuture;

    use super::PageData;

    /// Loads a page's data for a request (provided as context by the server).
    #[derive(Clone)]
    pub struct PageSource(
        pub Arc<dyn Fn(http::request::Parts) -> BoxFuture<'static, PageData> + Send + Sync>,
    );
}

/// The page data of the current request: loaded by the server while rendering, then carried
/// to the browser inside the page (the browser never loads it itself).
pub fn load() -> impl std::future::Future<Output = PageData> + Send + 'static {
    #[cfg(feature = "ssr")]
    {
        use leptos::prelude::use_context;
        let source = use_context::<PageSource>();
        let parts = use_context::<http::request::Parts>();
        async move {
            match (source, parts) {
                (Some(source), Some(parts)) => (source.0)(parts).await,
                _ => PageData::default(),
            }
        }
    }
    #[cfg(not(feature = "ssr"))]
    {
        async { PageData::default() }
    }
}
