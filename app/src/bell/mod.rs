//! `NotificationBell`: a bell with an unread badge and a dropdown of the user's notifications,
//! kept live over Server-Sent Events. Rendered on the server with the first page of the list
//! (no empty flash before hydration), then taken over in the browser; or mounted client-side
//! into any page by the embed script.

pub mod client;
pub mod inbox;
#[cfg(feature = "browser")]
mod live;
pub mod logic;
#[cfg(feature = "browser")]
mod ring;
#[cfg(feature = "browser")]
mod shared;
pub mod strings;
pub mod tabs;

use leptos::html;
use leptos::prelude::*;

pub use client::{BellClient, BellSnapshot, PAGE};
use logic::{badge_text, newest_first, safe_link};
pub use strings::Strings;
pub use tabs::{parse_tabs, Tab};

use crate::protocol::{Counts, Status};
use crate::Notification;
use inbox::ItemAction;

/// Which count the badge shows: the unseen notifications (the default, as Knock's badge does:
/// opening the bell clears it) or the unread ones (`badge="unread"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Badge {
    #[default]
    Unseen,
    Unread,
}

impl Badge {
    /// `"unread"` or `"unseen"`; anything else is the default.
    pub fn parse(text: Option<&str>) -> Self {
        match text.map(str::trim) {
            Some("unread") => Badge::Unread,
            _ => Badge::Unseen,
        }
    }

    fn count(self, counts: Counts) -> u64 {
        match self {
            Badge::Unseen => counts.unseen_count,
            Badge::Unread => counts.unread_count,
        }
    }
}

/// What ringing the page offers (`ring="sound desktop"`): a short sound, a desktop notification
/// when no tab of the user is visible. Each is off until the user turns it on in the bell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ringing {
    pub sound: bool,
    pub desktop: bool,
}

impl Ringing {
    /// The words of `text` (`sound`, `desktop`, space- or comma-separated); others are ignored.
    pub fn parse(text: Option<&str>) -> Self {
        let words: Vec<&str> = text
            .unwrap_or_default()
            .split([' ', ','])
            .map(str::trim)
            .collect();
        Self {
            sound: words.contains(&"sound"),
            desktop: words.contains(&"desktop"),
        }
    }

    pub fn any(self) -> bool {
        self.sound || self.desktop
    }
}

/// Whether the live connection is up; shown as a small "reconnecting" note when not.
// (Set only in the browser: the server renders the initial state.)
#[cfg_attr(not(feature = "browser"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LiveState {
    Connecting,
    Live,
    Reconnecting,
}

/// What the bell tells the page it lives in; the embed turns each into a DOM event
/// (`belfry:notification`, `belfry:unread-count`, `belfry:error`).
// (One event at a time, handed to the page and dropped: its size does not add up.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum BellEvent {
    /// A notification arrived live.
    Notification(Notification),
    /// The unread count is now this (also the first count, once known).
    UnreadCount(u64),
    /// Something failed that the bell shows the user (the message shown).
    Error(String),
    /// The user clicked a named action: the page does it, then calls `done` to have the bell
    /// record it completed (and show it done in every tab).
    Action {
        notification: Notification,
        action: crate::notification::Action,
        done: Callback<()>,
    },
}

/// The bell's state, shared by its parts.
#[cfg_attr(not(feature = "browser"), allow(dead_code))]
#[derive(Clone, Copy)]
struct Bell {
    client: BellClient,
    /// The list shown: the inbox's or the archive's (`view`).
    items: RwSignal<Vec<Notification>>,
    view: RwSignal<Status>,
    /// The tab shown: a category, or `None` for all.
    tab: RwSignal<Option<String>>,
    tabs: StoredValue<Vec<Tab>>,
    counts: RwSignal<Counts>,
    /// Each tab's counts, by category.
    tab_counts: RwSignal<std::collections::BTreeMap<String, Counts>>,
    badge: Badge,
    open: RwSignal<bool>,
    /// What the last action did, for screen readers (a polite live region).
    announced: RwSignal<String>,
    /// What ringing the page offers, and what the user turned on (read from the browser's
    /// storage after hydration).
    ringing: Ringing,
    sound_on: RwSignal<bool>,
    desktop_on: RwSignal<bool>,
    more: RwSignal<bool>,
    loading: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    live_state: RwSignal<LiveState>,
    now: RwSignal<i64>,
    /// Set once the bell runs in the browser (after hydration): dates are then the viewer's,
    /// where the server, not knowing the viewer's zone, rendered UTC's.
    in_browser: RwSignal<bool>,
    /// Bumped by every request for the counts, so only the newest answer is applied.
    count_request: StoredValue<u64>,
    /// The last id of the last page the server sent: where "load more" goes on from (the list
    /// is shown by time, which need not be the server's order of pages).
    cursor: StoredValue<Option<String>>,
    /// How many notifications the pages loaded: live pushes push the oldest out past it (at
    /// least a page), so a bell left open does not grow for ever.
    loaded: StoredValue<usize>,
    strings: StoredValue<Strings>,
    /// Where the bell's events go (the embed's element), if anywhere.
    events: Option<Callback<BellEvent>>,
}

#[component]
pub fn NotificationBell(
    client: BellClient,
    /// The first page, when the server rendered it; `None` makes the bell load it itself.
    #[prop(optional)]
    initial: Option<BellSnapshot>,
    /// The server's clock at render time, so relative times match before hydration.
    #[prop(optional)]
    now_millis: Option<i64>,
    /// The words shown, and the locale of relative times; English by default.
    #[prop(optional)]
    strings: Option<Strings>,
    /// Receives what the bell tells its page (see [`BellEvent`]).
    #[prop(optional)]
    on_event: Option<Callback<BellEvent>>,
    /// Which count the badge shows; unseen by default.
    #[prop(optional)]
    badge: Badge,
    /// Tabs by category, beside "All", in this order; none by default.
    #[prop(optional)]
    tabs: Vec<Tab>,
    /// The ringing offered (each also to be turned on by the user); none by default.
    #[prop(optional)]
    ring: Ringing,
) -> impl IntoView {
    client
        .categories
        .set_value(tabs.iter().map(|t| t.key.clone()).collect());
    let loaded = initial.is_some();
    let mut initial = initial.unwrap_or_default();
    // The cursor is the server's last; what is shown is by time (as pages merge later).
    let cursor = initial.notifications.last().map(|n| n.id.clone());
    newest_first(&mut initial.notifications);
    let bell = Bell {
        client,
        more: RwSignal::new(initial.notifications.len() >= PAGE),
        cursor: StoredValue::new(cursor),
        loaded: StoredValue::new(initial.notifications.len()),
        items: RwSignal::new(initial.notifications),
        view: RwSignal::new(Status::Inbox),
        tab: RwSignal::new(None),
        tabs: StoredValue::new(tabs),
        counts: RwSignal::new(initial.counts),
        tab_counts: RwSignal::new(Default::default()),
        badge,
        open: RwSignal::new(false),
        announced: RwSignal::new(String::new()),
        ringing: ring,
        sound_on: RwSignal::new(false),
        desktop_on: RwSignal::new(false),
        loading: RwSignal::new(!loaded),
        error: RwSignal::new(None),
        live_state: RwSignal::new(LiveState::Connecting),
        now: RwSignal::new(now_millis.unwrap_or_default()),
        in_browser: RwSignal::new(false),
        count_request: StoredValue::new(0),
        strings: StoredValue::new(strings.unwrap_or_default()),
        events: on_event,
    };
    let text = move |pick: fn(&Strings) -> &String| bell.strings.with_value(|s| pick(s).clone());
    let open = bell.open;
    let button: NodeRef<html::Button> = NodeRef::new();
    let menu: NodeRef<html::Ul> = NodeRef::new();

    #[cfg(feature = "browser")]
    browser::start(bell, loaded);

    let close = move || {
        open.set(false);
        if let Some(button) = button.get() {
            let _ = button.focus();
        }
    };
    let on_keydown = move |event: leptos::ev::KeyboardEvent| match event.key().as_str() {
        "Escape" => {
            event.prevent_default();
            close();
        }
        "ArrowDown" | "ArrowUp" => {
            event.prevent_default();
            move_focus(menu, event.key() == "ArrowDown");
        }
        _ => {}
    };

    let badge = move || bell.badge.count(bell.counts.get());
    let inbox = move || bell.view.get() == Status::Inbox;
    let view_button = move |status: Status, label: fn(&Strings) -> &String| {
        view! {
            <button
                class="belfry-bell__view"
                part="view"
                aria-pressed=move || (bell.view.get() == status).to_string()
                on:click=move |_| bell.show(status)
            >{text(label)}</button>
        }
    };
    view! {
        <div class="belfry-bell" on:keydown=on_keydown>
            <button
                class="belfry-bell__button"
                part="button"
                node_ref=button
                aria-haspopup="true"
                aria-expanded=move || open.get().to_string()
                aria-label=move || {
                    let counts = bell.counts.get();
                    let new = (bell.badge == Badge::Unseen).then_some(counts.unseen_count);
                    bell.strings.with_value(|s| s.bell_label_with_new(counts.unread_count, new))
                }
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <BellIcon/>
                {move || badge_text(badge()).map(|text| view! {
                    <span class="belfry-bell__badge" part="badge" aria-hidden="true">{text}</span>
                })}
            </button>
            <div class="belfry-bell__panel" part="panel" hidden=move || !open.get()>
                <div class="belfry-bell__head">
                    <span class="belfry-bell__title" part="title">{text(|s| &s.title)}</span>
                    {move || (bell.live_state.get() == LiveState::Reconnecting).then(|| view! {
                        <span class="belfry-bell__status" part="status" role="status">{text(|s| &s.reconnecting)}</span>
                    })}
                    <button class="belfry-bell__action" part="action" on:click=move |_| bell.refresh()>
                        {text(|s| &s.refresh)}
                    </button>
                    <Show when=inbox>
                        <button
                            class="belfry-bell__action"
                            part="action"
                            disabled=move || bell.counts.get().unread_count == 0
                            on:click=move |_| bell.mark_all_read()
                        >{text(|s| &s.mark_all_read)}</button>
                        <button
                            class="belfry-bell__action"
                            part="action"
                            on:click=move |_| bell.archive_read()
                        >{text(|s| &s.archive_read)}</button>
                    </Show>
                </div>
                <div class="belfry-bell__views" part="views" role="group" aria-label=text(|s| &s.title)>
                    {view_button(Status::Inbox, |s| &s.inbox)}
                    {view_button(Status::Archived, |s| &s.archived)}
                </div>
                {(!bell.tabs.with_value(Vec::is_empty)).then(|| view! { <Tabs bell/> })}
                {bell.ringing.any().then(|| view! { <RingChoice bell/> })}
                <p class="belfry-bell__announce" role="status" aria-live="polite">{move || bell.announced.get()}</p>
                <Show when=move || bell.error.get().is_some()>
                    <p class="belfry-bell__error" part="error" role="alert">
                        {move || bell.error.get().unwrap_or_default()}
                        " "
                        <button class="belfry-bell__action" part="action" on:click=move |_| bell.refresh()>
                            {text(|s| &s.retry)}
                        </button>
                    </p>
                </Show>
                <Show when=move || bell.loading.get() && bell.items.with(Vec::is_empty)>
                    <p class="belfry-bell__empty" part="empty">{text(|s| &s.loading)}</p>
                </Show>
                <Show when=move || !bell.loading.get() && bell.error.get().is_none() && bell.items.with(Vec::is_empty)>
                    <p class="belfry-bell__empty" part="empty">
                        {move || if inbox() { text(|s| &s.empty) } else { text(|s| &s.empty_archived) }}
                    </p>
                </Show>
                <ul class="belfry-bell__list" part="list" aria-label=move || if inbox() { text(|s| &s.inbox) } else { text(|s| &s.archived) } node_ref=menu>
                    <For
                        each=move || inbox::group_rows(&bell.items.get())
                        key=|(n, more)| (n.id.clone(), n.read_at.is_some(), n.archived_at.is_some(), n.completed_at.is_some(), more.len())
                        let:row
                    >
                        <Item bell item=row.0 more=row.1/>
                    </For>
                </ul>
                <Show when=move || bell.more.get()>
                    <button class="belfry-bell__more" part="more" on:click=move |_| bell.load_more()>
                        {text(|s| &s.load_more)}
                    </button>
                </Show>
            </div>
        </div>
    }
}

/// A notification, or a group's newest with the others behind a "+N more" toggle; its actions
/// apply to the whole group (the server changes a group together).
#[component]
fn Item(bell: Bell, item: Notification, more: Vec<Notification>) -> impl IntoView {
    let unread = item.read_at.is_none();
    let archived = item.archived_at.is_some();
    let id = item.id.clone();
    let link = safe_link(item.link.as_deref());
    let href = link.clone().unwrap_or_else(|| "#".to_owned());
    let created_at = item.created_at.clone();
    let on_click = {
        let id = id.clone();
        move |event: leptos::ev::MouseEvent| {
            event.prevent_default();
            bell.open_item(id.clone(), link.clone());
        }
    };
    let text = move |pick: fn(&Strings) -> &String| bell.strings.with_value(|s| pick(s).clone());
    let snoozing = RwSignal::new(false);
    let action = move |label: fn(&Strings) -> &String, action: ItemAction| {
        let id = id.clone();
        view! {
            <button
                class="belfry-bell__item-action"
                part="item-action"
                on:click=move |_| bell.act(id.clone(), action.clone(), label)
            >{text(label)}</button>
        }
    };
    let snoozed_id = item.id.clone();
    let snooze_to = move |label: fn(&Strings) -> &String, when: SnoozeFor| {
        let id = snoozed_id.clone();
        view! {
            <button
                class="belfry-bell__item-action"
                part="item-action"
                on:click=move |_| {
                    snoozing.set(false);
                    bell.act(id.clone(), ItemAction::Snooze(snooze_until(when)), |s| &s.snooze);
                }
            >{text(label)}</button>
        }
    };
    let actions_label = format!("{} {}", text(|s| &s.actions_for), item.message);
    let buttons = match &item.completed_at {
        Some(_) => view! {
            <p class="belfry-bell__done" part="done">{"✓ "}{text(|s| &s.done)}</p>
        }
        .into_any(),
        None if item.actions.is_empty() => ().into_any(),
        None => {
            let own = item.clone();
            let buttons = item
                .actions
                .iter()
                .enumerate()
                .map(|(at, act)| {
                    let (notification, act) = (own.clone(), act.clone());
                    let label = act.label.clone();
                    view! {
                        <button
                            class="belfry-bell__button-action"
                            class:belfry-bell__button-action--primary=at == 0
                            part="notification-action"
                            on:click=move |_| bell.take_action(notification.clone(), act.clone())
                        >{label}</button>
                    }
                })
                .collect::<Vec<_>>();
            view! { <div class="belfry-bell__actions" part="notification-actions">{buttons}</div> }
                .into_any()
        }
    };
    view! {
        <li class="belfry-bell__item" class:belfry-bell__item--unread=unread>
            <a class="belfry-bell__link" part="item" href=href on:click=on_click>
                {unread.then(|| view! {
                    <span
                        class="belfry-bell__dot"
                        part="dot"
                        aria-label=bell.strings.with_value(|s| s.unread.clone())
                    ></span>
                })}
                // Text, never HTML: a message is shown exactly as written.
                {item.actor.clone().map(|actor| view! { <Avatar actor/> })}
                <span class="belfry-bell__message" part="message">{item.message.clone()}</span>
                <time class="belfry-bell__time" part="time" datetime=item.created_at.clone()>
                    {move || bell.time_since(&created_at, bell.now.get())}
                </time>
            </a>
            {(!more.is_empty()).then(|| view! { <More bell more/> })}
            {buttons}
            <div class="belfry-bell__item-actions" part="item-actions" role="group" aria-label=actions_label>
                {if unread {
                    action(|s| &s.mark_read, ItemAction::Read)
                } else {
                    action(|s| &s.mark_unread, ItemAction::Unread)
                }}
                {if archived {
                    action(|s| &s.unarchive, ItemAction::Unarchive)
                } else {
                    action(|s| &s.archive, ItemAction::Archive)
                }}
                {(!archived).then(|| view! {
                    <button
                        class="belfry-bell__item-action"
                        part="item-action"
                        aria-expanded=move || snoozing.get().to_string()
                        on:click=move |_| snoozing.update(|s| *s = !*s)
                    >{text(|s| &s.snooze)}</button>
                })}
                {action(|s| &s.delete, ItemAction::Delete)}
            </div>
            <Show when=move || snoozing.get()>
                <div class="belfry-bell__snooze" part="snooze" role="group" aria-label=text(|s| &s.snooze)>
                    {snooze_to(|s| &s.snooze_hour, SnoozeFor::Hour)}
                    {snooze_to(|s| &s.snooze_tomorrow, SnoozeFor::Tomorrow)}
                    {snooze_to(|s| &s.snooze_next_week, SnoozeFor::NextWeek)}
                </div>
            </Show>
        </li>
    }
}

/// "All" and a tab per category, each with its unread count; the one shown is pressed.
#[component]
fn Tabs(bell: Bell) -> impl IntoView {
    let text = move |pick: fn(&Strings) -> &String| bell.strings.with_value(|s| pick(s).clone());
    let tab = move |key: Option<String>, label: String| {
        let pressed = key.clone();
        let count_of = key.clone();
        let count = move || match &count_of {
            None => bell.counts.get().unread_count,
            Some(key) => bell
                .tab_counts
                .with(|c| c.get(key).map_or(0, |c| c.unread_count)),
        };
        view! {
            <button
                class="belfry-bell__tab"
                part="tab"
                aria-pressed=move || (bell.tab.get() == pressed).to_string()
                on:click=move |_| bell.show_tab(key.clone())
            >
                {label}
                {move || (count() > 0).then(|| view! {
                    " " <span class="belfry-bell__tab-count" part="tab-count">{count()}</span>
                })}
            </button>
        }
    };
    let tabs = bell.tabs.get_value();
    view! {
        <div class="belfry-bell__tabs" part="tabs" role="group" aria-label=text(|s| &s.categories)>
            {tab(None, text(|s| &s.all))}
            {tabs.into_iter().map(|t| tab(Some(t.key), t.label)).collect::<Vec<_>>()}
        </div>
    }
}

/// The user's switches for the ringing the page offers.
#[component]
fn RingChoice(bell: Bell) -> impl IntoView {
    let text = move |pick: fn(&Strings) -> &String| bell.strings.with_value(|s| pick(s).clone());
    let switch = move |on: RwSignal<bool>, label: fn(&Strings) -> &String, desktop: bool| {
        view! {
            <label class="belfry-bell__switch" part="switch">
                <input
                    type="checkbox"
                    prop:checked=move || on.get()
                    on:change=move |event| {
                        on.set(event_target_checked(&event));
                        bell.save_ring(desktop);
                    }
                />
                " " {text(label)}
            </label>
        }
    };
    view! {
        <div class="belfry-bell__ring" part="ring">
            {bell.ringing.sound.then(|| switch(bell.sound_on, |s| &s.sound, false))}
            {bell.ringing.desktop.then(|| switch(bell.desktop_on, |s| &s.desktop, true))}
        </div>
    }
}

/// Who a notification is from: the avatar, or the name's initials without one.
#[component]
fn Avatar(actor: crate::notification::Actor) -> impl IntoView {
    match tabs::safe_avatar(actor.avatar.as_deref()) {
        Some(src) => view! {
            <img class="belfry-bell__avatar" part="avatar" src=src alt=actor.name width="28" height="28" loading="lazy"/>
        }
        .into_any(),
        None => view! {
            <span class="belfry-bell__avatar belfry-bell__avatar--initials" part="avatar" role="img" aria-label=actor.name.clone()>
                {tabs::initials(&actor.name)}
            </span>
        }
        .into_any(),
    }
}

/// The rest of a group, shown on demand: "+2 more", then their messages.
#[component]
fn More(bell: Bell, more: Vec<Notification>) -> impl IntoView {
    let open = RwSignal::new(false);
    let label = bell
        .strings
        .with_value(|s| s.more.replace("{n}", &more.len().to_string()));
    view! {
        <button
            class="belfry-bell__group"
            part="group"
            aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|o| *o = !*o)
        >{label}</button>
        <ul class="belfry-bell__group-items" part="group-items" hidden=move || !open.get()>
                {more
                    .iter()
                    .map(|n| {
                        let created_at = n.created_at.clone();
                        view! {
                            <li>
                                <span class="belfry-bell__message">{n.message.clone()}</span>
                                " "
                                <time class="belfry-bell__time" datetime=n.created_at.clone()>
                                    {move || bell.time_since(&created_at, bell.now.get())}
                                </time>
                            </li>
                        }
                    })
                    .collect::<Vec<_>>()}
        </ul>
    }
}

/// The snooze menu's choices, in the browser's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnoozeFor {
    /// An hour from now.
    Hour,
    /// Tomorrow at 9:00.
    Tomorrow,
    /// Next Monday at 9:00.
    NextWeek,
}

#[cfg(not(feature = "browser"))]
fn snooze_until(_when: SnoozeFor) -> String {
    String::new()
}

#[cfg(feature = "browser")]
use browser::snooze_until;

/// Moves keyboard focus to the next or previous item of the open list.
#[cfg(not(feature = "browser"))]
fn move_focus(_menu: NodeRef<html::Ul>, _forward: bool) {}

/// Moves keyboard focus to the next or previous item of the open list.
#[cfg(feature = "browser")]
fn move_focus(menu: NodeRef<html::Ul>, forward: bool) {
    use leptos::wasm_bindgen::JsCast;
    let Some(menu) = menu.get() else { return };
    let Ok(items) = menu.query_selector_all(".belfry-bell__link") else {
        return;
    };
    let count = items.length();
    if count == 0 {
        return;
    }
    // Inside the embed's shadow root the document sees only the host element as focused.
    let active = menu
        .get_root_node()
        .dyn_into::<web_sys::ShadowRoot>()
        .ok()
        .and_then(|root| root.active_element())
        .or_else(|| document().active_element());
    let current = (0..count).find(|&i| {
        items
            .item(i)
            .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
            == active
    });
    let next = match (current, forward) {
        (None, true) => 0,
        (None, false) => count - 1,
        (Some(i), true) => (i + 1) % count,
        (Some(i), false) => (i + count - 1) % count,
    };
    if let Some(element) = items
        .item(next)
        .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = element.focus();
    }
}

#[component]
fn BellIcon() -> impl IntoView {
    view! {
        <svg class="belfry-bell__icon" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">
            <path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"/>
        </svg>
    }
}

impl Bell {
    /// How long ago `created_at` was: in the bell's locale where one is set (the browser's
    /// `Intl.RelativeTimeFormat`), else in the bell's own English, the same on server and browser.
    fn time_since(&self, created_at: &str, now_millis: i64) -> String {
        #[cfg(feature = "browser")]
        if let Some(locale) = self.strings.with_value(|s| s.locale.clone()) {
            if let Some(text) = browser::relative_time_in(&locale, created_at, now_millis) {
                return text;
            }
        }
        #[cfg(feature = "browser")]
        if self.in_browser.get() {
            if let Some(date) = browser::local_date_if_long(created_at, now_millis) {
                return date;
            }
        }
        logic::relative_time(created_at, now_millis)
    }
}

#[cfg(not(feature = "browser"))]
impl Bell {
    // On the server the bell is only rendered; nothing is ever clicked there.
    fn refresh(&self) {}
    fn load_more(&self) {}
    fn mark_all_read(&self) {}
    fn archive_read(&self) {}
    fn show(&self, _view: Status) {}
    fn show_tab(&self, _tab: Option<String>) {}
    fn save_ring(&self, _desktop: bool) {}
    fn take_action(&self, _notification: Notification, _action: crate::notification::Action) {}
    fn act(&self, _id: String, _action: ItemAction, _done: fn(&Strings) -> &String) {}
    fn open_item(&self, _id: String, _link: Option<String>) {}
}

#[cfg(feature = "browser")]
mod browser;
