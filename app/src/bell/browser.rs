//! What the bell does in the browser only: refresh, load more, mark read, mark all read, and the
//! live connection's events applied to the bell's state. The server renders the bell and never
//! runs any of this (`mod.rs` gives it empty stand-ins).

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;

use super::client::token_subject;
use super::live::LiveEvent;
use super::logic::{
    add_live, elapsed, keep_newest, mark_all_read, mark_read, merge, parse_utc_millis, Elapsed,
};
use super::shared;
use super::{Bell, BellEvent, LiveState, PAGE};
use crate::protocol::StreamEvent;

fn now_millis() -> i64 {
    js_sys::Date::now() as i64
}

fn now_rfc3339() -> String {
    js_sys::Date::new_0().to_iso_string().into()
}

/// Starts what only a browser does: the clock for relative times, the first load if the
/// server did not render one, and the live connection; all stopped on unmount.
pub(super) fn start(bell: Bell, loaded: bool) {
    // After hydration (a task runs once the current pass is done): hydration keeps the
    // server's text, so the viewer's clock and dates must come as a change after it.
    spawn_local(async move {
        bell.in_browser.set(true);
        bell.now.set(now_millis());
    });
    let tick = set_interval_with_handle(
        move || bell.now.set(now_millis()),
        std::time::Duration::from_secs(30),
    )
    .ok();
    if !loaded {
        bell.refresh();
    }
    let newest = bell
        .items
        .with_untracked(|items| items.first().map(|n| n.id.clone()));
    if bell.events.is_some() {
        tell_the_page(bell);
    }
    let live = shared::start(bell.client, newest, move |event| bell.on_live(event));
    let live = SendWrapper::new(Rc::new(RefCell::new(live)));
    restart_for_another_user(bell, Rc::clone(&live));
    on_cleanup(move || {
        live.borrow().stop();
        if let Some(tick) = tick {
            tick.clear();
        }
    });
}

/// A token URL may answer for another user than the bell's (the host signed someone else in):
/// the bell then starts over as that user, with its list, its count and a connection (and
/// channel between tabs) of its own, so nothing of the previous user's reaches it or goes on.
fn restart_for_another_user(bell: Bell, live: Rc<RefCell<shared::Connection>>) {
    let user = RefCell::new(bell.client.token_user());
    Effect::new(move |_| {
        let now = bell
            .client
            .token
            .with(|t| t.as_deref().and_then(token_subject));
        if now.is_none() || now == *user.borrow() {
            return;
        }
        let was = user.replace(now);
        if was.is_none() {
            return;
        }
        live.borrow().stop();
        bell.items.set(Vec::new());
        bell.more.set(false);
        bell.unread.set(0);
        bell.refresh();
        live.replace(shared::start(bell.client, None, move |event| {
            bell.on_live(event)
        }));
    });
}

/// Tells the page each change of the unread count and each error the bell shows.
fn tell_the_page(bell: Bell) {
    Effect::new(move |last: Option<Option<u64>>| {
        let loaded = !bell.loading.get();
        let count = loaded.then(|| bell.unread.get());
        if count.is_some() && last.flatten() != count {
            bell.emit(BellEvent::UnreadCount(count.unwrap_or_default()));
        }
        count.or(last.flatten())
    });
    Effect::new(move |_| {
        if let Some(message) = bell.error.get() {
            bell.emit(BellEvent::Error(message));
        }
    });
}

/// For a notification older than a month, its calendar date in the viewer's zone (`YYYY-MM-DD`,
/// as the server writes UTC's): a viewer at UTC+14 sees 2026-10-21 for 2026-10-20T12:00Z.
pub(super) fn local_date_if_long(created_at: &str, now_millis: i64) -> Option<String> {
    if elapsed(created_at, now_millis)? != Elapsed::Long {
        return None;
    }
    let created = parse_utc_millis(created_at)?;
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(created as f64));
    Some(format!(
        "{:04}-{:02}-{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date()
    ))
}

/// How long ago `created_at` was, in `locale`, by the browser's `Intl.RelativeTimeFormat`
/// ("il y a 5 minutes", "hier"); `None` if the locale is not one the browser takes.
pub(super) fn relative_time_in(locale: &str, created_at: &str, now_millis: i64) -> Option<String> {
    use wasm_bindgen::{JsCast, JsValue};
    let intl = js_sys::Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
    let constructor = js_sys::Reflect::get(&intl, &"RelativeTimeFormat".into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"numeric".into(), &"auto".into()).ok()?;
    let arguments = js_sys::Array::of2(&locale.into(), &options);
    // (Constructed by reflection so that a locale the browser refuses is an error, not a throw.)
    let format: js_sys::Intl::RelativeTimeFormat =
        js_sys::Reflect::construct(&constructor, &arguments)
            .ok()?
            .unchecked_into();
    let (value, unit) = match elapsed(created_at, now_millis)? {
        Elapsed::Now => (0, "second"),
        Elapsed::Minutes(n) => (n, "minute"),
        Elapsed::Hours(n) => (n, "hour"),
        Elapsed::Days(n) => (n, "day"),
        Elapsed::Long => {
            let created = parse_utc_millis(created_at)?;
            let date = js_sys::Date::new(&JsValue::from_f64(created as f64));
            return Some(
                date.to_locale_date_string(locale, &JsValue::UNDEFINED)
                    .into(),
            );
        }
    };
    Some(format.format(-(value as f64), unit).into())
}

impl Bell {
    fn emit(self, event: BellEvent) {
        if let Some(events) = self.events {
            events.run(event);
        }
    }

    fn on_live(self, event: LiveEvent) {
        match event {
            LiveEvent::Stream(StreamEvent::New(notification)) => {
                let event = BellEvent::Notification(notification.clone());
                let limit = self.loaded.get_value().max(PAGE);
                let (added, dropped) = self
                    .items
                    .try_update(|items| (add_live(items, notification), keep_newest(items, limit)))
                    .unwrap_or((0, None));
                if let Some(oldest) = dropped {
                    self.cursor.set_value(Some(oldest));
                    self.more.set(true);
                }
                if added > 0 {
                    self.emit(event);
                }
                // At once for the eye, then from the server: a push that crosses a count
                // fetched a moment earlier would otherwise be counted twice.
                self.unread.update(|n| *n += added);
                self.sync_count();
            }
            LiveEvent::Stream(StreamEvent::Read(read)) => {
                let at = now_rfc3339();
                self.items.update(|items| {
                    if read.all {
                        mark_all_read(items, &at)
                    } else {
                        mark_read(items, &read.ids, &at)
                    }
                });
                self.unread.set(read.unread_count);
            }
            LiveEvent::Stream(StreamEvent::Removed(removed)) => {
                self.items
                    .update(|items| items.retain(|n| !removed.ids.contains(&n.id)));
                self.unread.set(removed.unread_count);
            }
            LiveEvent::Stream(StreamEvent::Resync(_)) => self.refresh(),
            LiveEvent::Connected { resumed } => {
                self.live_state.set(LiveState::Live);
                // Opened with nothing to resume from (the embed, an empty server-rendered list,
                // a stream that had no event yet): the server subscribed the stream before it
                // answered, so a list fetched now holds everything the stream will not push.
                if !resumed {
                    self.refresh();
                }
            }
            LiveEvent::Reconnecting => self.live_state.set(LiveState::Reconnecting),
        }
    }

    /// Sets the badge from the server's count, ignoring answers overtaken by a newer request.
    fn sync_count(self) {
        let request = self.count_request.get_value() + 1;
        self.count_request.set_value(request);
        spawn_local(async move {
            if let Ok(unread) = self.client.unread_count().await {
                if self.count_request.get_value() == request {
                    self.unread.set(unread);
                }
            }
        });
    }

    /// Refetches the first page and the count; merged, so a push racing it shows once.
    pub(super) fn refresh(&self) {
        let bell = *self;
        bell.loading.set(true);
        spawn_local(async move {
            let request = bell.count_request.get_value() + 1;
            bell.count_request.set_value(request);
            let result = async {
                let page = bell.client.list(None).await?;
                let unread = bell.client.unread_count().await?;
                Ok::<_, super::client::ApiError>((page, unread))
            }
            .await;
            match result {
                Ok((page, unread)) => {
                    if bell.items.with_untracked(Vec::is_empty) {
                        bell.more.set(page.len() >= PAGE);
                        bell.cursor.set_value(page.last().map(|n| n.id.clone()));
                    }
                    bell.items.update(|items| {
                        merge(items, page);
                        bell.loaded.set_value(items.len());
                    });
                    if bell.count_request.get_value() == request {
                        bell.unread.set(unread);
                    }
                    bell.error.set(None);
                }
                Err(err) => bell.fail(|s| &s.error_load, err),
            }
            bell.loading.set(false);
        });
    }

    pub(super) fn load_more(&self) {
        let bell = *self;
        let Some(oldest) = bell.cursor.get_value() else {
            return;
        };
        spawn_local(async move {
            match bell.client.list(Some(&oldest)).await {
                Ok(page) => {
                    bell.more.set(page.len() >= PAGE);
                    if let Some(last) = page.last() {
                        bell.cursor.set_value(Some(last.id.clone()));
                    }
                    bell.items.update(|items| {
                        merge(items, page);
                        bell.loaded.set_value(items.len());
                    });
                }
                Err(err) => bell.fail(|s| &s.error_more, err),
            }
        });
    }

    pub(super) fn mark_all_read(&self) {
        let bell = *self;
        spawn_local(async move {
            match bell.client.mark_all_read().await {
                Ok(()) => {
                    let at = now_rfc3339();
                    bell.items.update(|items| mark_all_read(items, &at));
                    bell.unread.set(0);
                }
                Err(err) => bell.fail(|s| &s.error_mark_all, err),
            }
        });
    }

    /// Shows what failed: the bell's words for it, and the cause.
    fn fail(self, what: fn(&super::Strings) -> &String, err: impl std::fmt::Display) {
        let what = self.strings.with_value(|s| what(s).clone());
        self.error.set(Some(format!("{what} ({err}).")));
    }

    /// Marks the item read, then follows its link.
    pub(super) fn open_item(&self, id: String, link: Option<String>) {
        let bell = *self;
        spawn_local(async move {
            let was_unread = bell
                .items
                .with_untracked(|items| items.iter().any(|n| n.id == id && n.read_at.is_none()));
            if was_unread && bell.client.mark_read(&id).await.is_ok() {
                let at = now_rfc3339();
                bell.items
                    .update(|items| mark_read(items, std::slice::from_ref(&id), &at));
                bell.unread.update(|n| *n = n.saturating_sub(1));
            }
            if let Some(link) = link {
                let _ = window().location().assign(&link);
            }
        });
    }
}
