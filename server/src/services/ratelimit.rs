//! Per-key request rate limits (a token bucket per client address), kept in memory per instance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys tracked; beyond it the oldest-refilled buckets are forgotten (a forgotten key starts
/// with a full bucket, which only errs on the side of letting a request through).
const MAX_KEYS: usize = 100_000;

/// A token bucket per key: `per_minute` requests a minute, with a burst of as many.
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` requests per key and minute; 0 allows everything.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request's worth from `key`'s bucket; when it is empty, the seconds until it has
    /// one again.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let rate = capacity / 60.0; // per second
        let now = Instant::now();
        let Ok(mut map) = self.buckets.lock() else {
            return Ok(());
        };
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            let horizon = Duration::from_secs(60);
            map.retain(|_, (_, at)| now.duration_since(*at) < horizon);
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        let (tokens, at) = map.entry(key.to_owned()).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_refuses_with_a_wait() {
        let l = RateLimiter::new(3);
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        let wait = l.check("a").expect_err("fourth request refused");
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(l.check("b").is_ok(), "other keys have their own bucket");
        assert!(RateLimiter::new(0).check("a").is_ok());
    }
}
