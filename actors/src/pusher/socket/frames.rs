//! What a Pusher socket does with each decoded client frame: pings, subscriptions (signature
//! and grant checks, binding the socket to its user), unsubscriptions and client events.

use serde_json::{json, Value};

use super::{PusherSocket, WATCH_CHUNK};
use crate::pusher::codec::{self, codes, ChannelKind, PusherFrame, Refusal};
use crate::pusher::members;
use crate::pusher::{Grant, Member};
use crate::registry::{Connect, Watch};
use crate::room::RoomCmd;
use crate::session::SocketSlot;
use actix::prelude::*;

impl PusherSocket {
    pub(super) fn run(&mut self, frame: PusherFrame, ctx: &mut Context<Self>) {
        match frame {
            PusherFrame::Ping => self.send_text(codec::frame("pusher:pong", None, &json!({})), ctx),
            PusherFrame::Pong => self.pinged = None,
            PusherFrame::Subscribe {
                channel,
                auth,
                channel_data,
            } => self.subscribe(channel, auth, channel_data, ctx),
            PusherFrame::Unsubscribe { channel } => {
                if self.channels.remove(&channel).is_some() {
                    self.hub
                        .unsubscribe(&self.socket_id, &channel, self.user.map(|u| u.0));
                }
            }
            PusherFrame::Client {
                event,
                channel,
                data,
            } => self.client_event(event, channel, data, ctx),
        }
    }

    fn subscribe(
        &mut self,
        channel: String,
        auth: Option<String>,
        channel_data: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let error =
            |status: u16, message: &str| codec::subscription_error(&channel, status, message);
        if self.channels.contains_key(&channel) {
            let text = error(400, "already subscribed to this channel");
            return self.send_text(text, ctx);
        }
        if self.channels.len() >= self.hub.app.max_channels {
            let text = error(
                429,
                "this socket is subscribed to as many channels as it may",
            );
            return self.send_text(text, ctx);
        }
        let kind = ChannelKind::of(&channel);
        if kind != ChannelKind::Public {
            let app = &self.hub.app;
            let data = channel_data
                .as_deref()
                .filter(|_| kind == ChannelKind::Presence);
            let signed = auth.as_deref().is_some_and(|a| {
                codec::verify(&app.key, &app.secret, &self.socket_id, &channel, data, a)
            });
            if !signed || (kind == ChannelKind::Presence && data.is_none()) {
                let text = error(401, "invalid signature for this socket and channel");
                return self.send_text(text, ctx);
            }
            match self.hub.take_grant(&self.socket_id, &channel) {
                Some((user, grant)) => self.subscribe_granted(channel, kind, user, grant, ctx),
                // In a cluster the grant may wait in Redis, left by the node that answered
                // the authorization. The socket reads nothing else meanwhile, so frames
                // keep their order.
                None => {
                    match self.hub.take_grant_elsewhere(&self.socket_id, &channel) {
                        Some(taken) => ctx.wait(taken.into_actor(self).map(
                            move |taken, act, ctx| match taken {
                                Some((user, grant)) => {
                                    act.subscribe_granted(channel, kind, user, grant, ctx)
                                }
                                None => act.send_text(not_granted(&channel), ctx),
                            },
                        )),
                        None => self.send_text(not_granted(&channel), ctx),
                    }
                }
            }
            return;
        }
        self.subscribed(channel, kind, None, ctx);
    }

    /// Goes on with a subscription `/broadcasting/auth` granted `user`.
    fn subscribe_granted(
        &mut self,
        channel: String,
        kind: ChannelKind,
        user: (i64, i64),
        grant: Grant,
        ctx: &mut Context<Self>,
    ) {
        if self.closing {
            return;
        }
        if self.user.is_some_and(|u| u != user) {
            let text =
                codec::subscription_error(&channel, 403, "this socket acts for another user");
            return self.send_text(text, ctx);
        }
        if self.channels.contains_key(&channel) {
            let text =
                codec::subscription_error(&channel, 400, "already subscribed to this channel");
            return self.send_text(text, ctx);
        }
        if self.user.is_none() {
            // The slot is counted on every node in a cluster. The socket reads nothing else
            // meanwhile, so frames keep their order.
            let (slots, now) = (self.engine.sockets.clone(), self.engine.clock.now());
            let taken = async move { slots.take(user.0, now).await };
            ctx.wait(taken.into_actor(self).map(move |slot, act, ctx| {
                if !act.closing && act.bind(user, slot, ctx) {
                    act.subscribe_bound(channel, kind, user.0, grant, ctx);
                }
            }));
            return;
        }
        self.subscribe_bound(channel, kind, user.0, grant, ctx);
    }

    /// Goes on with a subscription granted to `viewer`, the user this socket is bound to.
    fn subscribe_bound(
        &mut self,
        channel: String,
        kind: ChannelKind,
        viewer: i64,
        grant: Grant,
        ctx: &mut Context<Self>,
    ) {
        for ids in grant.watch.chunks(WATCH_CHUNK) {
            self.engine.registry.do_send(Watch {
                conn: self.conn,
                viewer,
                user_ids: ids.to_vec(),
            });
        }
        self.subscribed(channel, kind, grant.member, ctx);
    }

    /// Joins the channel in the hub and answers `subscription_succeeded`.
    fn subscribed(
        &mut self,
        channel: String,
        kind: ChannelKind,
        member: Option<Member>,
        ctx: &mut Context<Self>,
    ) {
        let here = self
            .hub
            .subscribe(&self.socket_id, ctx.address(), &channel, member);
        self.channels.insert(channel.clone(), kind);
        let Some(here) = here else {
            return self.send_text(succeeded(&channel, &json!({})), ctx);
        };
        match self.hub.members_elsewhere(&channel) {
            // In a cluster, the members on the other nodes too. The socket reads nothing else
            // meanwhile, and what its channels send waits: `subscription_succeeded` comes
            // before any `member_added` or event of the channel.
            Some(elsewhere) => {
                ctx.wait(elsewhere.into_actor(self).map(move |elsewhere, act, ctx| {
                    let all = members::merge(here, elsewhere);
                    act.send_text(succeeded(&channel, &members::presence_data(&all)), ctx);
                }))
            }
            None => self.send_text(succeeded(&channel, &members::presence_data(&here)), ctx),
        }
    }

    /// Makes this socket one of `user`'s sessions with `slot`; closes it (4100) without one
    /// (they hold the most).
    fn bind(
        &mut self,
        user: (i64, i64),
        slot: Option<SocketSlot>,
        ctx: &mut Context<Self>,
    ) -> bool {
        let Some(slot) = slot else {
            self.fail(codes::OVER_CAPACITY, "too many sockets for this user", ctx);
            return false;
        };
        self.slot = Some(slot);
        self.user = Some(user);
        self.engine.registry.do_send(Connect {
            user_id: user.0,
            auth_session: user.1,
            conn: self.conn,
            addr: ctx.address().into(),
        });
        true
    }

    fn client_event(
        &mut self,
        event: String,
        channel: String,
        data: Value,
        ctx: &mut Context<Self>,
    ) {
        let kind = self.channels.get(&channel).copied();
        let Some(kind) = kind.filter(|k| *k != ChannelKind::Public) else {
            return self.refuse_frame(
                Refusal {
                    code: None,
                    message: "client events need a private or presence channel this socket is subscribed to".into(),
                },
                ctx,
            );
        };
        let app = &self.hub.app;
        let size = data.to_string().len();
        if size > app.max_event_bytes {
            let message = format!(
                "client event data is limited to {} bytes",
                app.max_event_bytes
            );
            return self.refuse_frame(
                Refusal {
                    code: None,
                    message,
                },
                ctx,
            );
        }
        let per_minute = app.client_events_per_minute;
        if !self.client_events.take(per_minute, self.engine.clock.now()) {
            return self.refuse_frame(
                Refusal {
                    code: Some(codes::CLIENT_EVENT_RATE),
                    message: "client event rejected: over the rate limit".into(),
                },
                ctx,
            );
        }
        let user_id = self.user.map(|u| u.0);
        let sender = user_id.filter(|_| kind == ChannelKind::Presence);
        let text = codec::client_event(&event, &channel, &data, sender);
        self.hub.relay(&self.socket_id, &channel, text);
        // Laravel Echo's `whisper('typing')` is also the engine's typing command, so native
        // clients see `user-typing` as well.
        let chat = channel
            .strip_prefix("presence-chat.")
            .and_then(|id| id.parse::<i64>().ok());
        if let (Some(chat_id), Some(user_id), "client-typing") = (chat, user_id, event.as_str()) {
            let is_typing = ["is_typing", "typing"]
                .iter()
                .find_map(|k| data.get(k).and_then(Value::as_bool))
                .unwrap_or(true);
            let (reply, _) = tokio::sync::oneshot::channel();
            self.engine.room(
                chat_id,
                RoomCmd::Typing {
                    user_id,
                    is_typing,
                    reply,
                },
            );
        }
    }

    /// After `member-removed` names this socket's user, its subscriptions to that chat end.
    pub(super) fn after_event(&mut self, name: &str, data: &Value) {
        let Some((user_id, _)) = self.user else {
            return;
        };
        if name != "member-removed" || data.get("user_id").and_then(Value::as_i64) != Some(user_id)
        {
            return;
        }
        let Some(chat_id) = data.get("chat_id").and_then(Value::as_i64) else {
            return;
        };
        for channel in [
            crate::event::chat_channel(chat_id),
            crate::event::presence_channel(chat_id),
        ] {
            if self.channels.remove(&channel).is_some() {
                self.hub
                    .unsubscribe(&self.socket_id, &channel, Some(user_id));
            }
        }
    }
}

/// The answer to a subscription nobody authorized for this socket.
/// `pusher_internal:subscription_succeeded` on `channel`, with `data`.
fn succeeded(channel: &str, data: &Value) -> String {
    codec::frame(
        "pusher_internal:subscription_succeeded",
        Some(channel),
        data,
    )
}

fn not_granted(channel: &str) -> String {
    codec::subscription_error(
        channel,
        403,
        "not authorized: ask /broadcasting/auth for this socket",
    )
}
