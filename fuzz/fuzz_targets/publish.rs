//! The publish payload: any bytes as a request body.
#![no_main]

use belfry::api::publish::parse_publish;
use belfry::model::{Link, Message, MAX_MESSAGE_CHARS, MAX_RECIPIENTS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(batch) = parse_publish(&body) {
        assert!(!batch.is_empty() && batch.len() <= MAX_RECIPIENTS);
        for new in &batch {
            // What passes is exactly what the validators accept.
            assert_eq!(Message::parse(new.message.as_str()).as_ref(), Ok(&new.message));
            assert!(new.message.as_str().chars().count() <= MAX_MESSAGE_CHARS);
            if let Some(link) = &new.link {
                assert_eq!(Link::parse(link.as_str()).as_ref(), Ok(link));
                assert!(!link.as_str().to_ascii_lowercase().starts_with("javascript:"));
            }
        }
    }
});
