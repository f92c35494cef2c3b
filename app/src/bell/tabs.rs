//! The bell's tabs: the categories a page asks for, each with its label, beside "All". A page
//! gives them as JSON, in its order: `["billing", {"key": "social", "label": "People"}]` (a
//! string is its own label). Parsed once here; what does not parse is left out, so a page
//! written for a later version still shows the rest.

/// One tab: the category it shows, and its label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tab {
    pub key: String,
    pub label: String,
}

/// The most tabs a bell shows (the server counts at most 20 categories in one request).
pub const MAX_TABS: usize = 20;

/// The tabs `json` asks for, in its order, each category once, at most [`MAX_TABS`]; an entry
/// that does not parse is left out, and `json` that is not an array gives none. A key must be a
/// category (1..=255 characters, no control characters, no comma).
pub fn parse_tabs(json: Option<&str>) -> Vec<Tab> {
    let items = json.and_then(|json| crate::json::from_str::<Vec<serde_json::Value>>(json).ok());
    let mut tabs: Vec<Tab> = Vec::new();
    for item in items.unwrap_or_default() {
        // (Read by hand: serde's untagged enums cost the bundle tens of KiB.)
        let text = |field: &str| item.get(field).and_then(|v| v.as_str()).map(str::to_owned);
        let (key, label) = match item.as_str() {
            Some(key) => (key.to_owned(), key.to_owned()),
            None => match text("key") {
                Some(key) => (key.clone(), text("label").unwrap_or(key)),
                None => continue,
            },
        };
        let valid = (1..=255).contains(&key.chars().count())
            && !key.chars().any(|c| c.is_control() || c == ',');
        if valid && !tabs.iter().any(|t| t.key == key) && tabs.len() < MAX_TABS {
            tabs.push(Tab { key, label });
        }
    }
    tabs
}

/// The initials of an actor's name, for a bell without the avatar: the first letters of its
/// first and last words ("Anna Lee" → "AL", "anna" → "A"). Latin letters are capitalised,
/// others shown as written (Unicode's case tables would cost the bundle several KiB).
pub fn initials(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let first = |word: Option<&&str>| word.and_then(|w| w.chars().next());
    let mut out: String = first(words.first()).into_iter().collect();
    if words.len() > 1 {
        out.extend(first(words.last()));
    }
    out.chars().map(|c| c.to_ascii_uppercase()).collect()
}

/// An avatar the bell may load: an `https://` URL or a path on its server (the server checks
/// what it is sent; other programs write the database directly, so the bell checks again).
pub fn safe_avatar(url: Option<&str>) -> Option<String> {
    // A link the bell would follow, but not plain http (as the server's rule).
    super::logic::safe_link(url).filter(|link| !link.to_ascii_lowercase().starts_with("http://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_in_the_pages_order_each_once() {
        let tabs = parse_tabs(Some(
            r#"["billing", {"key": "social", "label": "People"}, "billing", {"key": ""}, 7, {"key": "x"}]"#,
        ));
        let keys: Vec<(&str, &str)> = tabs
            .iter()
            .map(|t| (t.key.as_str(), t.label.as_str()))
            .collect();
        assert_eq!(
            keys,
            [("billing", "billing"), ("social", "People"), ("x", "x")]
        );
        assert!(parse_tabs(Some("not json")).is_empty());
        assert!(parse_tabs(None).is_empty());
    }

    #[test]
    fn initials_and_avatars() {
        assert_eq!(initials("Anna Lee"), "AL");
        assert_eq!(initials("  anna  "), "A");
        assert_eq!(initials("Jean Paul Sartre"), "JS");
        assert_eq!(initials(""), "");
        assert_eq!(
            safe_avatar(Some("https://cdn.example/a.png")).as_deref(),
            Some("https://cdn.example/a.png")
        );
        assert_eq!(safe_avatar(Some("/a.png")).as_deref(), Some("/a.png"));
        for bad in [
            "http://evil.example/a.png",
            "javascript:alert(1)",
            "//evil.example/a",
            "data:x",
            "https://",
            "/a b",
        ] {
            assert_eq!(safe_avatar(Some(bad)), None, "{bad}");
        }
    }
}
