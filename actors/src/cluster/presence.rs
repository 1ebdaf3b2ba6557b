//! Presence across nodes, counted per user and per node, never per socket: a user is online
//! while any node holds a socket of theirs. Redis keeps, for each online user, a hash of the
//! nodes that hold their sockets (`{prefix}:presence:{user}`), and for each node the set of
//! users it holds (`{prefix}:users:{node}`). Each change is one script, so when two nodes
//! change a user's presence at once, exactly one of them sees the first socket open or the
//! last one close, and announces it.
//!
//! When a node dies, the node that finds its lease run out removes it from every hash it was
//! in (one script: no other node gets the same users) and announces the users it held who
//! are now offline everywhere. A node starting under the id of one that died does the same
//! for its predecessor first.

use std::collections::HashSet;

use super::Cluster;

impl Cluster {
    fn presence_key(&self, user_id: i64) -> String {
        self.key(&format!("presence:{user_id}"))
    }

    fn users_key(&self, node: &str) -> String {
        self.key(&format!("users:{node}"))
    }

    /// This node now holds a socket of `user_id` (it held none): answers whether no node
    /// held one before, i.e. the user just came online.
    pub async fn user_arrived(&self, user_id: i64) -> redis::RedisResult<bool> {
        let script = redis::Script::new(
            r"
            redis.call('HSET', KEYS[1], ARGV[1], 1)
            redis.call('SADD', KEYS[2], ARGV[2])
            return redis.call('HLEN', KEYS[1])
            ",
        );
        let mut conn = self.conn.clone();
        let nodes: i64 = script
            .key(self.presence_key(user_id))
            .key(self.users_key(&self.node))
            .arg(&self.node)
            .arg(user_id)
            .invoke_async(&mut conn)
            .await?;
        Ok(nodes == 1)
    }

    /// This node's last socket of `user_id` closed: answers whether no node holds one any
    /// more, i.e. the user just went offline.
    pub async fn user_left(&self, user_id: i64) -> redis::RedisResult<bool> {
        let script = redis::Script::new(
            r"
            local was = redis.call('HDEL', KEYS[1], ARGV[1])
            redis.call('SREM', KEYS[2], ARGV[2])
            if was == 0 then return -1 end
            return redis.call('HLEN', KEYS[1])
            ",
        );
        let mut conn = self.conn.clone();
        let nodes: i64 = script
            .key(self.presence_key(user_id))
            .key(self.users_key(&self.node))
            .arg(&self.node)
            .arg(user_id)
            .invoke_async(&mut conn)
            .await?;
        Ok(nodes == 0)
    }

    /// Which of `user_ids` hold a socket on some node.
    pub async fn online_among(&self, user_ids: &[i64]) -> redis::RedisResult<HashSet<i64>> {
        if user_ids.is_empty() {
            return Ok(HashSet::new());
        }
        let mut pipe = redis::pipe();
        for &id in user_ids {
            pipe.cmd("EXISTS").arg(self.presence_key(id));
        }
        let mut conn = self.conn.clone();
        let found: Vec<i64> = pipe.query_async(&mut conn).await?;
        Ok(user_ids
            .iter()
            .zip(found)
            .filter(|(_, n)| *n > 0)
            .map(|(id, _)| *id)
            .collect())
    }

    /// Removes dead `node` from every user's presence; answers the users who held no socket
    /// anywhere else, who are offline now.
    pub async fn bury(&self, node: &str) -> redis::RedisResult<Vec<i64>> {
        let script = redis::Script::new(
            r"
            local gone = {}
            for _, user in ipairs(redis.call('SMEMBERS', KEYS[1])) do
              local key = ARGV[1] .. user
              redis.call('HDEL', key, ARGV[2])
              if redis.call('HLEN', key) == 0 then table.insert(gone, user) end
            end
            redis.call('DEL', KEYS[1])
            return gone
            ",
        );
        let mut conn = self.conn.clone();
        let gone: Vec<i64> = script
            .key(self.users_key(node))
            .arg(self.key("presence:"))
            .arg(node)
            .invoke_async(&mut conn)
            .await?;
        Ok(gone)
    }
}
