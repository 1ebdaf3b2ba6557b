//! The node's side of the Redis link: the bus that publishes deliveries to the other nodes,
//! and the three tasks that keep the link (sending what was published, acting on what other
//! nodes sent, renewing the lease).

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::{PushKind, Value};

use super::wire::{Body, Envelope};
use super::{order, Cluster};
use crate::bus::{Bus, Delivery};
use crate::engine::Engine;
use crate::registry::{
    CallFromNode, CallNews, Directory, EndAuthSession, ForgetRooms, PresenceChanged,
    PresenceElsewhere,
};

/// Most messages sent in one pipeline.
const PIPELINE: usize = 256;

/// The bus of a node in a cluster: sessions on this node get a delivery directly, and the
/// other nodes get it through Redis (only when it may concern them: a delivery to one
/// connection of this node stays here).
pub struct ClusterBus {
    pub sessions: Arc<Directory>,
    pub cluster: Arc<Cluster>,
}

impl Bus for ClusterBus {
    fn publish(&self, delivery: Delivery) {
        if delivery.only.is_none_or(|conn| !conn.is_local()) {
            self.cluster.broadcast(Body::deliver(&delivery));
        }
        // A message of this node can still come after one another node stored before it.
        self.cluster
            .order
            .offer(delivery, Instant::now(), |d| self.sessions.deliver(d));
    }
}

impl Cluster {
    /// Starts the link's tasks on the current actix system: `engine` acts on what other
    /// nodes send, delivering to the sessions in `sessions`.
    pub fn run(self: &Arc<Self>, engine: Engine, sessions: Arc<Directory>) {
        let outgoing = self
            .outgoing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let incoming = self
            .incoming
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let (Some(mut outgoing), Some(mut incoming)) = (outgoing, incoming) else {
            return; // Already running.
        };
        let mut conn = self.conn.clone();
        actix::spawn(async move {
            let mut batch = Vec::with_capacity(PIPELINE);
            while outgoing.recv_many(&mut batch, PIPELINE).await > 0 {
                let mut pipe = redis::pipe();
                for (channel, bytes) in batch.drain(..) {
                    pipe.cmd("PUBLISH").arg(channel).arg(bytes).ignore();
                }
                if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                    tracing::warn!(error = %e, "messages to other nodes were lost (Redis)");
                }
            }
        });
        let me = self.clone();
        let held = sessions.clone();
        actix::spawn(async move {
            loop {
                tokio::time::sleep(order::TICK).await;
                me.order.expire(Instant::now(), |d| held.deliver(d));
            }
        });
        let me = self.clone();
        let receiver = engine.clone();
        let sessions_for_lease = sessions.clone();
        actix::spawn(async move {
            while let Some(push) = incoming.recv().await {
                if push.kind == PushKind::Message {
                    me.received(&push.data, &receiver, &sessions);
                }
            }
        });
        let me = self.clone();
        actix::spawn(async move {
            // A node that ran under this id before and died left its users online, and its
            // socket counts; the sockets this node took meanwhile are recorded again.
            me.bury_and_announce(&me.node.clone(), &engine).await;
            engine.sockets.record_all_again();
            me.members_lost();
            actix::spawn(engine.sockets.clone().keep_recorded());
            let every = me.node_ttl / 3;
            loop {
                tokio::time::sleep(every.max(Duration::from_millis(100))).await;
                let was_up = me.is_up();
                match me.renew_lease().await {
                    Ok(dead) => {
                        for node in dead {
                            tracing::info!(node, "a node's lease ran out: its users go offline");
                            me.bury_and_announce(&node, &engine).await;
                        }
                        if !was_up {
                            // What other nodes changed meanwhile never reached this one:
                            // every room loads its chat afresh.
                            tracing::info!("Redis is back: realtime across nodes resumes");
                            for router in engine.routers() {
                                router.do_send(ForgetRooms);
                            }
                            me.reassert_presence(&engine, &sessions_for_lease).await;
                            engine.sockets.record_all_again();
                            me.members_lost();
                        }
                    }
                    Err(e) if was_up => {
                        tracing::warn!(error = %e, "Redis unreachable: realtime across nodes pauses")
                    }
                    Err(_) => {}
                }
            }
        });
    }

    /// Records again the users this node holds, after Redis was away (it may have restarted
    /// empty, or another node may have taken this one for dead): those the cluster had lost
    /// are announced online again.
    async fn reassert_presence(&self, engine: &Engine, sessions: &Directory) {
        for user_id in sessions.users() {
            match self.user_arrived(user_id).await {
                Ok(true) => engine.registry.do_send(PresenceChanged {
                    user_id,
                    online: true,
                }),
                Ok(false) => {}
                Err(e) => return tracing::warn!(error = %e, "presence not recorded again yet"),
            }
        }
    }

    /// Takes dead `node` out of presence and announces who went offline with it; its sockets
    /// stop counting against their users' cap, and its Pusher presence channel members are
    /// announced gone where no other node holds them.
    async fn bury_and_announce(&self, node: &str, engine: &Engine) {
        if let Err(e) = self.forget_sockets(node).await {
            tracing::warn!(node, error = %e, "a dead node's socket counts stay for now");
        }
        match self.bury(node).await {
            Ok(gone) => {
                for user_id in gone {
                    engine.registry.do_send(PresenceChanged {
                        user_id,
                        online: false,
                    });
                }
            }
            Err(e) => tracing::warn!(node, error = %e, "a dead node's users stay online for now"),
        }
        self.bury_members_and_announce(node).await;
        match self.bury_calls(node).await {
            Ok(calls) if !calls.is_empty() => {
                tracing::info!(node, count = calls.len(), "closing a dead node's calls");
                for &call_id in &calls {
                    self.broadcast(Body::CallOver { call_id });
                    engine.registry.do_send(CallNews::Over { call_id });
                }
                crate::call::close_orphaned(engine, calls).await;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(node, error = %e, "a dead node's calls stay live for now"),
        }
    }

    /// Acts on one pub/sub message (`[channel, payload]`).
    fn received(&self, data: &[Value], engine: &Engine, sessions: &Directory) {
        let Some(Value::BulkString(payload)) = data.get(1) else {
            return;
        };
        let envelope: Envelope = match serde_json::from_slice(payload) {
            Ok(e) => e,
            Err(e) => return tracing::warn!(error = %e, "unreadable message from another node"),
        };
        if envelope.from == self.node {
            return; // Acted on here before it was published.
        }
        match envelope.body {
            body @ Body::Deliver { .. } => {
                if let Some(delivery) = body.into_delivery() {
                    self.order
                        .offer(delivery, Instant::now(), |d| sessions.deliver(d));
                }
            }
            Body::EndSession {
                user_id,
                auth_session,
            } => engine.registry.do_send(EndAuthSession {
                user_id,
                auth_session,
            }),
            Body::Reload { chat_id, request } => {
                // Queued ahead of any later command for the chat on this node (they pass
                // through the same router): only then is the sender told.
                engine.reload_room(chat_id);
                if let Some(request) = request {
                    self.send_to(&envelope.from, Body::Reloaded { request });
                }
            }
            Body::Reloaded { request } => self.reloaded(&envelope.from, request),
            Body::ChannelFrame {
                channel,
                text,
                except,
            } => self.channel_frame(&channel, text.into_owned(), except.as_deref()),
            Body::Presence {
                user_id,
                online,
                at,
            } => engine.registry.do_send(PresenceElsewhere {
                user_id,
                online,
                at,
            }),
            Body::CallCmd {
                call_id,
                request,
                cmd,
            } => engine.registry.do_send(CallFromNode {
                from: envelope.from.into_owned(),
                call_id,
                request,
                cmd,
            }),
            Body::CallAnswer { request, answer } => self.answered(request, answer),
            Body::InCall {
                user_id,
                call_id,
                busy,
            } => engine.registry.do_send(CallNews::InCall {
                node: envelope.from.into_owned(),
                user_id,
                call_id,
                busy,
            }),
            Body::LeftCall { user_id, call_id } => engine
                .registry
                .do_send(CallNews::LeftCall { user_id, call_id }),
            Body::CallOver { call_id } => engine.registry.do_send(CallNews::Over { call_id }),
        }
    }
}
