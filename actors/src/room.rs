//! A chat room (one actor per active chat): caches the chat's members, checks each command
//! against them, hands writes to the writer and, once they are committed, fans the events out
//! to every member's sessions. Sends are announced in the order of their ids. Typing state
//! lives here and expires by itself.

use std::collections::{BTreeMap, HashMap};

use actix::prelude::*;
use chrono::NaiveDateTime;
use serde_json::json;
use tokio::sync::oneshot;

use crate::bus::Delivery;
use crate::engine::Engine;
use crate::event::{chat_channel, presence_channel, user_channel, Event};
use crate::registry::{Registry, RoomStopped};
use crate::session::ConnId;
use crate::store::chats::{self, Chat, Participant};
use crate::store::message_ops::{DeleteForEveryone, EditMessage, Refusal, SendOutcome, Stored};
use crate::store::messages::NewMessage;
use crate::store::reactions::React;
use crate::store::receipts::{Kind, MoveCursor};
use crate::store::users::User;
use crate::store::views::{MessageView, ReplyBrief, UserBrief};
use crate::store::{StoreError, StoreResult};
use crate::writer::SendMessage;

/// Why a room refused a command.
#[derive(Debug)]
pub enum RoomError {
    /// The chat (or message) does not exist for this user.
    NotFound(&'static str),
    /// The user may see it but not do this (`code`, message).
    Forbidden(&'static str, &'static str),
    /// A field breaks a rule.
    Invalid(&'static str, String),
    /// The request conflicts with what is stored (`code`, message).
    Conflict(&'static str, &'static str),
    /// Storage failed.
    Store(StoreError),
}

impl From<StoreError> for RoomError {
    fn from(e: StoreError) -> Self {
        RoomError::Store(e)
    }
}

pub type Reply<T> = oneshot::Sender<Result<T, RoomError>>;

/// A message stored (or found stored) for a sender.
#[derive(Debug, Clone)]
pub struct SendReply {
    pub message: MessageView,
    /// The `client_msg_id` had been sent before: this is the original.
    pub duplicate: bool,
}

/// Commands a room runs. Each answers on its `reply` channel.
pub enum RoomCmd {
    /// A new message; `conn` is the sending device, which gets the answer instead of the event.
    Send {
        message: NewMessage,
        conn: Option<ConnId>,
        reply: Reply<SendReply>,
    },
    Typing {
        user_id: i64,
        is_typing: bool,
        reply: Reply<()>,
    },
    /// Moves the user's delivered or read cursor to `up_to`; answers the time when it moved.
    Receipt {
        user_id: i64,
        kind: Kind,
        up_to: i64,
        reply: Reply<Option<NaiveDateTime>>,
    },
    Edit {
        user_id: i64,
        message_id: i64,
        content: String,
        reply: Reply<crate::store::messages::Message>,
    },
    /// Deletes for everyone (the sender only).
    Delete {
        user_id: i64,
        message_id: i64,
        reply: Reply<()>,
    },
    React {
        user_id: i64,
        message_id: i64,
        emoji: String,
        add: bool,
        reply: Reply<i64>,
    },
    /// Membership changed in the database: load it again.
    Reload,
}

impl Message for RoomCmd {
    type Result = ();
}

/// Sent by the registry on each heartbeat: an idle room stops.
#[derive(Message)]
#[rtype(result = "()")]
pub struct IdleCheck;

struct PendingSend {
    outcome: StoreResult<SendOutcome>,
    conn: Option<ConnId>,
    reply: Reply<SendReply>,
}

/// The room actor; see the module docs.
pub struct ChatRoom {
    chat_id: i64,
    engine: Engine,
    registry: Addr<Registry>,
    chat: Option<Chat>,
    /// Every participant, former ones included, with their user rows.
    members: HashMap<i64, (Participant, User)>,
    /// Who is typing, with the generation of their last refresh.
    typing: HashMap<i64, u64>,
    typing_generation: u64,
    /// Commits that came back, waiting for earlier ones (so events go out in id order).
    committed: BTreeMap<u64, PendingSend>,
    next_send: u64,
    next_announce: u64,
    last_active: NaiveDateTime,
}

impl ChatRoom {
    pub fn new(chat_id: i64, engine: Engine, registry: Addr<Registry>) -> Self {
        let now = engine.clock.now();
        ChatRoom {
            chat_id,
            engine,
            registry,
            chat: None,
            members: HashMap::new(),
            typing: HashMap::new(),
            typing_generation: 0,
            committed: BTreeMap::new(),
            next_send: 0,
            next_announce: 0,
            last_active: now,
        }
    }

    /// Loads chat and members; commands wait until it is done (`ctx.wait`).
    fn load(&mut self, ctx: &mut Context<Self>) {
        let (db, chat_id) = (self.engine.db.clone(), self.chat_id);
        let fut = async move {
            let mut conn = db.get().await?;
            let chat = chats::find(&mut conn.conn(), chat_id).await?;
            let members = match &chat {
                Some(_) => chats::participants(&mut conn.conn(), chat_id).await?,
                None => Vec::new(),
            };
            Ok::<_, StoreError>((chat, members))
        };
        ctx.wait(fut.into_actor(self).map(|res, act, ctx| match res {
            Ok((chat, members)) => {
                act.chat = chat;
                act.members = members
                    .into_iter()
                    .map(|(p, u)| (p.user_id, (p, u)))
                    .collect();
                if act.chat.is_none() {
                    // Commands already queued are answered "not found"; then the room goes.
                    ctx.run_later(std::time::Duration::from_secs(1), |_, ctx| ctx.stop());
                }
            }
            Err(e) => {
                tracing::warn!(chat = act.chat_id, error = %e, "room could not load");
                ctx.stop();
            }
        }));
    }

    /// The user's participant row if they are a current member.
    fn member(&self, user_id: i64) -> Result<&(Participant, User), RoomError> {
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

    fn publish(&self, users: Vec<i64>, event: std::sync::Arc<Event>, skip: Option<ConnId>) {
        self.engine.bus.publish(Delivery { users, event, skip });
    }

    fn publish_to_chat(
        &self,
        name: &'static str,
        seq: Option<i64>,
        data: serde_json::Value,
        skip: Option<ConnId>,
    ) {
        let event = Event::new(name, chat_channel(self.chat_id), seq, data);
        self.publish(self.current_members(), event, skip);
    }

    /// Announces committed sends in the order they were submitted (= id order).
    fn announce_committed(&mut self, ctx: &mut Context<Self>) {
        while let Some(p) = self.committed.remove(&self.next_announce) {
            self.next_announce += 1;
            let answer = match p.outcome {
                Ok(SendOutcome::Stored(stored)) => {
                    let view = view_of(&stored);
                    if let Some(chat) = &mut self.chat {
                        chat.last_message_id = Some(view.id);
                    }
                    self.publish_to_chat(
                        "new-message",
                        Some(view.seq),
                        json!({ "chat_id": self.chat_id, "message": view }),
                        p.conn,
                    );
                    self.stop_typing(stored.message.sender_id, ctx);
                    Ok(SendReply {
                        message: view,
                        duplicate: false,
                    })
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
            let _ = p.reply.send(answer);
        }
    }

    fn stop_typing(&mut self, user_id: i64, _: &mut Context<Self>) {
        if self.typing.remove(&user_id).is_some() {
            self.announce_typing(user_id, false);
        }
    }

    fn announce_typing(&self, user_id: i64, is_typing: bool) {
        let Some((_, user)) = self.members.get(&user_id) else {
            return;
        };
        let others: Vec<i64> = self
            .current_members()
            .into_iter()
            .filter(|u| *u != user_id)
            .collect();
        let data = json!({
            "chat_id": self.chat_id,
            "user": { "id": user.id, "name": user.name },
            "is_typing": is_typing,
        });
        self.publish(
            others,
            Event::new("user-typing", presence_channel(self.chat_id), None, data),
            None,
        );
    }

    /// Runs a write for a command and answers it; `then` runs on success, inside the actor.
    fn write_then<O, T>(
        &mut self,
        ctx: &mut Context<Self>,
        op: O,
        reply: Reply<T>,
        then: impl FnOnce(&mut Self, O::Output) -> Result<T, RoomError> + 'static,
    ) where
        O: crate::writer::WriteOp,
        T: 'static,
    {
        let engine = self.engine.clone();
        ctx.spawn(async move { engine.write(op).await }.into_actor(self).map(
            move |res, act, _| {
                let answer = match res {
                    Ok(out) => then(act, out),
                    Err(e) => Err(RoomError::Store(e)),
                };
                let _ = reply.send(answer);
            },
        ));
    }
}

fn view_of(stored: &Stored) -> MessageView {
    MessageView::new(
        &stored.message,
        Some(UserBrief::of(&stored.sender)),
        stored.reply_to.as_ref().map(ReplyBrief::of),
    )
}

fn refusal(r: Refusal) -> RoomError {
    match r {
        Refusal::NotFound => RoomError::NotFound("message"),
        Refusal::NotSender => RoomError::Forbidden("not_sender", "only the sender can do this"),
        Refusal::Deleted => RoomError::Forbidden("message_deleted", "the message was deleted"),
        Refusal::NotText => {
            RoomError::Forbidden("not_editable", "only text messages can be edited")
        }
    }
}

impl Actor for ChatRoom {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.load(ctx);
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        self.registry.do_send(RoomStopped {
            chat_id: self.chat_id,
            addr: ctx.address(),
        });
    }
}

impl Handler<IdleCheck> for ChatRoom {
    type Result = ();

    fn handle(&mut self, _: IdleCheck, ctx: &mut Self::Context) {
        let idle = self.engine.clock.now() - self.last_active;
        let busy = !self.committed.is_empty()
            || self.next_send != self.next_announce
            || !self.typing.is_empty();
        if !busy && idle.to_std().unwrap_or_default() >= self.engine.realtime.room_idle {
            ctx.stop();
        }
    }
}

impl Handler<RoomCmd> for ChatRoom {
    type Result = ();

    fn handle(&mut self, cmd: RoomCmd, ctx: &mut Self::Context) {
        self.last_active = self.engine.clock.now();
        match cmd {
            RoomCmd::Reload => self.load(ctx),
            RoomCmd::Send {
                message,
                conn,
                reply,
            } => {
                if let Err(e) = self.member(message.sender_id) {
                    let _ = reply.send(Err(e));
                    return;
                }
                let slot = self.next_send;
                self.next_send += 1;
                let (tx, rx) = oneshot::channel();
                self.engine
                    .writer
                    .do_send(SendMessage { message, reply: tx });
                ctx.spawn(rx.into_actor(self).map(move |res, act, ctx| {
                    let outcome = res.unwrap_or(Err(StoreError::WriterGone));
                    act.committed.insert(
                        slot,
                        PendingSend {
                            outcome,
                            conn,
                            reply,
                        },
                    );
                    act.announce_committed(ctx);
                }));
            }
            RoomCmd::Typing {
                user_id,
                is_typing,
                reply,
            } => {
                if let Err(e) = self.member(user_id) {
                    let _ = reply.send(Err(e));
                    return;
                }
                let _ = reply.send(Ok(()));
                if !is_typing {
                    self.stop_typing(user_id, ctx);
                    return;
                }
                self.typing_generation += 1;
                let generation = self.typing_generation;
                if self.typing.insert(user_id, generation).is_none() {
                    self.announce_typing(user_id, true);
                }
                let expiry = self.engine.clock.sleep(self.engine.realtime.typing_ttl);
                ctx.spawn(expiry.into_actor(self).map(move |(), act, ctx| {
                    if act.typing.get(&user_id) == Some(&generation) {
                        act.stop_typing(user_id, ctx);
                    }
                }));
            }
            RoomCmd::Receipt {
                user_id,
                kind,
                up_to,
                reply,
            } => {
                if let Err(e) = self.member(user_id) {
                    let _ = reply.send(Err(e));
                    return;
                }
                let op = MoveCursor {
                    chat_id: self.chat_id,
                    user_id,
                    kind,
                    up_to,
                };
                self.write_then(ctx, op, reply, move |act, out| {
                    let out = out.ok_or(RoomError::NotFound("message"))?;
                    let Some((participant, user)) = act.members.get_mut(&user_id) else {
                        return Ok(None);
                    };
                    let brief = json!({ "id": user.id, "name": user.name });
                    let mut events = Vec::new();
                    for m in &out.moved {
                        match m.kind {
                            Kind::Delivered => participant.last_delivered_message_id = m.to,
                            Kind::Read => participant.last_read_message_id = m.to,
                        }
                        let by = if m.kind == Kind::Read {
                            "read_by"
                        } else {
                            "delivered_to"
                        };
                        let when = if m.kind == Kind::Read {
                            "read_at"
                        } else {
                            "delivered_at"
                        };
                        events.push((
                            m.seq,
                            json!({
                                "chat_id": act.chat_id,
                                "message_id": m.to,
                                "up_to_message_id": m.to,
                                "status": m.kind.as_str(),
                                when: m.at.and_utc(),
                                by: brief,
                            }),
                        ));
                    }
                    for (seq, data) in events {
                        act.publish_to_chat("message-status-updated", Some(seq), data, None);
                    }
                    Ok(out.at)
                });
            }
            RoomCmd::Edit {
                user_id,
                message_id,
                content,
                reply,
            } => {
                if let Err(e) = self.member(user_id) {
                    let _ = reply.send(Err(e));
                    return;
                }
                let op = EditMessage {
                    message_id,
                    user_id,
                    content,
                };
                self.write_then(ctx, op, reply, move |act, out| {
                    let m = out.map_err(refusal)?;
                    let data = json!({
                        "chat_id": act.chat_id,
                        "message_id": m.id,
                        "content": m.content,
                        "edited_at": m.edited_at.map(|t| t.and_utc()),
                    });
                    act.publish_to_chat("message-updated", Some(m.seq), data, None);
                    Ok(m)
                });
            }
            RoomCmd::Delete {
                user_id,
                message_id,
                reply,
            } => {
                if let Err(e) = self.member(user_id) {
                    let _ = reply.send(Err(e));
                    return;
                }
                let op = DeleteForEveryone {
                    message_id,
                    user_id,
                };
                self.write_then(ctx, op, reply, move |act, out| {
                    let m = out.map_err(refusal)?;
                    let data = json!({
                        "chat_id": act.chat_id,
                        "message_id": m.id,
                        "for_everyone": true,
                        "deleted_at": m.deleted_at.map(|t| t.and_utc()),
                    });
                    act.publish_to_chat("message-deleted", Some(m.seq), data, None);
                    Ok(())
                });
            }
            RoomCmd::React {
                user_id,
                message_id,
                emoji,
                add,
                reply,
            } => {
                let name = match self.member(user_id) {
                    Ok((_, u)) => u.name.clone(),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return;
                    }
                };
                let op = React {
                    message_id,
                    user_id,
                    emoji: emoji.clone(),
                    add,
                };
                self.write_then(ctx, op, reply, move |act, out| {
                    if out.changed {
                        let data = json!({
                            "chat_id": act.chat_id,
                            "message_id": message_id,
                            "emoji": emoji,
                            "count": out.count,
                            "action": if add { "added" } else { "removed" },
                            "user": { "id": user_id, "name": name },
                        });
                        act.publish_to_chat("reaction-updated", Some(out.seq), data, None);
                    }
                    Ok(out.count)
                });
            }
        }
    }
}

/// Tells a user's own devices that they hid a message ("delete for me").
pub fn announce_hidden(engine: &Engine, user_id: i64, chat_id: i64, message_id: i64, seq: i64) {
    let data = json!({ "chat_id": chat_id, "message_id": message_id, "for_everyone": false });
    let event = Event::new("message-deleted", user_channel(user_id), Some(seq), data);
    engine.bus.publish(Delivery {
        users: vec![user_id],
        event,
        skip: None,
    });
}
