//! The `[realtime]` section: WebSocket timings, queues and limits, and the per-user allowance
//! of each kind of frame (`[realtime.frames_per_minute]`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealtimeSettings {
    /// Seconds between server pings.
    pub heartbeat_secs: u64,
    /// A socket silent this long is closed.
    pub client_timeout_secs: u64,
    /// Events queued for one slow socket before it is disconnected.
    pub outbound_queue: usize,
    /// Largest client frame, in bytes (larger: `error` frame).
    pub max_frame_bytes: usize,
    /// A typing indicator without refresh stops after this many seconds.
    pub typing_ttl_secs: u64,
    /// An idle chat room actor stops after this many seconds.
    pub room_idle_secs: u64,
    /// At most one typing event per typist and chat in this many seconds.
    pub typing_interval_secs: u64,
    /// Frames of one socket read and not yet answered; the socket is not read beyond this.
    pub max_frames_in_flight: usize,
    /// Sockets one user may hold open at once (more: 429 `too_many_sockets`).
    pub max_sockets_per_user: usize,
    /// WebSocket connects per user per minute (more: 429 `rate_limited`).
    pub connects_per_minute: u32,
    /// Users one socket may watch the presence of (`presence-subscribe`).
    pub max_presence_watch: usize,
    /// Frames each connection may send per minute, by kind.
    pub frames_per_minute: FramesPerMinute,
}

impl Default for RealtimeSettings {
    fn default() -> Self {
        let engine = courier_actors::Realtime::default();
        RealtimeSettings {
            heartbeat_secs: 20,
            client_timeout_secs: 60,
            outbound_queue: 256,
            max_frame_bytes: 64 * 1024,
            typing_ttl_secs: 6,
            room_idle_secs: 300,
            typing_interval_secs: engine.typing_interval.as_secs(),
            max_frames_in_flight: engine.max_frames_in_flight,
            max_sockets_per_user: engine.max_sockets_per_user,
            connects_per_minute: 30,
            max_presence_watch: engine.max_presence_watch,
            frames_per_minute: FramesPerMinute::default(),
        }
    }
}

/// Frame allowances per user (all their sockets together), per minute
/// (`[realtime.frames_per_minute]`). A user may send a quarter of a minute's allowance at once;
/// beyond it a frame is answered with `rate_limited`, and past `refused` refusals a minute the
/// socket refused next is closed.
/// `send-message` is limited per user instead (`limits.messages_per_minute`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FramesPerMinute {
    pub typing: u32,
    pub read: u32,
    pub delivered: u32,
    pub sync: u32,
    pub ping: u32,
    /// `call-initiate`, `call-ringing`, `call-answer`, `call-decline`, `call-end` together.
    pub call: u32,
    pub call_signal: u32,
    /// `presence-subscribe` and `presence-unsubscribe` together.
    pub presence: u32,
    /// `error` answers (refusals of any kind) before the socket is closed with 4029.
    pub refused: u32,
}

impl Default for FramesPerMinute {
    fn default() -> Self {
        use courier_actors::protocol::FrameKind as K;
        let d = courier_actors::session::FrameLimits::default();
        FramesPerMinute {
            typing: d.of(K::Typing),
            read: d.of(K::Read),
            delivered: d.of(K::Delivered),
            sync: d.of(K::Sync),
            ping: d.of(K::Ping),
            call: d.of(K::Call),
            call_signal: d.of(K::CallSignal),
            presence: d.of(K::Presence),
            refused: d.refusals_per_minute,
        }
    }
}

impl FramesPerMinute {
    pub(super) fn limits(&self) -> courier_actors::session::FrameLimits {
        use courier_actors::protocol::FrameKind as K;
        let mut per_minute = [0; K::COUNT];
        for kind in K::ALL {
            per_minute[kind.index()] = match kind {
                // Limited per user instead: `limits.messages_per_minute`.
                K::SendMessage => u32::MAX,
                K::Typing => self.typing,
                K::Read => self.read,
                K::Delivered => self.delivered,
                K::Sync => self.sync,
                K::Ping => self.ping,
                K::Call => self.call,
                K::CallSignal => self.call_signal,
                K::Presence => self.presence,
            };
        }
        courier_actors::session::FrameLimits {
            per_minute,
            refusals_per_minute: self.refused,
        }
    }
}
