//! A WebSocket session (one actor per connection): reads client frames, runs them against the
//! engine, and writes answers and events to the socket through a bounded queue. A client that
//! cannot keep up is disconnected (it catches up with `sync`), so memory never grows without
//! bound. Heartbeats come from the registry's shared timer.
//!
//! What a client sends is bounded as well: each kind of frame has a budget per user, shared by
//! their sockets ([`budget`], [`slots`]), a client refused too often is disconnected (4029), and the socket is read only
//! while fewer than `realtime.max_frames_in_flight` of its frames await their answers, so a
//! client that sends faster than the server answers is slowed down by TCP, not queued.

mod budget;
mod frames;
mod slots;

pub use budget::{Budget, FrameLimits};
pub use frames::{call_error, room_error};
pub use slots::{SocketSlot, SocketSlots};

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::socket::{CloseCode, CloseReason, ProtocolError, Sender, Socket, WsMessage};
use actix::prelude::*;
use bytestring::ByteString;
use chrono::NaiveDateTime;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::engine::Engine;
use crate::event::Event;
use crate::metrics;
use crate::protocol::{self, FrameError};
use crate::registry::{Connect, Disconnect};
use crate::room::RoomCmd;

/// Identifies one connection (a user may have several), unique across the nodes of a
/// cluster: bits 39–62 are a number drawn once per process, the low 39 count this process's
/// connections, and the top bit marks a Pusher socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ConnId(pub u64);

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// This process's number in its connection ids, drawn once.
fn process() -> u64 {
    static PROCESS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *PROCESS.get_or_init(|| rand::random::<u64>() & ((1 << 24) - 1))
}

impl ConnId {
    /// A connection id no other connection of this cluster has.
    pub fn next(pusher: bool) -> ConnId {
        let count = NEXT_CONN.fetch_add(1, Ordering::Relaxed) & ((1 << 39) - 1);
        ConnId(u64::from(pusher) << 63 | process() << 39 | count)
    }

    /// Whether this connection is one of this process's.
    pub fn is_local(self) -> bool {
        (self.0 >> 39) & ((1 << 24) - 1) == process()
    }
}

/// Close code for a client whose outbound queue overflowed.
pub const CLOSE_SLOW: u16 = 4008;
/// Close code for a client silent longer than the timeout.
pub const CLOSE_TIMEOUT: u16 = 4000;
/// Close code for a client whose frames were refused too often (over its limits, malformed).
pub const CLOSE_ABUSE: u16 = 4029;

/// A frame's place among its socket's frames in flight: the socket is read again once
/// enough of these are dropped (when the frames they came with have been answered).
pub type InFlight = Option<OwnedSemaphorePermit>;

/// A frame as the session reads it, with its place in flight.
type Incoming = (Result<WsMessage, ProtocolError>, InFlight);

/// Longest wait for the registry to record a new session's presence before `hello`.
const PRESENCE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a close frame may wait for a client that is not reading.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// An event for this socket.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Push(pub Arc<Event>);

/// The registry's heartbeat tick: ping, or close if the client has been silent too long.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Heartbeat;

/// Close the socket with a code.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
}

/// The session actor; see the module docs.
pub struct WsSession {
    conn: ConnId,
    user_id: i64,
    auth_session: i64,
    engine: Arc<Engine>,
    ws: Sender,
    queue: VecDeque<ByteString>,
    writing: bool,
    closing: bool,
    /// The close code sent, for the metrics and the log (1006: ended without one).
    close_code: u16,
    opened: std::time::Instant,
    /// A pong (to the client's ping) or a heartbeat ping is on its way out. Control frames
    /// bypass the queue, so at most one of each is in flight: a client that floods pings
    /// without reading gets a pong for the latest only, as RFC 6455 allows.
    pong_pending: bool,
    ping_pending: bool,
    last_heard: NaiveDateTime,
    /// This socket's place under the user's socket cap, given back when the session ends; the
    /// user's frame budget is charged through it.
    slot: SocketSlot,
}

impl WsSession {
    /// Starts a session on the current thread for an upgraded connection, holding `slot`.
    pub fn start(
        user_id: i64,
        auth_session: i64,
        engine: Arc<Engine>,
        slot: SocketSlot,
        socket: Socket,
    ) -> Addr<WsSession> {
        let Socket {
            frames: stream,
            sender: ws,
        } = socket;
        WsSession::create(move |ctx| {
            // The next frame is read only once it has a place in flight.
            let places = Arc::new(Semaphore::new(engine.realtime.max_frames_in_flight));
            ctx.add_stream(stream.then(move |frame| {
                let places = places.clone();
                async move { (frame, places.acquire_owned().await.ok()) }
            }));
            WsSession {
                conn: ConnId::next(false),
                user_id,
                auth_session,
                last_heard: engine.clock.now(),
                engine,
                ws,
                queue: VecDeque::new(),
                writing: false,
                closing: false,
                close_code: 1006,
                opened: std::time::Instant::now(),
                pong_pending: false,
                ping_pending: false,
                slot,
            }
        })
    }

    /// Queues a frame; closes the socket if the client is too far behind.
    fn send(&mut self, frame: ByteString, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        if self.queue.len() >= self.engine.realtime.outbound_queue {
            tracing::info!(user = self.user_id, "client too slow; disconnecting");
            self.close(CLOSE_SLOW, "too slow: reconnect and sync", ctx);
            return;
        }
        self.queue.push_back(frame);
        self.engine.metrics.outbound_queued.inc();
        if !self.writing {
            self.write_next(ctx);
        }
    }

    fn write_next(&mut self, ctx: &mut Context<Self>) {
        let Some(frame) = self.queue.pop_front() else {
            self.writing = false;
            // Release the queue's memory once a burst has drained.
            if self.queue.capacity() > 16 {
                self.queue = VecDeque::new();
            }
            return;
        };
        self.engine.metrics.outbound_queued.dec();
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

    /// Forgets the frames still queued.
    fn drop_queue(&mut self) {
        let n = self.queue.len() as i64;
        self.engine.metrics.outbound_queued.dec_by(n);
        self.queue.clear();
    }

    /// Closes with a code. The session leaves the registry at once (no more deliveries); the
    /// close frame then gets a bounded time to reach a client that may not be reading.
    fn close(&mut self, code: u16, reason: &'static str, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.closing = true;
        self.close_code = code;
        self.drop_queue();
        self.engine.registry.do_send(Disconnect {
            user_id: self.user_id,
            conn: self.conn,
        });
        let ws = self.ws.clone();
        let code = match code {
            1000 => CloseCode::Normal,
            1001 => CloseCode::Away,
            1002 => CloseCode::Protocol,
            1009 => CloseCode::Size,
            other => CloseCode::Other(other),
        };
        let reason = CloseReason {
            code,
            description: Some(reason.into()),
        };
        let fut = tokio::time::timeout(CLOSE_GRACE, ws.close(Some(reason)));
        ctx.spawn(fut.into_actor(self).map(|_, _, ctx| ctx.stop()));
    }

    fn send_text(&mut self, text: String, ctx: &mut Context<Self>) {
        self.send(ByteString::from(text), ctx);
    }

    /// Sends a frame answering the client (`ack`, `sync-result`, …). Stored media keys in it
    /// become signed links for this client.
    fn reply(&mut self, kind: &str, reference: &Value, mut extra: Value, ctx: &mut Context<Self>) {
        self.engine.storage.sign_links(&mut extra);
        self.send_text(protocol::frame(kind, reference, extra), ctx);
    }

    /// Answers a frame with an `error`. Every refusal but the server's own failures counts
    /// against the connection: one refused too often is closed (4029).
    fn error(
        &mut self,
        reference: &Value,
        client_msg_id: Option<&str>,
        e: &FrameError,
        ctx: &mut Context<Self>,
    ) {
        let ours = e.code == "unavailable";
        if !ours && !self.slot.refuse(self.engine.clock.now()) {
            tracing::info!(
                user = self.user_id,
                "frames refused too often; disconnecting"
            );
            self.close(CLOSE_ABUSE, "too many refused frames", ctx);
            return;
        }
        self.send_text(protocol::error_frame(reference, client_msg_id, e), ctx);
    }

    /// Runs a frame's answer, keeping the frame in flight until it is done.
    fn hold<F>(&mut self, place: InFlight, answer: F, ctx: &mut Context<Self>)
    where
        F: ActorFuture<Self, Output = ()> + 'static,
    {
        ctx.spawn(answer.map(move |(), _, _| drop(place)));
    }

    fn to_room(&self, chat_id: i64, cmd: RoomCmd) {
        self.engine.room(chat_id, cmd);
    }
}

impl Actor for WsSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let m = &self.engine.metrics;
        m.socket_connects.get_or_create(&metrics::NATIVE).inc();
        m.sockets_open.get_or_create(&metrics::NATIVE).inc();
        let connect = self.engine.registry.send(Connect {
            user_id: self.user_id,
            auth_session: self.auth_session,
            conn: self.conn,
            addr: ctx.address().into(),
        });
        // `hello` (and the first frame read) waits until the user's presence is recorded, on
        // every node of a cluster; with Redis slow or away, a moment at most.
        let recorded = tokio::time::timeout(PRESENCE_WAIT, connect);
        ctx.wait(recorded.into_actor(self).map(|_, act, ctx| {
            let r = &act.engine.realtime;
            let hello = json!({
                "user_id": act.user_id,
                "heartbeat_secs": r.heartbeat.as_secs(),
                "max_frame_bytes": r.max_frame_bytes,
            });
            act.send_text(protocol::frame("hello", &Value::Null, hello), ctx);
        }));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.engine.registry.do_send(Disconnect {
            user_id: self.user_id,
            conn: self.conn,
        });
        self.drop_queue();
        let m = &self.engine.metrics;
        m.sockets_open.get_or_create(&metrics::NATIVE).dec();
        let closed = metrics::Closed {
            protocol: metrics::NATIVE.protocol,
            code: self.close_code,
        };
        m.socket_closes.get_or_create(&closed).inc();
        tracing::info!(
            target: "courier::socket",
            protocol = metrics::NATIVE.protocol,
            user = self.user_id,
            conn = self.conn.0,
            code = self.close_code,
            secs = self.opened.elapsed().as_secs(),
            "socket closed"
        );
    }
}

impl StreamHandler<Incoming> for WsSession {
    fn handle(&mut self, (msg, place): Incoming, ctx: &mut Self::Context) {
        self.last_heard = self.engine.clock.now();
        match msg {
            Ok(WsMessage::Text(text)) => {
                if text.len() > self.engine.realtime.max_frame_bytes {
                    let e = FrameError::new(
                        "frame_too_large",
                        format!(
                            "frames are limited to {} bytes",
                            self.engine.realtime.max_frame_bytes
                        ),
                    );
                    return self.error(&Value::Null, None, &e, ctx);
                }
                let decoded = protocol::decode(&text);
                match decoded.frame {
                    Ok(frame) => {
                        self.run(frame, decoded.reference, decoded.client_msg_id, place, ctx)
                    }
                    Err(e) => self.error(
                        &decoded.reference,
                        decoded.client_msg_id.as_deref(),
                        &e,
                        ctx,
                    ),
                }
            }
            Ok(WsMessage::Binary(_)) => {
                let e = FrameError::new(
                    "unsupported_frame",
                    "frames are JSON text; binary frames are not accepted",
                );
                self.error(&Value::Null, None, &e, ctx);
            }
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
            Ok(WsMessage::Close(_)) => self.close(1000, "bye", ctx),
            Err(ProtocolError::Overflow) => self.close(1009, "frame too large", ctx),
            Err(e) => {
                tracing::debug!(error = %e, "websocket protocol error");
                self.close(1002, "protocol error", ctx);
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<Push> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Push, ctx: &mut Self::Context) {
        self.send(msg.0.native(), ctx);
    }
}

impl Handler<Heartbeat> for WsSession {
    type Result = ();

    fn handle(&mut self, _: Heartbeat, ctx: &mut Self::Context) {
        let silent = (self.engine.clock.now() - self.last_heard)
            .to_std()
            .unwrap_or_default();
        if silent >= self.engine.realtime.client_timeout {
            self.close(CLOSE_TIMEOUT, "timeout", ctx);
            return;
        }
        if self.ping_pending {
            return;
        }
        self.ping_pending = true;
        let mut ws = self.ws.clone();
        ctx.spawn(
            async move { ws.ping(b"").await }
                .into_actor(self)
                .map(|res, act, ctx| {
                    act.ping_pending = false;
                    if res.is_err() {
                        ctx.stop();
                    }
                }),
        );
    }
}

impl Handler<Close> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Close, ctx: &mut Self::Context) {
        self.close(msg.code, msg.reason, ctx);
    }
}
