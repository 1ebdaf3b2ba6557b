//! Calls (one actor per live call, under the registry). Courier does not carry audio or video:
//! a call rings the other members' devices, relays WebRTC signalling between the devices in
//! the call, and records the outcome. States: initiated → ringing (a callee's device confirmed)
//! → answered → ended; or missed (no answer within the ring timeout, or the caller gave up) or
//! declined. Every transition is committed through the writer before it is announced, and the
//! actor's own state changes only once that commit succeeded.

mod actor;
mod commands;
pub mod remote;

pub use actor::{CallActor, Ring};

use std::borrow::Cow;

use actix::prelude::*;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::bus::Delivery;
use crate::engine::Engine;
use crate::event::chat_channel;
use crate::session::ConnId;
use crate::store::calls::{Call, CloseInterruptedCalls, CreateCall};
use crate::store::chats;
use crate::store::contacts::blocks_among;
use crate::store::users::User;
use crate::store::StoreError;

/// Why a call action was refused.
#[derive(Debug)]
pub enum CallError {
    /// No such call (or chat) for this user.
    NotFound(&'static str),
    /// Not allowed at all (`code`, message), e.g. calling someone across a block.
    Forbidden(&'static str, Cow<'static, str>),
    /// Not allowed in the call's current state (`code`, message).
    Conflict(&'static str, Cow<'static, str>),
    /// A field breaks a rule.
    Invalid(&'static str, String),
    /// The call is not live here (it is over, or never existed).
    NotLive,
    Store(StoreError),
}

impl From<StoreError> for CallError {
    fn from(e: StoreError) -> Self {
        CallError::Store(e)
    }
}

pub type CallReply = oneshot::Sender<Result<Call, CallError>>;

/// What a user does to a live call, or what happens to their sockets. `conn` is the socket
/// the action came from (`None` over REST).
pub enum CallCmd {
    /// A callee's device has the call and is ringing.
    Ringing { user_id: i64, reply: CallReply },
    /// A callee answers (joins a group call), or a participant's device takes the call back
    /// during the disconnect grace.
    Answer {
        user_id: i64,
        conn: Option<ConnId>,
        reply: CallReply,
    },
    /// A callee refuses the call.
    Decline { user_id: i64, reply: CallReply },
    /// A participant hangs up.
    End { user_id: i64, reply: CallReply },
    /// WebRTC signalling for the other devices in the call.
    Signal {
        user_id: i64,
        conn: Option<ConnId>,
        to: Option<i64>,
        kind: String,
        payload: Value,
        reply: CallReply,
    },
    /// One of the user's sockets closed; `last` when it was their last one.
    Gone {
        user_id: i64,
        conn: ConnId,
        last: bool,
    },
    /// The user's first socket opened (after they had none).
    Back { user_id: i64 },
}

impl Message for CallCmd {
    type Result = ();
}

impl CallCmd {
    /// Answers the command's caller with an error without running it.
    pub fn refuse(self, e: CallError) {
        let reply = match self {
            CallCmd::Ringing { reply, .. }
            | CallCmd::Answer { reply, .. }
            | CallCmd::Decline { reply, .. }
            | CallCmd::End { reply, .. }
            | CallCmd::Signal { reply, .. } => reply,
            CallCmd::Gone { .. } | CallCmd::Back { .. } => return,
        };
        let _ = reply.send(Err(e));
    }
}

/// Runs an action on a call for a user: the call actor if the call is live; otherwise the
/// stored call decides between "over" (409) and "not found" (404). Only current members of
/// the call's chat see the call at all; the actor then refuses whoever was not a member when
/// the call started, with the same "not found".
pub async fn act(
    engine: &Engine,
    user_id: i64,
    call_id: i64,
    cmd: impl FnOnce(CallReply) -> CallCmd,
) -> Result<Call, CallError> {
    let visible = {
        let mut c = engine.db.get().await?;
        crate::store::calls::find_for_member(&mut c.conn(), call_id, user_id).await?
    };
    if visible.is_none() {
        return Err(CallError::NotFound("call"));
    }
    let (reply, answer) = oneshot::channel();
    engine.registry.do_send(crate::registry::ToCall {
        call_id,
        cmd: cmd(reply),
    });
    match answer.await {
        Ok(Err(CallError::NotLive)) | Err(_) => Err(ended()),
        Ok(result) => result,
    }
}

/// Starts a call: checks the caller may call in this chat, records it, starts its actor (which
/// rings the members). `conn` is the caller's device, when the call starts on a socket.
pub async fn initiate(
    engine: &Engine,
    caller: i64,
    chat_id: i64,
    call_type: &str,
    conn: Option<ConnId>,
) -> Result<Call, CallError> {
    let call_type = match call_type {
        "audio" => "audio",
        "video" => "video",
        _ => {
            return Err(CallError::Invalid(
                "call_type",
                "must be audio or video".into(),
            ))
        }
    };
    let (members, blocked) = {
        let mut c = engine.db.get().await?;
        let Some((chat, _)) = chats::find_for_member(&mut c.conn(), chat_id, caller).await? else {
            return Err(CallError::NotFound("chat"));
        };
        let members: Vec<(i64, User)> = chats::participants(&mut c.conn(), chat_id)
            .await?
            .into_iter()
            .filter(|(p, _)| p.is_current())
            .map(|(p, u)| (p.user_id, u))
            .collect();
        let ids: Vec<i64> = members.iter().map(|(id, _)| *id).collect();
        let blocked = !chat.is_group() && !blocks_among(&mut c.conn(), &ids).await?.is_empty();
        (members, blocked)
    };
    if blocked {
        return Err(CallError::Forbidden(
            "blocked",
            "calls between these users are blocked".into(),
        ));
    }
    if members.len() < 2 {
        return Err(CallError::Conflict(
            "nobody_to_call",
            "there is nobody else in this chat".into(),
        ));
    }
    let call = engine
        .write(CreateCall {
            chat_id,
            caller_id: caller,
            call_type,
            ring: chrono::TimeDelta::from_std(engine.realtime.ring_timeout)
                .unwrap_or(chrono::TimeDelta::seconds(45)),
        })
        .await?;
    if let Some(cluster) = &engine.cluster {
        // Before anyone hears of the call: an answer through another node finds it here.
        if let Err(e) = cluster.own_call(call.id).await {
            tracing::warn!(call = call.id, error = %e, "other nodes cannot reach this call (Redis)");
        }
    }
    engine.registry.do_send(crate::registry::StartCall {
        actor: CallActor::new(call.clone(), engine.clone(), members, conn),
    });
    Ok(call)
}

/// Closes the calls of a dead node of a cluster (their actors died with it) and tells the
/// members of their chats, as the actor would have: `call-missed` for a call never answered,
/// `call-ended` (`ended_by` null) for one that was.
pub async fn close_orphaned(engine: &Engine, call_ids: Vec<i64>) {
    let closed = match engine
        .write(CloseInterruptedCalls {
            only: Some(call_ids),
        })
        .await
    {
        Ok(closed) => closed,
        Err(e) => return tracing::warn!(error = %e, "a dead node's calls could not be closed"),
    };
    for call in closed {
        let members = match engine.db.get().await {
            Ok(mut c) => chats::participants(&mut c.conn(), call.chat_id).await,
            Err(e) => Err(e),
        };
        let members: Vec<i64> = match members {
            Ok(m) => m
                .into_iter()
                .filter(|(p, _)| p.is_current())
                .map(|(p, _)| p.user_id)
                .collect(),
            Err(e) => {
                tracing::warn!(call = call.id, error = %e, "a closed call was not announced");
                continue;
            }
        };
        let (name, data) = match call.status.as_str() {
            "ended" => (
                "call-ended",
                json!({ "call": summary(&call), "ended_by": null }),
            ),
            _ => ("call-missed", json!({ "call": summary(&call) })),
        };
        let event = engine.event(name, chat_channel(call.chat_id), None, data);
        engine.bus.publish(Delivery {
            users: members,
            event,
            skip: None,
            only: None,
            order: None,
        });
    }
}

/// A call as events and answers show it.
pub fn summary(c: &Call) -> Value {
    json!({
        "id": c.id,
        "chat_id": c.chat_id,
        "caller_id": c.caller_id,
        "call_type": c.call_type,
        "status": c.status,
        "started_at": c.started_at.map(|t| t.and_utc()),
        "ended_at": c.ended_at.map(|t| t.and_utc()),
        "duration": c.duration,
        "created_at": c.created_at.and_utc(),
    })
}

fn ended() -> CallError {
    CallError::Conflict("call_ended", "the call is over".into())
}
