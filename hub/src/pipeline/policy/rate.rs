//! Per-device token buckets: `rate` frames per second, bursts of `2 × rate`. The hub advertises
//! the rate to agents (`max_fps` in the retained config) so that they pace what they send below
//! it; a frame over the rate gets a `retry` ack, never a silent drop.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Token bucket of one device.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f32,
    last: Instant,
}

/// Token buckets, one per device.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f32,
    burst: f32,
    buckets: HashMap<String, Bucket>,
}

impl RateLimiter {
    /// `rate` frames per second per device (at least 0.01), bursts of twice that (at least 1).
    pub fn new(rate: f32) -> Self {
        let rate = rate.max(0.01);
        RateLimiter {
            rate,
            burst: (rate * 2.0).max(1.0),
            buckets: HashMap::new(),
        }
    }

    /// The rate, in frames per second.
    pub fn rate(&self) -> f32 {
        self.rate
    }

    /// Takes a token for `device` at `now`; false when it is over its rate.
    pub fn allow(&mut self, device: &str, now: Instant) -> bool {
        let burst = self.burst;
        let bucket = self.buckets.entry(device.to_owned()).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f32();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until `device` has a token again.
    pub fn retry_after(&self, device: &str) -> Duration {
        let missing = self
            .buckets
            .get(device)
            .map_or(0.0, |b| (1.0 - b.tokens).max(0.0));
        Duration::from_secs_f32(missing / self.rate)
    }

    /// Forgets a device (deleted): its bucket no longer takes memory.
    pub fn forget(&mut self, device: &str) {
        self.buckets.remove(device);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds_per_device() {
        let mut limiter = RateLimiter::new(5.0);
        let start = Instant::now();
        let passed = (0..15).filter(|_| limiter.allow("cam-1", start)).count();
        assert_eq!(passed, 10, "burst of twice the rate");
        assert!(
            limiter.allow("cam-2", start),
            "other devices are unaffected"
        );
        assert!(limiter.retry_after("cam-1") > Duration::ZERO);
        assert!(limiter.retry_after("cam-1") <= Duration::from_millis(201));
        assert!(!limiter.allow("cam-1", start + Duration::from_millis(100)));
        assert!(limiter.allow("cam-1", start + Duration::from_millis(250)));
    }

    #[test]
    fn frames_at_the_rate_always_pass() {
        let mut limiter = RateLimiter::new(2.0);
        let start = Instant::now();
        for i in 0..100 {
            assert!(limiter.allow("cam-1", start + Duration::from_millis(500 * i)));
        }
        limiter.forget("cam-1");
        assert_eq!(limiter.retry_after("cam-1"), Duration::ZERO);
    }
}
