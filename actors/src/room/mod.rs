//! A chat room (one actor per active chat): caches the chat's members and the blocks between
//! them, checks each command against them, hands writes to the writer and, once they are
//! committed, fans the events out to every member's sessions. Every write a room submits
//! completes in the order it was submitted, so events (and new messages, in id order) go out
//! in one order. Typing state lives here and expires by itself.

mod changes;
mod commands;
mod invites;
mod state;
#[cfg(test)]
mod tests;
mod typing;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use chrono::NaiveDateTime;
use serde_json::json;
use tokio::sync::oneshot;

pub use changes::announce_new_group;
pub use commands::{Gate, GroupCmd, IdleCheck, Reply, RoomCmd, RoomError, SendReply};
pub use invites::{invite_json, InviteView};
pub use state::{load as load_states, MemberName, RoomState};

use crate::bus::{Delivery, Order};
use crate::engine::Engine;
use crate::event::{chat_channel, user_channel, Event};
use crate::registry::{RoomRouter, RoomStopped};
use crate::session::ConnId;
use crate::store::chats::{Chat, Participant};
use crate::store::message_ops::{SendOutcome, Stored};
use crate::store::views::{MessageView, ReplyBrief, UserBrief};
use crate::store::{StoreError, StoreResult};
use crate::writer::SendMessage;

/// What runs, in submission order, once a write has come back.
type Completion = Box<dyn FnOnce(&mut ChatRoom, &mut Context<ChatRoom>)>;

/// The room actor; see the module docs.
pub struct ChatRoom {
    chat_id: i64,
    engine: Engine,
    /// The router that started this room (and runs on its thread).
    router: Addr<RoomRouter>,
    chat: Option<Chat>,
    /// Every participant, former ones included, with their names ([`RoomState`]).
    members: HashMap<i64, (Participant, MemberName)>,
    /// (blocker, blocked) pairs among the members of a private chat.
    blocks: HashSet<(i64, i64)>,
    /// Members who type or typed lately, and what the others were told about it.
    typing: HashMap<i64, typing::Typist>,
    typing_generation: u64,
    /// Writes that came back, waiting for earlier ones.
    committed: BTreeMap<u64, Completion>,
    next_slot: u64,
    next_announce: u64,
    last_active: NaiveDateTime,
}

impl ChatRoom {
    /// A room for `chat_id` that starts with `state`, loaded by its router.
    pub fn new(chat_id: i64, engine: Engine, router: Addr<RoomRouter>, state: RoomState) -> Self {
        let now = engine.clock.now();
        let mut room = ChatRoom {
            chat_id,
            engine,
            router,
            chat: None,
            members: HashMap::new(),
            blocks: HashSet::new(),
            typing: HashMap::new(),
            typing_generation: 0,
            committed: BTreeMap::new(),
            next_slot: 0,
            next_announce: 0,
            last_active: now,
        };
        room.apply(state);
        room
    }

    fn apply(&mut self, state: RoomState) {
        self.chat = state.chat;
        self.members = state.members;
        self.blocks = state.blocks;
    }

    /// Loads chat, members and blocks again; commands wait until it is done (`ctx.wait`), at
    /// most the database deadline: a room whose database stalls stops, and its commands are
    /// answered "unavailable", rather than holding them.
    fn reload(&mut self, ctx: &mut Context<Self>) {
        let (db, chat_id) = (self.engine.db.clone(), self.chat_id);
        let limit = db.timeout();
        let fut = async move {
            let mut conn = db.get().await?;
            let mut states = state::load(&mut conn.conn(), &[chat_id]).await?;
            Ok::<_, StoreError>(states.remove(&chat_id).unwrap_or_default())
        };
        let fut = crate::store::within(limit, fut);
        ctx.wait(fut.into_actor(self).map(|res, act, ctx| match res {
            Ok(state) => {
                act.apply(state);
                act.stop_if_gone(ctx);
            }
            Err(e) => {
                tracing::warn!(chat = act.chat_id, error = %e, "room could not load");
                ctx.stop();
            }
        }));
    }

    /// A room whose chat does not exist answers the commands already queued "not found",
    /// then goes.
    fn stop_if_gone(&self, ctx: &mut Context<Self>) {
        if self.chat.is_none() {
            ctx.run_later(std::time::Duration::from_secs(1), |_, ctx| ctx.stop());
        }
    }

    /// The user's participant row if they are a current member.
    fn member(&self, user_id: i64) -> Result<&(Participant, MemberName), RoomError> {
        match (&self.chat, self.members.get(&user_id)) {
            (Some(_), Some(m)) if m.0.is_current() => Ok(m),
            _ => Err(RoomError::NotFound("chat")),
        }
    }

    fn current_members(&self) -> Vec<i64> {
        self.members
            .values()
            .filter(|(p, _)| p.is_current())
            .map(|(p, _)| p.user_id)
            .collect()
    }

    /// In a private chat, the refusal of anything `user_id` does towards the other side
    /// while either blocked the other: sends, typing, edits, reactions.
    fn across_block(&self, user_id: i64) -> Option<RoomError> {
        match &self.chat {
            Some(c) if !c.is_group() => self.block_between(user_id),
            _ => None,
        }
    }

    /// In a private chat: whether either side blocked the other (as seen from `user_id`).
    fn block_between(&self, user_id: i64) -> Option<RoomError> {
        let other = self.members.keys().copied().find(|id| *id != user_id)?;
        if self.blocks.contains(&(other, user_id)) {
            Some(RoomError::Forbidden(
                "blocked",
                "this user does not accept your messages",
            ))
        } else if self.blocks.contains(&(user_id, other)) {
            Some(RoomError::Forbidden(
                "you_blocked",
                "unblock this user to send them messages",
            ))
        } else {
            None
        }
    }

    fn publish(&self, users: Vec<i64>, event: Arc<Event>, skip: Option<ConnId>) {
        self.engine.bus.publish(Delivery {
            users,
            event,
            skip,
            only: None,
            order: None,
        });
    }

    fn publish_to_chat(
        &self,
        name: &'static str,
        seq: Option<i64>,
        data: serde_json::Value,
        skip: Option<ConnId>,
    ) {
        let event = self
            .engine
            .event(name, chat_channel(self.chat_id), seq, data);
        self.publish(self.current_members(), event, skip);
    }

    /// Waits for a submitted write and runs `then` with its result, in submission order.
    fn in_order<T: 'static>(
        &mut self,
        ctx: &mut Context<Self>,
        answer: oneshot::Receiver<StoreResult<T>>,
        then: impl FnOnce(&mut Self, StoreResult<T>, &mut Context<Self>) + 'static,
    ) {
        let slot = self.next_slot;
        self.next_slot += 1;
        ctx.spawn(answer.into_actor(self).map(move |res, act, ctx| {
            let res = res.unwrap_or(Err(StoreError::WriterGone));
            act.committed
                .insert(slot, Box::new(move |act, ctx| then(act, res, ctx)));
            while let Some(done) = act.committed.remove(&act.next_announce) {
                act.next_announce += 1;
                done(act, ctx);
            }
        }));
    }

    /// Submits a write and answers `reply` with what `then` makes of its output.
    fn submit_then<O, T>(
        &mut self,
        ctx: &mut Context<Self>,
        op: O,
        reply: Reply<T>,
        then: impl FnOnce(&mut Self, O::Output) -> Result<T, RoomError> + 'static,
    ) where
        O: crate::writer::WriteOp,
        T: 'static,
    {
        let answer = self.engine.submit(op);
        self.in_order(ctx, answer, move |act, res, _| {
            let _ = reply.send(res.map_err(RoomError::Store).and_then(|out| then(act, out)));
        });
    }

    fn send(
        &mut self,
        mut message: crate::store::messages::NewMessage,
        conn: Option<ConnId>,
        reply: Reply<SendReply>,
        ctx: &mut Context<Self>,
    ) {
        let sender = message.sender_id;
        let refused = self
            .member(sender)
            .err()
            .or_else(|| self.across_block(sender));
        if let Some(e) = refused {
            let _ = reply.send(Err(e));
            return;
        }
        let flagged = match self.engine.realtime.moderation.screen(&message) {
            crate::moderation::Screen::Refuse => {
                let e =
                    RoomError::Refused("content_blocked", "the message contains blocked content");
                let _ = reply.send(Err(e));
                return;
            }
            screen => screen == crate::moderation::Screen::Flag,
        };
        message.flagged = flagged;
        let (tx, answer) = oneshot::channel();
        self.engine
            .writer
            .do_send(SendMessage { message, reply: tx });
        self.in_order(ctx, answer, move |act, outcome, _| {
            let answer = match outcome {
                Ok(SendOutcome::Stored(stored)) => {
                    let view = view_of(&stored);
                    if let Some(chat) = &mut act.chat {
                        chat.last_message_id = Some(view.id);
                    }
                    let data = json!({ "chat_id": act.chat_id, "message": &view });
                    let event = act.engine.event(
                        "new-message",
                        chat_channel(act.chat_id),
                        Some(view.seq),
                        data,
                    );
                    let order = Order {
                        chat_id: act.chat_id,
                        id: view.id,
                        after: stored.after,
                    };
                    // The sender is answered first: in a large group, its ack would otherwise
                    // wait behind a copy to every member's sockets.
                    let _ = reply.send(Ok(SendReply {
                        message: view,
                        duplicate: false,
                    }));
                    act.engine.bus.publish(Delivery {
                        users: act.current_members(),
                        event,
                        skip: conn,
                        only: None,
                        order: Some(order),
                    });
                    act.sent_by(sender);
                    let other = act
                        .chat
                        .as_ref()
                        .filter(|c| !c.is_group())
                        .and_then(|_| act.members.keys().find(|&&u| u != sender).copied());
                    crate::moderation::after_send(&act.engine, &stored.message, other);
                    return;
                }
                Ok(SendOutcome::Duplicate(stored)) => Ok(SendReply {
                    message: view_of(&stored),
                    duplicate: true,
                }),
                Ok(SendOutcome::ReplyNotFound) => Err(RoomError::Invalid(
                    "reply_to_message_id",
                    "is not a message of this chat".into(),
                )),
                Ok(SendOutcome::ClientIdReused) => Err(RoomError::Conflict(
                    "client_msg_id_reused",
                    "this client_msg_id was already used for a message in another chat",
                )),
                Err(e) => Err(RoomError::Store(e)),
            };
            let _ = reply.send(answer);
        });
    }
}

/// The view of a stored message, as its events carry it.
pub fn view_of(stored: &Stored) -> MessageView {
    MessageView::new(
        &stored.message,
        Some(UserBrief::of(&stored.sender)),
        stored.reply_to.as_ref().map(ReplyBrief::of),
    )
}

impl Actor for ChatRoom {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.stop_if_gone(ctx);
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        self.router.do_send(RoomStopped {
            chat_id: self.chat_id,
            addr: ctx.address(),
        });
    }
}

impl Handler<IdleCheck> for ChatRoom {
    type Result = ();

    fn handle(&mut self, _: IdleCheck, ctx: &mut Self::Context) {
        let idle = (self.engine.clock.now() - self.last_active)
            .to_std()
            .unwrap_or_default();
        let busy = self.next_slot != self.next_announce || self.typing_active();
        if !busy && idle >= self.engine.realtime.room_idle {
            ctx.stop();
        }
    }
}

impl Handler<RoomCmd> for ChatRoom {
    type Result = ();

    fn handle(&mut self, cmd: RoomCmd, ctx: &mut Self::Context) {
        self.last_active = self.engine.clock.now();
        match cmd {
            #[cfg(test)]
            RoomCmd::Crash => panic!("a test crashed room {}", self.chat_id),
            RoomCmd::Reload => self.reload(ctx),
            RoomCmd::Send {
                message,
                conn,
                reply,
            } => self.send(message, conn, reply, ctx),
            RoomCmd::Typing {
                user_id,
                is_typing,
                reply,
            } => self.typing(user_id, is_typing, reply, ctx),
            RoomCmd::Receipt {
                user_id,
                kind,
                up_to,
                reply,
            } => self.receipt(user_id, kind, up_to, reply, ctx),
            RoomCmd::Edit {
                user_id,
                message_id,
                content,
                reply,
            } => self.edit(user_id, message_id, content, reply, ctx),
            RoomCmd::Delete {
                user_id,
                message_id,
                reply,
            } => self.delete(user_id, message_id, reply, ctx),
            RoomCmd::React {
                user_id,
                message_id,
                emoji,
                add,
                reply,
            } => self.react(user_id, message_id, emoji, add, reply, ctx),
            RoomCmd::Group { actor, cmd, reply } => self.group(actor, cmd, reply, ctx),
        }
    }
}

/// Tells a user's own devices that they hid a message ("delete for me").
pub fn announce_hidden(engine: &Engine, user_id: i64, chat_id: i64, message_id: i64, seq: i64) {
    let data = json!({ "chat_id": chat_id, "message_id": message_id, "for_everyone": false });
    let event = engine.event("message-deleted", user_channel(user_id), Some(seq), data);
    engine.bus.publish(Delivery {
        users: vec![user_id],
        event,
        skip: None,
        only: None,
        order: None,
    });
}
