//! Several nodes as one, over Redis. Each node keeps a lease in Redis (a sorted set of node
//! ids scored by when their lease runs out, renewed a few times per lease), and talks to the
//! others on pub/sub channels: one that every node hears (`{prefix}:all`) and one per node
//! (`{prefix}:node:{id}`).
//!
//! Everything goes over one multiplexed Redis connection, which reconnects by itself with
//! backoff and subscribes again after a reconnect. Messages leave in the order they were
//! published (one task sends them, in pipelines), so a chat's events reach another node in the
//! order its room sent them. While Redis is unreachable, realtime across nodes pauses: what
//! is published meanwhile is dropped (clients catch up with `sync`), REST goes on, and
//! [`Cluster::is_up`] says so for `/api/health`.

mod calls;
mod limits;
mod link;
mod members;
mod order;
mod presence;
mod reload;
mod sockets;
mod stash;
pub mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

pub use link::ClusterBus;
pub use members::member_removed;

/// Published messages waiting for Redis; beyond this, new ones are dropped (counted).
const OUTBOX: usize = 100_000;

/// A message on its way to Redis: the channel, and the encoded envelope.
type Outgoing = (String, Vec<u8>);

/// Where frames for a Pusher channel that another node relayed go on this node (the Pusher
/// hub, when the protocol is on): to the channel's subscribers here, but `except`.
pub trait ChannelFrames: Send + Sync {
    fn relayed(&self, channel: &str, text: String, except: Option<&str>);

    /// Redis may have lost this node's presence channel members (it was away, or this node
    /// was buried meanwhile): they are to be recorded again.
    fn members_lost(&self) {}
}

/// How a node joins its cluster (from the `[cluster]` configuration).
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub redis_url: String,
    /// This node's id; empty: a random one.
    pub node_id: String,
    pub key_prefix: String,
    /// A node whose lease is older than this is dead.
    pub node_ttl: Duration,
    /// Longest wait for another node's answer.
    pub forward_timeout: Duration,
}

/// Why the cluster could not be joined.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// This node's membership in the cluster; see the module docs. Shared (`Arc`) by the engine.
pub struct Cluster {
    node: String,
    prefix: String,
    node_ttl: Duration,
    conn: ConnectionManager,
    outbox: mpsc::Sender<Outgoing>,
    /// The live nodes, sorted, as of the last lease renewal.
    view: RwLock<Arc<[String]>>,
    up: AtomicBool,
    incoming: std::sync::Mutex<Option<mpsc::UnboundedReceiver<redis::PushInfo>>>,
    outgoing: std::sync::Mutex<Option<mpsc::Receiver<Outgoing>>>,
    /// Set once, by the Pusher hub, when the protocol is on.
    channel_frames: OnceLock<Weak<dyn ChannelFrames>>,
    /// Longest wait for another node's answer.
    forward_timeout: Duration,
    /// Actions on other nodes' calls waiting for their answers (see `calls`).
    asked: calls::Asked,
    /// Each chat's new messages in order (see `order`).
    order: order::Sequencer,
    /// Membership changes waiting for the other nodes (see `reload`).
    reloads: reload::Reloads,
}

impl Cluster {
    /// Connects to Redis (RESP3, for pub/sub on the same connection), subscribes to this
    /// node's channels and takes its lease. Fails if Redis cannot be reached now: a node
    /// does not start outside its cluster.
    pub async fn join(config: ClusterConfig) -> Result<Arc<Cluster>, ClusterError> {
        use redis::IntoConnectionInfo;
        let info = config.redis_url.as_str().into_connection_info()?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(settings))?;
        let (push, incoming) = mpsc::unbounded_channel();
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_push_sender(push)
            .set_automatic_resubscription()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(2));
        let mut conn = ConnectionManager::new_with_config(client, manager).await?;
        let node = match config.node_id.is_empty() {
            true => format!("{:08x}", rand::random::<u32>()),
            false => config.node_id.clone(),
        };
        let prefix = config.key_prefix.clone();
        conn.subscribe(format!("{prefix}:all")).await?;
        conn.subscribe(format!("{prefix}:node:{node}")).await?;
        let (outbox, outgoing) = mpsc::channel(OUTBOX);
        let cluster = Arc::new(Cluster {
            node,
            prefix,
            node_ttl: config.node_ttl,
            conn,
            outbox,
            view: RwLock::new(Arc::from(Vec::new())),
            up: AtomicBool::new(true),
            incoming: std::sync::Mutex::new(Some(incoming)),
            outgoing: std::sync::Mutex::new(Some(outgoing)),
            channel_frames: OnceLock::new(),
            forward_timeout: config.forward_timeout,
            asked: calls::Asked::default(),
            order: order::Sequencer::default(),
            reloads: reload::Reloads::default(),
        });
        cluster.renew_lease().await?;
        Ok(cluster)
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether Redis answered the last time this node renewed its lease.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The live nodes (sorted), this one included while its lease holds.
    pub fn nodes(&self) -> Arc<[String]> {
        self.view.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Names where relayed Pusher channel frames go on this node (see [`ChannelFrames`]).
    pub fn on_channel_frames(&self, to: Weak<dyn ChannelFrames>) {
        let _ = self.channel_frames.set(to);
    }

    /// Tells the Pusher hub that Redis may have lost this node's presence channel members.
    fn members_lost(&self) {
        if let Some(to) = self.channel_frames.get().and_then(Weak::upgrade) {
            to.members_lost();
        }
    }

    /// Hands a frame another node relayed to this node's subscribers of `channel`.
    fn channel_frame(&self, channel: &str, text: String, except: Option<&str>) {
        if let Some(to) = self.channel_frames.get().and_then(Weak::upgrade) {
            to.relayed(channel, text, except);
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// Queues `body` for every other node.
    pub fn broadcast(&self, body: wire::Body<'_>) {
        let channel = self.key("all");
        self.publish(channel, body);
    }

    /// Queues `body` for node `node` alone.
    pub fn send_to(&self, node: &str, body: wire::Body<'_>) {
        let channel = self.key(&format!("node:{node}"));
        self.publish(channel, body);
    }

    fn publish(&self, channel: String, body: wire::Body<'_>) {
        let envelope = wire::Envelope {
            from: self.node.as_str().into(),
            body,
        };
        let bytes = match serde_json::to_vec(&envelope) {
            Ok(b) => b,
            Err(e) => return tracing::error!(error = %e, "a cluster message could not be encoded"),
        };
        if self.outbox.try_send((channel, bytes)).is_err() {
            tracing::warn!("cluster outbox full: a message to other nodes was dropped");
        }
    }

    /// Renews this node's lease and reads which nodes are live; answers the nodes whose
    /// lease ran out since anyone last looked (each dead node is answered to one caller only).
    async fn renew_lease(&self) -> redis::RedisResult<Vec<String>> {
        // Scores are lease ends, on Redis's own clock (so nodes' clocks need not agree).
        let script = redis::Script::new(
            r"
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
            local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
            redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
            return {redis.call('ZRANGE', KEYS[1], 0, -1), dead}
            ",
        );
        let mut conn = self.conn.clone();
        let res: redis::RedisResult<(Vec<String>, Vec<String>)> = script
            .key(self.key("nodes"))
            .arg(&self.node)
            .arg(self.node_ttl.as_millis() as u64)
            .invoke_async(&mut conn)
            .await;
        match res {
            Ok((mut live, dead)) => {
                live.sort();
                *self.view.write().unwrap_or_else(|p| p.into_inner()) = Arc::from(live);
                self.up.store(true, Ordering::Relaxed);
                Ok(dead)
            }
            Err(e) => {
                self.up.store(false, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Whether this node runs periodic job `job` now: the node holding its lease (or taking
    /// it, when it is free) runs it; the lease lasts `period`, so when its holder dies another
    /// node takes the job over within one period. With Redis away, nobody runs it this time.
    pub async fn holds_job(&self, job: &str, period: Duration) -> bool {
        let script = redis::Script::new(
            r"
            if redis.call('GET', KEYS[1]) == ARGV[1] then
              return redis.call('PEXPIRE', KEYS[1], ARGV[2])
            end
            if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
            return 0
            ",
        );
        let mut conn = self.conn.clone();
        let held: redis::RedisResult<i64> = script
            .key(self.key(&format!("job:{job}")))
            .arg(&self.node)
            .arg((period.as_millis() as u64).max(1))
            .invoke_async(&mut conn)
            .await;
        held.unwrap_or(0) == 1
    }

    /// Gives up this node's lease (a clean shutdown), so the others need not wait it out,
    /// its socket counts and its presence channel members (announced gone where they were
    /// present on no other node).
    pub async fn leave(&self) {
        let mut conn = self.conn.clone();
        let _: redis::RedisResult<()> = redis::cmd("ZREM")
            .arg(self.key("nodes"))
            .arg(&self.node)
            .query_async(&mut conn)
            .await;
        let _ = self.forget_sockets(&self.node).await;
        if let Ok(gone) = self.bury_members(&self.node).await {
            let mut pipe = redis::pipe();
            for (channel, user_id) in gone {
                let text = members::member_removed(&channel, user_id);
                let envelope = wire::Envelope {
                    from: self.node.as_str().into(),
                    body: wire::Body::ChannelFrame {
                        channel: channel.as_str().into(),
                        text: text.as_str().into(),
                        except: None,
                    },
                };
                if let Ok(bytes) = serde_json::to_vec(&envelope) {
                    pipe.cmd("PUBLISH").arg(self.key("all")).arg(bytes).ignore();
                }
            }
            // Published at once: the outbox may not be sent before the process ends.
            let _: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
        }
    }
}

#[cfg(test)]
mod tests;
