//! Presence goes only to those who look. A socket watches the users whose presence it shows
//! (`presence-subscribe`: the chat it has open, its contact list), and when one of them comes
//! online or goes offline, only the sockets watching them are told, as that user's privacy
//! allows. Connecting the members of a big group therefore costs one announcement per watcher,
//! not one per member per member.

use std::collections::{HashMap, HashSet};

use actix::prelude::*;
use serde_json::json;

use super::Registry;
use crate::bus::Delivery;
use crate::event::user_channel;
use crate::session::ConnId;
use crate::store::presence::viewers_of;
use crate::store::users;

/// Who watches whom, both ways.
#[derive(Default)]
pub(super) struct Watches {
    /// Watched user → the sockets watching them, with the viewer each belongs to.
    of: HashMap<i64, HashMap<ConnId, i64>>,
    /// Socket → the users it watches.
    by: HashMap<ConnId, HashSet<i64>>,
}

impl Watches {
    /// Forgets everything a socket watched (it closed).
    pub(super) fn drop_conn(&mut self, conn: ConnId) {
        for watched in self.by.remove(&conn).unwrap_or_default() {
            if let Some(w) = self.of.get_mut(&watched) {
                w.remove(&conn);
                if w.is_empty() {
                    self.of.remove(&watched);
                }
            }
        }
    }

    fn unwatch(&mut self, conn: ConnId, user_ids: &[i64]) {
        let Some(watching) = self.by.get_mut(&conn) else {
            return;
        };
        for id in user_ids {
            watching.remove(id);
            if let Some(w) = self.of.get_mut(id) {
                w.remove(&conn);
                if w.is_empty() {
                    self.of.remove(id);
                }
            }
        }
        if watching.is_empty() {
            self.by.remove(&conn);
        }
    }
}

/// A socket starts watching users. Answers which of them are online now, or `Err(limit)` if
/// the socket would watch more than `limit` users (then nothing changes).
#[derive(Message)]
#[rtype(result = "Result<HashSet<i64>, usize>")]
pub struct Watch {
    pub conn: ConnId,
    pub viewer: i64,
    pub user_ids: Vec<i64>,
}

impl Handler<Watch> for Registry {
    type Result = ResponseActFuture<Self, Result<HashSet<i64>, usize>>;

    fn handle(&mut self, msg: Watch, _: &mut Self::Context) -> Self::Result {
        let limit = self.engine.realtime.max_presence_watch;
        let watching = self.watches.by.entry(msg.conn).or_default();
        let new = msg
            .user_ids
            .iter()
            .filter(|id| !watching.contains(id))
            .count();
        if watching.len() + new > limit {
            if watching.is_empty() {
                self.watches.by.remove(&msg.conn);
            }
            return Box::pin(fut::ready(Err(limit)));
        }
        for &id in &msg.user_ids {
            watching.insert(id);
            self.watches
                .of
                .entry(id)
                .or_default()
                .insert(msg.conn, msg.viewer);
        }
        let Some(cluster) = self.engine.cluster.clone() else {
            let online = msg
                .user_ids
                .into_iter()
                .filter(|id| self.users.is_online(*id));
            return Box::pin(fut::ready(Ok(online.collect())));
        };
        // Online anywhere in the cluster; with Redis away, as far as this node knows.
        Box::pin(
            async move {
                let found = cluster.online_among(&msg.user_ids).await;
                (found, msg.user_ids)
            }
            .into_actor(self)
            .map(|(found, ids), act, _| {
                Ok(found.unwrap_or_else(|_| {
                    ids.into_iter()
                        .filter(|id| act.users.is_online(*id))
                        .collect()
                }))
            }),
        )
    }
}

/// A user came online or went offline on another node (which recorded it): the sockets here
/// that watch them are told, as their privacy allows.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PresenceElsewhere {
    pub user_id: i64,
    pub online: bool,
    pub at: chrono::NaiveDateTime,
}

impl Handler<PresenceElsewhere> for Registry {
    type Result = ();

    fn handle(&mut self, msg: PresenceElsewhere, ctx: &mut Self::Context) {
        self.tell_watchers(msg.user_id, msg.online, Some(msg.at), ctx);
    }
}

/// A user's presence changed as far as the cluster can tell (their first socket anywhere
/// opened, their last one closed, or the node holding them died): record and announce it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PresenceChanged {
    pub user_id: i64,
    pub online: bool,
}

impl Handler<PresenceChanged> for Registry {
    type Result = ();

    fn handle(&mut self, msg: PresenceChanged, ctx: &mut Self::Context) {
        // A socket that opened here meanwhile keeps the user online.
        if msg.online || !self.users.is_online(msg.user_id) {
            self.announce_presence(msg.user_id, msg.online, ctx);
        }
    }
}

/// A socket stops watching users (`None`: all of them).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unwatch {
    pub conn: ConnId,
    pub user_ids: Option<Vec<i64>>,
}

impl Handler<Unwatch> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Unwatch, _: &mut Self::Context) {
        match msg.user_ids {
            Some(ids) => self.watches.unwatch(msg.conn, &ids),
            None => self.watches.drop_conn(msg.conn),
        }
    }
}

impl Registry {
    /// Records the user's new presence and tells the sockets watching them, as their privacy
    /// allows. Only the latest of a user's changes in flight is announced, so a quick
    /// connect-disconnect cannot end on a stale "online".
    pub(super) fn announce_presence(
        &mut self,
        user_id: i64,
        online: bool,
        ctx: &mut Context<Self>,
    ) {
        self.tell_watchers(user_id, online, None, ctx);
    }

    /// Tells the sockets of this node watching `user_id`; `at`: another node recorded the
    /// change at that time, else this node records it now (and tells the other nodes).
    fn tell_watchers(
        &mut self,
        user_id: i64,
        online: bool,
        at: Option<chrono::NaiveDateTime>,
        ctx: &mut Context<Self>,
    ) {
        self.presence_counter += 1;
        let number = self.presence_counter;
        self.presence.insert(user_id, number);
        let viewers: Vec<i64> = self
            .watches
            .of
            .get(&user_id)
            .map(|w| {
                w.values()
                    .copied()
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default();
        let engine = self.engine.clone();
        ctx.spawn(
            async move {
                let at = match at {
                    Some(at) => at,
                    None => {
                        let at = engine.set_presence(user_id, online).await?;
                        if let Some(cluster) = &engine.cluster {
                            cluster.broadcast(crate::cluster::wire::Body::Presence {
                                user_id,
                                online,
                                at,
                            });
                        }
                        at
                    }
                };
                if viewers.is_empty() {
                    return Ok(None);
                }
                let mut conn = engine.db.get().await?;
                let Some(user) = users::find(&mut conn.conn(), user_id).await? else {
                    return Ok(None);
                };
                let visible = viewers_of(&mut conn.conn(), &user, &viewers).await?;
                let data = json!({ "contact_id": user_id, "is_online": online, "last_seen_at": at.and_utc() });
                Ok::<_, crate::store::StoreError>(Some((visible, data)))
            }
            .into_actor(self)
            .map(move |r, act, _| {
                if act.presence.get(&user_id) != Some(&number) {
                    return; // A later change of this user's presence is being announced.
                }
                act.presence.remove(&user_id);
                let (visible, data) = match r {
                    Ok(Some(found)) => found,
                    Ok(None) => return,
                    Err(e) => return tracing::warn!(error = %e, "presence update failed"),
                };
                let Some(watchers) = act.watches.of.get(&user_id) else {
                    return;
                };
                for (&conn, &viewer) in watchers {
                    if !visible.contains(&viewer) {
                        continue;
                    }
                    let channel = user_channel(viewer);
                    let event = act
                        .engine
                        .event("user-status-updated", channel, None, data.clone());
                    act.engine.bus.publish(Delivery {
                        users: vec![viewer],
                        event,
                        skip: None,
                        only: Some(conn),
                        order: None,
                    });
                }
            }),
        );
    }
}
