//! Rate limits every node shares: each key's sliding window is a sorted set in Redis (one
//! member per event, scored by when it stops counting), checked and recorded by one script,
//! so two nodes counting the same key at once cannot both take its last place.
//!
//! Time is the calling node's clock (the engine's [`Clock`](crate::clock::Clock), so tests can
//! move it), which is why the nodes' clocks must agree to within a small part of a window.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{NaiveDateTime, TimeDelta};

use super::Cluster;

/// Numbers the events a node records, so that their members never collide.
static EVENTS: AtomicU64 = AtomicU64::new(0);

/// Drops what has expired; then either records `n` events (answering -1) or, when they do not
/// fit under the limit, answers the milliseconds until they would.
const TAKE: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if n > limit then return window end
local count = redis.call('ZCARD', KEYS[1])
if count + n > limit then
  local i = count + n - limit - 1
  local e = redis.call('ZRANGE', KEYS[1], i, i, 'WITHSCORES')
  return math.max(tonumber(e[2]) - now, 0)
end
for i = 1, n do
  redis.call('ZADD', KEYS[1], now + window, ARGV[5] .. ':' .. i)
end
redis.call('PEXPIRE', KEYS[1], window)
return -1
";

impl Cluster {
    /// Records `n` events of `key` at `now` if the `window` before leaves room for them under
    /// `limit`; otherwise records nothing and answers the seconds until it will.
    pub async fn take_window(
        &self,
        key: &str,
        n: u32,
        limit: u32,
        window: TimeDelta,
        now: NaiveDateTime,
    ) -> redis::RedisResult<Result<(), u64>> {
        let id = format!("{}:{}", self.node, EVENTS.fetch_add(1, Ordering::Relaxed));
        let mut conn = self.conn.clone();
        let wait_ms: i64 = redis::Script::new(TAKE)
            .key(self.key(&format!("rl:{key}")))
            .arg(now.and_utc().timestamp_millis())
            .arg(window.num_milliseconds().max(1))
            .arg(n)
            .arg(limit)
            .arg(id)
            .invoke_async(&mut conn)
            .await?;
        Ok(match wait_ms {
            ..0 => Ok(()),
            ms => Err((ms as u64).div_ceil(1000).max(1)),
        })
    }

    /// Takes back up to `n` of the latest events recorded for `key`.
    pub async fn give_back(&self, key: &str, n: u32) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("ZPOPMAX")
            .arg(self.key(&format!("rl:{key}")))
            .arg(n)
            .query_async::<redis::Value>(&mut conn)
            .await
            .map(|_| ())
    }
}
