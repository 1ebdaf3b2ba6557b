//! The call actor: state, transitions, hanging up, the disconnect grace, ringing and the ring
//! timeout. The commands users send are handled in `commands`.

use std::collections::{HashMap, HashSet};

use actix::prelude::*;
use futures_util::FutureExt;
use serde_json::{json, Value};

use super::{ended, summary, CallError, CallReply};
use crate::bus::Delivery;
use crate::cluster::wire::Body;
use crate::engine::Engine;
use crate::event::chat_channel;
use crate::registry::{CallFinished, InCall, LeftCall};
use crate::session::ConnId;
use crate::store::calls::{Call, UpdateCall};
use crate::store::users::User;
use crate::store::views::UserBrief;

/// The ring timeout went off.
#[derive(Message)]
#[rtype(result = "()")]
struct RingTimeout;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Ringing,
    Answered,
    Over,
}

/// The call actor; see the module docs.
pub struct CallActor {
    pub(super) call: Call,
    pub(super) engine: Engine,
    /// The members of the call: the chat's current members when it started.
    pub(super) chat_members: Vec<i64>,
    names: HashMap<i64, User>,
    pub(super) state: State,
    /// Who is in the call (the caller until they leave, callees who answered and have not
    /// left), with their device in it: the socket that started or answered the call, or
    /// `None` when that was done over REST (then every socket of theirs is).
    pub(super) participants: HashMap<i64, Option<ConnId>>,
    pub(super) declined: HashSet<i64>,
    /// Disconnect grace timers running: participant → generation.
    pub(super) gone: HashMap<i64, u64>,
    generation: u64,
}

impl CallActor {
    /// A call about to ring: `members` are the chat's current members, `conn` the caller's
    /// device when the call started on a socket.
    pub(super) fn new(
        call: Call,
        engine: Engine,
        members: Vec<(i64, User)>,
        conn: Option<ConnId>,
    ) -> Self {
        let participants = HashMap::from([(call.caller_id, conn)]);
        CallActor {
            call,
            engine,
            chat_members: members.iter().map(|(id, _)| *id).collect(),
            names: members.into_iter().collect(),
            state: State::Ringing,
            participants,
            declined: HashSet::new(),
            gone: HashMap::new(),
            generation: 0,
        }
    }

    pub fn id(&self) -> i64 {
        self.call.id
    }

    pub fn caller(&self) -> i64 {
        self.call.caller_id
    }

    /// Everyone the call rings: the chat's members but the caller.
    pub fn callees(&self) -> impl Iterator<Item = i64> + '_ {
        self.chat_members
            .iter()
            .copied()
            .filter(move |id| *id != self.call.caller_id)
    }

    /// Whether the user was a member of the chat when the call started.
    pub(super) fn is_member(&self, user_id: i64) -> bool {
        self.chat_members.contains(&user_id)
    }

    pub(super) fn is_group(&self) -> bool {
        self.chat_members.len() > 2
    }

    pub(super) fn in_call(&self, user_id: i64) -> bool {
        self.participants.contains_key(&user_id)
    }

    /// Whether `conn` is the user's device in the call (any socket of theirs if they joined
    /// over REST).
    pub(super) fn is_device_in_call(&self, user_id: i64, conn: Option<ConnId>) -> bool {
        match self.participants.get(&user_id) {
            Some(None) => true,
            Some(Some(device)) => conn == Some(*device),
            None => false,
        }
    }

    pub(super) fn brief(&self, user_id: i64) -> Value {
        match self.names.get(&user_id) {
            Some(u) => serde_json::to_value(UserBrief::of(u)).unwrap_or(Value::Null),
            None => json!({ "id": user_id }),
        }
    }

    /// `user_id` is in the call, and busy for others: on this node, and (before the event
    /// that says so goes out) on the others.
    pub(super) fn joined(&self, user_id: i64) {
        let call_id = self.call.id;
        self.engine.registry.do_send(InCall { user_id, call_id });
        self.tell_nodes(Body::InCall {
            user_id,
            call_id,
            busy: true,
        });
    }

    /// Tells the cluster's other nodes who is in the call. Sent from here, before the event
    /// that announces the change, so that a node has the news by the time its users have the
    /// event (both go out in order on the node's one Redis link).
    fn tell_nodes(&self, body: Body<'_>) {
        self.engine.tell_other_nodes(body);
    }

    pub(super) fn summary(&self) -> Value {
        summary(&self.call)
    }

    pub(super) fn publish(
        &self,
        users: Vec<i64>,
        name: &'static str,
        data: Value,
        skip: Option<ConnId>,
        only: Option<ConnId>,
    ) {
        let event = self
            .engine
            .event(name, chat_channel(self.call.chat_id), None, data);
        self.engine.bus.publish(Delivery {
            users,
            event,
            skip,
            only,
            order: None,
        });
    }

    /// Announces to every member of the chat.
    pub(super) fn announce(&self, name: &'static str, extra: Value, skip: Option<ConnId>) {
        let mut data = json!({ "call": self.summary() });
        if let Value::Object(map) = extra {
            for (k, v) in map {
                data[k] = v;
            }
        }
        self.publish(self.chat_members.clone(), name, data, skip, None);
    }

    /// Commits a new state, then runs `then` (change the actor's state, announce) inside the
    /// actor and answers. Other commands and timers wait meanwhile, so transitions happen one
    /// at a time; if the commit fails, nothing changes and the command is answered the error.
    pub(super) fn transition(
        &mut self,
        ctx: &mut Context<Self>,
        status: &'static str,
        started: bool,
        ended: bool,
        then: impl FnOnce(&mut Self, &mut Context<Self>) + 'static,
        reply: Option<CallReply>,
    ) {
        let engine = self.engine.clone();
        let op = UpdateCall {
            call_id: self.call.id,
            status,
            started,
            ended,
        };
        ctx.wait(async move { engine.write(op).await }.into_actor(self).map(
            move |res, act, ctx| match res {
                Ok(call) => {
                    act.call = call;
                    if ended {
                        act.state = State::Over;
                        act.tell_nodes(Body::CallOver {
                            call_id: act.call.id,
                        });
                    }
                    then(act, ctx);
                    if let Some(r) = reply {
                        let _ = r.send(Ok(act.call.clone()));
                    }
                    if act.state == State::Over {
                        ctx.stop();
                    }
                }
                Err(e) => {
                    tracing::warn!(call = act.call.id, status, error = %e, "call update failed");
                    if let Some(r) = reply {
                        let _ = r.send(Err(CallError::Store(e)));
                    }
                }
            },
        ));
    }

    /// A participant hangs up. Unanswered (only the caller is in it), the call is missed. Once
    /// answered, they leave it; if fewer than two participants would remain, it ends.
    pub(super) fn hang_up(
        &mut self,
        user_id: i64,
        reply: Option<CallReply>,
        ctx: &mut Context<Self>,
    ) {
        match self.state {
            State::Ringing => {
                self.transition(
                    ctx,
                    "missed",
                    false,
                    true,
                    |act, _| act.announce("call-missed", json!({}), None),
                    reply,
                );
            }
            State::Answered => {
                let remaining = self.participants.len() - usize::from(self.in_call(user_id));
                if remaining >= 2 {
                    self.participants.remove(&user_id);
                    self.gone.remove(&user_id);
                    self.engine.registry.do_send(LeftCall {
                        user_id,
                        call_id: self.call.id,
                    });
                    self.tell_nodes(Body::LeftCall {
                        user_id,
                        call_id: self.call.id,
                    });
                    let data = json!({ "call": self.summary(), "user": self.brief(user_id) });
                    self.publish(self.chat_members.clone(), "call-left", data, None, None);
                    if let Some(r) = reply {
                        let _ = r.send(Ok(self.call.clone()));
                    }
                    return;
                }
                let by = self.brief(user_id);
                self.transition(
                    ctx,
                    "ended",
                    false,
                    true,
                    move |act, _| act.announce("call-ended", json!({ "ended_by": by }), None),
                    reply,
                );
            }
            State::Over => {
                if let Some(r) = reply {
                    let _ = r.send(Err(ended()));
                }
            }
        }
    }

    /// The participant's device in the call went away: unless it takes the call back in time
    /// (see `commands`), they hang up when the grace ends.
    pub(super) fn start_grace(&mut self, user_id: i64, ctx: &mut Context<Self>) {
        self.generation += 1;
        let generation = self.generation;
        self.gone.insert(user_id, generation);
        let grace = self
            .engine
            .clock
            .sleep(self.engine.realtime.call_disconnect_grace);
        ctx.spawn(grace.into_actor(self).map(move |(), act, ctx| {
            if act.gone.get(&user_id) == Some(&generation) {
                act.gone.remove(&user_id);
                act.hang_up(user_id, None, ctx);
            }
        }));
    }
}

impl Actor for CallActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // The ring timeout counts from the call's creation, not from when this actor got to
        // run on its thread.
        let ring = chrono::TimeDelta::from_std(self.engine.realtime.ring_timeout)
            .unwrap_or(chrono::TimeDelta::MAX);
        let due = self.call.created_at.checked_add_signed(ring);
        let timeout = match due {
            Some(at) => self.engine.clock.sleep_until(at),
            None => futures_util::future::pending().boxed(),
        };
        ctx.spawn(
            timeout
                .into_actor(self)
                .map(|(), _, ctx| ctx.notify(RingTimeout)),
        );
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.engine.registry.do_send(CallFinished {
            call_id: self.call.id,
        });
    }
}

/// Rings the callees: `busy` lists those of them already in an answered call.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Ring {
    pub busy: HashSet<i64>,
}

impl Handler<Ring> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: Ring, _: &mut Self::Context) {
        let caller = self.brief(self.call.caller_id);
        let payload = |busy: bool| {
            let c = &self.call;
            json!({
                "call": {
                    "id": c.id,
                    "chat_id": c.chat_id,
                    "caller": caller,
                    "call_type": c.call_type,
                    "created_at": c.created_at.and_utc(),
                    "busy": busy,
                }
            })
        };
        let (busy, free): (Vec<i64>, Vec<i64>) =
            self.callees().partition(|id| msg.busy.contains(id));
        let mut free = free;
        free.push(self.call.caller_id); // the caller's other devices see it too
        let caller_conn = self
            .participants
            .get(&self.call.caller_id)
            .copied()
            .flatten();
        self.publish(free, "call-initiated", payload(false), caller_conn, None);
        if !busy.is_empty() {
            self.publish(busy, "call-initiated", payload(true), None, None);
        }
    }
}

impl Handler<RingTimeout> for CallActor {
    type Result = ();

    fn handle(&mut self, _: RingTimeout, ctx: &mut Self::Context) {
        if self.state == State::Ringing {
            self.transition(
                ctx,
                "missed",
                false,
                true,
                |act, _| act.announce("call-missed", json!({}), None),
                None,
            );
        }
    }
}
