//! The Pusher Channels protocol (version 7), a second wire protocol over the same engine, so
//! that pusher-js and Laravel Echo clients connect unmodified: the codec ([`codec`]), the
//! socket actor ([`PusherSocket`]) and the node's [`Hub`] of sockets, grants, channels and
//! presence members. The edge upgrades `/app/{key}` and answers `/broadcasting/auth`.

pub mod codec;
mod hub;
mod members;
mod socket;

pub use hub::{Grant, GrantError, Hub, Member};
pub use socket::{Out, PusherSocket, Tick};

use std::time::Duration;

/// The Pusher app this server is (from the `[pusher]` configuration).
#[derive(Debug, Clone)]
pub struct PusherApp {
    pub app_id: String,
    pub key: String,
    pub secret: Vec<u8>,
    /// Sent in `connection_established`; a socket silent this long is pinged.
    pub activity_timeout: Duration,
    /// A pinged socket that stays silent this long is closed (4201).
    pub pong_timeout: Duration,
    /// Channels one socket may be subscribed to (and grants it may hold).
    pub max_channels: usize,
    /// Client events one socket may send per minute (beyond: 4301).
    pub client_events_per_minute: u32,
    /// Frames of any kind one socket may send per minute (beyond: 4100 and closed).
    pub frames_per_minute: u32,
    /// Largest client event `data`, in bytes of JSON.
    pub max_event_bytes: usize,
}

impl Default for PusherApp {
    fn default() -> Self {
        PusherApp {
            app_id: "courier".into(),
            key: String::new(),
            secret: Vec::new(),
            activity_timeout: Duration::from_secs(120),
            pong_timeout: Duration::from_secs(30),
            max_channels: 100,
            client_events_per_minute: 600,
            frames_per_minute: 1200,
            max_event_bytes: 10 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::event::Event;

    #[test]
    fn an_event_is_encoded_once_for_every_pusher_socket() {
        let e = Event::new(
            "new-message",
            "private-chat.4".into(),
            Some(9),
            json!({ "a": 1 }),
        );
        let (one, two) = (e.pusher(), e.pusher());
        assert_eq!(
            one.as_ptr(),
            two.as_ptr(),
            "the same bytes, not a second encoding"
        );
        let frame: Value = serde_json::from_str(&one).unwrap();
        assert_eq!(frame["event"], "new-message");
        assert_eq!(frame["channel"], "private-chat.4");
        assert_eq!(frame["data"], "{\"a\":1}");
    }
}
