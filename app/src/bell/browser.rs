//! What the bell does in the browser only: refresh, load more, mark read, mark all read, and the
//! live connection's events applied to the bell's state. The server renders the bell and never
//! runs any of this (`mod.rs` gives it empty stand-ins).

use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;

use super::live::LiveEvent;
use super::logic::{mark_all_read, mark_read, merge};
use super::shared;
use super::{Bell, Link, PAGE};

fn now_millis() -> i64 {
    js_sys::Date::now() as i64
}

fn now_rfc3339() -> String {
    js_sys::Date::new_0().to_iso_string().into()
}

/// Starts what only a browser does: the clock for relative times, the first load if the
/// server did not render one, and the live connection; all stopped on unmount.
pub(super) fn start(bell: Bell, loaded: bool) {
    bell.now.set(now_millis());
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
    let live = shared::start(bell.client, newest, move |event| bell.on_live(event));
    let live = SendWrapper::new(live);
    on_cleanup(move || {
        live.stop();
        if let Some(tick) = tick {
            tick.clear();
        }
    });
}

impl Bell {
    fn on_live(self, event: LiveEvent) {
        match event {
            LiveEvent::New(notification) => {
                let added = self
                    .items
                    .try_update(|items| merge(items, vec![notification]))
                    .unwrap_or(0);
                // At once for the eye, then from the server: a push that crosses a count
                // fetched a moment earlier would otherwise be counted twice.
                self.unread.update(|n| *n += added);
                self.sync_count();
            }
            LiveEvent::Read {
                ids,
                all,
                unread_count,
            } => {
                let at = now_rfc3339();
                self.items.update(|items| {
                    if all {
                        mark_all_read(items, &at)
                    } else {
                        mark_read(items, &ids, &at)
                    }
                });
                self.unread.set(unread_count);
            }
            LiveEvent::Removed { ids, unread_count } => {
                self.items
                    .update(|items| items.retain(|n| !ids.contains(&n.id)));
                self.unread.set(unread_count);
            }
            LiveEvent::Resync => self.refresh(),
            LiveEvent::Connected { resumed } => {
                self.link.set(Link::Live);
                // Opened with nothing to resume from (the embed, an empty server-rendered list,
                // a stream that had no event yet): the server subscribed the stream before it
                // answered, so a list fetched now holds everything the stream will not push.
                if !resumed {
                    self.refresh();
                }
            }
            LiveEvent::Reconnecting => self.link.set(Link::Reconnecting),
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
                    }
                    bell.items.update(|items| {
                        merge(items, page);
                    });
                    if bell.count_request.get_value() == request {
                        bell.unread.set(unread);
                    }
                    bell.error.set(None);
                }
                Err(err) => bell
                    .error
                    .set(Some(format!("Could not load notifications ({err})."))),
            }
            bell.loading.set(false);
        });
    }

    pub(super) fn load_more(&self) {
        let bell = *self;
        let Some(oldest) = bell
            .items
            .with_untracked(|items| items.last().map(|n| n.id.clone()))
        else {
            return;
        };
        spawn_local(async move {
            match bell.client.list(Some(&oldest)).await {
                Ok(page) => {
                    bell.more.set(page.len() >= PAGE);
                    bell.items.update(|items| {
                        merge(items, page);
                    });
                }
                Err(err) => bell
                    .error
                    .set(Some(format!("Could not load more ({err})."))),
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
                Err(err) => bell
                    .error
                    .set(Some(format!("Could not mark all read ({err})."))),
            }
        });
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
