//! Every word the bell shows, so a page in another language can give its own; and the locale
//! its relative times are written in.
//!
//! The server-rendered app uses the English defaults and the bell's own English relative times
//! ("5 min ago"), identical on the server and in the browser so hydration matches. The embed
//! takes overrides from its `strings` attribute (JSON) and a locale from its `lang` attribute or
//! the page's `<html lang>`; with a locale, relative times come from the browser's
//! `Intl.RelativeTimeFormat` ("il y a 5 minutes").

/// The bell's words. `{n}` in `label_many` is the unread count, in `label_new` the unseen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strings {
    /// The panel's heading and the list's accessible name.
    pub title: String,
    /// The bell button's accessible name with nothing unread, one, and `{n}`.
    pub label_none: String,
    pub label_one: String,
    pub label_many: String,
    /// Added to the name when the badge shows a count of new (unseen) notifications other than
    /// the unread count: `{n}` is that count.
    pub label_new: String,
    pub refresh: String,
    pub mark_all_read: String,
    pub retry: String,
    pub loading: String,
    pub empty: String,
    pub load_more: String,
    pub reconnecting: String,
    /// The accessible name of an item's unread dot.
    pub unread: String,
    /// What failed, before the cause in brackets.
    pub error_load: String,
    pub error_more: String,
    pub error_mark_all: String,
    /// A group's toggle: `{n}` is how many more it holds.
    pub more: String,
    /// What an item whose action the page confirmed shows.
    pub done: String,
    /// The ringing switches, and why desktop notifications could not be turned on.
    pub sound: String,
    pub desktop: String,
    pub error_permission: String,
    /// The tabs' group, and the tab of every category.
    pub categories: String,
    pub all: String,
    /// The two views, and the inbox's "archive the read ones".
    pub inbox: String,
    pub archived: String,
    pub archive_read: String,
    pub empty_archived: String,
    /// An item's actions (buttons), each also what is announced once done.
    pub mark_read: String,
    pub mark_unread: String,
    pub archive: String,
    pub unarchive: String,
    pub snooze: String,
    pub snooze_hour: String,
    pub snooze_tomorrow: String,
    pub snooze_next_week: String,
    pub delete: String,
    /// The accessible name of an item's actions, before its message.
    pub actions_for: String,
    /// An action the server refused (undone), before the cause in brackets.
    pub error_action: String,
    /// The locale for relative times (`Intl.RelativeTimeFormat`); `None`: the bell's English.
    pub locale: Option<String>,
}

impl Default for Strings {
    fn default() -> Self {
        Self {
            title: "Notifications".into(),
            label_none: "Notifications, none unread".into(),
            label_one: "Notifications, 1 unread".into(),
            label_many: "Notifications, {n} unread".into(),
            label_new: ", {n} new".into(),
            refresh: "Refresh".into(),
            mark_all_read: "Mark all read".into(),
            retry: "Retry".into(),
            loading: "Loading…".into(),
            empty: "No new notifications".into(),
            load_more: "Load more".into(),
            reconnecting: "reconnecting…".into(),
            unread: "unread".into(),
            error_load: "Could not load notifications".into(),
            error_more: "Could not load more".into(),
            error_mark_all: "Could not mark all read".into(),
            more: "+{n} more".into(),
            done: "Done".into(),
            sound: "Sound".into(),
            desktop: "Desktop notifications".into(),
            error_permission: "The browser does not allow desktop notifications".into(),
            categories: "Categories".into(),
            all: "All".into(),
            inbox: "Inbox".into(),
            archived: "Archived".into(),
            archive_read: "Archive read".into(),
            empty_archived: "Nothing archived".into(),
            mark_read: "Mark read".into(),
            mark_unread: "Mark unread".into(),
            archive: "Archive".into(),
            unarchive: "Move to inbox".into(),
            snooze: "Snooze".into(),
            snooze_hour: "For 1 hour".into(),
            snooze_tomorrow: "Until tomorrow 9:00".into(),
            snooze_next_week: "Until next week".into(),
            delete: "Delete".into(),
            actions_for: "Actions for".into(),
            error_action: "Could not change the notification; it is as it was".into(),
            locale: None,
        }
    }
}

impl Strings {
    /// The defaults with the words `json` gives replaced, by their camelCase keys (`labelNone`);
    /// unknown keys and values that are not text are ignored, so a page written for a later
    /// version still works; the defaults if `json` is not an object. (Read by hand: a serde
    /// derive of forty fields cost the embed's bundle several KiB.)
    pub fn with_overrides(json: Option<&str>, locale: Option<String>) -> Self {
        let mut strings = Self::default();
        let given = json.and_then(|json| {
            crate::json::from_str::<serde_json::Map<String, serde_json::Value>>(json).ok()
        });
        for (key, value) in given.unwrap_or_default() {
            if let (Some(word), Some(text)) = (strings.word(&key), value.as_str()) {
                *word = text.to_owned();
            }
        }
        Self { locale, ..strings }
    }

    /// The word whose key is `key` (camelCase, as pages give them).
    fn word(&mut self, key: &str) -> Option<&mut String> {
        Some(match key {
            "title" => &mut self.title,
            "labelNone" => &mut self.label_none,
            "labelOne" => &mut self.label_one,
            "labelMany" => &mut self.label_many,
            "labelNew" => &mut self.label_new,
            "refresh" => &mut self.refresh,
            "markAllRead" => &mut self.mark_all_read,
            "retry" => &mut self.retry,
            "loading" => &mut self.loading,
            "empty" => &mut self.empty,
            "loadMore" => &mut self.load_more,
            "reconnecting" => &mut self.reconnecting,
            "unread" => &mut self.unread,
            "errorLoad" => &mut self.error_load,
            "errorMore" => &mut self.error_more,
            "errorMarkAll" => &mut self.error_mark_all,
            "more" => &mut self.more,
            "done" => &mut self.done,
            "sound" => &mut self.sound,
            "desktop" => &mut self.desktop,
            "errorPermission" => &mut self.error_permission,
            "categories" => &mut self.categories,
            "all" => &mut self.all,
            "inbox" => &mut self.inbox,
            "archived" => &mut self.archived,
            "archiveRead" => &mut self.archive_read,
            "emptyArchived" => &mut self.empty_archived,
            "markRead" => &mut self.mark_read,
            "markUnread" => &mut self.mark_unread,
            "archive" => &mut self.archive,
            "unarchive" => &mut self.unarchive,
            "snooze" => &mut self.snooze,
            "snoozeHour" => &mut self.snooze_hour,
            "snoozeTomorrow" => &mut self.snooze_tomorrow,
            "snoozeNextWeek" => &mut self.snooze_next_week,
            "delete" => &mut self.delete,
            "actionsFor" => &mut self.actions_for,
            "errorAction" => &mut self.error_action,
            _ => return None,
        })
    }

    /// The bell button's accessible name, which states the unread count.
    pub fn bell_label(&self, unread: u64) -> String {
        match unread {
            0 => self.label_none.clone(),
            1 => self.label_one.clone(),
            n => self.label_many.replace("{n}", &n.to_string()),
        }
    }

    /// The name with the badge's count of new ones, `new`, where it shows one and it is not
    /// the unread count already named: the name always holds the number the badge shows.
    pub fn bell_label_with_new(&self, unread: u64, new: Option<u64>) -> String {
        let mut label = self.bell_label(unread);
        if let Some(new) = new.filter(|&n| n > 0 && n != unread) {
            label.push_str(&self.label_new.replace("{n}", &new.to_string()));
        }
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_name() {
        let strings = Strings::with_overrides(
            Some(r#"{"title": "Avis", "labelMany": "Avis, {n} non lus", "later": 1}"#),
            Some("fr".into()),
        );
        assert_eq!(strings.title, "Avis");
        assert_eq!(strings.bell_label(3), "Avis, 3 non lus");
        assert_eq!(strings.refresh, "Refresh");
        assert_eq!(strings.locale.as_deref(), Some("fr"));
        assert_eq!(
            Strings::with_overrides(Some("not json"), None),
            Strings::default()
        );
        let odd = Strings::with_overrides(Some(r#"{"title": "Avis", "refresh": 7}"#), None);
        assert_eq!(
            (odd.title.as_str(), odd.refresh.as_str()),
            ("Avis", "Refresh")
        );
        assert_eq!(
            Strings::default().bell_label(0),
            "Notifications, none unread"
        );
        let strings = Strings::default();
        assert_eq!(
            strings.bell_label_with_new(3, Some(1)),
            "Notifications, 3 unread, 1 new"
        );
        assert_eq!(
            strings.bell_label_with_new(3, Some(3)),
            "Notifications, 3 unread"
        );
        assert_eq!(
            strings.bell_label_with_new(3, Some(0)),
            "Notifications, 3 unread"
        );
        assert_eq!(
            strings.bell_label_with_new(3, None),
            "Notifications, 3 unread"
        );
    }
}
