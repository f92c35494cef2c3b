//! Belfry's UI and the types the server and the browser share.
//!
//! Built three times: with `ssr` into the server (which renders the pages), with `hydrate` into
//! the app's WASM bundle (which takes the rendered page over in the browser), and with `csr` into
//! the embed bundle (which mounts the bell into other sites' pages). `browser` is what the last
//! two share.

pub mod bell;
#[cfg(feature = "browser")]
pub mod embed;
pub mod notification;
pub mod page;
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    StaticSegment,
};

pub use notification::Notification;

/// The HTML document around every server-rendered page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="belfry" href="/pkg/belfry.css"/>
        <Title text="Belfry"/>
        <Router>
            <Routes fallback=|| "Page not found.".into_view()>
                <Route path=StaticSegment("") view=pages::HomePage/>
            </Routes>
        </Router>
    }
}
