//! The node's Pusher hub: live Pusher sockets by `socket_id`, the grants `/broadcasting/auth`
//! issued to them, who is subscribed to each channel, and each presence channel's members
//! (a user with two tabs is one member). Engine events do not pass through here (they reach
//! sockets through the registry, as for native sessions); client events and presence
//! announcements do, encoded once per channel.
//!
//! In a cluster, `/broadcasting/auth` may reach any node. A grant for a socket another node
//! holds is left in Redis (for [`GRANT_TTL`]), and the socket's node takes it when the client
//! subscribes. Frames for a channel's subscribers (client events, events published on
//! channels that are not Courier's) go to the other nodes too; presence channel members are
//! counted per node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use actix::prelude::*;
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::codec;
use super::socket::{Out, PusherSocket, Tick};
use super::PusherApp;
use crate::clock::Clock;
use crate::cluster::{wire::Body, ChannelFrames, Cluster};
use crate::session::ConnId;

/// How long a grant left for another node's socket waits to be taken.
pub const GRANT_TTL: Duration = Duration::from_secs(60);

/// A presence channel member as `/broadcasting/auth` described them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub user_id: i64,
    /// `user_info` of the channel data (what other members see).
    pub info: Value,
    /// Whether other members are told about them (their privacy allows it).
    pub listed: bool,
}

/// What a channel authorization granted a socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    /// For presence channels: the member the socket joins as.
    pub member: Option<Member>,
    /// Users whose presence the socket watches once subscribed (a chat's other members).
    pub watch: Vec<i64>,
}

/// Why a grant was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum GrantError {
    /// No live socket has this id on this node.
    UnknownSocket,
    /// The socket already acts for another user.
    OtherUser,
    /// The socket holds as many grants as it may.
    TooMany,
    /// The socket is not on this node, and Redis could not be reached to leave the grant.
    Unavailable,
}

/// A grant on its way to another node's socket: for whom (user, device session), and what.
#[derive(Serialize, Deserialize)]
struct Stashed {
    user: (i64, i64),
    grant: Grant,
}

struct Live {
    addr: Addr<PusherSocket>,
    conn: ConnId,
    /// The user (and device session) the socket acts for, from its first grant.
    user: Option<(i64, i64)>,
    grants: HashMap<String, Grant>,
}

#[derive(Default)]
struct Channel {
    /// Subscribed sockets, by socket id.
    subscribers: HashMap<Arc<str>, Addr<PusherSocket>>,
    /// Presence channels: members by user id, with their subscribed sockets' count.
    members: HashMap<i64, (usize, Member)>,
}

#[derive(Default)]
struct Inner {
    sockets: HashMap<Arc<str>, Live>,
    channels: HashMap<String, Channel>,
}

/// The hub; see the module docs. Shared (`Arc`) by the edge and every Pusher socket.
pub struct Hub {
    pub app: PusherApp,
    inner: Mutex<Inner>,
    /// The other nodes, in cluster mode.
    cluster: Option<Arc<Cluster>>,
}

/// The presence part of `subscription_succeeded`.
pub type PresenceData = Value;

impl Hub {
    /// A hub, and the one timer that ticks every socket (activity checks), on the current
    /// actix system; in a cluster, it takes the channel frames other nodes relay.
    pub fn start(app: PusherApp, clock: Clock, cluster: Option<Arc<Cluster>>) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            app,
            inner: Mutex::new(Inner::default()),
            cluster,
        });
        if let Some(cluster) = &hub.cluster {
            let frames: Weak<dyn ChannelFrames> = Arc::downgrade(&hub) as Weak<Hub>;
            cluster.on_channel_frames(frames);
        }
        let weak = Arc::downgrade(&hub);
        let every = (hub.app.activity_timeout / 4).max(std::time::Duration::from_secs(1));
        actix::spawn(async move {
            loop {
                clock.sleep(every).await;
                let Some(hub) = weak.upgrade() else { return };
                let sockets: Vec<_> = hub
                    .lock()
                    .sockets
                    .values()
                    .map(|l| l.addr.clone())
                    .collect();
                for s in sockets {
                    s.do_send(Tick);
                }
            }
        });
        hub
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new socket under a fresh, unguessable id.
    pub(super) fn open(&self, addr: Addr<PusherSocket>, conn: ConnId) -> Arc<str> {
        let mut inner = self.lock();
        loop {
            let id: Arc<str> = format!(
                "{}.{}",
                rand::random::<u32>() % 1_000_000_000,
                rand::random::<u32>() % 1_000_000_000
            )
            .into();
            if !inner.sockets.contains_key(&id) {
                inner.sockets.insert(
                    id.clone(),
                    Live {
                        addr,
                        conn,
                        user: None,
                        grants: HashMap::new(),
                    },
                );
                return id;
            }
        }
    }

    /// Records that `user` (signed in on device session `auth_session`) may subscribe
    /// `socket_id` to `channel`: here, or for a socket on another node, in Redis.
    pub async fn grant(
        &self,
        socket_id: &str,
        user: (i64, i64),
        channel: &str,
        grant: Grant,
    ) -> Result<(), GrantError> {
        let here = self.lock().sockets.contains_key(socket_id);
        match &self.cluster {
            Some(cluster) if !here => {
                let stashed = Stashed { user, grant };
                let bytes = serde_json::to_vec(&stashed).map_err(|_| GrantError::Unavailable)?;
                cluster
                    .stash(&grant_name(socket_id, channel), &bytes, GRANT_TTL)
                    .await
                    .map_err(|_| GrantError::Unavailable)
            }
            _ => self.grant_here(socket_id, user, channel, grant),
        }
    }

    fn grant_here(
        &self,
        socket_id: &str,
        user: (i64, i64),
        channel: &str,
        grant: Grant,
    ) -> Result<(), GrantError> {
        let mut inner = self.lock();
        let live = inner
            .sockets
            .get_mut(socket_id)
            .ok_or(GrantError::UnknownSocket)?;
        match live.user {
            Some((u, _)) if u != user.0 => return Err(GrantError::OtherUser),
            Some(_) => {}
            None => live.user = Some(user),
        }
        if !live.grants.contains_key(channel) && live.grants.len() >= self.app.max_channels {
            return Err(GrantError::TooMany);
        }
        live.grants.insert(channel.to_string(), grant);
        Ok(())
    }

    /// Takes the grant for a subscription, with the user it is for. A grant serves one
    /// subscription: subscribing again (after an unsubscribe, or a removal from the chat)
    /// needs a new authorization, checked against the membership of that moment.
    pub(super) fn take_grant(&self, socket_id: &str, channel: &str) -> Option<((i64, i64), Grant)> {
        let mut inner = self.lock();
        let live = inner.sockets.get_mut(socket_id)?;
        let user = live.user?;
        Some((user, live.grants.remove(channel)?))
    }

    /// In a cluster, takes a grant another node left for this socket (at most once).
    pub(super) fn take_grant_elsewhere(
        &self,
        socket_id: &str,
        channel: &str,
    ) -> Option<impl std::future::Future<Output = Option<((i64, i64), Grant)>> + 'static> {
        let cluster = self.cluster.clone()?;
        let name = grant_name(socket_id, channel);
        Some(async move {
            let bytes = cluster.take_stashed(&name).await.ok()??;
            let s: Stashed = serde_json::from_slice(&bytes).ok()?;
            Some((s.user, s.grant))
        })
    }

    /// Subscribes a socket. For a presence channel, answers the members hash (with `member`
    /// in it) and, when the member is new and listed, tells the other subscribers.
    pub(super) fn subscribe(
        &self,
        socket_id: &Arc<str>,
        addr: Addr<PusherSocket>,
        channel: &str,
        member: Option<Member>,
    ) -> Option<PresenceData> {
        let mut inner = self.lock();
        let ch = inner.channels.entry(channel.to_string()).or_default();
        ch.subscribers.insert(socket_id.clone(), addr);
        let member = member?;
        let id = member.user_id;
        let announce = member.listed.then(|| {
            codec::frame(
                "pusher_internal:member_added",
                Some(channel),
                &json!({ "user_id": id, "user_info": member.info }),
            )
        });
        let entry = ch.members.entry(id).or_insert((0, member));
        entry.0 += 1;
        if entry.0 == 1 {
            if let Some(text) = announce {
                let text = ByteString::from(text);
                for (sid, s) in &ch.subscribers {
                    if sid != socket_id {
                        s.do_send(Out(text.clone()));
                    }
                }
            }
        }
        let listed: Vec<(&i64, &Member)> = ch
            .members
            .iter()
            .filter(|(uid, (_, m))| m.listed || **uid == id)
            .map(|(uid, (_, m))| (uid, m))
            .collect();
        let ids: Vec<String> = listed.iter().map(|(uid, _)| uid.to_string()).collect();
        let hash: serde_json::Map<String, Value> = listed
            .iter()
            .map(|(uid, m)| (uid.to_string(), m.info.clone()))
            .collect();
        Some(json!({ "presence": { "ids": ids, "hash": hash, "count": ids.len() } }))
    }

    /// Unsubscribes a socket; a presence member whose last socket this was is removed, and
    /// the others are told.
    pub(super) fn unsubscribe(&self, socket_id: &str, channel: &str, user_id: Option<i64>) {
        let mut inner = self.lock();
        Self::leave(&mut inner, socket_id, channel, user_id);
    }

    fn leave(inner: &mut Inner, socket_id: &str, channel: &str, user_id: Option<i64>) {
        let Some(ch) = inner.channels.get_mut(channel) else {
            return;
        };
        if ch.subscribers.remove(socket_id).is_none() {
            return;
        }
        if let Some(uid) = user_id {
            if let Some((count, member)) = ch.members.get_mut(&uid) {
                *count -= 1;
                if *count == 0 {
                    let listed = member.listed;
                    ch.members.remove(&uid);
                    if listed {
                        let text = ByteString::from(codec::frame(
                            "pusher_internal:member_removed",
                            Some(channel),
                            &json!({ "user_id": uid }),
                        ));
                        for s in ch.subscribers.values() {
                            s.do_send(Out(text.clone()));
                        }
                    }
                }
            }
        }
        if ch.subscribers.is_empty() {
            inner.channels.remove(channel);
        }
    }

    /// Relays a client event to the channel's subscribers but the sender; answers to how many.
    pub(super) fn relay(&self, socket_id: &str, channel: &str, text: String) -> usize {
        self.broadcast(channel, text, Some(socket_id))
    }

    /// Sends a frame to every socket subscribed to `channel` but `except`, on every node;
    /// answers to how many on this one.
    pub fn broadcast(&self, channel: &str, text: String, except: Option<&str>) -> usize {
        if let Some(cluster) = &self.cluster {
            cluster.broadcast(Body::ChannelFrame {
                channel: channel.into(),
                text: text.as_str().into(),
                except: except.map(Into::into),
            });
        }
        self.send_here(channel, text, except)
    }

    fn send_here(&self, channel: &str, text: String, except: Option<&str>) -> usize {
        let socket_id = except.unwrap_or("");
        let inner = self.lock();
        let Some(ch) = inner.channels.get(channel) else {
            return 0;
        };
        let text = ByteString::from(text);
        let mut n = 0;
        for (sid, s) in &ch.subscribers {
            if &**sid != socket_id {
                s.do_send(Out(text.clone()));
                n += 1;
            }
        }
        n
    }

    /// Forgets a closed socket: its grants and subscriptions (`channels`, with the user it
    /// acted for).
    pub(super) fn close(&self, socket_id: &str, channels: &[String], user_id: Option<i64>) {
        let mut inner = self.lock();
        inner.sockets.remove(socket_id);
        for c in channels {
            Self::leave(&mut inner, socket_id, c, user_id);
        }
    }

    /// Channels with subscribers now: name, subscriber count, presence member count.
    pub fn channels(&self) -> Vec<(String, usize, usize)> {
        let inner = self.lock();
        inner
            .channels
            .iter()
            .map(|(name, ch)| (name.clone(), ch.subscribers.len(), listed(ch)))
            .collect()
    }

    /// One channel's subscriber and presence member counts (`None`: nobody subscribed).
    pub fn channel(&self, name: &str) -> Option<(usize, usize)> {
        let inner = self.lock();
        let ch = inner.channels.get(name)?;
        Some((ch.subscribers.len(), listed(ch)))
    }

    /// The connection id of a live socket, to leave it out of a delivery.
    pub fn conn_of(&self, socket_id: &str) -> Option<ConnId> {
        self.lock().sockets.get(socket_id).map(|l| l.conn)
    }

    /// A presence channel's listed members.
    pub fn members(&self, channel: &str) -> Vec<i64> {
        let inner = self.lock();
        inner
            .channels
            .get(channel)
            .map(|ch| {
                ch.members
                    .iter()
                    .filter(|(_, (_, m))| m.listed)
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Live Pusher sockets on this node.
    pub fn socket_count(&self) -> usize {
        self.lock().sockets.len()
    }
}

impl ChannelFrames for Hub {
    fn relayed(&self, channel: &str, text: String, except: Option<&str>) {
        self.send_here(channel, text, except);
    }
}

/// Where a grant for another node's socket waits in Redis.
fn grant_name(socket_id: &str, channel: &str) -> String {
    format!("pusher-grant:{socket_id}:{channel}")
}

/// A presence channel's listed members.
fn listed(ch: &Channel) -> usize {
    ch.members.values().filter(|(_, m)| m.listed).count()
}
