//! What users do to a live call: ringing, answering (joining, taking the call back after a
//! disconnect), declining, hanging up, signalling; and what their sockets closing does.

use actix::prelude::*;
use serde_json::{json, Value};

use super::actor::{CallActor, State};
use super::{ended, CallCmd, CallError, CallReply};
use crate::session::ConnId;

fn not_found() -> CallError {
    CallError::NotFound("call")
}

fn not_in_call() -> CallError {
    CallError::Conflict("not_in_call", "you are not in this call".into())
}

impl Handler<CallCmd> for CallActor {
    type Result = ();

    fn handle(&mut self, cmd: CallCmd, ctx: &mut Self::Context) {
        match cmd {
            CallCmd::Ringing { user_id, reply } => self.ringing(user_id, reply, ctx),
            CallCmd::Answer {
                user_id,
                conn,
                reply,
            } => self.answer(user_id, conn, reply, ctx),
            CallCmd::Decline { user_id, reply } => self.decline(user_id, reply, ctx),
            CallCmd::End { user_id, reply } => {
                if !self.is_member(user_id) {
                    let _ = reply.send(Err(not_found()));
                } else if self.state == State::Over {
                    let _ = reply.send(Err(ended()));
                } else if !self.in_call(user_id) {
                    let _ = reply.send(Err(not_in_call()));
                } else {
                    self.hang_up(user_id, Some(reply), ctx);
                }
            }
            CallCmd::Signal {
                user_id,
                conn,
                to,
                kind,
                payload,
                reply,
            } => self.signal(user_id, conn, to, kind, payload, reply),
            CallCmd::Gone {
                user_id,
                conn,
                last,
            } => {
                let device_gone = match self.participants.get(&user_id) {
                    Some(Some(device)) => *device == conn,
                    Some(None) => last,
                    None => false,
                };
                if self.state != State::Over && device_gone && !self.gone.contains_key(&user_id) {
                    self.start_grace(user_id, ctx);
                }
            }
            CallCmd::Back { user_id } => {
                // Only for who joined over REST: their device is any socket of theirs.
                if self.participants.get(&user_id) == Some(&None) {
                    self.gone.remove(&user_id);
                }
            }
        }
    }
}

impl CallActor {
    fn ringing(&mut self, user_id: i64, reply: CallReply, ctx: &mut Context<Self>) {
        if !self.is_member(user_id) {
            let _ = reply.send(Err(not_found()));
        } else if user_id == self.call.caller_id {
            let _ = reply.send(Err(CallError::Conflict(
                "own_call",
                "this is your own call".into(),
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

    fn answer(
        &mut self,
        user_id: i64,
        conn: Option<ConnId>,
        reply: CallReply,
        ctx: &mut Context<Self>,
    ) {
        let caller = self.call.caller_id;
        if !self.is_member(user_id) {
            let _ = reply.send(Err(not_found()));
        } else if self.state == State::Over {
            let _ = reply.send(Err(ended()));
        } else if self.in_call(user_id) && self.gone.remove(&user_id).is_some() {
            // Their device in the call went away; this one takes the call back.
            self.participants.insert(user_id, conn);
            let _ = reply.send(Ok(self.call.clone()));
        } else if user_id == caller && self.in_call(user_id) {
            let _ = reply.send(Err(CallError::Conflict(
                "own_call",
                "you cannot answer your own call".into(),
            )));
        } else if self.in_call(user_id) {
            let _ = reply.send(Err(CallError::Conflict(
                "already_answered",
                "answered on another device".into(),
            )));
        } else if self.state == State::Answered && !self.is_group() {
            let _ = reply.send(Err(CallError::Conflict(
                "already_answered",
                "the call was already answered".into(),
            )));
        } else if self.state == State::Answered {
            // Another member joins (or rejoins) a group call under way.
            self.participants.insert(user_id, conn);
            self.joined(user_id);
            let data = json!({ "call": self.summary(), "answered_by": self.brief(user_id) });
            self.publish(self.chat_members.clone(), "call-answered", data, conn, None);
            let _ = reply.send(Ok(self.call.clone()));
        } else {
            // The first answer: recorded first, taken into account once committed.
            let data = json!({ "answered_by": self.brief(user_id) });
            self.transition(
                ctx,
                "answered",
                true,
                false,
                move |act, _| {
                    act.state = State::Answered;
                    act.participants.insert(user_id, conn);
                    for user in [user_id, caller] {
                        act.joined(user);
                    }
                    act.announce("call-answered", data, conn);
                },
                Some(reply),
            );
        }
    }

    fn decline(&mut self, user_id: i64, reply: CallReply, ctx: &mut Context<Self>) {
        if !self.is_member(user_id) {
            let _ = reply.send(Err(not_found()));
        } else if user_id == self.call.caller_id {
            let _ = reply.send(Err(CallError::Conflict(
                "own_call",
                "end your own call instead".into(),
            )));
        } else if self.state == State::Over {
            let _ = reply.send(Err(ended()));
        } else if self.state == State::Answered {
            let _ = reply.send(Err(CallError::Conflict(
                "already_answered",
                "the call was answered; end it instead".into(),
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
                    move |act, _| act.announce("call-declined", json!({ "declined_by": by }), None),
                    Some(reply),
                );
            } else {
                let data = json!({ "call": self.summary(), "declined_by": by });
                self.publish(self.chat_members.clone(), "call-declined", data, None, None);
                let _ = reply.send(Ok(self.call.clone()));
            }
        }
    }

    /// Relays a signal. Only the device in the call may send one (any device of a callee
    /// while the call rings); it goes to the named participant's device, else to the other
    /// side.
    fn signal(
        &mut self,
        user_id: i64,
        conn: Option<ConnId>,
        to: Option<i64>,
        kind: String,
        payload: Value,
        reply: CallReply,
    ) {
        let caller = self.call.caller_id;
        let ringing = self.state == State::Ringing;
        if !self.is_member(user_id) {
            let _ = reply.send(Err(not_found()));
            return;
        }
        if self.state == State::Over {
            let _ = reply.send(Err(ended()));
            return;
        }
        let allowed = self.is_device_in_call(user_id, conn) || (ringing && user_id != caller);
        if !allowed {
            let _ = reply.send(Err(not_in_call()));
            return;
        }
        let device = |u: i64| self.participants.get(&u).copied().flatten();
        let targets: Vec<(i64, Option<ConnId>)> = match to {
            Some(t) if self.in_call(t) => vec![(t, device(t))],
            Some(t) if ringing && t != caller && self.is_member(t) => vec![(t, None)],
            Some(_) => {
                let _ = reply.send(Err(CallError::Invalid(
                    "to_user_id",
                    "is not in this call".into(),
                )));
                return;
            }
            None if user_id == caller && ringing => self.callees().map(|u| (u, None)).collect(),
            None if user_id == caller => self
                .participants
                .iter()
                .filter(|(u, _)| **u != caller)
                .map(|(u, c)| (*u, *c))
                .collect(),
            None if self.in_call(caller) => vec![(caller, device(caller))],
            None => {
                let _ = reply.send(Err(CallError::Invalid(
                    "to_user_id",
                    "is required once the caller has left the call".into(),
                )));
                return;
            }
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
}
