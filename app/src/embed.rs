//! The bell on any page: mounted client-side into an element by the embed script
//! (`/embed.js`, which defines `<notification-bell>` and `Belfry.mount`).

use leptos::prelude::*;
use wasm_bindgen::JsValue;

use crate::bell::{BellClient, NotificationBell};

/// Where the embedded bell's server is and how it signs in.
pub struct EmbedOptions {
    pub server: String,
    pub token: Option<String>,
    pub token_url: Option<String>,
}

impl EmbedOptions {
    /// Reads `{server, token, tokenUrl}` from a JavaScript object.
    pub fn from_js(options: &JsValue) -> Result<Self, JsValue> {
        let field = |name: &str| {
            js_sys::Reflect::get(options, &JsValue::from_str(name))
                .ok()
                .and_then(|v| v.as_string())
                .filter(|v| !v.is_empty())
        };
        Ok(Self {
            server: field("server")
                .ok_or_else(|| JsValue::from_str("Belfry.mount: `server` is required"))?,
            token: field("token"),
            token_url: field("tokenUrl"),
        })
    }
}

/// Mounts a bell into `element` for as long as the page lives.
pub fn mount(element: web_sys::HtmlElement, options: EmbedOptions) {
    let handle = leptos::mount::mount_to(element, move || {
        let client = BellClient::new(options.server, options.token, options.token_url);
        view! { <NotificationBell client/> }
    });
    handle.forget();
}
