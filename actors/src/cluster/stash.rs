//! Short-lived values one node leaves for another in Redis, each taken at most once: a Pusher
//! channel grant issued by the node that answered `/broadcasting/auth`, for the node that
//! holds the socket. A value nobody takes expires by itself.

use std::time::Duration;

use super::Cluster;

impl Cluster {
    fn stash_key(&self, name: &str) -> String {
        self.key(&format!("stash:{name}"))
    }

    /// Leaves `value` under `name` for `ttl` (replacing what was there).
    pub async fn stash(&self, name: &str, value: &[u8], ttl: Duration) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.stash_key(name))
            .arg(value)
            .arg("PX")
            .arg((ttl.as_millis() as u64).max(1))
            .query_async(&mut conn)
            .await
    }

    /// Takes the value under `name`, if one is there: no other caller gets it after this.
    pub async fn take_stashed(&self, name: &str) -> redis::RedisResult<Option<Vec<u8>>> {
        let mut conn = self.conn.clone();
        redis::cmd("GETDEL")
            .arg(self.stash_key(name))
            .query_async(&mut conn)
            .await
    }
}
