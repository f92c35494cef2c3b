//! Belfry's UI and the types the server and the browser share.
//!
//! Built twice: with `ssr` into the server (which renders the pages) and with `hydrate` into the
//! WASM bundle (which takes the rendered page over in the browser).

pub mod notification;

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
                <Route path=StaticSegment("") view=HomePage/>
            </Routes>
        </Router>
    }
}

/// The home page. The bell itself is built on top of this header; until then the
/// button below proves that the page hydrates (its state only changes in the browser).
#[component]
fn HomePage() -> impl IntoView {
    let open = RwSignal::new(false);

    view! {
        <header class="belfry-header">
            <span class="belfry-brand">"Belfry"</span>
            <button
                class="belfry-bell"
                data-testid="bell"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {move || if open.get() { "Notifications (open)" } else { "Notifications" }}
            </button>
        </header>
        <main class="belfry-main">
            <p>"Real-time notifications over Server-Sent Events."</p>
        </main>
    }
}
