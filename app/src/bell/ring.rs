//! A bell that can ring: a short sound, and a desktop notification (the browser's Notification
//! API) when no tab of the user is visible. Both opt-in twice: the page offers them (`ring`),
//! the user turns them on in the bell (remembered per browser, in `localStorage`). The tab that
//! holds the browser's shared connection rings, once per notification (`shared.rs`), never each
//! tab: a browser with ten tabs open plays one sound and shows one desktop notification.
//!
//! Whether a tab is visible is held as a Web Lock: each visible tab of the user holds a shared
//! lock (`<key>:visible`) while it is, so the ringing tab asks `navigator.locks.query()` instead
//! of keeping a list that a tab closing or crashing would leave stale.
//!
//! The sound is a 0.15 s tone made with Web Audio (no file to serve). Browsers let a page play
//! sound only after the user interacted with it, so a tab nobody has clicked in plays none.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::live::LiveEvent;
use super::Ringing;
use crate::protocol::StreamEvent;
use crate::Notification;

/// Who rings, for what: the shared connection's name (where the user's choice is kept), what
/// the page offers, and the desktop notification's title.
#[derive(Clone, Debug)]
pub struct Ringer {
    pub key: String,
    pub offered: Ringing,
    pub title: String,
}

impl Ringer {
    /// Rings if `event` is a new notification (the tab that holds the connection calls it).
    pub fn ring_if_new(&self, event: &LiveEvent) {
        if let LiveEvent::Stream(StreamEvent::New(notification)) = event {
            if self.offered.any() {
                ring(&self.key, self.offered, notification, &self.title);
            }
        }
    }
}

/// What the user turned on, remembered per browser (and server and user), as the words
/// `sound` and `desktop` (not JSON: a serde derive would grow the bundle for two flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chosen {
    pub sound: bool,
    pub desktop: bool,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The user's choice for `key` (the shared connection's name); off when none is stored.
pub fn chosen(key: &str) -> Chosen {
    let text = storage()
        .and_then(|s| s.get_item(&format!("{key}:ring")).ok().flatten())
        .unwrap_or_default();
    let words: Vec<&str> = text.split(' ').collect();
    Chosen {
        sound: words.contains(&"sound"),
        desktop: words.contains(&"desktop"),
    }
}

pub fn choose(key: &str, chosen: Chosen) {
    let words = [(chosen.sound, "sound"), (chosen.desktop, "desktop")];
    let text: Vec<&str> = words
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect();
    if let Some(storage) = storage() {
        let _ = storage.set_item(&format!("{key}:ring"), &text.join(" "));
    }
}

/// Asks the browser for permission to show desktop notifications (after the user turned them
/// on); whether it was granted.
pub async fn ask_permission() -> bool {
    let Ok(promise) = web_sys::Notification::request_permission() else {
        return false;
    };
    let answer = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .unwrap_or(JsValue::UNDEFINED);
    answer.as_string().as_deref() == Some("granted")
}

/// Rings for `notification` as `offered` and the user's choice for `key` allow: the sound, and
/// (when no tab of the user is visible and the browser granted it) a desktop notification.
pub fn ring(key: &str, offered: Ringing, notification: &Notification, title: &str) {
    let chosen = chosen(key);
    if offered.sound && chosen.sound {
        play_tone();
    }
    if offered.desktop
        && chosen.desktop
        && web_sys::Notification::permission() == web_sys::NotificationPermission::Granted
    {
        let key = key.to_owned();
        let (title, body, tag) = (
            title.to_owned(),
            notification.message.clone(),
            notification.id.clone(),
        );
        leptos::task::spawn_local(async move {
            if !any_tab_visible(&key).await {
                let options = web_sys::NotificationOptions::new();
                options.set_body(&body);
                // The same notification shown again (after a resume) replaces the first.
                options.set_tag(&tag);
                let _ = web_sys::Notification::new_with_options(&title, &options);
            }
        });
    }
}

/// A 0.15 s tone at 880 Hz, fading out.
fn play_tone() {
    let Ok(audio) = web_sys::AudioContext::new() else {
        return;
    };
    let (Ok(tone), Ok(gain)) = (audio.create_oscillator(), audio.create_gain()) else {
        return;
    };
    let now = audio.current_time();
    tone.frequency().set_value(880.0);
    let _ = gain.gain().set_value_at_time(0.2, now);
    let _ = gain
        .gain()
        .exponential_ramp_to_value_at_time(0.001, now + 0.15);
    let _ = tone.connect_with_audio_node(&gain);
    let _ = gain.connect_with_audio_node(&audio.destination());
    let _ = tone.start();
    let _ = tone.stop_with_when(now + 0.15);
}

fn locks() -> Option<JsValue> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    (!locks.is_undefined() && !locks.is_null()).then_some(locks)
}

/// Whether a tab of `key` holds its visible lock now; without Web Locks, whether this tab is
/// visible.
async fn any_tab_visible(key: &str) -> bool {
    let this_one = || {
        web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible)
    };
    let Some(locks) = locks() else {
        return this_one();
    };
    let query = Reflect::get(&locks, &"query".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|query| query.call0(&locks).ok())
        .and_then(|p| p.dyn_into::<Promise>().ok());
    let Some(query) = query else {
        return this_one();
    };
    let state = wasm_bindgen_futures::JsFuture::from(query)
        .await
        .unwrap_or(JsValue::UNDEFINED);
    let held = Reflect::get(&state, &"held".into()).unwrap_or(JsValue::UNDEFINED);
    let name = visible_lock(key);
    js_sys::Array::from(&held).iter().any(|lock| {
        Reflect::get(&lock, &"name".into())
            .ok()
            .and_then(|n| n.as_string())
            .as_deref()
            == Some(name.as_str())
    })
}

fn visible_lock(key: &str) -> String {
    format!("{key}:visible")
}

/// Holds `key`'s visible lock (shared) while this tab is visible, from now until `stop`.
pub struct Visibility {
    release: Rc<RefCell<Option<Function>>>,
    listener: Option<Closure<dyn FnMut()>>,
}

impl Visibility {
    pub fn watch(key: &str) -> Self {
        let release: Rc<RefCell<Option<Function>>> = Rc::default();
        let document = web_sys::window().and_then(|w| w.document());
        let (Some(locks), Some(document)) = (locks(), document) else {
            return Self {
                release,
                listener: None,
            };
        };
        let name = visible_lock(key);
        let update = {
            let (release, document) = (Rc::clone(&release), document.clone());
            move || {
                let visible = document.visibility_state() == web_sys::VisibilityState::Visible;
                match (visible, release.borrow().is_some()) {
                    (true, false) => hold(&locks, &name, &release),
                    (false, true) => {}
                    _ => return,
                }
                if !visible {
                    if let Some(resolve) = release.borrow_mut().take() {
                        let _ = resolve.call0(&JsValue::UNDEFINED);
                    }
                }
            }
        };
        update();
        let listener = Closure::<dyn FnMut()>::new(update);
        let _ = document.add_event_listener_with_callback(
            "visibilitychange",
            listener.as_ref().unchecked_ref(),
        );
        Self {
            release,
            listener: Some(listener),
        }
    }

    pub fn stop(&self) {
        if let (Some(listener), Some(document)) =
            (&self.listener, web_sys::window().and_then(|w| w.document()))
        {
            let _ = document.remove_event_listener_with_callback(
                "visibilitychange",
                listener.as_ref().unchecked_ref(),
            );
        }
        if let Some(resolve) = self.release.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }
}

/// Takes the shared lock `name`, held until the function left in `release` is called.
fn hold(locks: &JsValue, name: &str, release: &Rc<RefCell<Option<Function>>>) {
    let options = Object::new();
    let _ = Reflect::set(&options, &"mode".into(), &"shared".into());
    let keep = Rc::clone(release);
    let callback = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
        Promise::new(&mut |resolve, _reject| {
            keep.replace(Some(resolve));
        })
        .into()
    });
    let request = Reflect::get(locks, &"request".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok());
    if let Some(request) = request {
        let _ = request.call3(locks, &name.into(), &options, &callback);
    }
}
