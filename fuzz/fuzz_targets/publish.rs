//! The publish payload: any bytes as a request body.
#![no_main]

use belfry::api::publish::{parse_publish, MAX_RECIPIENTS};
use belfry::model::{validate_link, validate_message, MAX_MESSAGE_CHARS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(batch) = parse_publish(&body) {
        assert!(!batch.is_empty() && batch.len() <= MAX_RECIPIENTS);
        for new in &batch {
            // What passes is exactly what the validators accept.
            assert_eq!(validate_message(&new.message).as_deref(), Ok(new.message.as_str()));
            assert!(new.message.chars().count() <= MAX_MESSAGE_CHARS);
            if let Some(link) = &new.link {
                assert!(validate_link(link).is_ok());
                assert!(!link.to_ascii_lowercase().starts_with("javascript:"));
            }
        }
    }
});
