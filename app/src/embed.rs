//! The bell on any page: mounted client-side by the embed script (`/embed.js`, which defines
//! `<notification-bell>` and `Belfry.mount`) into the element's shadow root, so the page's styles
//! and the bell's never meet; what the bell tells its page becomes DOM events on the element.

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::bell::{
    parse_tabs, Badge, BellClient, BellEvent, NotificationBell, Ringing, Strings, Tab,
};

/// Where the embedded bell's server is, how it signs in, and how it speaks.
pub struct EmbedOptions {
    pub server: String,
    pub token: Option<String>,
    pub token_url: Option<String>,
    pub strings: Strings,
    pub badge: Badge,
    pub tabs: Vec<Tab>,
    pub ring: Ringing,
}

impl EmbedOptions {
    /// Reads `{server, token, tokenUrl, lang, strings, badge, tabs, ring}` from a JavaScript object
    /// (`tabs` as JSON text, as `strings`) (`strings`
    /// as JSON text: `embed.js` turns an object into it).
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
            strings: Strings::with_overrides(field("strings").as_deref(), field("lang")),
            badge: Badge::parse(field("badge").as_deref()),
            tabs: parse_tabs(field("tabs").as_deref()),
            ring: Ringing::parse(field("ring").as_deref()),
        })
    }
}

/// A mounted bell; dropping it unmounts the bell and closes its connection.
pub struct Mounted(#[allow(dead_code)] Box<dyn std::any::Any>);

/// Mounts a bell into `container`; its events are dispatched on `host` (the element the page
/// placed), bubbling: `belfry:notification` (detail: the notification), `belfry:unread-count`
/// (detail: `{count}`), `belfry:error` (detail: `{message}`).
pub fn mount(
    container: web_sys::HtmlElement,
    host: web_sys::HtmlElement,
    options: EmbedOptions,
) -> Mounted {
    let host = SendWrapper::new(host);
    let on_event = Callback::new(move |event: BellEvent| dispatch(&host, event));
    let handle = leptos::mount::mount_to(container, move || {
        let client = BellClient::new(options.server, options.token, options.token_url);
        let (strings, badge, tabs, ring) =
            (options.strings, options.badge, options.tabs, options.ring);
        view! { <NotificationBell client strings on_event badge tabs ring/> }
    });
    Mounted(Box::new(handle))
}

fn dispatch(host: &web_sys::HtmlElement, event: BellEvent) {
    /// An object of one field, as the page reads it.
    fn with(field: &str, value: &JsValue) -> JsValue {
        let object = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&object, &field.into(), value);
        object.into()
    }
    fn js<T: serde::Serialize>(value: &T) -> JsValue {
        crate::json::to_js(value).unwrap_or(JsValue::NULL)
    }
    let (name, detail) = match event {
        BellEvent::Notification(notification) => ("belfry:notification", js(&notification)),
        BellEvent::UnreadCount(count) => (
            "belfry:unread-count",
            with("count", &JsValue::from(count as f64)),
        ),
        BellEvent::Error(message) => ("belfry:error", with("message", &message.into())),
        BellEvent::Action {
            notification,
            action,
            done,
        } => {
            let detail = with("notification", &js(&notification));
            let _ = js_sys::Reflect::set(&detail, &"action".into(), &js(&action));
            // `detail.done()`: the page did it; the bell records it completed.
            let confirm = Closure::once_into_js(move || done.run(()));
            let _ = js_sys::Reflect::set(&detail, &"done".into(), &confirm);
            ("belfry:action", detail)
        }
    };
    send(host, name, &detail);
}

/// Dispatches `name` with `detail` on `host`, bubbling out of the shadow root.
fn send(host: &web_sys::HtmlElement, name: &str, detail: &JsValue) {
    let init = web_sys::CustomEventInit::new();
    init.set_bubbles(true);
    init.set_composed(true);
    init.set_detail(detail);
    if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(name, &init) {
        let _ = host
            .unchecked_ref::<web_sys::EventTarget>()
            .dispatch_event(&event);
    }
}
