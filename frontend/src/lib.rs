//! The browser entry points. All UI lives in `app`.

use wasm_bindgen::prelude::*;

/// Takes over the server-rendered page (called by Leptos's hydration script).
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

/// Mounts a bell into `element` on any page; `options` is `{server, token, tokenUrl}`.
/// Called by `/embed.js`.
#[wasm_bindgen]
pub fn mount(element: web_sys::HtmlElement, options: JsValue) -> Result<(), JsValue> {
    console_error_panic_hook::set_once();
    app::embed::mount(element, app::embed::EmbedOptions::from_js(&options)?);
    Ok(())
}
