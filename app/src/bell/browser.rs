//! What the bell does in the browser only: refresh, load more, mark read, mark all read, and the
//! live connection's events applied to the bell's state. The server renders the bell and never
//! runs any of this (`mod.rs` gives it empty stand-ins).

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;

use super::client::token_subject;
use super::inbox::{apply_action, apply_change, mark_seen, unseen_ids, Fetch, ItemAction};
use super::live::LiveEvent;
use super::logic::{
    add_live, elapsed, keep_newest, mark_all_read, merge, parse_utc_millis, Elapsed,
};
use super::{ring, shared};
use super::{Bell, BellEvent, LiveState, SnoozeFor, Strings, PAGE};
use crate::protocol::{AllCounts, Counts, Status, StreamEvent};
use crate::Notification;

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
    // (A rendered first page came without the tabs' counts.)
    if !loaded || !bell.tabs.with_value(Vec::is_empty) {
        bell.refresh();
    }
    // Opening the inbox shows its items: they are seen.
    Effect::new(move |_| {
        if bell.open.get() && bell.view.get() == Status::Inbox {
            bell.see_shown();
        }
    });
    let newest = bell
        .items
        .with_untracked(|items| items.first().map(|n| n.id.clone()));
    if bell.events.is_some() {
        tell_the_page(bell);
    }
    let ringer = ringer(bell);
    if bell.ringing.any() {
        let chosen = ring::chosen(&ringer.key);
        spawn_local(async move {
            bell.sound_on.set(chosen.sound);
            bell.desktop_on.set(chosen.desktop);
        });
    }
    let live = shared::start(bell.client, newest, ringer, move |event| {
        bell.on_live(event)
    });
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
        bell.counts.set(Counts::default());
        bell.refresh();
        live.replace(shared::start(
            bell.client,
            None,
            ringer(bell),
            move |event| bell.on_live(event),
        ));
    });
}

/// Who rings for this bell: keyed by the shared connection's name (the server's alone when the
/// user is not known yet).
fn ringer(bell: Bell) -> ring::Ringer {
    let key = shared::key(&bell.client)
        .unwrap_or_else(|| format!("belfry:{}", bell.client.server.get_value()));
    ring::Ringer {
        key,
        offered: bell.ringing,
        title: bell.strings.with_value(|s| s.title.clone()),
    }
}

/// Tells the page each change of the unread count and each error the bell shows.
fn tell_the_page(bell: Bell) {
    Effect::new(move |last: Option<Option<u64>>| {
        let loaded = !bell.loading.get();
        let count = loaded.then(|| bell.counts.get().unread_count);
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
                let notification = *notification;
                let event = BellEvent::Notification(notification.clone());
                let limit = self.loaded.get_value().max(PAGE);
                let tab = self.tab.get_untracked();
                let shown = tab.is_none() || notification.category == tab;
                let inbox = self.view.get_untracked() == Status::Inbox && shown;
                let (added, dropped) = self
                    .items
                    .try_update(|items| {
                        let added = match inbox {
                            true => add_live(items, notification),
                            false => 0,
                        };
                        (added, keep_newest(items, limit))
                    })
                    .unwrap_or((0, None));
                if let Some(oldest) = dropped {
                    self.cursor.set_value(Some(oldest));
                    self.more.set(true);
                }
                if added > 0 {
                    self.emit(event);
                }
                // New, so unread and unseen: counted here at once; the connection's holder
                // then fetches the counts once for every tab (`LiveEvent::Counts`).
                self.counts.update(|c| {
                    c.unread_count += added;
                    c.unseen_count += added;
                });
                self.see_shown();
            }
            LiveEvent::Stream(StreamEvent::Changed(kind, changed)) => {
                let at = now_rfc3339();
                let view = self.view.get_untracked();
                let fetch = self
                    .items
                    .try_update(|items| apply_change(items, view, kind, &changed, &at))
                    .unwrap_or(Fetch::Nothing);
                self.counts.set(changed.counts());
                match fetch {
                    Fetch::Nothing => {}
                    Fetch::List => self.refresh(),
                    Fetch::Items(ids) => self.bring_back(ids),
                }
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
            LiveEvent::Counts(all) => self.set_counts(all),
        }
    }

    /// Fetches notifications back from a snooze and shows them at the top of the inbox.
    fn bring_back(self, ids: Vec<String>) {
        spawn_local(async move {
            for id in &ids {
                let Ok(item) = self.client.get(id).await else {
                    continue;
                };
                if self.view.get_untracked() == Status::Inbox {
                    self.items.update(|items| {
                        items.retain(|n| n.id != item.id);
                        items.insert(0, item);
                    });
                }
            }
            self.see_shown();
        });
    }

    /// Marks what the open inbox shows seen: at once here, then in one request.
    pub(super) fn see_shown(self) {
        if !self.open.get_untracked() || self.view.get_untracked() != Status::Inbox {
            return;
        }
        let ids = self
            .items
            .with_untracked(|items| unseen_ids(items, crate::bell::client::MAX_SEEN));
        if ids.is_empty() {
            return;
        }
        let at = now_rfc3339();
        let marked = self
            .items
            .try_update(|items| mark_seen(items, &ids, &at))
            .unwrap_or(0);
        self.counts
            .update(|c| c.unseen_count = c.unseen_count.saturating_sub(marked));
        spawn_local(async move {
            // Seen is what the user was shown, not an action of theirs: a refusal (one deleted
            // meanwhile) is corrected by the next refresh, not shown as an error.
            let _ = self.client.seen(&ids).await;
        });
    }

    /// Applies an item's action at once, then asks the server; if it refuses, the list and
    /// counts are fetched again (the item back as it was) and the failure shown.
    pub(super) fn act(self, id: String, action: ItemAction, done: fn(&Strings) -> &String) {
        let at = now_rfc3339();
        let mut counts = self.counts.get_untracked();
        self.items
            .update(|items| apply_action(items, &mut counts, &id, &action, &at));
        self.counts.set(counts);
        spawn_local(async move {
            match self.client.act(&id, &action).await {
                Ok(()) => {
                    let said = self.strings.with_value(|s| done(s).clone());
                    self.announced.set(said);
                }
                Err(err) => {
                    // Back as the server has it, then why.
                    self.reload().await;
                    self.fail(|s| &s.error_action, err);
                }
            }
        });
    }

    /// Remembers the user's ringing switches; turning desktop notifications on asks the browser
    /// first, and stays off (with a message) if it refuses.
    pub(super) fn save_ring(self, desktop: bool) {
        let key = ringer(self).key;
        let save = move || {
            let chosen = ring::Chosen {
                sound: self.sound_on.get_untracked(),
                desktop: self.desktop_on.get_untracked(),
            };
            ring::choose(&key, chosen);
        };
        if !(desktop && self.desktop_on.get_untracked()) {
            save();
            return;
        }
        spawn_local(async move {
            if !ring::ask_permission().await {
                self.desktop_on.set(false);
                let why = self.strings.with_value(|s| s.error_permission.clone());
                self.error.set(Some(why));
            }
            save();
        });
    }

    /// A notification's button: a link is followed (the notification marked read first, as a
    /// click on it does); a named action is handed to the page, which calls `done` once it has
    /// done it: the bell then records it completed, shown at once and in every tab.
    pub(super) fn take_action(
        self,
        notification: Notification,
        action: crate::notification::Action,
    ) {
        if let Some(link) = action.link.clone() {
            self.open_item(notification.id.clone(), Some(link));
            return;
        }
        let Some(name) = action.name.clone() else {
            return;
        };
        let id = notification.id.clone();
        let done = Callback::new(move |()| {
            let (id, name) = (id.clone(), name.clone());
            let at = now_rfc3339();
            self.items.update(|items| {
                for item in items.iter_mut().filter(|n| n.id == id) {
                    item.completed_at.get_or_insert_with(|| at.clone());
                }
            });
            spawn_local(async move {
                if let Err(err) = self.client.complete(&id, &name).await {
                    self.reload().await;
                    self.fail(|s| &s.error_action, err);
                }
            });
        });
        self.emit(BellEvent::Action {
            notification,
            action,
            done,
        });
    }

    /// Sets the badge's and the tabs' counts.
    fn set_counts(self, all: AllCounts) {
        self.counts.set(all.counts());
        if !all.categories.is_empty() {
            self.tab_counts.set(all.categories);
        }
    }

    /// Shows a tab: a category's notifications, or all (`None`).
    pub(super) fn show_tab(self, tab: Option<String>) {
        if self.tab.get_untracked() == tab {
            return;
        }
        self.tab.set(tab);
        self.items.set(Vec::new());
        self.cursor.set_value(None);
        self.more.set(false);
        self.refresh();
    }

    /// Shows the inbox or the archive.
    pub(super) fn show(self, view: Status) {
        if self.view.get_untracked() == view {
            return;
        }
        self.view.set(view);
        self.items.set(Vec::new());
        self.cursor.set_value(None);
        self.more.set(false);
        self.refresh();
    }

    pub(super) fn archive_read(self) {
        spawn_local(async move {
            match self.client.archive_read().await {
                Ok(()) => {
                    self.items
                        .update(|items| items.retain(|n| n.read_at.is_none()));
                    let said = self.strings.with_value(|s| s.archive_read.clone());
                    self.announced.set(said);
                }
                Err(err) => self.fail(|s| &s.error_action, err),
            }
        });
    }

    /// Refetches the first page and the count; merged, so a push racing it shows once.
    pub(super) fn refresh(&self) {
        let bell = *self;
        spawn_local(bell.reload());
    }

    /// [`refresh`](Self::refresh), done when its answer is applied (an error shown before
    /// it is cleared if it works).
    async fn reload(self) {
        let bell = self;
        bell.loading.set(true);
        let request = bell.count_request.get_value() + 1;
        bell.count_request.set_value(request);
        let view = bell.view.get_untracked();
        let tab = bell.tab.get_untracked();
        let result = async {
            let page = bell.client.list(None, view, tab.as_deref()).await?;
            let counts = bell.client.counts().await?;
            Ok::<_, super::client::ApiError>((page, counts))
        }
        .await;
        // Another view or tab was chosen meanwhile: its own refresh applies.
        if bell.view.get_untracked() == view && bell.tab.get_untracked() == tab {
            match result {
                Ok((page, counts)) => {
                    if bell.items.with_untracked(Vec::is_empty) {
                        bell.more.set(page.len() >= PAGE);
                        bell.cursor.set_value(page.last().map(|n| n.id.clone()));
                    }
                    bell.items.update(|items| {
                        merge(items, page);
                        bell.loaded.set_value(items.len());
                    });
                    if bell.count_request.get_value() == request {
                        bell.set_counts(counts);
                    }
                    bell.error.set(None);
                    bell.see_shown();
                }
                Err(err) => bell.fail(|s| &s.error_load, err),
            }
        }
        bell.loading.set(false);
    }

    pub(super) fn load_more(&self) {
        let bell = *self;
        let Some(oldest) = bell.cursor.get_value() else {
            return;
        };
        let view = bell.view.get_untracked();
        let tab = bell.tab.get_untracked();
        spawn_local(async move {
            match bell.client.list(Some(&oldest), view, tab.as_deref()).await {
                Ok(page)
                    if bell.view.get_untracked() == view && bell.tab.get_untracked() == tab =>
                {
                    bell.more.set(page.len() >= PAGE);
                    if let Some(last) = page.last() {
                        bell.cursor.set_value(Some(last.id.clone()));
                    }
                    bell.items.update(|items| {
                        merge(items, page);
                        bell.loaded.set_value(items.len());
                    });
                    bell.see_shown();
                }
                Ok(_) => {}
                Err(err) => bell.fail(|s| &s.error_more, err),
            }
        });
    }

    pub(super) fn mark_all_read(&self) {
        let bell = *self;
        spawn_local(async move {
            let tab = bell.tab.get_untracked();
            match bell.client.mark_all_read(tab.as_deref()).await {
                Ok(()) => {
                    let at = now_rfc3339();
                    bell.items.update(|items| mark_all_read(items, &at));
                    match &tab {
                        None => bell.counts.set(Counts::default()),
                        // That tab's are read; the others' counts follow from the server.
                        Some(key) => bell.tab_counts.update(|c| {
                            c.insert(key.clone(), Counts::default());
                        }),
                    }
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
                let mut counts = bell.counts.get_untracked();
                bell.items
                    .update(|items| apply_action(items, &mut counts, &id, &ItemAction::Read, &at));
                bell.counts.set(counts);
            }
            if let Some(link) = link {
                let _ = window().location().assign(&link);
            }
        });
    }
}

/// When a snooze chosen in the menu ends, in the browser's zone, as RFC 3339 (UTC).
pub(super) fn snooze_until(when: SnoozeFor) -> String {
    let date = js_sys::Date::new_0();
    match when {
        SnoozeFor::Hour => date.set_time(date.get_time() + 3_600_000.0),
        SnoozeFor::Tomorrow => {
            date.set_date(date.get_date() + 1);
            date.set_hours(9);
            0.0
        }
        SnoozeFor::NextWeek => {
            // The next Monday (a week on, from a Monday).
            let ahead = (8 - date.get_day()) % 7;
            date.set_date(date.get_date() + if ahead == 0 { 7 } else { ahead });
            date.set_hours(9);
            0.0
        }
    };
    if when != SnoozeFor::Hour {
        date.set_minutes(0);
        date.set_seconds(0);
        date.set_milliseconds(0);
    }
    date.to_iso_string().into()
}
