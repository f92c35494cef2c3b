//! The bell's pure logic, the same on the server and in the browser, tested without either.

use std::time::Duration;

use crate::Notification;

/// The badge's text: nothing at zero, the count up to 99, then "99+".
pub fn badge_text(unread: u64) -> Option<String> {
    match unread {
        0 => None,
        1..=99 => Some(unread.to_string()),
        _ => Some("99+".to_owned()),
    }
}

/// The link to follow, if it is one the contract allows: a path starting with a single `/`, or
/// an http(s) URL. The server validates what it is sent, but other programs write to MongoDB
/// directly, so the bell checks again before it puts a link in an `href`.
pub fn safe_link(link: Option<&str>) -> Option<String> {
    let link = link?.trim();
    let lower = link.to_ascii_lowercase();
    let is_path = link.starts_with('/') && !link.starts_with("//") && !link.starts_with("/\\");
    let is_web = ["https://", "http://"].iter().any(|scheme| {
        lower
            .strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
    });
    let clean = !link.chars().any(|c| c.is_control() || c.is_whitespace());
    ((is_path || is_web) && clean).then(|| link.to_owned())
}

/// Merges a page of the list into `list`: one entry per `_id` (the incoming copy wins, so read
/// state is current), newest first by when it [`arrived`] (the API's RFC 3339 UTC text, which
/// sorts as time; ids do not: Laravel's are random UUIDs), a page's own order kept among equal
/// times.
/// Returns how many unread notifications were new to the list (for the badge).
pub fn merge(list: &mut Vec<Notification>, incoming: Vec<Notification>) -> u64 {
    let mut added_unread = 0;
    for item in incoming {
        match list.iter_mut().find(|n| n.id == item.id) {
            Some(existing) => *existing = item,
            None => {
                if item.read_at.is_none() {
                    added_unread += 1;
                }
                list.push(item);
            }
        }
    }
    // Stable: what is already in order (all but the page's new items, at the end) stays so.
    newest_first(list);
    added_unread
}

/// When a notification arrived in the inbox: its `created_at`, or when it came back from a
/// snooze (`woke_at`), whichever is later. The list is ordered by it.
pub fn arrived(n: &Notification) -> &str {
    match &n.woke_at {
        Some(woke_at) if *woke_at > n.created_at => woke_at,
        _ => &n.created_at,
    }
}

/// Orders `list` newest first by [`arrived`], keeping the given order among equal times.
pub fn newest_first(list: &mut [Notification]) {
    list.sort_by(|a, b| arrived(b).cmp(arrived(a)));
}

/// Adds a notification pushed live: in place if the list has it, else before the first one
/// that is not newer (a push is the latest commit: it goes ahead of one made in the same
/// millisecond). Returns 1 if it is new and unread (for the badge), else 0.
pub fn add_live(list: &mut Vec<Notification>, item: Notification) -> u64 {
    if let Some(existing) = list.iter_mut().find(|n| n.id == item.id) {
        *existing = item;
        return 0;
    }
    let unread = u64::from(item.read_at.is_none());
    let at = list
        .iter()
        .position(|n| arrived(n) <= arrived(&item))
        .unwrap_or(list.len());
    list.insert(at, item);
    unread
}

/// Keeps the newest `limit` notifications of `list` (which is newest first); the id of the
/// oldest one kept if any were dropped (where "load more" goes on from then).
pub fn keep_newest(list: &mut Vec<Notification>, limit: usize) -> Option<String> {
    if list.len() <= limit {
        return None;
    }
    list.truncate(limit);
    list.last().map(|n| n.id.clone())
}

/// Marks the listed ids read (keeping a read time already there).
pub fn mark_read(list: &mut [Notification], ids: &[String], at: &str) {
    for item in list.iter_mut().filter(|n| ids.contains(&n.id)) {
        item.read_at.get_or_insert_with(|| at.to_owned());
    }
}

pub fn mark_all_read(list: &mut [Notification], at: &str) {
    for item in list.iter_mut() {
        item.read_at.get_or_insert_with(|| at.to_owned());
    }
}

/// Milliseconds since the Unix epoch of an RFC 3339 UTC time as the API writes it
/// (`2026-11-28T07:00:00Z` or `2026-11-28T07:00:00.123Z`); `None` for anything else.
pub fn parse_utc_millis(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut ymd = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut parts = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (parts.next()??, parts.next()??, parts.next()??);
    let millis: i64 = format!("{fraction:0<3}").get(..3)?.parse().ok()?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// How long ago something was, in the unit a person would say it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elapsed {
    Now,
    Minutes(i64),
    Hours(i64),
    Days(i64),
    /// A month or more: say the date instead.
    Long,
}

/// How long before `now_millis` the API time `created_at` was; `None` if it is not one.
pub fn elapsed(created_at: &str, now_millis: i64) -> Option<Elapsed> {
    let created = parse_utc_millis(created_at)?;
    let seconds = (now_millis - created).max(0) / 1000;
    Some(match seconds {
        0..=44 => Elapsed::Now,
        45..=3_599 => Elapsed::Minutes((seconds + 30) / 60),
        3_600..=86_399 => Elapsed::Hours(seconds / 3_600),
        86_400..=2_591_999 => Elapsed::Days(seconds / 86_400),
        _ => Elapsed::Long,
    })
}

/// "just now", "5 min ago", "3 h ago", "yesterday", "2 days ago", then the date.
pub fn relative_time(created_at: &str, now_millis: i64) -> String {
    match elapsed(created_at, now_millis) {
        None => created_at.to_owned(),
        Some(Elapsed::Now) => "just now".to_owned(),
        Some(Elapsed::Minutes(n)) => format!("{n} min ago"),
        Some(Elapsed::Hours(n)) => format!("{n} h ago"),
        Some(Elapsed::Days(1)) => "yesterday".to_owned(),
        Some(Elapsed::Days(n)) => format!("{n} days ago"),
        Some(Elapsed::Long) => created_at.get(..10).unwrap_or(created_at).to_owned(),
    }
}

/// The wait before reconnect attempt `attempt` (0-based): 1 s, 2 s, 4 s … at most 30 s.
pub fn backoff(attempt: u32) -> Duration {
    const MAX: Duration = Duration::from_secs(30);
    Duration::from_secs(1u64 << attempt.min(5)).min(MAX)
}

/// `text` percent-encoded for a URL's path segment or query value: everything but RFC 3986's
/// unreserved characters. A notification's id is the host's own `_id`, which may hold `/`, `?`,
/// `#` or `+`.
pub fn encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The token in a token URL's answer: JSON `{"token": "…"}`, or the token as plain text (a JWT:
/// three non-empty base64url parts). Anything else (an HTML sign-in page, `{}`, an empty body)
/// is no token: `None`, never taken as one.
pub fn token_in(answer: &str) -> Option<String> {
    if let Ok(json) = crate::json::from_str::<serde_json::Value>(answer) {
        return json
            .get("token")?
            .as_str()
            .filter(|t| is_jwt(t))
            .map(str::to_owned);
    }
    let text = answer.trim();
    is_jwt(text).then(|| text.to_owned())
}

fn is_jwt(text: &str) -> bool {
    let base64url = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| base64url(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(id: &str, read: bool) -> Notification {
        Notification {
            id: id.to_owned(),
            user_id: "1".into(),
            message: format!("m{id}"),
            link: None,
            read_at: read.then(|| "2026-11-28T07:00:00.000Z".to_owned()),
            created_at: "2026-11-28T07:00:00.000Z".into(),
            kind: None,
            data: None,
            ..Notification::default()
        }
    }

    #[test]
    fn badge_caps_at_99() {
        assert_eq!(badge_text(0), None);
        assert_eq!(badge_text(7).as_deref(), Some("7"));
        assert_eq!(badge_text(99).as_deref(), Some("99"));
        assert_eq!(badge_text(100).as_deref(), Some("99+"));
    }

    fn at(id: &str, created_at: &str) -> Notification {
        Notification {
            created_at: created_at.into(),
            ..n(id, false)
        }
    }

    fn ids(list: &[Notification]) -> Vec<&str> {
        list.iter().map(|x| x.id.as_str()).collect()
    }

    #[test]
    fn one_back_from_a_snooze_is_listed_as_arrived_then() {
        let mut woke = at("old", "2026-11-01T07:00:00.000Z");
        woke.woke_at = Some("2026-11-29T07:00:00.000Z".into());
        let mut list = vec![at("new", "2026-11-28T07:00:00.000Z")];
        merge(&mut list, vec![woke]);
        assert_eq!(ids(&list), ["old", "new"]);
        add_live(&mut list, at("newer", "2026-11-28T08:00:00.000Z"));
        assert_eq!(ids(&list), ["old", "newer", "new"]);
    }

    #[test]
    fn merge_dedupes_by_id_and_keeps_newest_first() {
        let mut list = vec![n("b", false), n("a", false)];
        // A refresh racing a push: "c" arrives twice, "b" comes back read.
        assert_eq!(add_live(&mut list, n("c", false)), 1);
        assert_eq!(merge(&mut list, vec![n("c", false), n("b", true)]), 0);
        assert_eq!(ids(&list), ["c", "b", "a"]);
        assert!(list[1].read_at.is_some());
    }

    /// Ordered by time, not by id (UUIDs sort at random): pages keep the server's order among
    /// equal times, a push goes in before anything not newer.
    #[test]
    fn ordered_by_time_whatever_the_ids() {
        let mut list = Vec::new();
        let page = vec![
            at("f0", "2026-11-28T07:00:03.000Z"),
            at("0a", "2026-11-28T07:00:02.000Z"),
            at("9c", "2026-11-28T07:00:02.000Z"),
        ];
        assert_eq!(merge(&mut list, page), 3);
        let older = vec![at("ff", "2026-11-28T07:00:01.000Z")];
        merge(&mut list, older);
        assert_eq!(ids(&list), ["f0", "0a", "9c", "ff"]);
        assert_eq!(add_live(&mut list, at("00", "2026-11-28T07:00:04.000Z")), 1);
        assert_eq!(add_live(&mut list, at("11", "2026-11-28T07:00:02.000Z")), 1);
        assert_eq!(ids(&list), ["00", "f0", "11", "0a", "9c", "ff"]);
        assert_eq!(add_live(&mut list, at("11", "2026-11-28T07:00:02.000Z")), 0);
        assert_eq!(list.len(), 6);
    }

    #[test]
    fn the_list_keeps_what_was_loaded() {
        let mut list = vec![n("c", false), n("b", false), n("a", false)];
        assert_eq!(keep_newest(&mut list, 3), None);
        assert_eq!(keep_newest(&mut list, 2).as_deref(), Some("b"));
        assert_eq!(ids(&list), ["c", "b"]);
    }

    #[test]
    fn marks_read() {
        let mut list = vec![n("b", false), n("a", false)];
        mark_read(&mut list, &["a".to_owned()], "t");
        assert_eq!(list[1].read_at.as_deref(), Some("t"));
        assert_eq!(list[0].read_at, None);
        mark_all_read(&mut list, "u");
        assert_eq!(list[0].read_at.as_deref(), Some("u"));
        assert_eq!(
            list[1].read_at.as_deref(),
            Some("t"),
            "an earlier read time stays"
        );
    }

    #[test]
    fn parses_the_apis_timestamps() {
        assert_eq!(parse_utc_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc_millis("1970-01-02T00:00:01.5Z"), Some(86_401_500));
        assert_eq!(
            parse_utc_millis("2026-11-28T07:00:00.000Z"),
            Some(1_795_849_200_000)
        );
        assert_eq!(
            parse_utc_millis("2024-02-29T12:00:00Z"),
            Some(1_709_208_000_000)
        );
        assert_eq!(parse_utc_millis("2026-11-28 07:00:00"), None);
        assert_eq!(parse_utc_millis("2026-13-28T07:00:00Z"), None);
    }

    #[test]
    fn relative_times() {
        let at = "2026-11-28T07:00:00.000Z";
        let t0 = parse_utc_millis(at).unwrap();
        assert_eq!(relative_time(at, t0 + 10_000), "just now");
        assert_eq!(relative_time(at, t0 + 120_000), "2 min ago");
        assert_eq!(relative_time(at, t0 + 3 * 3_600_000), "3 h ago");
        assert_eq!(relative_time(at, t0 + 30 * 3_600_000), "yesterday");
        assert_eq!(relative_time(at, t0 + 5 * 86_400_000), "5 days ago");
        assert_eq!(relative_time(at, t0 + 90 * 86_400_000), "2026-11-28");
        assert_eq!(
            relative_time(at, t0 - 5_000),
            "just now",
            "a clock behind the server"
        );
        assert_eq!(relative_time("garbage", t0), "garbage");
    }

    #[test]
    fn only_safe_links_are_followed() {
        for ok in ["/orders/7", "https://example.com/x", "HTTP://example.com"] {
            assert_eq!(safe_link(Some(ok)).as_deref(), Some(ok));
        }
        for bad in [
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "data:text/html,x",
            "//evil.example",
            "/\\evil.example",
            "https://",
            "orders/7",
            "/a b",
        ] {
            assert_eq!(safe_link(Some(bad)), None, "{bad}");
        }
        assert_eq!(safe_link(None), None);
    }

    #[test]
    fn backoff_doubles_up_to_30_seconds() {
        let secs: Vec<u64> = (0..8).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn a_token_url_answer_holds_a_token_or_none() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3In0.c2lnbmF0dXJl";
        assert_eq!(
            token_in(&format!("{{\"token\":\"{jwt}\"}}")).as_deref(),
            Some(jwt)
        );
        assert_eq!(token_in(&format!("{jwt}\n")).as_deref(), Some(jwt));
        for none in [
            "",
            "{}",
            "{\"token\":\"\"}",
            "{\"token\":7}",
            "<!DOCTYPE html><html><body>Sign in</body></html>",
            "a.b",
            "a..c",
            "a.b.c d",
        ] {
            assert_eq!(token_in(none), None, "{none}");
        }
    }

    #[test]
    fn ids_are_encoded_for_urls() {
        assert_eq!(
            encoded("6747f1f0a3b2c1d0e9f8a7b6"),
            "6747f1f0a3b2c1d0e9f8a7b6"
        );
        assert_eq!(encoded("9f0c3a52-5d1e_x.y~z"), "9f0c3a52-5d1e_x.y~z");
        assert_eq!(encoded("a/b?c#d+e%f é"), "a%2Fb%3Fc%23d%2Be%25f%20%C3%A9");
    }
}
