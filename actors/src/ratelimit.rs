//! Rate limits: at most N events per key in any sliding window.
//!
//! On one node the windows are kept in process. In a cluster, [`RateLimiter::hit`] and its
//! kin count in Redis (see `cluster::limits`), so a limit holds for a user or an address
//! whichever nodes their requests reach; while Redis is away each node counts alone, so the
//! limits still hold per node. The `_here` forms always count on this node only, for what is
//! a node's own business (a check it need not repeat, a connection's frames).
//!
//! Keys are strings such as `otp-send:ip:127.0.0.1`. Time comes from the server's [`Clock`],
//! so tests move windows forward without sleeping.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::metrics::Metrics;
use chrono::{NaiveDateTime, TimeDelta};

/// Counts events per key; see [`RateLimiter::hit`].
pub struct RateLimiter {
    clock: Clock,
    inner: Mutex<Windows>,
    /// Where refusals are counted, by key prefix.
    metrics: Option<Arc<Metrics>>,
    /// Where the windows every node shares are kept, in a cluster.
    shared: Option<Arc<Cluster>>,
}

/// Per key, when each event of the current window stops counting (oldest first). Keeping the
/// expiry rather than the event's time lets keys with different windows share one sweep.
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
            metrics: None,
            shared: None,
        }
    }

    /// Counts in `cluster`'s Redis from now on (when there is a cluster).
    pub fn shared_by(mut self, cluster: Option<Arc<Cluster>>) -> Self {
        self.shared = cluster;
        self
    }

    /// Counts every refusal in `metrics` (`rate_limited`, by the key up to its first `:`).
    pub fn counting_into(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an event for `key` if fewer than `limit` happened in the last `window`, on
    /// every node; otherwise records nothing and returns the seconds until one more is allowed.
    pub async fn hit(&self, key: &str, limit: u32, window: TimeDelta) -> Result<(), u64> {
        self.hit_n(key, 1, limit, window).await
    }

    /// Records `n` events for `key` at once, on every node, if the last `window` leaves room
    /// for all of them under `limit`; otherwise records nothing and returns the seconds until
    /// it will (a window's worth if `n` is over `limit`: that never fits).
    pub async fn hit_n(&self, key: &str, n: u32, limit: u32, window: TimeDelta) -> Result<(), u64> {
        let Some(cluster) = &self.shared else {
            return self.hit_n_here(key, n, limit, window);
        };
        let now = self.clock.now();
        match cluster.take_window(key, n, limit, window, now).await {
            Ok(answer) => self.counted(key, answer),
            Err(e) => {
                tracing::warn!(error = %e, "shared rate limit unavailable: counting on this node");
                self.hit_n_here(key, n, limit, window)
            }
        }
    }

    /// Takes back up to `n` of the latest events recorded for `key` on every node (what a
    /// request recorded before it was refused, or did not use).
    pub async fn refund(&self, key: &str, n: u32) {
        self.refund_here(key, n);
        if let Some(cluster) = &self.shared {
            if let Err(e) = cluster.give_back(key, n).await {
                tracing::warn!(error = %e, "shared rate limit unavailable: nothing given back");
            }
        }
    }

    /// Like [`RateLimiter::refund`], from code that cannot wait: on one node at once, in a
    /// cluster as soon as Redis answers.
    pub fn refund_soon(self: &Arc<Self>, key: &str, n: u32) {
        if self.shared.is_none() {
            return self.refund_here(key, n);
        }
        let (limiter, key) = (self.clone(), key.to_string());
        tokio::spawn(async move { limiter.refund(&key, n).await });
    }

    /// Like [`RateLimiter::hit`], counted on this node only.
    pub fn hit_here(&self, key: &str, limit: u32, window: TimeDelta) -> Result<(), u64> {
        self.hit_n_here(key, 1, limit, window)
    }

    /// Like [`RateLimiter::hit_n`], counted on this node only.
    pub fn hit_n_here(&self, key: &str, n: u32, limit: u32, window: TimeDelta) -> Result<(), u64> {
        let answer = self.record_n(key, n, limit, window);
        self.counted(key, answer)
    }

    /// Counts a refusal in the metrics.
    fn counted(&self, key: &str, answer: Result<(), u64>) -> Result<(), u64> {
        if let (Err(_), Some(m)) = (&answer, &self.metrics) {
            m.refused(key);
        }
        answer
    }

    fn record_n(&self, key: &str, n: u32, limit: u32, window: TimeDelta) -> Result<(), u64> {
        let now = self.clock.now();
        let mut w = self.lock();
        w.hits_since_sweep += 1;
        if w.hits_since_sweep >= 10_000 {
            // Drop keys with nothing left in their window so memory follows live traffic.
            w.hits_since_sweep = 0;
            w.events
                .retain(|_, q| q.back().is_some_and(|end| *end > now));
        }
        let q = w.events.entry(key.to_string()).or_default();
        while q.front().is_some_and(|end| *end <= now) {
            q.pop_front();
        }
        if n > limit {
            return Err(window.num_seconds().max(1) as u64);
        }
        let (n, limit) = (n as usize, limit as usize);
        if q.len() + n > limit {
            // The event whose expiry makes room for `n` more.
            let end = q.get(q.len() + n - limit - 1).copied().unwrap_or(now);
            let wait = (end - now).num_milliseconds().max(0) as u64;
            return Err(wait.div_ceil(1000).max(1));
        }
        q.extend(std::iter::repeat_n(now + window, n));
        Ok(())
    }

    /// Like [`RateLimiter::refund`], on this node only.
    pub fn refund_here(&self, key: &str, n: u32) {
        let mut w = self.lock();
        if let Some(q) = w.events.get_mut(key) {
            let keep = q.len().saturating_sub(n as usize);
            q.truncate(keep);
        }
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
            assert!(rl.hit_here("k", 5, minute).is_ok());
        }
        assert_eq!(rl.hit_here("k", 5, minute), Err(60));
        assert!(rl.hit_here("other", 5, minute).is_ok());
        clock.advance(Duration::from_secs(30));
        assert_eq!(rl.hit_here("k", 5, minute), Err(30));
        clock.advance(Duration::from_secs(30));
        assert!(rl.hit_here("k", 5, minute).is_ok());
    }

    #[test]
    fn several_at_once_fit_or_wait_for_room_and_can_be_taken_back() {
        let clock = Clock::manual(chrono::Utc::now());
        let rl = RateLimiter::new(clock.clone());
        let hour = TimeDelta::hours(1);
        assert!(rl.hit_n_here("k", 3, 5, hour).is_ok());
        clock.advance(Duration::from_secs(600));
        assert!(rl.hit_n_here("k", 2, 5, hour).is_ok());
        // Full: one more waits for the first three to expire; three more as well.
        assert_eq!(rl.hit_n_here("k", 1, 5, hour), Err(3000));
        assert_eq!(rl.hit_n_here("k", 3, 5, hour), Err(3000));
        // Four need the later two gone too.
        assert_eq!(rl.hit_n_here("k", 4, 5, hour), Err(3600));
        assert_eq!(rl.hit_n_here("k", 6, 5, hour), Err(3600), "never fits");
        rl.refund_here("k", 2);
        assert!(rl.hit_n_here("k", 2, 5, hour).is_ok());
        clock.advance(Duration::from_secs(3000));
        assert!(rl.hit_n_here("k", 3, 5, hour).is_ok());
    }

    #[test]
    fn a_sweep_keeps_keys_whose_longer_window_is_still_open() {
        let clock = Clock::manual(chrono::Utc::now());
        let rl = RateLimiter::new(clock.clone());
        assert!(rl.hit_here("hourly", 1, TimeDelta::hours(1)).is_ok());
        clock.advance(Duration::from_secs(120));
        // Enough one-minute hits elsewhere to trigger a sweep.
        for i in 0..10_000 {
            let _ = rl.hit_here(&format!("minute-{i}"), 1, TimeDelta::minutes(1));
        }
        assert_eq!(rl.hit_here("hourly", 1, TimeDelta::hours(1)), Err(3480));
    }
}
