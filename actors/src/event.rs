//! Server → client events. An event is built and encoded once, then shared (`Arc`) by every
//! session it goes to; the wire codec decides how it looks on the socket.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use bytestring::ByteString;
use serde::Serialize;
use serde_json::Value;

/// One event, e.g. `new-message` on `private-chat.42`.
#[derive(Debug)]
pub struct Event {
    /// Event name (`new-message`, `user-typing`, …).
    pub name: Cow<'static, str>,
    /// The channel it belongs to, in the PRD's naming (`private-chat.{id}`, …).
    pub channel: String,
    /// Change sequence, for events a `sync` would also return.
    pub seq: Option<i64>,
    /// The payload, as the PRD shows it.
    pub data: Value,
    native: OnceLock<ByteString>,
    pusher: OnceLock<ByteString>,
}

impl Event {
    pub fn new(name: &'static str, channel: String, seq: Option<i64>, data: Value) -> Arc<Event> {
        Event::named(Cow::Borrowed(name), channel, seq, data)
    }

    /// An event whose name was read off the wire (another node sent it).
    pub fn named(
        name: Cow<'static, str>,
        channel: String,
        seq: Option<i64>,
        data: Value,
    ) -> Arc<Event> {
        Arc::new(Event {
            name,
            channel,
            seq,
            data,
            native: OnceLock::new(),
            pusher: OnceLock::new(),
        })
    }

    /// The native protocol's frame: `{"channel", "data", "seq"?, "type"}`, encoded once.
    pub fn native(&self) -> ByteString {
        self.native
            .get_or_init(|| {
                encode(&NativeFrame {
                    channel: &self.channel,
                    data: &self.data,
                    seq: self.seq,
                    kind: &self.name,
                })
            })
            .clone()
    }

    /// The Pusher protocol's frame: `{"channel", "data": "<JSON string>", "event"}`, encoded
    /// once.
    pub fn pusher(&self) -> ByteString {
        self.pusher
            .get_or_init(|| {
                encode(&PusherFrame {
                    channel: &self.channel,
                    data: &self.data.to_string(),
                    event: &self.name,
                })
            })
            .clone()
    }
}

/// A native frame, borrowing the event's parts (no copy of the payload to encode it).
#[derive(Serialize)]
struct NativeFrame<'a> {
    channel: &'a str,
    data: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<i64>,
    #[serde(rename = "type")]
    kind: &'a str,
}

/// A Pusher frame; `data` is the payload already encoded as a JSON string.
#[derive(Serialize)]
struct PusherFrame<'a> {
    channel: &'a str,
    data: &'a str,
    event: &'a str,
}

fn encode(frame: &impl Serialize) -> ByteString {
    // unwrap: string keys and a `Value` always encode.
    ByteString::from(serde_json::to_string(frame).unwrap())
}

/// `private-chat.{id}`: messages, receipts, edits of one chat.
pub fn chat_channel(chat_id: i64) -> String {
    format!("private-chat.{chat_id}")
}

/// `presence-chat.{id}`: typing in one chat.
pub fn presence_channel(chat_id: i64) -> String {
    format!("presence-chat.{chat_id}")
}

/// `private-user.{id}`: what concerns one user only (presence of contacts, own devices).
pub fn user_channel(user_id: i64) -> String {
    format!("private-user.{user_id}")
}
