//! The lean stream transport's request-head parser: any bytes as the start of a connection.
#![no_main]

use belfry::transport::lean::{parse_head, HeadError, MAX_HEAD};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_head(data) {
        // A request it serves never announces a body it would leave unread.
        Ok(Some(request)) => {
            assert!(request.headers().get("transfer-encoding").is_none());
            assert!(request
                .headers()
                .get("content-length")
                .is_none_or(|v| {
                    let v = v.as_bytes().trim_ascii();
                    !v.is_empty() && v.iter().all(|&b| b == b'0')
                }));
        }
        // It waits for more only within the limit.
        Ok(None) => assert!(data.len() < MAX_HEAD),
        // Too long a request line only past the limit; too many headers at any size.
        Err(HeadError::UriTooLong) => assert!(data.len() >= MAX_HEAD),
        Err(HeadError::Malformed | HeadError::TooLarge) => {}
        Err(HeadError::Closed) => panic!("the parser never sees a hang-up"),
    }
});
