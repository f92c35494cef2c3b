//! The token parser and verifier: any text as a bearer token, a cookie or `?token=`.
#![no_main]

use std::sync::OnceLock;

use belfry::auth::TokenKeys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static KEYS: OnceLock<TokenKeys> = OnceLock::new();
    let keys = KEYS.get_or_init(|| TokenKeys::rotating(&[b"fuzz-secret", b"old-secret"]));
    if let Ok(text) = std::str::from_utf8(data) {
        // Random bytes are never a validly signed token.
        assert!(keys.verify(text).is_err());
    }
});
