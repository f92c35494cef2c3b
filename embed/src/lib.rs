//! The embed bundle's entry point, called by `/embed.js`. All UI lives in `app`.

use wasm_bindgen::prelude::*;

/// Mounts a bell into `element`; `options` is `{server, token, tokenUrl}`.
#[wasm_bindgen]
pub fn mount(element: web_sys::HtmlElement, options: JsValue) -> Result<(), JsValue> {
    console_error_panic_hook::set_once();
    app::embed::mount(element, app::embed::EmbedOptions::from_js(&options)?);
    Ok(())
}
