//! The resume cursor (`Last-Event-ID`, `?last_event_id=`, `before=`) and the list's `limit`.
#![no_main]

use belfry::api::notifications::parse_page;
use belfry::model::NotificationId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(id) = NotificationId::parse(text) {
        // Whatever parses prints back as the same id.
        assert_eq!(NotificationId::parse(id.as_str()).ok(), Some(id));
    }
    let (limit, before) = text.split_once('&').unwrap_or((text, ""));
    if let Ok(page) = parse_page(Some(limit), (!before.is_empty()).then_some(before)) {
        assert!((1..=100).contains(&page.limit));
    }
});
