//! Belfry's UI and the types the server and the browser share.
//!
//! Built three times: with `ssr` into the server (which renders the pages), with `hydrate` into
//! the app's WASM bundle (which takes the rendered page over in the browser), and with `csr` into
//! the embed bundle (which mounts the bell into other sites' pages). `browser` is what the last
//! two share.
//!
//! The server and a browser bundle are never one build: a server built with a browser feature
//! starts, then panics when it renders a page ("cannot call wasm-bindgen imported functions on
//! non-wasm targets"). Cargo unifies features across the packages of one invocation, so
//! `cargo build --workspace` would do exactly that; the workspace's `default-members` keeps a
//! plain `cargo build` to the server, and the check below makes any other mix fail to compile.

// The bell's nested view types need more than the default when built without
// `--cfg erase_components` (as `cargo fuzz` builds the server, with its own RUSTFLAGS).
#![recursion_limit = "256"]

#[cfg(all(feature = "ssr", feature = "browser"))]
compile_error!(
    "`app` is built with `ssr` and a browser feature (`hydrate`/`csr`) at once, which gives a \
     server that panics when it renders a page. Build the server alone (`cargo build`, or \
     `cargo build -p server`) and the bundles separately (`cargo leptos build`, \
     `scripts/build-embed.sh`); not `--workspace`."
);

pub mod bell;
#[cfg(feature = "browser")]
pub mod embed;
pub mod json;
pub mod notification;
pub mod page_data;
mod pages;
pub mod protocol;

use leptos::prelude::*;

pub use notification::Notification;

/// The page's icon: a bell (U+1F514) drawn as SVG text, as a data URL.
const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 100'%3E%3Ctext y='.9em' font-size='90'%3E%F0%9F%94%94%3C/text%3E%3C/svg%3E";

/// The HTML document around the server-rendered page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // A bell as the tab's icon, inline: no request, so no 404 in the console.
                <link rel="icon" href=FAVICON/>
                // The bundle's name (content-hashed by scripts/build-site.sh) is the server's
                // to know; the head is rendered on the server only.
                <link rel="stylesheet" id="belfry" href=format!("/pkg/{}.css", options.output_name)/>
                <title>Belfry</title>
                <HydrationScripts options/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The app: one page, `/` (the server answers any other path with a plain 404). With a single
/// page there is nothing for a client-side router to do, and leaving `leptos_router` and
/// `leptos_meta` out takes 43.5 KB (brotli) off the hydrate bundle: 219,978 -> 176,474 bytes,
/// measured with `scripts/build-site.sh --release` at ad1aef9 and after. A second page would
/// bring the router back.
#[component]
pub fn App() -> impl IntoView {
    view! { <pages::HomePage/> }
}
