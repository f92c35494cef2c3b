//! The publish API's rate limit: notifications per second for the service key (`governor`'s
//! GCRA, no background task). A bulk publish counts one per recipient, so the limit bounds what
//! the database and the streams receive, not the number of requests.

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::model::MAX_RECIPIENTS;

pub struct PublishLimit(DefaultDirectRateLimiter);

impl PublishLimit {
    /// `per_second` notifications a second, with bursts of up to a second's worth (and never
    /// less than one full bulk publish).
    pub fn new(per_second: NonZeroU32) -> Self {
        let burst =
            per_second.max(NonZeroU32::new(MAX_RECIPIENTS as u32).unwrap_or(NonZeroU32::MIN));
        Self(RateLimiter::direct(
            Quota::per_second(per_second).allow_burst(burst),
        ))
    }

    /// Takes `count` notifications' worth from the budget, or says no (taking nothing).
    pub fn allow(&self, count: usize) -> bool {
        let Some(count) = u32::try_from(count).ok().and_then(NonZeroU32::new) else {
            return true;
        };
        matches!(self.0.check_n(count), Ok(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_burst_and_takes_nothing_then() {
        let limit = PublishLimit::new(NonZeroU32::new(10).unwrap());
        // The burst is one full bulk publish (1000).
        assert!(limit.allow(990));
        assert!(limit.allow(10));
        assert!(!limit.allow(1));
        assert!(!limit.allow(1000));
    }
}
