//! One live connection per browser, shared by the tabs of one user on one server.
//!
//! Over HTTP/1.1 a browser opens at most 6 connections to a host: with a stream per tab, the
//! 7th tab gets no bell and the 8th cannot even load the page. So one tab leads: it holds the
//! `EventSource` and hands every event to the others over a `BroadcastChannel`. Who leads is
//! settled by a Web Lock named for the user and server: the browser grants it to one tab, and
//! to the next waiting tab the moment the leader's tab closes (or the bell unmounts), without
//! any timeout of ours. The new leader opens the stream resuming from the last event it was
//! handed, so nothing is lost, and the bell's merge by id drops what arrives twice.
//!
//! A tab the browser freezes (Page Lifecycle: a hidden tab put to sleep, its scripts stopped)
//! could hold the lock without running, and starve the others. So on `freeze` a tab gives the
//! lead up (closing its stream) and leaves the line; on `resume` it joins again, as a new tab
//! does, refreshing what it shows.
//!
//! Chosen over a SharedWorker: Web Locks and `BroadcastChannel` exist wherever the bell runs
//! (Chromium, Firefox, Safari ≥ 15.4), the worker would be a second bundle to build and serve,
//! and a tab that leads is as good as a worker while it lives. A tab whose user is not known
//! (an embed that only has a token URL yet) or a browser without these APIs keeps a connection
//! of its own. REST calls stay per tab.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use leptos::prelude::GetValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

use super::client::BellClient;
use super::live::{Live, LiveEvent};
use super::ring::{Ringer, Visibility};
use crate::protocol::StreamEvent;

type Handler = Rc<dyn Fn(LiveEvent)>;
type Listener<E> = Closure<dyn FnMut(E)>;
/// A document event listener, with the event's name.
type Lifecycle = (&'static str, Closure<dyn FnMut()>);

/// A tab's side of the live connection: its own, or a share of the browser's.
pub enum Connection {
    Own(Live),
    Shared(Rc<Tab>),
}

impl Connection {
    pub fn stop(&self) {
        match self {
            Self::Own(live) => live.stop(),
            Self::Shared(tab) => tab.stop(),
        }
    }
}

/// Starts the tab's live connection: shared when it can be, its own otherwise.
/// `ringer` rings for the browser, in the one tab that holds the connection.
pub fn start(
    client: BellClient,
    last_id: Option<String>,
    ringer: Ringer,
    on_event: impl Fn(LiveEvent) + 'static,
) -> Connection {
    let shared = key(&client).and_then(|key| {
        let locks = lock_manager()?;
        let channel = BroadcastChannel::new(&key).ok()?;
        Some((key, locks, channel))
    });
    let Some((key, locks, channel)) = shared else {
        let on_event = move |event: LiveEvent| {
            ringer.ring_if_new(&event);
            on_event(event);
        };
        return Connection::Own(Live::start(client, last_id, on_event));
    };
    let visibility = match ringer.offered.desktop {
        true => Some(Visibility::watch(&key)),
        false => None,
    };
    let tab = Rc::new(Tab {
        ringer,
        visibility,
        client,
        on_event: Rc::new(on_event),
        channel,
        locks,
        name: key,
        last_id: RefCell::new(last_id),
        live: RefCell::new(None),
        release: RefCell::new(None),
        waiting: RefCell::new(None),
        listener: RefCell::new(None),
        lifecycle: RefCell::new(Vec::new()),
        stopped: Cell::new(false),
    });
    tab.listen();
    tab.watch_lifecycle();
    Rc::clone(&tab).join();
    Connection::Shared(tab)
}

/// One name per server and user: the lock's and the channel's. Another user's tabs (or the
/// same browser after a sign-out and in) never share a channel with this one.
pub fn key(client: &BellClient) -> Option<String> {
    let user = client.user.get_value().or_else(|| client.token_user())?;
    let server = client.server.get_value();
    Some(format!("belfry:{server}:{user}"))
}

/// `navigator.locks`, where the browser has it.
fn lock_manager() -> Option<JsValue> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    (!locks.is_undefined() && !locks.is_null()).then_some(locks)
}

/// How a lock is asked for.
enum Ask<'a> {
    /// Granted now or never (`ifAvailable`).
    IfAvailable,
    /// In line until granted, or until `signal` aborts the request.
    InLine(&'a web_sys::AbortSignal),
}

/// `locks.request(name, options, callback)`.
fn request_lock(locks: &JsValue, name: &str, ask: Ask, callback: JsValue) {
    let options = Object::new();
    match ask {
        Ask::IfAvailable => {
            let _ = Reflect::set(&options, &"ifAvailable".into(), &true.into());
        }
        Ask::InLine(signal) => {
            let _ = Reflect::set(&options, &"signal".into(), signal);
        }
    }
    let request = Reflect::get(locks, &"request".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok());
    let Some(request) = request else {
        return;
    };
    // An aborted request rejects its promise: expected, not an error to report.
    if let Ok(promise) = request.call3(locks, &name.into(), &options, &callback) {
        if let Ok(promise) = promise.dyn_into::<Promise>() {
            // (A few bytes per request, of which a tab makes a handful.)
            let ignore = Closure::<dyn FnMut(JsValue)>::new(|_: JsValue| {});
            let _ = promise.catch(&ignore);
            ignore.forget();
        }
    }
}

pub struct Tab {
    client: BellClient,
    ringer: Ringer,
    /// Holds the user's visible lock while this tab is visible (for desktop notifications).
    visibility: Option<Visibility>,
    on_event: Handler,
    channel: BroadcastChannel,
    locks: JsValue,
    /// The lock's name (and the channel's).
    name: String,
    /// The last notification this tab saw, live or handed over: where it resumes if it leads.
    last_id: RefCell<Option<String>>,
    /// The connection, while this tab leads.
    live: RefCell<Option<Live>>,
    /// Resolving it gives the lock up.
    release: RefCell<Option<Function>>,
    /// Aborting it leaves the line for the lock.
    waiting: RefCell<Option<web_sys::AbortController>>,
    listener: RefCell<Option<Listener<MessageEvent>>>,
    /// The `freeze` and `resume` listeners.
    lifecycle: RefCell<Vec<Lifecycle>>,
    stopped: Cell<bool>,
}

impl Tab {
    /// Takes the events the leading tab hands over.
    fn listen(self: &Rc<Self>) {
        let tab = Rc::clone(self);
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
            let Some(text) = message.data().as_string() else {
                return;
            };
            if let Ok(event) = crate::json::from_str::<LiveEvent>(&text) {
                tab.saw(&event);
                (tab.on_event)(event);
            }
        });
        self.channel
            .set_onmessage(Some(listener.as_ref().unchecked_ref()));
        self.listener.replace(Some(listener));
    }

    fn saw(&self, event: &LiveEvent) {
        if let LiveEvent::Stream(StreamEvent::New(notification)) = event {
            self.last_id.replace(Some(notification.id.clone()));
        }
    }

    /// Leads at once if no tab does; otherwise follows, and waits in line to lead.
    fn join(self: Rc<Self>) {
        let tab = Rc::clone(&self);
        let first = Closure::once_into_js(move |lock: JsValue| -> JsValue {
            if !lock.is_null() {
                return tab.lead().into();
            }
            // Another tab leads. Its stream was open before this tab listened, so what this
            // tab shows first (its rendered or fetched list) is refreshed now that it listens,
            // as after any connection without a resume point.
            (tab.on_event)(LiveEvent::Connected { resumed: false });
            tab.wait_in_line();
            JsValue::UNDEFINED
        });
        request_lock(&self.locks, &self.name, Ask::IfAvailable, first);
    }

    /// Asks for the lock behind the leading tab (and any tab before this one).
    fn wait_in_line(self: &Rc<Self>) {
        let Ok(controller) = web_sys::AbortController::new() else {
            return;
        };
        let tab = Rc::clone(self);
        let lead = Closure::once_into_js(move |_lock: JsValue| tab.lead());
        request_lock(
            &self.locks,
            &self.name,
            Ask::InLine(&controller.signal()),
            lead,
        );
        self.waiting.replace(Some(controller));
    }

    /// Gives up the lead and leaves the line: the tab is being frozen, or the bell unmounts.
    fn step_aside(&self) {
        if let Some(controller) = self.waiting.take() {
            controller.abort();
        }
        if let Some(live) = self.live.take() {
            live.stop();
        }
        if let Some(release) = self.release.take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
    }

    /// Steps aside on `freeze`, joins again on `resume`.
    fn watch_lifecycle(self: &Rc<Self>) {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let frozen = {
            let tab = Rc::clone(self);
            Closure::<dyn FnMut()>::new(move || tab.step_aside())
        };
        let resumed = {
            let tab = Rc::clone(self);
            Closure::<dyn FnMut()>::new(move || {
                if !tab.stopped.get() {
                    Rc::clone(&tab).join();
                }
            })
        };
        for (name, listener) in [("freeze", frozen), ("resume", resumed)] {
            let _ =
                document.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            self.lifecycle.borrow_mut().push((name, listener));
        }
    }

    /// Holds the connection for every tab until this one goes: the lock is held until the
    /// returned promise settles, which `stop` (or the tab closing) does.
    fn lead(self: Rc<Self>) -> Promise {
        if self.stopped.get() {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        self.waiting.take();
        let tab = Rc::clone(&self);
        let relay = move |event: LiveEvent| {
            tab.ringer.ring_if_new(&event);
            tab.saw(&event);
            if let Ok(text) = crate::json::to_string(&event) {
                let _ = tab.channel.post_message(&text.into());
            }
            (tab.on_event)(event);
        };
        let last_id = self.last_id.borrow().clone();
        self.live
            .replace(Some(Live::start(self.client, last_id, relay)));
        Promise::new(&mut |resolve, _reject| {
            self.release.replace(Some(resolve));
        })
    }

    fn stop(&self) {
        self.stopped.set(true);
        self.step_aside();
        if let Some(visibility) = &self.visibility {
            visibility.stop();
        }
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            for (name, listener) in self.lifecycle.take() {
                let _ = document
                    .remove_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            }
        }
        self.channel.set_onmessage(None);
        self.channel.close();
        self.listener.take();
    }
}
