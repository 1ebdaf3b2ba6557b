//! A Pusher socket (one actor per connection). It starts anonymous; its first authorized
//! subscription binds it to the user `/broadcasting/auth` issued the grant to, and from then
//! on it is one of that user's sessions in the registry: it receives every event of the user
//! and writes those of the channels it is subscribed to, each already encoded once for all
//! sockets. Activity checks come from the hub's one timer.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

mod frames;

use crate::socket::{CloseCode, CloseReason, ProtocolError, Sender, Socket, WsMessage};
use actix::prelude::*;
use bytestring::ByteString;
use chrono::NaiveDateTime;
use serde_json::json;

use super::codec::{self, codes, ChannelKind, Refusal};
use super::hub::Hub;
use crate::engine::Engine;
use crate::metrics::{Closed, Protocol};
use crate::registry::Disconnect;
use crate::session::{Close, ConnId, Heartbeat, Push, SocketSlot};

/// The Pusher protocol's label in the metrics.
const PUSHER: Protocol = Protocol { protocol: "pusher" };

/// How long a close frame may wait for a client that is not reading.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Users watched per `Watch` sent to the registry.
const WATCH_CHUNK: usize = 100;

/// A frame to write as it is (presence announcements, relayed client events).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Out(pub ByteString);

/// The hub's activity tick: ping a silent client, or close one that did not answer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Tick;

/// A token bucket: `per_minute` a minute, a quarter of that at once.
struct Bucket {
    tokens: f64,
    at: NaiveDateTime,
}

impl Bucket {
    fn new(per_minute: u32, now: NaiveDateTime) -> Bucket {
        Bucket {
            tokens: (per_minute as f64 / 4.0).max(1.0),
            at: now,
        }
    }

    fn take(&mut self, per_minute: u32, now: NaiveDateTime) -> bool {
        let secs = (now - self.at).num_milliseconds().max(0) as f64 / 1000.0;
        let cap = (per_minute as f64 / 4.0).max(1.0);
        self.tokens = (self.tokens + secs * per_minute as f64 / 60.0).min(cap);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The Pusher socket actor; see the module docs.
pub struct PusherSocket {
    hub: Arc<Hub>,
    engine: Arc<Engine>,
    ws: Sender,
    socket_id: Arc<str>,
    conn: ConnId,
    /// The user and device session it acts for, once bound.
    user: Option<(i64, i64)>,
    /// Its place under the user's socket cap, once bound.
    slot: Option<SocketSlot>,
    channels: HashMap<String, ChannelKind>,
    queue: VecDeque<ByteString>,
    writing: bool,
    closing: bool,
    /// The close code sent, for the metrics (1006: the connection ended without one).
    close_code: u16,
    last_heard: NaiveDateTime,
    /// When the server's `pusher:ping` went out, if no answer came yet.
    pinged: Option<NaiveDateTime>,
    pong_pending: bool,
    frames: Bucket,
    client_events: Bucket,
}

impl PusherSocket {
    /// Starts a socket on the current thread for an upgraded connection.
    pub fn start(hub: Arc<Hub>, engine: Arc<Engine>, socket: Socket) -> Addr<PusherSocket> {
        PusherSocket::create(move |ctx| {
            ctx.add_stream(socket.frames);
            let ws = socket.sender;
            let now = engine.clock.now();
            let conn = ConnId::next(true);
            let app = &hub.app;
            PusherSocket {
                frames: Bucket::new(app.frames_per_minute, now),
                client_events: Bucket::new(app.client_events_per_minute, now),
                socket_id: hub.open(ctx.address(), conn),
                hub,
                engine,
                ws,
                conn,
                user: None,
                slot: None,
                channels: HashMap::new(),
                queue: VecDeque::new(),
                writing: false,
                closing: false,
                close_code: 1006,
                last_heard: now,
                pinged: None,
                pong_pending: false,
            }
        })
    }

    /// Answers an upgraded connection that may not go on: `pusher:error`, then the close.
    pub async fn refuse(mut ws: Sender, code: u16, message: &str) {
        let _ = ws.text(codec::error(Some(code), message)).await;
        let reason = CloseReason {
            code: CloseCode::Other(code),
            description: Some(message.to_string()),
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, ws.close(Some(reason))).await;
    }

    fn send(&mut self, frame: ByteString, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        if self.queue.len() >= self.engine.realtime.outbound_queue {
            tracing::info!(
                socket = &*self.socket_id,
                "pusher client too slow; disconnecting"
            );
            self.fail(
                codes::OVER_CAPACITY,
                "too slow: reconnect and catch up over REST",
                ctx,
            );
            return;
        }
        self.queue.push_back(frame);
        if !self.writing {
            self.write_next(ctx);
        }
    }

    fn send_text(&mut self, text: String, ctx: &mut Context<Self>) {
        self.send(ByteString::from(text), ctx);
    }

    fn write_next(&mut self, ctx: &mut Context<Self>) {
        let Some(frame) = self.queue.pop_front() else {
            self.writing = false;
            if self.queue.capacity() > 16 {
                self.queue = VecDeque::new();
            }
            return;
        };
        self.writing = true;
        let mut ws = self.ws.clone();
        ctx.spawn(
            async move { ws.text(frame).await }
                .into_actor(self)
                .map(|res, act, ctx| {
                    if res.is_err() {
                        ctx.stop();
                    } else {
                        act.write_next(ctx);
                    }
                }),
        );
    }

    /// Sends `pusher:error` with `code` and closes with the same code.
    fn fail(&mut self, code: u16, message: &'static str, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.queue.clear();
        let text = codec::error(Some(code), message);
        self.close(code, message, Some(text), ctx);
    }

    /// Leaves the registry and the hub at once, then gives the last frame and the close a
    /// bounded time to reach the client.
    fn close(&mut self, code: u16, reason: &str, last: Option<String>, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.closing = true;
        self.close_code = code;
        self.leave_all();
        let mut ws = self.ws.clone();
        let reason = CloseReason {
            code: match code {
                1000 => CloseCode::Normal,
                1002 => CloseCode::Protocol,
                1009 => CloseCode::Size,
                other => CloseCode::Other(other),
            },
            description: Some(reason.to_string()),
        };
        let fut = async move {
            if let Some(text) = last {
                let _ = ws.text(text).await;
            }
            let _ = ws.close(Some(reason)).await;
        };
        let fut = tokio::time::timeout(CLOSE_GRACE, fut);
        ctx.spawn(fut.into_actor(self).map(|_, _, ctx| ctx.stop()));
    }

    fn leave_all(&mut self) {
        let channels: Vec<String> = self.channels.drain().map(|(c, _)| c).collect();
        self.hub
            .close(&self.socket_id, &channels, self.user.map(|u| u.0));
        if let Some((user_id, _)) = self.user {
            self.engine.registry.do_send(Disconnect {
                user_id,
                conn: self.conn,
            });
        }
        self.slot = None;
    }

    fn refuse_frame(&mut self, r: Refusal, ctx: &mut Context<Self>) {
        self.send_text(codec::error(r.code, &r.message), ctx);
    }
}

impl Actor for PusherSocket {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let m = &self.engine.metrics;
        m.socket_connects.get_or_create(&PUSHER).inc();
        m.sockets_open.get_or_create(&PUSHER).inc();
        let secs = self.hub.app.activity_timeout.as_secs();
        let text = codec::established(&self.socket_id, secs);
        self.send_text(text, ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if !self.closing {
            self.leave_all();
        }
        let m = &self.engine.metrics;
        m.sockets_open.get_or_create(&PUSHER).dec();
        let closed = Closed {
            protocol: PUSHER.protocol,
            code: self.close_code,
        };
        m.socket_closes.get_or_create(&closed).inc();
    }
}

impl StreamHandler<Result<WsMessage, ProtocolError>> for PusherSocket {
    fn handle(&mut self, msg: Result<WsMessage, ProtocolError>, ctx: &mut Self::Context) {
        if self.closing {
            return;
        }
        self.last_heard = self.engine.clock.now();
        // Anything heard answers a ping as well as a pong does.
        self.pinged = None;
        match msg {
            Ok(WsMessage::Text(text)) => {
                let per_minute = self.hub.app.frames_per_minute;
                if !self.frames.take(per_minute, self.last_heard) {
                    return self.fail(codes::OVER_CAPACITY, "too many frames; slow down", ctx);
                }
                if text.len() > self.engine.realtime.max_frame_bytes {
                    let message = format!(
                        "frames are limited to {} bytes",
                        self.engine.realtime.max_frame_bytes
                    );
                    return self.refuse_frame(
                        Refusal {
                            code: None,
                            message,
                        },
                        ctx,
                    );
                }
                match codec::decode(&text) {
                    Ok(frame) => self.run(frame, ctx),
                    Err(r) => self.refuse_frame(r, ctx),
                }
            }
            Ok(WsMessage::Binary(_)) => self.refuse_frame(
                Refusal {
                    code: None,
                    message: "frames are JSON text; binary frames are not accepted".into(),
                },
                ctx,
            ),
            Ok(WsMessage::Ping(bytes)) => {
                if self.pong_pending {
                    return;
                }
                self.pong_pending = true;
                let mut ws = self.ws.clone();
                ctx.spawn(
                    async move { ws.pong(&bytes).await }
                        .into_actor(self)
                        .map(|_, act, _| act.pong_pending = false),
                );
            }
            Ok(WsMessage::Pong(_)) => {}
            Ok(WsMessage::Close(_)) => self.close(1000, "bye", None, ctx),
            Err(ProtocolError::Overflow) => self.close(1009, "frame too large", None, ctx),
            Err(e) => {
                tracing::debug!(error = %e, "pusher websocket protocol error");
                self.close(1002, "protocol error", None, ctx);
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<Push> for PusherSocket {
    type Result = ();

    fn handle(&mut self, msg: Push, ctx: &mut Self::Context) {
        let event = msg.0;
        if self.channels.contains_key(&event.channel) {
            self.send(event.pusher(), ctx);
        }
        self.after_event(&event.name, &event.data);
    }
}

impl Handler<Out> for PusherSocket {
    type Result = ();

    fn handle(&mut self, msg: Out, ctx: &mut Self::Context) {
        self.send(msg.0, ctx);
    }
}

/// The registry's heartbeat is for native sessions; Pusher sockets follow the hub's ticks.
impl Handler<Heartbeat> for PusherSocket {
    type Result = ();

    fn handle(&mut self, _: Heartbeat, _: &mut Self::Context) {}
}

impl Handler<Tick> for PusherSocket {
    type Result = ();

    fn handle(&mut self, _: Tick, ctx: &mut Self::Context) {
        let now = self.engine.clock.now();
        let app = &self.hub.app;
        if let Some(at) = self.pinged {
            if (now - at).to_std().unwrap_or_default() >= app.pong_timeout {
                self.fail(codes::PONG_TIMEOUT, "pong reply not received", ctx);
            }
            return;
        }
        let silent = (now - self.last_heard).to_std().unwrap_or_default();
        if silent >= app.activity_timeout {
            self.pinged = Some(now);
            self.send_text(codec::frame("pusher:ping", None, &json!({})), ctx);
        }
    }
}

impl Handler<Close> for PusherSocket {
    type Result = ();

    fn handle(&mut self, msg: Close, ctx: &mut Self::Context) {
        match msg.code {
            // The registry's "signed out" is Pusher's "unauthorized".
            4001 => self.fail(codes::UNAUTHORIZED, msg.reason, ctx),
            1001 => self.fail(codes::RECONNECT, msg.reason, ctx),
            code => {
                let text = codec::error(Some(code), msg.reason);
                self.close(code, msg.reason, Some(text), ctx)
            }
        }
    }
}
