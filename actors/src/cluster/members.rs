//! Pusher presence channel members across nodes, counted per user and never per socket. Each
//! node keeps, per presence channel, a hash of the listed members whose sockets it holds
//! (`{prefix}:pusher-members:{channel}:{node}`, user id → `user_info` JSON), and the set of
//! channels it has members in (`{prefix}:pusher-member-channels:{node}`). A node writes only
//! its own keys, one change at a time in the order its members joined and left.
//!
//! Joining and leaving are one script each, which also looks at the other live nodes (those
//! whose lease holds): when two nodes change one user's membership at once, exactly one of
//! them sees the user's first socket join (or last one leave) anywhere, and announces it.
//! A dead node stops counting as soon as its lease runs out; the node that buries it deletes
//! its hashes and announces the members who are no longer present anywhere.

use super::wire::Body;
use super::Cluster;
use crate::pusher::codec;

/// Whether user `ARGV[2]` is in channel `ARGV[5]` on a live node but this one (`ARGV[1]`);
/// `ARGV[4]` is the prefix of the channel's per-node hashes. Shared by the scripts below.
const ELSEWHERE: &str = r"
local function elsewhere()
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
    if node ~= ARGV[1] and redis.call('HEXISTS', ARGV[4] .. node, ARGV[2]) == 1 then
      return true
    end
  end
  return false
end
";

/// Records user `ARGV[2]` (info `ARGV[3]`) in this node's hash `KEYS[2]`; answers 1 if they
/// were in the channel on no node before.
const JOIN: &str = r"
local had = redis.call('HEXISTS', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[5])
if had == 1 or elsewhere() then return 0 end
return 1
";

/// Takes user `ARGV[2]` out of this node's hash `KEYS[2]`; answers 1 if they are now in the
/// channel on no node.
const LEAVE: &str = r"
local had = redis.call('HDEL', KEYS[2], ARGV[2])
if redis.call('HLEN', KEYS[2]) == 0 then redis.call('SREM', KEYS[3], ARGV[5]) end
if had == 0 or elsewhere() then return 0 end
return 1
";

/// The members of the channel on the live nodes but this one (`ARGV[1]`): a flat list of
/// user id, info, user id, info…
const OTHERS: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = {}
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  if node ~= ARGV[1] then
    for _, v in ipairs(redis.call('HGETALL', ARGV[2] .. node)) do table.insert(all, v) end
  end
end
return all
";

/// Deletes dead node `ARGV[1]`'s members (its channel set is `KEYS[2]`, `ARGV[2]` the prefix
/// of every channel's hashes); answers, flat, each channel and user present on no live node
/// any more.
const BURY: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
local gone = {}
for _, channel in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local base = ARGV[2] .. channel .. ':'
  for _, user in ipairs(redis.call('HKEYS', base .. ARGV[1])) do
    local found = false
    for _, node in ipairs(live) do
      if node ~= ARGV[1] and redis.call('HEXISTS', base .. node, user) == 1 then
        found = true
        break
      end
    end
    if not found then
      table.insert(gone, channel)
      table.insert(gone, user)
    end
  end
  redis.call('DEL', base .. ARGV[1])
end
redis.call('DEL', KEYS[2])
return gone
";

impl Cluster {
    fn members_key(&self, channel: &str, node: &str) -> String {
        self.key(&format!("pusher-members:{channel}:{node}"))
    }

    fn member_channels_key(&self, node: &str) -> String {
        self.key(&format!("pusher-member-channels:{node}"))
    }

    /// Runs [`JOIN`] or [`LEAVE`] for `user_id` in `channel` on this node.
    async fn change_member(
        &self,
        script: &str,
        channel: &str,
        user_id: i64,
        info: &str,
    ) -> redis::RedisResult<bool> {
        let mut conn = self.conn.clone();
        let first_or_last: i64 = redis::Script::new(&format!("{ELSEWHERE}{script}"))
            .key(self.key("nodes"))
            .key(self.members_key(channel, &self.node))
            .key(self.member_channels_key(&self.node))
            .arg(&self.node)
            .arg(user_id)
            .arg(info)
            .arg(self.key(&format!("pusher-members:{channel}:")))
            .arg(channel)
            .invoke_async(&mut conn)
            .await?;
        Ok(first_or_last == 1)
    }

    /// `user_id` (described by `info`, JSON) is now a member of `channel` on this node;
    /// answers whether they were a member on no node before.
    pub async fn member_joined(
        &self,
        channel: &str,
        user_id: i64,
        info: &str,
    ) -> redis::RedisResult<bool> {
        self.change_member(JOIN, channel, user_id, info).await
    }

    /// `user_id`'s last socket on this node left `channel`; answers whether they are a member
    /// on no node any more.
    pub async fn member_left(&self, channel: &str, user_id: i64) -> redis::RedisResult<bool> {
        self.change_member(LEAVE, channel, user_id, "").await
    }

    /// The listed members of `channel` on the other live nodes, with their info (JSON).
    pub async fn members_elsewhere(&self, channel: &str) -> redis::RedisResult<Vec<(i64, String)>> {
        let mut conn = self.conn.clone();
        let flat: Vec<(i64, String)> = redis::Script::new(OTHERS)
            .key(self.key("nodes"))
            .arg(&self.node)
            .arg(self.key(&format!("pusher-members:{channel}:")))
            .invoke_async(&mut conn)
            .await?;
        Ok(flat)
    }

    /// Deletes the members dead `node` held; answers each channel and user present on no live
    /// node any more.
    pub async fn bury_members(&self, node: &str) -> redis::RedisResult<Vec<(String, i64)>> {
        let mut conn = self.conn.clone();
        redis::Script::new(BURY)
            .key(self.key("nodes"))
            .key(self.member_channels_key(node))
            .arg(node)
            .arg(self.key("pusher-members:"))
            .invoke_async(&mut conn)
            .await
    }

    /// Writes this node's members again, replacing what Redis held for it (Redis was away:
    /// it may have restarted empty, or another node may have buried this one): `members` are
    /// every channel's listed members here, with their info.
    pub async fn record_members_again(
        &self,
        members: &[(String, Vec<(i64, String)>)],
    ) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        let set = self.member_channels_key(&self.node);
        let old: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&set)
            .query_async(&mut conn)
            .await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for channel in &old {
            pipe.cmd("DEL")
                .arg(self.members_key(channel, &self.node))
                .ignore();
        }
        pipe.cmd("DEL").arg(&set).ignore();
        for (channel, users) in members.iter().filter(|(_, u)| !u.is_empty()) {
            let key = self.members_key(channel, &self.node);
            for (user_id, info) in users {
                pipe.cmd("HSET").arg(&key).arg(user_id).arg(info).ignore();
            }
            pipe.cmd("SADD").arg(&set).arg(channel).ignore();
        }
        pipe.query_async(&mut conn).await
    }
}

impl Cluster {
    /// Buries dead `node`'s presence channel members and tells every node's subscribers
    /// (this one's too) about those present nowhere any more.
    pub(super) async fn bury_members_and_announce(&self, node: &str) {
        match self.bury_members(node).await {
            Ok(gone) => {
                for (channel, user_id) in gone {
                    let text = member_removed(&channel, user_id);
                    self.broadcast(Body::ChannelFrame {
                        channel: channel.as_str().into(),
                        text: text.as_str().into(),
                        except: None,
                    });
                    self.channel_frame(&channel, text, None);
                }
            }
            Err(e) => {
                tracing::warn!(node, error = %e, "a dead node's channel members stay for now")
            }
        }
    }
}

/// `pusher_internal:member_removed` for `user_id` on `channel`.
pub fn member_removed(channel: &str, user_id: i64) -> String {
    codec::frame(
        "pusher_internal:member_removed",
        Some(channel),
        &serde_json::json!({ "user_id": user_id }),
    )
}
