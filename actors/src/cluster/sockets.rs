//! The per-user socket cap (`realtime.max_sockets_per_user`) across nodes. Each node records,
//! in a hash of its own (`{prefix}:socket-counts:{node}`, user id → open sockets), how many
//! sockets each user holds on it. A node taking a socket for a user adds up the user's counts
//! on every live node (those whose lease holds) and its own, and records its own count, in one
//! script: two nodes cannot both hand out a user's last place.
//!
//! Counts are absolute (what the node holds now), never increments, so writing one again is
//! harmless and the latest write is right. A dead node's hash stops counting as soon as its
//! lease runs out, and is deleted when the node is buried.

use super::Cluster;

/// Adds the user's counts on the live nodes but this one (`ARGV[1]`) to this node's count
/// (`ARGV[3]`, the new socket included); answers 0 if that is over the cap (`ARGV[5]`), or
/// records this node's count and answers 1.
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local total = tonumber(ARGV[3])
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  if node ~= ARGV[1] then
    total = total + tonumber(redis.call('HGET', ARGV[4] .. node, ARGV[2]) or 0)
  end
end
if total > tonumber(ARGV[5]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
";

impl Cluster {
    pub(super) fn socket_counts_key(&self, node: &str) -> String {
        self.key(&format!("socket-counts:{node}"))
    }

    /// Whether `user_id` may hold `here` sockets on this node (the new one included) with
    /// those they hold on the other live nodes, at most `max` in all; if so, records `here`.
    pub async fn take_socket(
        &self,
        user_id: i64,
        here: usize,
        max: usize,
    ) -> redis::RedisResult<bool> {
        let mut conn = self.conn.clone();
        let taken: i64 = redis::Script::new(TAKE)
            .key(self.key("nodes"))
            .key(self.socket_counts_key(&self.node))
            .arg(&self.node)
            .arg(user_id)
            .arg(here)
            .arg(self.key("socket-counts:"))
            .arg(max)
            .invoke_async(&mut conn)
            .await?;
        Ok(taken == 1)
    }

    /// Records how many sockets each of these users holds on this node now (none: forgotten).
    /// With `all`, these are all the users this node holds, and anyone else is forgotten.
    pub async fn record_sockets(
        &self,
        counts: &[(i64, usize)],
        all: bool,
    ) -> redis::RedisResult<()> {
        if counts.is_empty() && !all {
            return Ok(());
        }
        let key = self.socket_counts_key(&self.node);
        let mut pipe = redis::pipe();
        pipe.atomic();
        if all {
            pipe.cmd("DEL").arg(&key).ignore();
        }
        for &(user_id, open) in counts {
            match open {
                0 => pipe.cmd("HDEL").arg(&key).arg(user_id).ignore(),
                n => pipe.cmd("HSET").arg(&key).arg(user_id).arg(n).ignore(),
            };
        }
        let mut conn = self.conn.clone();
        pipe.query_async(&mut conn).await
    }

    /// Forgets the sockets dead `node` held.
    pub async fn forget_sockets(&self, node: &str) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(self.socket_counts_key(node))
            .query_async(&mut conn)
            .await
    }
}
