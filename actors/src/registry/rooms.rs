//! Routing commands to chat rooms. Each engine thread runs one [`RoomRouter`], which owns the
//! rooms of the chats that fall to that thread ([`Engine::thread_for`]): a chat's commands all
//! pass through one router's mailbox, so they keep their order, and the router hands them to
//! the room on its own thread. Routing spreads over the cores with the rooms, and never waits
//! on the registry. A running room gets its commands at once and checks them against the
//! members it holds in memory. A room that is not running starts only for a
//! current member of its chat (or someone accepting an invite to it), which one indexed read
//! decides: a command naming a chat its user is not in is refused without a room, and without
//! loading anything about the chat. Commands that arrive while that read is in flight wait
//! behind it, so they keep their order.

use std::collections::VecDeque;

use actix::prelude::*;

use std::collections::HashMap;

use crate::engine::Engine;
use crate::room::{ChatRoom, Gate, IdleCheck, RoomCmd, RoomError};
use crate::store::chats::find_for_member;
use crate::store::groups::find_pending;
use crate::store::StoreResult;

/// A command for the room of `chat_id`, started if it is not running and the command's user
/// is a current member.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ToRoom {
    pub chat_id: i64,
    pub cmd: RoomCmd,
}

/// The router of one engine thread's rooms; see the module docs.
pub struct RoomRouter {
    engine: Engine,
    rooms: HashMap<i64, Addr<ChatRoom>>,
    /// Commands for chats whose room is not running, waiting for the membership check that
    /// decides whether it starts.
    starting: HashMap<i64, VecDeque<RoomCmd>>,
}

impl RoomRouter {
    pub fn new(engine: Engine) -> Self {
        RoomRouter {
            engine,
            rooms: HashMap::new(),
            starting: HashMap::new(),
        }
    }
}

impl Actor for RoomRouter {
    type Context = Context<Self>;
}

impl Handler<ToRoom> for RoomRouter {
    type Result = ();

    fn handle(&mut self, msg: ToRoom, ctx: &mut Self::Context) {
        let ToRoom { chat_id, cmd } = msg;
        if let Some(room) = self.rooms.get(&chat_id).filter(|a| a.connected()) {
            room.do_send(cmd);
            return;
        }
        if let Some(waiting) = self.starting.get_mut(&chat_id) {
            waiting.push_back(cmd);
            return;
        }
        // Housekeeping (a reload) concerns only a running room.
        if cmd.gate().is_none() {
            return;
        }
        self.starting.insert(chat_id, VecDeque::from([cmd]));
        self.check_first(chat_id, ctx);
    }
}

impl RoomRouter {
    /// Checks the gate of the first command waiting for `chat_id`; starts the room for every
    /// waiting command if it holds, refuses that command otherwise and moves on to the next one.
    fn check_first(&mut self, chat_id: i64, ctx: &mut Context<Self>) {
        let Some(gate) = self
            .starting
            .get(&chat_id)
            .and_then(|w| w.front())
            .and_then(RoomCmd::gate)
        else {
            // Nothing left that could start the room (or a reload): drop what waits.
            self.starting.remove(&chat_id);
            return;
        };
        let (db, now) = (self.engine.db.clone(), self.engine.clock.now());
        let check = async move {
            let mut conn = db.get().await?;
            let open = match gate {
                Gate::Member(user_id) => find_for_member(&mut conn.conn(), chat_id, user_id)
                    .await?
                    .is_some(),
                Gate::Invited { user_id, invite_id } => {
                    find_pending(&mut conn.conn(), invite_id, user_id, now)
                        .await?
                        .is_some_and(|invite| invite.chat_id == chat_id)
                }
            };
            StoreResult::Ok(open)
        };
        ctx.spawn(
            check
                .into_actor(self)
                .map(move |member, act, ctx| match member {
                    Ok(true) => {
                        let waiting = act.starting.remove(&chat_id).unwrap_or_default();
                        // The room runs on this router's thread.
                        let room =
                            ChatRoom::new(chat_id, act.engine.clone(), ctx.address()).start();
                        for cmd in waiting {
                            room.do_send(cmd);
                        }
                        if act.rooms.insert(chat_id, room).is_none() {
                            act.engine.metrics.rooms_live.inc();
                        }
                    }
                    refused => {
                        let first = act.starting.get_mut(&chat_id).and_then(VecDeque::pop_front);
                        if let Some(cmd) = first {
                            cmd.refuse(match refused {
                                Err(e) => RoomError::Store(e),
                                _ => RoomError::NotFound("chat"),
                            });
                        }
                        act.check_first(chat_id, ctx);
                    }
                }),
        );
    }
}

/// A room stopped (idle, or its chat does not exist).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomStopped {
    pub chat_id: i64,
    pub addr: Addr<ChatRoom>,
}

impl Handler<RoomStopped> for RoomRouter {
    type Result = ();

    fn handle(&mut self, msg: RoomStopped, _: &mut Self::Context) {
        if self.rooms.get(&msg.chat_id).is_some_and(|a| *a == msg.addr) {
            self.rooms.remove(&msg.chat_id);
            self.engine.metrics.rooms_live.dec();
        }
    }
}

/// A chat's membership changed: its room, if running, reloads it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MembershipChanged {
    pub chat_id: i64,
}

impl Handler<MembershipChanged> for RoomRouter {
    type Result = ();

    fn handle(&mut self, msg: MembershipChanged, _: &mut Self::Context) {
        if let Some(room) = self.rooms.get(&msg.chat_id) {
            room.do_send(RoomCmd::Reload);
        }
    }
}

/// The heartbeat: each room checks whether it has been idle long enough to stop.
#[derive(Message)]
#[rtype(result = "()")]
pub struct IdleSweep;

impl Handler<IdleSweep> for RoomRouter {
    type Result = ();

    fn handle(&mut self, _: IdleSweep, _: &mut Self::Context) {
        for room in self.rooms.values() {
            room.do_send(IdleCheck);
        }
    }
}

/// The node shuts down: the router forgets its rooms (they stop with their thread).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ForgetRooms;

impl Handler<ForgetRooms> for RoomRouter {
    type Result = ();

    fn handle(&mut self, _: ForgetRooms, _: &mut Self::Context) {
        self.engine
            .metrics
            .rooms_live
            .dec_by(self.rooms.len() as i64);
        self.rooms.clear();
        self.starting.clear();
    }
}
