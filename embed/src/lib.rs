//! The embed bundle's entry point, called by `/embed.js`. All UI lives in `app`.

use wasm_bindgen::prelude::*;

/// A mounted bell, as `Belfry.mount` hands it to the page.
#[wasm_bindgen]
pub struct Bell(Option<app::embed::Mounted>);

#[wasm_bindgen]
impl Bell {
    /// Unmounts the bell and closes its connection; calling it again does nothing.
    pub fn destroy(&mut self) {
        self.0.take();
    }
}

/// Mounts a bell into `container` (inside `host`'s shadow root); `options` is
/// `{server, token, tokenUrl, lang, strings}`; events are dispatched on `host`.
#[wasm_bindgen]
pub fn mount(
    container: web_sys::HtmlElement,
    host: web_sys::HtmlElement,
    options: JsValue,
) -> Result<Bell, JsValue> {
    console_error_panic_hook::set_once();
    let options = app::embed::EmbedOptions::from_js(&options)?;
    Ok(Bell(Some(app::embed::mount(container, host, options))))
}
