//! The call actor: state, transitions, signalling routes, timers.

use std::collections::{HashMap, HashSet};

use actix::prelude::*;
use serde_json::{json, Value};

use super::{ended, summary, CallCmd, CallError, CallReply};
use crate::bus::Delivery;
use crate::engine::Engine;
use crate::event::chat_channel;
use crate::registry::{CallFinished, InCall};
use crate::session::ConnId;
use crate::store::calls::{Call, UpdateCall};
use crate::store::users::User;
use crate::store::views::UserBrief;

#[derive(Message)]
#[rtype(result = "()")]
struct RingTimeout;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ringing,
    Answered,
    Over,
}

/// The call actor; see the module docs.
pub struct CallActor {
    call: Call,
    engine: Engine,
    chat_members: Vec<i64>,
    names: HashMap<i64, User>,
    caller_conn: Option<ConnId>,
    state: State,
    /// Callees who answered, with the device that did.
    answered: HashMap<i64, Option<ConnId>>,
    declined: HashSet<i64>,
    /// Disconnect grace timers: user → generation.
    gone: HashMap<i64, u64>,
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
        CallActor {
            call,
            engine,
            chat_members: members.iter().map(|(id, _)| *id).collect(),
            names: members.into_iter().collect(),
            caller_conn: conn,
            state: State::Ringing,
            answered: HashMap::new(),
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

    fn callees(&self) -> impl Iterator<Item = i64> + '_ {
        self.chat_members
            .iter()
            .copied()
            .filter(move |id| *id != self.call.caller_id)
    }

    fn is_group(&self) -> bool {
        self.chat_members.len() > 2
    }

    fn brief(&self, user_id: i64) -> Value {
        match self.names.get(&user_id) {
            Some(u) => serde_json::to_value(UserBrief::of(u)).unwrap_or(Value::Null),
            None => json!({ "id": user_id }),
        }
    }

    fn summary(&self) -> Value {
        summary(&self.call)
    }

    fn publish(
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
        });
    }

    /// Announces to every member of the chat.
    fn announce(&self, name: &'static str, extra: Value, skip: Option<ConnId>) {
        let mut data = json!({ "call": self.summary() });
        if let Value::Object(map) = extra {
            for (k, v) in map {
                data[k] = v;
            }
        }
        self.publish(self.chat_members.clone(), name, data, skip, None);
    }

    /// Commits a new state, then runs `then` (announce and answer) inside the actor. Other
    /// commands wait meanwhile, so transitions happen one at a time.
    fn transition(
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
                    if let Some(r) = reply {
                        let _ = r.send(Err(CallError::Store(e)));
                    }
                }
            },
        ));
    }

    fn in_call(&self, user_id: i64) -> bool {
        user_id == self.call.caller_id || self.answered.contains_key(&user_id)
    }

    /// Someone in the call hangs up. Unanswered, the caller giving up makes it a missed call.
    fn hang_up(&mut self, user_id: i64, reply: Option<CallReply>, ctx: &mut Context<Self>) {
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
                self.answered.remove(&user_id);
                let remaining = self.answered.len() + usize::from(user_id != self.call.caller_id);
                if self.is_group() && remaining >= 2 {
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
}

impl Actor for CallActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let timeout = self.engine.clock.sleep(self.engine.realtime.ring_timeout);
        ctx.spawn(
            timeout
                .into_actor(self)
                .map(|(), _, ctx| ctx.notify(RingTimeout)),
        );
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        let mut users: Vec<i64> = self.answered.keys().copied().collect();
        users.push(self.call.caller_id);
        self.engine.registry.do_send(CallFinished {
            call_id: self.call.id,
            users,
        });
    }
}

/// Rings the callees: `busy` lists those already in an answered call.
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
        self.publish(
            free,
            "call-initiated",
            payload(false),
            self.caller_conn,
            None,
        );
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

impl Handler<CallCmd> for CallActor {
    type Result = ();

    fn handle(&mut self, cmd: CallCmd, ctx: &mut Self::Context) {
        let caller = self.call.caller_id;
        match cmd {
            CallCmd::Ringing { user_id, reply } => {
                if user_id == caller {
                    let _ = reply.send(Err(CallError::Conflict(
                        "own_call",
                        "this is your own call",
                    )));
                } else if self.state == State::Over {
                    let _ = reply.send(Err(ended()));
                } else if self.call.status == "initiated" {
                    let by = self.brief(user_id);
                    self.transition(
                        ctx,
                        "ringing",
                        false,
                        false,
                        move |act, _| act.announce("call-ringing", json!({ "user": by }), None),
                        Some(reply),
                    );
                } else {
                    let _ = reply.send(Ok(self.call.clone()));
                }
            }
            CallCmd::Answer {
                user_id,
                conn,
                reply,
            } => {
                if user_id == caller {
                    let _ = reply.send(Err(CallError::Conflict(
                        "own_call",
                        "you cannot answer your own call",
                    )));
                } else if self.state == State::Over {
                    let _ = reply.send(Err(ended()));
                } else if self.answered.contains_key(&user_id) {
                    let _ = reply.send(Err(CallError::Conflict(
                        "already_answered",
                        "answered on another device",
                    )));
                } else if !self.is_group() && !self.answered.is_empty() {
                    let _ = reply.send(Err(CallError::Conflict(
                        "already_answered",
                        "the call was already answered",
                    )));
                } else {
                    self.answered.insert(user_id, conn);
                    self.gone.remove(&user_id);
                    self.engine.registry.do_send(InCall {
                        user_id,
                        call_id: self.call.id,
                    });
                    if self.state != State::Answered {
                        self.engine.registry.do_send(InCall {
                            user_id: caller,
                            call_id: self.call.id,
                        });
                    }
                    let by = self.brief(user_id);
                    let data = json!({ "answered_by": by });
                    if self.state == State::Answered {
                        // Another member joins a group call already under way.
                        let mut d = json!({ "call": self.summary() });
                        d["answered_by"] = data["answered_by"].clone();
                        self.publish(self.chat_members.clone(), "call-answered", d, conn, None);
                        let _ = reply.send(Ok(self.call.clone()));
                    } else {
                        self.state = State::Answered;
                        self.transition(
                            ctx,
                            "answered",
                            true,
                            false,
                            move |act, _| act.announce("call-answered", data, conn),
                            Some(reply),
                        );
                    }
                }
            }
            CallCmd::Decline { user_id, reply } => {
                if user_id == caller {
                    let _ = reply.send(Err(CallError::Conflict(
                        "own_call",
                        "end your own call instead",
                    )));
                } else if self.state == State::Over {
                    let _ = reply.send(Err(ended()));
                } else if self.state == State::Answered {
                    let _ = reply.send(Err(CallError::Conflict(
                        "already_answered",
                        "the call was answered; end it instead",
                    )));
                } else {
                    self.declined.insert(user_id);
                    let everyone = self.callees().all(|id| self.declined.contains(&id));
                    let by = self.brief(user_id);
                    if everyone {
                        self.transition(
                            ctx,
                            "declined",
                            false,
                            true,
                            move |act, _| {
                                act.announce("call-declined", json!({ "declined_by": by }), None)
                            },
                            Some(reply),
                        );
                    } else {
                        let data = json!({ "call": self.summary(), "declined_by": by });
                        self.publish(self.chat_members.clone(), "call-declined", data, None, None);
                        let _ = reply.send(Ok(self.call.clone()));
                    }
                }
            }
            CallCmd::End { user_id, reply } => {
                if self.state == State::Over {
                    let _ = reply.send(Err(ended()));
                } else if !self.in_call(user_id) {
                    let _ = reply.send(Err(CallError::Conflict(
                        "not_in_call",
                        "you are not in this call",
                    )));
                } else {
                    self.hang_up(user_id, Some(reply), ctx);
                }
            }
            CallCmd::Signal {
                user_id,
                to,
                kind,
                payload,
                reply,
            } => {
                let allowed = user_id == caller
                    || (self.state != State::Answered && self.callees().any(|c| c == user_id))
                    || self.answered.contains_key(&user_id);
                if self.state == State::Over {
                    let _ = reply.send(Err(ended()));
                    return;
                }
                if !allowed {
                    let _ = reply.send(Err(CallError::Conflict(
                        "not_in_call",
                        "you are not in this call",
                    )));
                    return;
                }
                // Whom it goes to: the named participant, else the other side; in an answered
                // call, only the device that answered.
                let targets: Vec<(i64, Option<ConnId>)> = match to {
                    Some(t) if t == caller => vec![(caller, self.caller_conn)],
                    Some(t) if self.answered.contains_key(&t) => vec![(t, self.answered[&t])],
                    Some(t) if self.state == State::Ringing && self.callees().any(|c| c == t) => {
                        vec![(t, None)]
                    }
                    Some(_) => {
                        let _ = reply.send(Err(CallError::Invalid(
                            "to_user_id",
                            "is not in this call".into(),
                        )));
                        return;
                    }
                    None if user_id == caller && self.state == State::Answered => {
                        self.answered.iter().map(|(u, c)| (*u, *c)).collect()
                    }
                    None if user_id == caller => self.callees().map(|u| (u, None)).collect(),
                    None => vec![(caller, self.caller_conn)],
                };
                let data = json!({
                    "call_id": self.call.id,
                    "from": self.brief(user_id),
                    "kind": kind,
                    "payload": payload,
                });
                for (user, conn) in targets {
                    self.publish(vec![user], "call-signal", data.clone(), None, conn);
                }
                let _ = reply.send(Ok(self.call.clone()));
            }
            CallCmd::Gone { user_id } => {
                if self.state != State::Over && self.in_call(user_id) {
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
            CallCmd::Back { user_id } => {
                self.gone.remove(&user_id);
            }
        }
    }
}
