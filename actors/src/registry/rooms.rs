//! Routing commands to chat rooms. Each engine thread runs one [`RoomRouter`], which owns the
//! rooms of the chats that fall to that thread ([`Engine::thread_for`]): a chat's commands all
//! pass through one router's mailbox, so they keep their order, and the router hands them to
//! the room on its own thread. Routing spreads over the cores with the rooms, and never waits
//! on the registry. A running room gets its commands at once and checks them against the
//! members it holds in memory.
//!
//! A room that is not running starts only for a current member of its chat (or someone
//! accepting an invite to it): a command naming a chat its user is not in is refused without a
//! room, and without loading anything about the chat. Rooms start in batches, as the writer
//! commits: every chat waiting for its room when no batch is under way goes into the next
//! one, which checks all their first commands' users in one query and loads the admitted
//! chats in three more (`room::load_states`), however many there are. A hundred chats whose
//! first messages arrive together cost a few queries, not a few hundred. Commands that arrive
//! while their chat waits queue behind it, so they keep their order.

use std::collections::{HashMap, VecDeque};

use actix::prelude::*;

use crate::engine::Engine;
use crate::room::{load_states, ChatRoom, Gate, IdleCheck, RoomCmd, RoomError, RoomState};
use crate::store::chats::current_members_among;
use crate::store::groups::find_pending;
use crate::store::StoreResult;

/// Most chats checked and loaded in one batch; more wait for the next one. Bounds the
/// statements' size (SQLite takes at most 32,766 parameters) and what one batch holds.
pub const MAX_BATCH_CHATS: usize = 256;

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
    /// Commands for chats whose room is not running, waiting for the check that decides
    /// whether it starts.
    starting: HashMap<i64, VecDeque<RoomCmd>>,
    /// Chats of `starting` for the next batch, in arrival order.
    next_batch: Vec<i64>,
    /// Chats of the batch under way, if one is; those whose membership changed meanwhile are
    /// marked, and their rooms load again once started.
    in_batch: Option<HashMap<i64, bool>>,
}

impl RoomRouter {
    pub fn new(engine: Engine) -> Self {
        RoomRouter {
            engine,
            rooms: HashMap::new(),
            starting: HashMap::new(),
            next_batch: Vec::new(),
            in_batch: None,
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
        self.next_batch.push(chat_id);
        self.start_batch(ctx);
    }
}

impl RoomRouter {
    /// Starts the next batch unless one is under way: checks the gate of the first command
    /// waiting for each of its chats, loads the chats admitted, and starts their rooms.
    fn start_batch(&mut self, ctx: &mut Context<Self>) {
        if self.in_batch.is_some() || self.next_batch.is_empty() {
            return;
        }
        let mut gates = Vec::new();
        let take = self.next_batch.len().min(MAX_BATCH_CHATS);
        for chat_id in self.next_batch.drain(..take).collect::<Vec<_>>() {
            match self
                .starting
                .get(&chat_id)
                .and_then(|w| w.front())
                .and_then(RoomCmd::gate)
            {
                Some(gate) => gates.push((chat_id, gate)),
                // Nothing left that could start the room (or a reload): drop what waits.
                None => drop(self.starting.remove(&chat_id)),
            }
        }
        if gates.is_empty() {
            // Every chat taken was dropped: the next ones may still wait.
            return self.start_batch(ctx);
        }
        self.in_batch = Some(gates.iter().map(|(id, _)| (*id, false)).collect());
        let (db, now) = (self.engine.db.clone(), self.engine.clock.now());
        let limit = db.timeout();
        let started = std::time::Instant::now();
        let batch = crate::store::within(limit, async move {
            let mut conn = db.get().await?;
            let mut conn = conn.conn();
            let pairs: Vec<(i64, i64)> = gates
                .iter()
                .filter_map(|(chat, gate)| match gate {
                    Gate::Member(user) => Some((*chat, *user)),
                    Gate::Invited { .. } => None,
                })
                .collect();
            let members = current_members_among(&mut conn, &pairs).await?;
            let mut admitted = Vec::new();
            for (chat_id, gate) in &gates {
                let open = match *gate {
                    Gate::Member(user_id) => members.contains(&(*chat_id, user_id)),
                    Gate::Invited { user_id, invite_id } => {
                        find_pending(&mut conn, invite_id, user_id, now)
                            .await?
                            .is_some_and(|invite| invite.chat_id == *chat_id)
                    }
                };
                if open {
                    admitted.push(*chat_id);
                }
            }
            // The chats admitted, with their state; the others are refused.
            let states = match admitted.is_empty() {
                true => HashMap::new(),
                false => load_states(&mut conn, &admitted).await?,
            };
            StoreResult::Ok(states)
        });
        ctx.spawn(batch.into_actor(self).map(move |loaded, act, ctx| {
            let chats = act.in_batch.take().unwrap_or_default();
            tracing::debug!(
                chats = chats.len(),
                members = loaded
                    .as_ref()
                    .map_or(0, |s| s.values().map(|s| s.members.len()).sum()),
                micros = started.elapsed().as_micros() as u64,
                "rooms loaded"
            );
            match loaded {
                Ok(mut admitted) => {
                    for (chat_id, stale) in chats {
                        match admitted.remove(&chat_id) {
                            Some(state) => act.start_room(chat_id, state, stale, ctx),
                            None => act.refuse_first(chat_id, RoomError::NotFound("chat")),
                        }
                    }
                }
                Err(e) => {
                    for chat_id in chats.into_keys() {
                        act.refuse_first(chat_id, RoomError::Store(e.copy()));
                    }
                }
            }
            act.start_batch(ctx);
        }));
    }

    /// Starts the room of `chat_id` on this router's thread with every command waiting for it.
    fn start_room(&mut self, chat_id: i64, state: RoomState, stale: bool, ctx: &mut Context<Self>) {
        let waiting = self.starting.remove(&chat_id).unwrap_or_default();
        let room = ChatRoom::new(chat_id, self.engine.clone(), ctx.address(), state).start();
        if stale {
            room.do_send(RoomCmd::Reload);
        }
        for cmd in waiting {
            room.do_send(cmd);
        }
        if self.rooms.insert(chat_id, room).is_none() {
            self.engine.metrics.rooms_live.inc();
        }
    }

    /// Refuses the first command waiting for `chat_id`; the next one, if any, goes into the
    /// next batch with its own user.
    fn refuse_first(&mut self, chat_id: i64, e: RoomError) {
        let Some(waiting) = self.starting.get_mut(&chat_id) else {
            return;
        };
        if let Some(cmd) = waiting.pop_front() {
            cmd.refuse(e);
        }
        if waiting.is_empty() {
            self.starting.remove(&chat_id);
        } else {
            self.next_batch.push(chat_id);
        }
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
        } else if let Some(stale) = self.in_batch.as_mut().and_then(|b| b.get_mut(&msg.chat_id)) {
            // Its state may have been read before the change: the room loads it again.
            *stale = true;
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
        self.next_batch.clear();
    }
}
