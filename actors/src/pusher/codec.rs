//! The Pusher protocol's codec: JSON text frames `{"event", "channel"?, "data"}`. Decoding
//! turns a client frame into a [`PusherFrame`] or the error the protocol answers with;
//! encoding builds the server's frames. Channel signatures are computed and checked here.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The protocol version this server speaks (`?protocol=7`).
pub const PROTOCOL: u32 = 7;

/// Longest channel name accepted (Pusher's own limit).
pub const MAX_CHANNEL_NAME: usize = 200;

/// Pusher's error codes, sent in `pusher:error` (and as the close code where the socket ends).
pub mod codes {
    /// The app key in the URL is not this server's.
    pub const UNKNOWN_APP: u16 = 4001;
    /// The `protocol` query parameter is missing or not 7.
    pub const UNSUPPORTED_PROTOCOL: u16 = 4007;
    /// The connection is not (or no longer) authorized: its device session was signed out.
    pub const UNAUTHORIZED: u16 = 4009;
    /// Over capacity: too many sockets for the user, or a client that cannot keep up.
    pub const OVER_CAPACITY: u16 = 4100;
    /// The server is going away: reconnect at once.
    pub const RECONNECT: u16 = 4200;
    /// No pong came back in time.
    pub const PONG_TIMEOUT: u16 = 4201;
    /// Client event rejected: over the socket's rate limit.
    pub const CLIENT_EVENT_RATE: u16 = 4301;
}

/// A decoded client frame.
#[derive(Debug, PartialEq)]
pub enum PusherFrame {
    Ping,
    Pong,
    Subscribe {
        channel: String,
        auth: Option<String>,
        channel_data: Option<String>,
    },
    Unsubscribe {
        channel: String,
    },
    /// A `client-…` event to relay to the channel's other subscribers.
    Client {
        event: String,
        channel: String,
        data: Value,
    },
}

/// Why a client frame was refused: answered with `pusher:error` (the socket stays open).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub code: Option<u16>,
    pub message: String,
}

impl Refusal {
    fn new(message: impl Into<String>) -> Refusal {
        Refusal {
            code: None,
            message: message.into(),
        }
    }
}

/// The kinds of channel, by name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Public,
    Private,
    Presence,
}

impl ChannelKind {
    pub fn of(channel: &str) -> ChannelKind {
        if channel.starts_with("presence-") {
            ChannelKind::Presence
        } else if channel.starts_with("private-") {
            ChannelKind::Private
        } else {
            ChannelKind::Public
        }
    }
}

/// Whether a channel name is one Pusher accepts: 1 to 200 of `A-Z a-z 0-9 _ - = @ , . ;`.
pub fn valid_channel(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CHANNEL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-=@,.;".contains(&b))
}

/// Whether a socket id has the protocol's shape, `digits.digits`.
pub fn valid_socket_id(id: &str) -> bool {
    let Some((a, b)) = id.split_once('.') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|c| c.is_ascii_digit());
    digits(a) && digits(b)
}

fn text(value: &Value, key: &str) -> Result<Option<String>, Refusal> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Refusal::new(format!("\"{key}\" must be a string"))),
    }
}

fn channel_of(value: &Value) -> Result<String, Refusal> {
    let channel = text(value, "channel")?.ok_or_else(|| Refusal::new("\"channel\" is required"))?;
    if !valid_channel(&channel) {
        return Err(Refusal::new(format!(
            "invalid channel name (1 to {MAX_CHANNEL_NAME} of A-Z a-z 0-9 _ - = @ , . ;)"
        )));
    }
    Ok(channel)
}

/// Decodes one text frame.
pub fn decode(frame: &str) -> Result<PusherFrame, Refusal> {
    let value: Value =
        serde_json::from_str(frame).map_err(|e| Refusal::new(format!("malformed JSON: {e}")))?;
    let Value::Object(_) = &value else {
        return Err(Refusal::new("a frame is a JSON object with an \"event\""));
    };
    let event = text(&value, "event")?.ok_or_else(|| Refusal::new("\"event\" is required"))?;
    // `data` is an object, or (as some clients send it) a string holding one.
    let mut data = value.get("data").cloned().unwrap_or(Value::Null);
    if event.starts_with("pusher:") {
        if let Value::String(s) = &data {
            data = serde_json::from_str(s).unwrap_or(Value::Null);
        }
    }
    match event.as_str() {
        "pusher:ping" => Ok(PusherFrame::Ping),
        "pusher:pong" => Ok(PusherFrame::Pong),
        "pusher:subscribe" => Ok(PusherFrame::Subscribe {
            channel: channel_of(&data)?,
            auth: text(&data, "auth")?,
            channel_data: text(&data, "channel_data")?,
        }),
        "pusher:unsubscribe" => Ok(PusherFrame::Unsubscribe {
            channel: channel_of(&data)?,
        }),
        e if e.starts_with("client-") && e.len() <= MAX_CHANNEL_NAME => Ok(PusherFrame::Client {
            event: e.to_string(),
            channel: channel_of(&value)?,
            data,
        }),
        other => Err(Refusal::new(format!(
            "unsupported event {:?}",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

/// `{"event": …, "channel"?: …, "data": "<JSON string>"}`: the protocol carries `data` as a
/// string holding JSON.
pub fn frame(event: &str, channel: Option<&str>, data: &Value) -> String {
    let mut f = json!({ "event": event, "data": data.to_string() });
    if let Some(c) = channel {
        f["channel"] = c.into();
    }
    f.to_string()
}

/// `pusher:connection_established`.
pub fn established(socket_id: &str, activity_timeout_secs: u64) -> String {
    frame(
        "pusher:connection_established",
        None,
        &json!({ "socket_id": socket_id, "activity_timeout": activity_timeout_secs }),
    )
}

/// `pusher:error` with a code (`None` for errors that have none) and a message.
pub fn error(code: Option<u16>, message: &str) -> String {
    // The error's data is an object, not a string, as Pusher sends it.
    json!({ "event": "pusher:error", "data": { "code": code, "message": message } }).to_string()
}

/// `pusher:subscription_error` for a channel, with an HTTP-like status.
pub fn subscription_error(channel: &str, status: u16, message: &str) -> String {
    frame(
        "pusher:subscription_error",
        Some(channel),
        &json!({ "type": "AuthError", "error": message, "status": status }),
    )
}

/// A client event relayed to the channel's other subscribers; on presence channels it names
/// the sender (`user_id`), as the protocol does.
pub fn client_event(event: &str, channel: &str, data: &Value, user_id: Option<i64>) -> String {
    let mut f = json!({ "event": event, "channel": channel, "data": data });
    if let Some(id) = user_id {
        f["user_id"] = id.to_string().into();
    }
    f.to_string()
}

/// The signature a channel authorization carries: HMAC-SHA256 of `socket_id:channel`
/// (`socket_id:channel:channel_data` for presence channels), in lowercase hex.
pub fn signature(
    secret: &[u8],
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
) -> String {
    hex(&mac(secret, socket_id, channel, channel_data)
        .finalize()
        .into_bytes())
}

/// `key:signature`, as `/broadcasting/auth` answers it.
pub fn auth_string(
    key: &str,
    secret: &[u8],
    socket_id: &str,
    channel: &str,
    data: Option<&str>,
) -> String {
    format!("{key}:{}", signature(secret, socket_id, channel, data))
}

/// Checks a subscription's `auth` against this socket and channel (in constant time).
pub fn verify(
    key: &str,
    secret: &[u8],
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
    auth: &str,
) -> bool {
    let Some((k, sig)) = auth.split_once(':') else {
        return false;
    };
    let Some(sig) = unhex(sig) else {
        return false;
    };
    k == key
        && mac(secret, socket_id, channel, channel_data)
            .verify_slice(&sig)
            .is_ok()
}

fn mac(secret: &[u8], socket_id: &str, channel: &str, channel_data: Option<&str>) -> Hmac<Sha256> {
    // unwrap: HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(socket_id.as_bytes());
    mac.update(b":");
    mac.update(channel.as_bytes());
    if let Some(d) = channel_data {
        mac.update(b":");
        mac.update(d.as_bytes());
    }
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_frames_and_refuses_bad_ones() {
        assert_eq!(
            decode(r#"{"event":"pusher:ping","data":{}}"#),
            Ok(PusherFrame::Ping)
        );
        let sub = decode(
            r#"{"event":"pusher:subscribe","data":{"channel":"private-chat.1","auth":"k:ab"}}"#,
        );
        assert!(
            matches!(sub, Ok(PusherFrame::Subscribe { ref channel, .. }) if channel == "private-chat.1")
        );
        // Some clients send `data` as a string.
        let sub = decode(r#"{"event":"pusher:subscribe","data":"{\"channel\":\"a\"}"}"#);
        assert!(matches!(sub, Ok(PusherFrame::Subscribe { .. })));
        assert!(decode("{nope").is_err());
        assert!(decode("[1]").is_err());
        assert!(decode(r#"{"event":"dance"}"#).is_err());
        assert!(decode(r#"{"event":"pusher:subscribe","data":{"channel":"a b"}}"#).is_err());
        assert!(decode(r#"{"event":"client-x","data":{}}"#).is_err());
    }

    #[test]
    fn signs_and_verifies() {
        // Pusher's documented example.
        let sig = signature(b"7ad3773142a6692b25b8", "1234.1234", "private-foobar", None);
        assert_eq!(
            sig,
            "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        );
        let auth = auth_string("key", b"secret", "1.2", "private-a", None);
        assert!(verify("key", b"secret", "1.2", "private-a", None, &auth));
        assert!(!verify("key", b"secret", "1.3", "private-a", None, &auth));
        assert!(!verify("other", b"secret", "1.2", "private-a", None, &auth));
        assert!(!verify(
            "key",
            b"secret",
            "1.2",
            "private-a",
            None,
            "key:zz"
        ));
        assert!(valid_socket_id("123.456") && !valid_socket_id("123") && !valid_socket_id("a.1"));
    }
}
