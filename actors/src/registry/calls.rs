//! The registry's calls: the actors of the calls this node runs, who is in a call (and busy)
//! on every node, and actions carried to the node that runs a call (see
//! [`crate::call::remote`]). In a cluster, each change of who is in a call is broadcast by the
//! node that runs the call, and applied by the others as [`CallNews`].

use std::collections::HashSet;

use actix::prelude::*;

use super::Registry;
use crate::call::remote::RemoteCmd;
use crate::call::{CallActor, CallCmd, CallError, Ring};
use crate::cluster::wire::Body;
use crate::session::ConnId;

impl Registry {
    /// Tells the live calls a user is in about their sockets: `gone` is the socket that
    /// closed (`last` if it was their last one anywhere); `None` means a first socket opened.
    pub(super) fn calls_of(&self, user_id: i64, gone: Option<(ConnId, bool)>) {
        for call in self.in_calls.get(&user_id).into_iter().flatten() {
            let cmd = match gone {
                Some((conn, last)) => CallCmd::Gone {
                    user_id,
                    conn,
                    last,
                },
                None => CallCmd::Back { user_id },
            };
            if let Some(addr) = self.calls.get(call) {
                addr.do_send(cmd);
            } else if let (Some(node), Some(cluster)) =
                (self.owners.get(call), &self.engine.cluster)
            {
                cluster.tell_call(node, *call, cmd.into_remote().0);
            }
        }
    }

    /// Forgets that `user_id` is in `call_id` (and busy because of it).
    fn out_of_call(&mut self, user_id: i64, call_id: i64) {
        for map in [&mut self.busy, &mut self.in_calls] {
            if let Some(calls) = map.get_mut(&user_id) {
                calls.remove(&call_id);
                if calls.is_empty() {
                    map.remove(&user_id);
                }
            }
        }
    }

    /// Records that `user_id` is in `call_id` (`busy`: having answered it).
    fn put_in_call(&mut self, user_id: i64, call_id: i64, busy: bool) {
        if busy {
            self.busy.entry(user_id).or_default().insert(call_id);
        }
        self.in_calls.entry(user_id).or_default().insert(call_id);
    }

    /// Clears everyone marked as in `call_id`, or busy because of it.
    fn call_over(&mut self, call_id: i64) {
        self.owners.remove(&call_id);
        let users: HashSet<i64> = self
            .in_calls
            .iter()
            .chain(self.busy.iter())
            .filter(|(_, calls)| calls.contains(&call_id))
            .map(|(user, _)| *user)
            .collect();
        for user in users {
            self.out_of_call(user, call_id);
        }
    }

    /// Runs `cmd` if this node runs call `call_id`; otherwise gives it back.
    fn to_local_call(&self, call_id: i64, cmd: CallCmd) -> Result<(), CallCmd> {
        match self.calls.get(&call_id).filter(|a| a.connected()) {
            Some(addr) => {
                addr.do_send(cmd);
                Ok(())
            }
            None => Err(cmd),
        }
    }
}

/// A new call: the registry starts its actor and has it ring. In a cluster the call is
/// recorded as this node's first (see `call::initiate`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StartCall {
    pub actor: CallActor,
}

impl Handler<StartCall> for Registry {
    type Result = ();

    fn handle(&mut self, msg: StartCall, _: &mut Self::Context) {
        let (id, caller) = (msg.actor.id(), msg.actor.caller());
        let busy: HashSet<i64> = msg
            .actor
            .callees()
            .filter(|u| self.busy.contains_key(u))
            .collect();
        // The other nodes know the caller is in it before anyone hears of the call.
        self.engine.tell_other_nodes(Body::InCall {
            user_id: caller,
            call_id: id,
            busy: false,
        });
        self.put_in_call(caller, id, false);
        let actor = msg.actor;
        let addr = CallActor::start_in_arbiter(self.engine.thread_for(id), move |_| actor);
        addr.do_send(Ring { busy });
        self.calls.insert(id, addr);
        self.engine.metrics.calls_live.set(self.calls.len() as i64);
    }
}

/// An action on a live call. A call that is not live (over, or never was) is refused with
/// `CallError::NotLive`. In a cluster, a call another node runs gets the action from there.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ToCall {
    pub call_id: i64,
    pub cmd: CallCmd,
}

impl Handler<ToCall> for Registry {
    type Result = ();

    fn handle(&mut self, msg: ToCall, _: &mut Self::Context) {
        let Err(cmd) = self.to_local_call(msg.call_id, msg.cmd) else {
            return;
        };
        let Some(cluster) = self.engine.cluster.clone() else {
            return cmd.refuse(CallError::NotLive);
        };
        let call_id = msg.call_id;
        // A call someone here is in names its node in its news: no look-up per signal.
        let known = self
            .owners
            .get(&call_id)
            .filter(|n| cluster.nodes().iter().any(|live| live == *n))
            .cloned();
        actix::spawn(async move {
            let (remote, reply) = cmd.into_remote();
            let owner = match known {
                Some(node) => Ok(Some(node)),
                None => cluster.call_owner(call_id).await,
            };
            let owner = match owner {
                Ok(Some(node)) => node,
                Ok(None) => {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(CallError::NotLive));
                    }
                    return;
                }
                Err(e) => {
                    if let Some(reply) = reply {
                        let e = crate::store::StoreError::Unavailable(format!("redis: {e}"));
                        let _ = reply.send(Err(CallError::Store(e)));
                    }
                    return;
                }
            };
            match reply {
                Some(reply) => {
                    let _ = reply.send(cluster.ask_call(&owner, call_id, remote).await);
                }
                None => cluster.tell_call(&owner, call_id, remote),
            }
        });
    }
}

/// An action another node carried to a call this node runs; `request` numbers the answer the
/// node `from` waits for.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CallFromNode {
    pub from: String,
    pub call_id: i64,
    pub request: Option<u64>,
    pub cmd: RemoteCmd,
}

impl Handler<CallFromNode> for Registry {
    type Result = ();

    fn handle(&mut self, msg: CallFromNode, _: &mut Self::Context) {
        let (cmd, answer) = msg.cmd.into_cmd();
        if let Err(cmd) = self.to_local_call(msg.call_id, cmd) {
            cmd.refuse(CallError::NotLive);
        }
        let (Some(request), Some(answer), Some(cluster)) =
            (msg.request, answer, self.engine.cluster.clone())
        else {
            return;
        };
        actix::spawn(async move {
            let answer = match answer.await {
                Ok(result) => result.map_err(Into::into),
                Err(_) => Err(CallError::NotLive.into()),
            };
            cluster.send_to(&msg.from, Body::CallAnswer { request, answer });
        });
    }
}

/// A user answered a call (or is the caller of a call just answered): they are in it, and
/// busy for other calls.
#[derive(Message)]
#[rtype(result = "()")]
pub struct InCall {
    pub user_id: i64,
    pub call_id: i64,
}

impl Handler<InCall> for Registry {
    type Result = ();

    fn handle(&mut self, msg: InCall, _: &mut Self::Context) {
        self.put_in_call(msg.user_id, msg.call_id, true);
    }
}

/// A user left a call that goes on: they are no longer in it, nor busy because of it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LeftCall {
    pub user_id: i64,
    pub call_id: i64,
}

impl Handler<LeftCall> for Registry {
    type Result = ();

    fn handle(&mut self, msg: LeftCall, _: &mut Self::Context) {
        self.out_of_call(msg.user_id, msg.call_id);
    }
}

/// A call is over (its actor stops; the other nodes heard it from the actor). Everyone it
/// marked as in the call, or busy, is cleared, whether or not they were still in it, and in
/// a cluster the call's record as this node's goes.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CallFinished {
    pub call_id: i64,
}

impl Handler<CallFinished> for Registry {
    type Result = ();

    fn handle(&mut self, msg: CallFinished, _: &mut Self::Context) {
        let id = msg.call_id;
        self.calls.remove(&id);
        self.engine.metrics.calls_live.set(self.calls.len() as i64);
        self.call_over(id);
        if let Some(cluster) = self.engine.cluster.clone() {
            actix::spawn(async move {
                if let Err(e) = cluster.call_over(id).await {
                    tracing::warn!(call = id, error = %e, "an ended call is still recorded (Redis)");
                }
            });
        }
    }
}

/// What another node's call changed: who is in it, or that it is over (also sent here by
/// the node that closed a dead node's calls).
#[derive(Message)]
#[rtype(result = "()")]
pub enum CallNews {
    InCall {
        node: String,
        user_id: i64,
        call_id: i64,
        busy: bool,
    },
    LeftCall {
        user_id: i64,
        call_id: i64,
    },
    Over {
        call_id: i64,
    },
}

impl Handler<CallNews> for Registry {
    type Result = ();

    fn handle(&mut self, msg: CallNews, _: &mut Self::Context) {
        match msg {
            CallNews::InCall {
                node,
                user_id,
                call_id,
                busy,
            } => {
                self.owners.insert(call_id, node);
                self.put_in_call(user_id, call_id, busy);
            }
            CallNews::LeftCall { user_id, call_id } => self.out_of_call(user_id, call_id),
            CallNews::Over { call_id } => self.call_over(call_id),
        }
    }
}
