//! The node's Pusher hub: live Pusher sockets by `socket_id`, the grants `/broadcasting/auth`
//! issued to them, who is subscribed to each channel, and each presence channel's members
//! (a user with two tabs is one member). Engine events do not pass through here (they reach
//! sockets through the registry, as for native sessions); client events and presence
//! announcements do, encoded once per channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use actix::prelude::*;
use bytestring::ByteString;
use serde_json::{json, Value};

use super::codec;
use super::socket::{Out, PusherSocket, Tick};
use super::PusherApp;
use crate::clock::Clock;
use crate::session::ConnId;

/// A presence channel member as `/broadcasting/auth` described them.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: i64,
    /// `user_info` of the channel data (what other members see).
    pub info: Value,
    /// Whether other members are told about them (their privacy allows it).
    pub listed: bool,
}

/// What a channel authorization granted a socket.
#[derive(Debug, Clone)]
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
}

/// The presence part of `subscription_succeeded`.
pub type PresenceData = Value;

impl Hub {
    /// A hub, and the one timer that ticks every socket (activity checks), on the current
    /// actix system.
    pub fn start(app: PusherApp, clock: Clock) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            app,
            inner: Mutex::new(Inner::default()),
        });
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
    /// `socket_id` to `channel`.
    pub fn grant(
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

    /// Sends a frame to every socket subscribed to `channel` but `except`; answers to how many.
    pub fn broadcast(&self, channel: &str, text: String, except: Option<&str>) -> usize {
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

/// A presence channel's listed members.
fn listed(ch: &Channel) -> usize {
    ch.members.values().filter(|(_, m)| m.listed).count()
}
