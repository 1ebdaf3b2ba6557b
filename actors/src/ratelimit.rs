//! Rate limits: at most N events per key in any sliding window, kept in process.
//!
//! Keys are strings such as `otp-send:ip:127.0.0.1`. Time comes from the server's [`Clock`],
//! so tests move windows forward without sleeping.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::clock::Clock;
use chrono::{NaiveDateTime, TimeDelta};

/// Counts events per key; see [`RateLimiter::hit`].
pub struct RateLimiter {
    clock: Clock,
    inner: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    events: HashMap<String, VecDeque<NaiveDateTime>>,
    hits_since_sweep: u32,
}

impl RateLimiter {
    pub fn new(clock: Clock) -> Self {
        RateLimiter {
            clock,
            inner: Mutex::new(Windows::default()),
        }
    }

    /// Records an event for `key` if fewer than `limit` happened in the last `window`;
    /// otherwise records nothing and returns the seconds until one more is allowed.
    pub fn hit(&self, key: &str, limit: u32, window: TimeDelta) -> Result<(), u64> {
        let now = self.clock.now();
        let mut w = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        w.hits_since_sweep += 1;
        if w.hits_since_sweep >= 10_000 {
            // Drop keys with nothing left in their window so memory follows live traffic.
            w.hits_since_sweep = 0;
            w.events
                .retain(|_, q| q.back().is_some_and(|t| now - *t < window));
        }
        let q = w.events.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| now - *t >= window) {
            q.pop_front();
        }
        if q.len() as u32 >= limit {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = (oldest + window - now).num_milliseconds().max(0) as u64;
            return Err(wait.div_ceil(1000).max(1));
        }
        q.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_limit_per_window_then_reopens() {
        let clock = Clock::manual(chrono::Utc::now());
        let rl = RateLimiter::new(clock.clone());
        let minute = TimeDelta::minutes(1);
        for _ in 0..5 {
            assert!(rl.hit("k", 5, minute).is_ok());
        }
        assert_eq!(rl.hit("k", 5, minute), Err(60));
        assert!(rl.hit("other", 5, minute).is_ok());
        clock.advance(Duration::from_secs(30));
        assert_eq!(rl.hit("k", 5, minute), Err(30));
        clock.advance(Duration::from_secs(30));
        assert!(rl.hit("k", 5, minute).is_ok());
    }
}
