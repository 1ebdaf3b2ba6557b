//! The node's Pusher hub: live Pusher sockets by `socket_id`, the grants `/broadcasting/auth`
//! issued to them, who is subscribed to each channel, and each presence channel's members
//! (a user with two tabs is one member). Engine events do not pass through here (they reach
//! sockets through the registry, as for native sessions); client events and presence
//! announcements do, encoded once per channel.
//!
//! In a cluster, `/broadcasting/auth` may reach any node. A grant for a socket another node
//! holds is left in Redis (for [`GRANT_TTL`]), and the socket's node takes it when the client
//! subscribes. Frames for a channel's subscribers (client events, events published on
//! channels that are not Courier's) go to the other nodes too, and presence channel members
//! are counted across nodes (see `members`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use actix::prelude::*;
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::members::{self, Change, Changes};
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
    /// In cluster mode, where changes of this node's presence channel members go.
    changes: OnceLock<Changes>,
}

impl Hub {
    /// A hub, and the one timer that ticks every socket (activity checks), on the current
    /// actix system; in a cluster, it takes the channel frames other nodes relay.
    pub fn start(app: PusherApp, clock: Clock, cluster: Option<Arc<Cluster>>) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            app,
            inner: Mutex::new(Inner::default()),
            cluster,
            changes: OnceLock::new(),
        });
        if let Some(cluster) = &hub.cluster {
            let _ = hub
                .changes
                .set(members::start(Arc::downgrade(&hub), cluster.clone()));
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

    /// Subscribes a socket. For a presence channel, answers this node's members (`member`
    /// among them, listed or not) and, when the member is new and listed, tells the other
    /// subscribers: here, or in a cluster on every node once Redis says they are new there.
    pub(super) fn subscribe(
        &self,
        socket_id: &Arc<str>,
        addr: Addr<PusherSocket>,
        channel: &str,
        member: Option<Member>,
    ) -> Option<Vec<(i64, Value)>> {
        let mut inner = self.lock();
        let ch = inner.channels.entry(channel.to_string()).or_default();
        ch.subscribers.insert(socket_id.clone(), addr);
        let member = member?;
        let id = member.user_id;
        let entry = ch.members.entry(id).or_insert((0, member.clone()));
        entry.0 += 1;
        if entry.0 == 1 && member.listed {
            match self.changes.get() {
                Some(changes) => {
                    let _ = changes.send(Change::Joined {
                        channel: channel.to_string(),
                        member,
                        socket: socket_id.clone(),
                    });
                }
                None => {
                    let text = ByteString::from(members::member_added(channel, &member));
                    for (sid, s) in &ch.subscribers {
                        if sid != socket_id {
                            s.do_send(Out(text.clone()));
                        }
                    }
                }
            }
        }
        Some(
            ch.members
                .iter()
                .filter(|(uid, (_, m))| m.listed || **uid == id)
                .map(|(uid, (_, m))| (*uid, m.info.clone()))
                .collect(),
        )
    }

    /// In a cluster, the listed members of `channel` on the other live nodes (user id, info
    /// as JSON), read once this node's changes so far are recorded (so a member whose
    /// subscription succeeded is listed to later subscribers on every node); nothing when
    /// Redis does not answer, and `None` (this node's members alone) while it is away.
    pub(super) fn members_elsewhere(
        &self,
        channel: &str,
    ) -> Option<impl std::future::Future<Output = Vec<(i64, String)>> + 'static> {
        let cluster = self.cluster.clone().filter(|c| c.is_up())?;
        let (done, recorded) = tokio::sync::oneshot::channel();
        let _ = self.changes.get()?.send(Change::Recorded(done));
        let channel = channel.to_string();
        Some(async move {
            let _ = recorded.await;
            cluster
                .members_elsewhere(&channel)
                .await
                .inspect_err(
                    |e| tracing::warn!(error = %e, "channel members on other nodes unknown"),
                )
                .unwrap_or_default()
        })
    }

    /// Unsubscribes a socket; a presence member whose last socket this was is removed, and
    /// the others are told.
    pub(super) fn unsubscribe(&self, socket_id: &str, channel: &str, user_id: Option<i64>) {
        let mut inner = self.lock();
        self.leave(&mut inner, socket_id, channel, user_id);
    }

    fn leave(&self, inner: &mut Inner, socket_id: &str, channel: &str, user_id: Option<i64>) {
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
                    match self.changes.get() {
                        Some(changes) if listed => {
                            let _ = changes.send(Change::Left {
                                channel: channel.to_string(),
                                user_id: uid,
                            });
                        }
                        None if listed => {
                            let text =
                                ByteString::from(crate::cluster::member_removed(channel, uid));
                            for s in ch.subscribers.values() {
                                s.do_send(Out(text.clone()));
                            }
                        }
                        _ => {}
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

    /// Sends a frame to the sockets subscribed to `channel` on this node but `except`;
    /// answers to how many.
    pub(super) fn send_here(&self, channel: &str, text: String, except: Option<&str>) -> usize {
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
            self.leave(&mut inner, socket_id, c, user_id);
        }
    }

    /// Channels with subscribers on this node now: name, subscriber count, presence member
    /// count.
    pub fn channels(&self) -> Vec<(String, usize, usize)> {
        let inner = self.lock();
        inner
            .channels
            .iter()
            .map(|(name, ch)| (name.clone(), ch.subscribers.len(), listed(ch)))
            .collect()
    }

    /// One channel's subscriber and presence member counts on this node (`None`: nobody
    /// subscribed here).
    pub fn channel(&self, name: &str) -> Option<(usize, usize)> {
        let inner = self.lock();
        let ch = inner.channels.get(name)?;
        Some((ch.subscribers.len(), listed(ch)))
    }

    /// The connection id of a live socket, to leave it out of a delivery.
    pub fn conn_of(&self, socket_id: &str) -> Option<ConnId> {
        self.lock().sockets.get(socket_id).map(|l| l.conn)
    }

    /// A presence channel's listed members on this node.
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

    /// Every presence channel's listed members on this node, with their info as JSON.
    pub(super) fn listed_members(&self) -> Vec<(String, Vec<(i64, String)>)> {
        let inner = self.lock();
        inner
            .channels
            .iter()
            .map(|(name, ch)| {
                let members = ch.members.iter().filter(|(_, (_, m))| m.listed);
                let members = members.map(|(id, (_, m))| (*id, m.info.to_string()));
                (name.clone(), members.collect::<Vec<_>>())
            })
            .filter(|(_, members)| !members.is_empty())
            .collect()
    }
}

impl ChannelFrames for Hub {
    fn relayed(&self, channel: &str, text: String, except: Option<&str>) {
        self.send_here(channel, text, except);
    }

    fn members_lost(&self) {
        if let Some(changes) = self.changes.get() {
            let _ = changes.send(Change::All);
        }
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
