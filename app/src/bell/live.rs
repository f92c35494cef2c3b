//! The bell's live connection: an `EventSource` on the stream that survives what the seed's did
//! not. The browser itself reconnects after a dropped connection, sending `Last-Event-ID`. When
//! it gives up (the server refused the stream, e.g. 401 once the token expired), the bell waits
//! (1 s, 2 s, 4 s … 30 s), gets a fresh token if it can, and opens a new `EventSource` with
//! `?last_event_id=` so nothing published meanwhile is missed.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

use super::client::BellClient;
use super::logic::backoff;
use crate::protocol::{event_names, AllCounts, StreamEvent};

/// What the live connection tells the bell: the stream's events, and the connection's own
/// state. Serialisable, so the tab that holds the connection can hand each event to the other
/// tabs (see `shared.rs`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum LiveEvent {
    Stream(StreamEvent),
    /// The stream is open; `resumed` when it was opened from a known last event (so nothing
    /// between the bell's list and the stream was missed).
    Connected {
        resumed: bool,
    },
    Reconnecting,
    /// The badge's counts (and the tabs'), fetched once by the connection's holder after new
    /// notifications, and after changes when the bell has tabs (and handed to every tab), not
    /// by each tab.
    Counts(AllCounts),
}

type Handler = Rc<dyn Fn(LiveEvent)>;

struct State {
    client: BellClient,
    on_event: Handler,
    source: Option<EventSource>,
    listeners: Vec<Closure<dyn FnMut(MessageEvent)>>,
    last_id: Option<String>,
    attempt: u32,
    stopped: bool,
    /// A counts request is on its way; `count_again`: a notification or a change came after it
    /// was sent.
    counting: bool,
    count_again: bool,
}

/// A running live connection; `stop` ends it for good.
#[derive(Clone)]
pub struct Live(Rc<RefCell<State>>);

impl Live {
    pub fn start(
        client: BellClient,
        last_id: Option<String>,
        on_event: impl Fn(LiveEvent) + 'static,
    ) -> Self {
        let live = Self(Rc::new(RefCell::new(State {
            client,
            on_event: Rc::new(on_event),
            source: None,
            listeners: Vec::new(),
            last_id,
            attempt: 0,
            stopped: false,
            counting: false,
            count_again: false,
        })));
        live.open();
        live
    }

    pub fn stop(&self) {
        let mut state = self.0.borrow_mut();
        state.stopped = true;
        if let Some(source) = state.source.take() {
            source.close();
        }
        state.listeners.clear();
    }

    fn emit(&self, event: LiveEvent) {
        let handler = Rc::clone(&self.0.borrow().on_event);
        handler(event);
    }

    fn open(&self) {
        let url = {
            let state = self.0.borrow();
            if state.stopped {
                return;
            }
            state.client.stream_url(state.last_id.as_deref())
        };
        let Ok(source) = EventSource::new(&url) else {
            self.retry_later();
            return;
        };
        let mut listeners = Vec::new();
        let mut listen = |name: &str, live: Live, handle: fn(&Live, MessageEvent)| {
            let closure =
                Closure::<dyn FnMut(MessageEvent)>::new(move |event| handle(&live, event));
            let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
            listeners.push(closure);
        };
        listen("open", self.clone(), |live, _| {
            let resumed = {
                let mut state = live.0.borrow_mut();
                state.attempt = 0;
                state.last_id.is_some()
            };
            live.emit(LiveEvent::Connected { resumed });
        });
        for name in event_names() {
            listen(name, self.clone(), |live, event| {
                let Some(data) = event.data().as_string() else {
                    return;
                };
                let Ok(event) = StreamEvent::parse(&event.type_(), &data) else {
                    return;
                };
                let new = event.id().map(str::to_owned);
                // A change event carries the user's counts, not the tabs': asked for those.
                let tabs = !live.0.borrow().client.categories.get_value().is_empty();
                let changed = matches!(event, StreamEvent::Changed(..));
                let count = new.is_some() || (tabs && changed);
                if let Some(id) = &new {
                    live.0.borrow_mut().last_id = Some(id.clone());
                }
                live.emit(LiveEvent::Stream(event));
                if count {
                    live.count();
                } else if changed {
                    live.outdate_count();
                }
            });
        }
        listen("error", self.clone(), |live, _| {
            let closed = live
                .0
                .borrow()
                .source
                .as_ref()
                .is_none_or(|s| s.ready_state() == EventSource::CLOSED);
            live.emit(LiveEvent::Reconnecting);
            if closed {
                live.retry_later();
            }
        });
        let mut state = self.0.borrow_mut();
        if let Some(old) = state.source.replace(source) {
            old.close();
        }
        state.listeners = listeners;
    }

    /// Fetches the counts after a new notification: one request at a time, and once more if
    /// another notification came meanwhile, so the last answer was asked after the last
    /// notification. (A change event's counts may already include a notification the stream has
    /// not delivered yet, which the bell then counts again; this answer sets it right.)
    fn count(&self) {
        {
            let mut state = self.0.borrow_mut();
            if state.counting {
                state.count_again = true;
                return;
            }
            state.counting = true;
        }
        let live = self.clone();
        leptos::task::spawn_local(async move {
            loop {
                let client = live.0.borrow().client;
                let counts = client.counts().await;
                let again = {
                    let mut state = live.0.borrow_mut();
                    let again = std::mem::take(&mut state.count_again);
                    state.counting = again;
                    if state.stopped {
                        return;
                    }
                    again
                };
                if again {
                    continue;
                }
                if let Ok(counts) = counts {
                    live.emit(LiveEvent::Counts(counts));
                }
                return;
            }
        });
    }

    /// A change came while a counts request was on its way: its answer may predate the change
    /// (the bell marked a pushed notification seen, say, and the server's `notification-seen`
    /// overtook the answer), so it is asked again rather than applied after the change's counts.
    fn outdate_count(&self) {
        let mut state = self.0.borrow_mut();
        if state.counting {
            state.count_again = true;
        }
    }

    /// After the browser gave up: wait, renew the token if possible, open a new EventSource.
    fn retry_later(&self) {
        let wait = {
            let mut state = self.0.borrow_mut();
            if let Some(source) = state.source.take() {
                source.close();
            }
            let wait = backoff(state.attempt);
            state.attempt += 1;
            wait
        };
        let live = self.clone();
        set_timeout(
            move || {
                let client = live.0.borrow().client;
                leptos::task::spawn_local(async move {
                    if client.token.get_untracked().is_some() {
                        // Best effort: without a token URL the old token is tried again.
                        let _ = client.refresh_token().await;
                    }
                    live.open();
                });
            },
            wait,
        );
    }
}
