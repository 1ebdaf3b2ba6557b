//! What each client frame does: the frame's command is run against the engine and answered
//! with an `ack` or an `error` frame.

use std::collections::HashMap;

use actix::prelude::*;
use chrono::TimeDelta;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::{InFlight, WsSession};
use crate::call::{self, CallCmd, CallError};
use crate::protocol::{CallAction, ClientFrame, FrameError};
use crate::registry::{Unwatch, Watch};
use crate::room::{RoomCmd, RoomError};
use crate::store::calls::Call;
use crate::store::chats::chats_of_messages;
use crate::store::presence::as_seen_by;
use crate::store::receipts::Kind;
use crate::store::{sync, StoreError};

impl WsSession {
    /// Runs a decoded frame within its kind's budget; `place` is held until it is answered.
    pub(super) fn run(
        &mut self,
        frame: ClientFrame,
        reference: Value,
        client_msg_id: Option<String>,
        place: InFlight,
        ctx: &mut Context<Self>,
    ) {
        let kind = frame.kind();
        let now = self.engine.clock.now();
        if let Err(secs) = self.slot.take_frame(kind, now) {
            self.engine
                .metrics
                .refused(&format!("frame-{}", kind.name()));
            let e = FrameError {
                retry_after: Some(secs),
                ..FrameError::new(
                    "rate_limited",
                    format!("too many {} frames; slow down", kind.name()),
                )
            };
            return self.error(&reference, client_msg_id.as_deref(), &e, ctx);
        }
        match frame {
            ClientFrame::Ping => self.reply("pong", &reference, json!({}), ctx),
            ClientFrame::SendMessage { chat_id, draft } => {
                // Counted on every node first; the session handles nothing else until it is,
                // so the socket's sends keep their order.
                let counted = self.count_messages(1);
                let go_on = counted
                    .into_actor(self)
                    .map(move |counted, act, ctx| match counted {
                        Ok(()) => {
                            act.send_message(chat_id, draft, reference, client_msg_id, place, ctx)
                        }
                        Err(e) => act.error(&reference, client_msg_id.as_deref(), &e, ctx),
                    });
                ctx.wait(go_on);
            }
            ClientFrame::ForwardMessage {
                message_id,
                chat_ids,
            } => {
                let counted = self.count_messages(chat_ids.len() as u32);
                let (engine, user_id, conn) = (self.engine.clone(), self.user_id, self.conn);
                let fut = async move {
                    counted.await?;
                    crate::forward::forward(&engine, user_id, message_id, &chat_ids, Some(conn))
                        .await
                        .map_err(room_error)
                };
                let answer = fut.into_actor(self).map(move |res, act, ctx| match res {
                    Ok(copies) => {
                        let messages: Vec<_> = copies.into_iter().map(|c| c.message).collect();
                        act.reply("ack", &reference, json!({ "messages": messages }), ctx);
                    }
                    Err(e) => act.error(&reference, None, &e, ctx),
                });
                self.hold(place, answer, ctx);
            }
            ClientFrame::Typing { chat_id, is_typing } => {
                let (reply, answer) = oneshot::channel();
                self.to_room(
                    chat_id,
                    RoomCmd::Typing {
                        user_id: self.user_id,
                        is_typing,
                        reply,
                    },
                );
                self.answer(answer, reference, place, |_| json!({}), ctx);
            }
            ClientFrame::Read {
                chat_id,
                message_id,
            } => {
                let (reply, answer) = oneshot::channel();
                self.to_room(
                    chat_id,
                    RoomCmd::Receipt {
                        user_id: self.user_id,
                        kind: Kind::Read,
                        up_to: message_id,
                        reply,
                    },
                );
                self.answer(
                    answer,
                    reference,
                    place,
                    |at| json!({ "read_at": at.map(|t| t.and_utc()) }),
                    ctx,
                );
            }
            ClientFrame::Delivered { message_ids } => {
                let (engine, user_id) = (self.engine.clone(), self.user_id);
                let fut = async move {
                    let mut conn = engine.db.get().await?;
                    let chats = chats_of_messages(&mut conn.conn(), user_id, &message_ids).await?;
                    drop(conn);
                    let mut highest: HashMap<i64, i64> = HashMap::new();
                    for (message, chat) in chats {
                        let h = highest.entry(chat).or_insert(message);
                        *h = (*h).max(message);
                    }
                    for (chat_id, up_to) in highest {
                        let (reply, answer) = oneshot::channel();
                        engine.room(
                            chat_id,
                            RoomCmd::Receipt {
                                user_id,
                                kind: Kind::Delivered,
                                up_to,
                                reply,
                            },
                        );
                        // Ids of chats the user is not in are skipped silently: they reveal
                        // nothing. A storage failure is reported.
                        if let Ok(Err(RoomError::Store(e))) = answer.await {
                            return Err(e);
                        }
                    }
                    Ok::<_, crate::store::StoreError>(())
                };
                let answer = fut.into_actor(self).map(move |res, act, ctx| match res {
                    Ok(()) => act.reply("ack", &reference, json!({}), ctx),
                    Err(e) => act.error(&reference, None, &room_error(RoomError::Store(e)), ctx),
                });
                self.hold(place, answer, ctx);
            }
            ClientFrame::CallInitiate { chat_id, call_type } => {
                let (engine, user_id, conn) = (self.engine.clone(), self.user_id, self.conn);
                let fut = async move {
                    call::initiate(&engine, user_id, chat_id, &call_type, Some(conn)).await
                };
                let answer = fut
                    .into_actor(self)
                    .map(move |res, act, ctx| act.call_answer(res, &reference, ctx));
                self.hold(place, answer, ctx);
            }
            ClientFrame::Call { call_id, action } => {
                let (engine, user_id, conn) = (self.engine.clone(), self.user_id, self.conn);
                let fut = async move {
                    call::act(&engine, user_id, call_id, |reply| match action {
                        CallAction::Ringing => CallCmd::Ringing { user_id, reply },
                        CallAction::Answer => CallCmd::Answer {
                            user_id,
                            conn: Some(conn),
                            reply,
                        },
                        CallAction::Decline => CallCmd::Decline { user_id, reply },
                        CallAction::End => CallCmd::End { user_id, reply },
                    })
                    .await
                };
                let answer = fut
                    .into_actor(self)
                    .map(move |res, act, ctx| act.call_answer(res, &reference, ctx));
                self.hold(place, answer, ctx);
            }
            ClientFrame::CallSignal {
                call_id,
                kind,
                payload,
                to_user_id,
            } => {
                let limit = self.engine.realtime.max_signal_bytes;
                if payload.to_string().len() > limit {
                    let e = FrameError::new(
                        "payload_too_large",
                        format!("signal payloads are limited to {limit} bytes"),
                    );
                    return self.error(&reference, None, &e, ctx);
                }
                let (engine, user_id, conn) = (self.engine.clone(), self.user_id, self.conn);
                let fut = async move {
                    call::act(&engine, user_id, call_id, |reply| CallCmd::Signal {
                        user_id,
                        conn: Some(conn),
                        to: to_user_id,
                        kind,
                        payload,
                        reply,
                    })
                    .await
                };
                let answer = fut.into_actor(self).map(move |res, act, ctx| match res {
                    Ok(_) if reference.is_null() => {}
                    other => act.call_answer(other, &reference, ctx),
                });
                self.hold(place, answer, ctx);
            }
            ClientFrame::PresenceSubscribe { user_ids } => {
                let (engine, viewer, conn) = (self.engine.clone(), self.user_id, self.conn);
                let fut = async move {
                    let seen = {
                        let mut db = engine.db.get().await?;
                        as_seen_by(&mut db.conn(), viewer, &user_ids).await?
                    };
                    let watch = Watch {
                        conn,
                        viewer,
                        user_ids,
                    };
                    let online = match engine.registry.send(watch).await {
                        Ok(Ok(online)) => online,
                        Ok(Err(limit)) => return Ok(Err(limit)),
                        Err(_) => return Err(StoreError::Unavailable("registry stopped".into())),
                    };
                    let presence: Vec<Value> = seen
                        .into_iter()
                        .map(|(user, visible)| {
                            json!({
                                "user_id": user.id,
                                "is_online": visible && online.contains(&user.id),
                                "last_seen_at": user.last_seen_at.filter(|_| visible).map(|t| t.and_utc()),
                            })
                        })
                        .collect();
                    Ok(Ok(presence))
                };
                let answer = fut.into_actor(self).map(move |res, act, ctx| match res {
                    Ok(Ok(presence)) => {
                        act.reply("ack", &reference, json!({ "presence": presence }), ctx)
                    }
                    Ok(Err(limit)) => {
                        let e = FrameError::invalid(
                            "user_ids",
                            format!(
                                "a socket watches at most {limit} users; unsubscribe some first"
                            ),
                        );
                        act.error(&reference, None, &e, ctx)
                    }
                    Err(e) => act.error(&reference, None, &room_error(RoomError::Store(e)), ctx),
                });
                self.hold(place, answer, ctx);
            }
            ClientFrame::PresenceUnsubscribe { user_ids } => {
                self.engine.registry.do_send(Unwatch {
                    conn: self.conn,
                    user_ids,
                });
                if !reference.is_null() {
                    self.reply("ack", &reference, json!({}), ctx);
                }
            }
            ClientFrame::Sync { since, limit } => {
                let (engine, user_id) = (self.engine.clone(), self.user_id);
                let fut = async move {
                    let mut conn = engine.db.get().await?;
                    sync::since(&mut conn.conn(), user_id, since, limit.unwrap_or(200)).await
                };
                let answer = fut.into_actor(self).map(move |res, act, ctx| match res {
                    Ok(page) => act.reply("sync-result", &reference, page.to_json(), ctx),
                    Err(e) => act.error(&reference, None, &room_error(RoomError::Store(e)), ctx),
                });
                self.hold(place, answer, ctx);
            }
        }
    }

    /// Answers a call frame with the call's state, or an error frame.
    fn call_answer(
        &mut self,
        res: Result<Call, CallError>,
        reference: &Value,
        ctx: &mut Context<Self>,
    ) {
        match res {
            Ok(c) => self.reply("ack", reference, json!({ "call": call::summary(&c) }), ctx),
            Err(e) => self.error(reference, None, &call_error(e), ctx),
        }
    }

    /// Counts `n` messages of this user against `realtime.messages_per_minute`, on every node.
    fn count_messages(
        &self,
        n: u32,
    ) -> impl std::future::Future<Output = Result<(), FrameError>> + 'static {
        let limiter = self.engine.limiter.clone();
        let key = format!("msg:{}", self.user_id);
        let limit = self.engine.realtime.messages_per_minute;
        async move {
            limiter
                .hit_n(&key, n, limit, TimeDelta::minutes(1))
                .await
                .map_err(|secs| FrameError {
                    retry_after: Some(secs),
                    ..FrameError::new("rate_limited", "too many messages; slow down")
                })
        }
    }

    /// Sends a message once it has been counted: to its chat's room, answered with an `ack`
    /// once it is stored.
    fn send_message(
        &mut self,
        chat_id: i64,
        draft: crate::store::messages::Draft,
        reference: Value,
        client_msg_id: Option<String>,
        place: InFlight,
        ctx: &mut Context<Self>,
    ) {
        let message = match draft.validate(chat_id, self.user_id, true) {
            Ok(m) => m,
            Err(inv) => {
                let e = FrameError::invalid(inv.field, inv.message);
                return self.error(&reference, client_msg_id.as_deref(), &e, ctx);
            }
        };
        let (reply, answer) = oneshot::channel();
        self.to_room(
            chat_id,
            RoomCmd::Send {
                message,
                conn: Some(self.conn),
                reply,
            },
        );
        let answer = answer
            .into_actor(self)
            .map(move |res, act, ctx| match flatten(res) {
                Ok(r) => {
                    let extra = json!({
                        "client_msg_id": client_msg_id,
                        "duplicate": r.duplicate,
                        "seq": r.message.seq,
                        "message": r.message,
                    });
                    act.reply("ack", &reference, extra, ctx);
                }
                Err(e) => act.error(&reference, client_msg_id.as_deref(), &room_error(e), ctx),
            });
        self.hold(place, answer, ctx);
    }

    /// Answers a room command's result with an ack (built by `ok`) or an error frame.
    fn answer<T: 'static>(
        &mut self,
        answer: oneshot::Receiver<Result<T, RoomError>>,
        reference: Value,
        place: InFlight,
        ok: impl FnOnce(T) -> Value + 'static,
        ctx: &mut Context<Self>,
    ) {
        let answer = answer
            .into_actor(self)
            .map(move |res, act, ctx| match flatten(res) {
                Ok(v) => {
                    if !reference.is_null() {
                        act.reply("ack", &reference, ok(v), ctx);
                    }
                }
                Err(e) => act.error(&reference, None, &room_error(e), ctx),
            });
        self.hold(place, answer, ctx);
    }
}

fn flatten<T>(
    res: Result<Result<T, RoomError>, oneshot::error::RecvError>,
) -> Result<T, RoomError> {
    res.unwrap_or(Err(RoomError::Store(crate::store::StoreError::Pool(
        "chat unavailable; try again".into(),
    ))))
}

/// The error frame for a refused call action.
pub fn call_error(e: CallError) -> FrameError {
    match e {
        CallError::NotFound(what) => FrameError::new("not_found", format!("{what} not found")),
        CallError::Forbidden(code, message) | CallError::Conflict(code, message) => {
            FrameError::new(code, message)
        }
        CallError::Invalid(field, message) => FrameError::invalid(field, message),
        CallError::NotLive => FrameError::new("call_ended", "the call is over"),
        CallError::Store(e) => room_error(RoomError::Store(e)),
    }
}

/// The error frame for a room refusal.
pub fn room_error(e: RoomError) -> FrameError {
    match e {
        RoomError::NotFound(what) => FrameError::new("not_found", format!("{what} not found")),
        RoomError::Forbidden(code, message) => FrameError::new(code, message),
        RoomError::Invalid(field, message) => FrameError::invalid(field, message),
        RoomError::Group(refused) => FrameError::new("refused", format!("{refused:?}")),
        RoomError::Conflict(code, message) => FrameError::new(code, message),
        RoomError::Refused(code, message) => FrameError::new(code, message),
        RoomError::Store(e) => {
            tracing::error!(error = %e, "storage failed during a frame");
            FrameError::new("unavailable", "storage unavailable; try again")
        }
    }
}
