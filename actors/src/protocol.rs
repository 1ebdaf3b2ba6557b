//! The native WebSocket protocol's codec: JSON text frames `{"type": …}`. Decoding turns a
//! frame into a [`ClientFrame`] or a precise error; encoding builds the server's replies.
//! Session logic never sees JSON, so another wire protocol can sit beside this one.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::store::messages::Draft;

/// A decoded client frame.
#[derive(Debug)]
pub enum ClientFrame {
    SendMessage {
        chat_id: i64,
        draft: Draft,
    },
    /// A message the user can see, copied to 1 to 5 of their chats.
    ForwardMessage {
        message_id: i64,
        chat_ids: Vec<i64>,
    },
    Typing {
        chat_id: i64,
        is_typing: bool,
    },
    Delivered {
        message_ids: Vec<i64>,
    },
    Read {
        chat_id: i64,
        message_id: i64,
    },
    Sync {
        since: i64,
        limit: Option<i64>,
    },
    Ping,
    CallInitiate {
        chat_id: i64,
        call_type: String,
    },
    /// `call-ringing`, `call-answer`, `call-decline`, `call-end`.
    Call {
        call_id: i64,
        action: CallAction,
    },
    CallSignal {
        call_id: i64,
        kind: String,
        payload: Value,
        to_user_id: Option<i64>,
    },
    /// Watch these users' presence (answered with their current presence).
    PresenceSubscribe {
        user_ids: Vec<i64>,
    },
    /// Stop watching these users (`None`: everyone this socket watches).
    PresenceUnsubscribe {
        user_ids: Option<Vec<i64>>,
    },
}

/// Most user ids in one presence frame.
pub const MAX_PRESENCE_IDS: usize = 100;

/// The rate-limited families of client frames: each has its own budget per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    SendMessage,
    Typing,
    Read,
    Delivered,
    Sync,
    Ping,
    /// `call-initiate`, `call-ringing`, `call-answer`, `call-decline`, `call-end`.
    Call,
    CallSignal,
    /// `presence-subscribe`, `presence-unsubscribe`.
    Presence,
}

impl FrameKind {
    /// How many kinds there are (budgets are kept in arrays indexed by kind).
    pub const COUNT: usize = 9;

    /// Every kind, in index order.
    pub const ALL: [FrameKind; FrameKind::COUNT] = [
        FrameKind::SendMessage,
        FrameKind::Typing,
        FrameKind::Read,
        FrameKind::Delivered,
        FrameKind::Sync,
        FrameKind::Ping,
        FrameKind::Call,
        FrameKind::CallSignal,
        FrameKind::Presence,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// Its name in `[realtime.frames_per_minute]` and in `rate_limited` errors.
    pub fn name(self) -> &'static str {
        match self {
            FrameKind::SendMessage => "send_message",
            FrameKind::Typing => "typing",
            FrameKind::Read => "read",
            FrameKind::Delivered => "delivered",
            FrameKind::Sync => "sync",
            FrameKind::Ping => "ping",
            FrameKind::Call => "call",
            FrameKind::CallSignal => "call_signal",
            FrameKind::Presence => "presence",
        }
    }
}

impl ClientFrame {
    /// The budget this frame draws on.
    pub fn kind(&self) -> FrameKind {
        match self {
            ClientFrame::SendMessage { .. } | ClientFrame::ForwardMessage { .. } => {
                FrameKind::SendMessage
            }
            ClientFrame::Typing { .. } => FrameKind::Typing,
            ClientFrame::Read { .. } => FrameKind::Read,
            ClientFrame::Delivered { .. } => FrameKind::Delivered,
            ClientFrame::Sync { .. } => FrameKind::Sync,
            ClientFrame::Ping => FrameKind::Ping,
            ClientFrame::CallInitiate { .. } | ClientFrame::Call { .. } => FrameKind::Call,
            ClientFrame::CallSignal { .. } => FrameKind::CallSignal,
            ClientFrame::PresenceSubscribe { .. } | ClientFrame::PresenceUnsubscribe { .. } => {
                FrameKind::Presence
            }
        }
    }
}

/// What a call frame asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallAction {
    Ringing,
    Answer,
    Decline,
    End,
}

/// Why a frame was refused.
#[derive(Debug, Clone)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

impl FrameError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        FrameError {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        FrameError {
            field: Some(field.into()),
            ..Self::new("validation_failed", message)
        }
    }
}

/// A frame with what the answer must echo.
pub struct Decoded {
    /// The client's `ref` (string or number), echoed in `ack` / `error`.
    pub reference: Value,
    /// The frame's `client_msg_id`, echoed too.
    pub client_msg_id: Option<String>,
    pub frame: Result<ClientFrame, FrameError>,
}

#[derive(Deserialize)]
struct ChatId {
    chat_id: i64,
}

#[derive(Deserialize)]
struct Typing {
    chat_id: i64,
    is_typing: bool,
}

#[derive(Deserialize)]
struct Delivered {
    message_ids: Vec<i64>,
}

#[derive(Deserialize)]
struct Read {
    chat_id: i64,
    message_id: i64,
}

#[derive(Deserialize)]
struct CallInitiate {
    chat_id: i64,
    call_type: String,
}

#[derive(Deserialize)]
struct CallId {
    call_id: i64,
}

#[derive(Deserialize)]
struct CallSignal {
    call_id: i64,
    kind: String,
    payload: Value,
    to_user_id: Option<i64>,
}

#[derive(Deserialize)]
struct PresenceIds {
    user_ids: Vec<i64>,
}

#[derive(Deserialize)]
struct MaybePresenceIds {
    user_ids: Option<Vec<i64>>,
}

/// A list of 1 to `MAX_PRESENCE_IDS` user ids.
fn presence_ids(ids: Vec<i64>) -> Result<Vec<i64>, FrameError> {
    if ids.is_empty() || ids.len() > MAX_PRESENCE_IDS {
        return Err(FrameError::invalid(
            "user_ids",
            format!("must list 1 to {MAX_PRESENCE_IDS} user ids"),
        ));
    }
    Ok(ids)
}

#[derive(Deserialize)]
struct Forward {
    message_id: i64,
    chat_ids: Vec<i64>,
}

#[derive(Deserialize)]
struct Sync {
    #[serde(default)]
    since: i64,
    limit: Option<i64>,
}

fn field<T: DeserializeOwned>(value: Value) -> Result<T, FrameError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        let mut path = e.path().to_string();
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            path = if path == "." {
                missing.to_string()
            } else {
                format!("{path}.{missing}")
            };
        }
        FrameError::invalid(path, message)
    })
}

/// Decodes one text frame.
pub fn decode(text: &str) -> Decoded {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Decoded {
                reference: Value::Null,
                client_msg_id: None,
                frame: Err(FrameError::new(
                    "invalid_json",
                    format!("malformed JSON: {e}"),
                )),
            }
        }
    };
    let reference = value.get("ref").cloned().unwrap_or(Value::Null);
    let client_msg_id = value
        .get("client_msg_id")
        .and_then(|v| v.as_str())
        .map(|s| s.chars().take(64).collect());
    let frame = decode_value(value);
    let frame = match &reference {
        Value::Null | Value::Number(_) => frame,
        Value::String(s) if s.len() <= 64 => frame,
        _ => Err(FrameError::invalid(
            "ref",
            "must be a string of at most 64 bytes or a number",
        )),
    };
    let reference = match reference {
        Value::String(s) if s.len() > 64 => Value::Null,
        Value::String(_) | Value::Number(_) => reference,
        _ => Value::Null,
    };
    Decoded {
        reference,
        client_msg_id,
        frame,
    }
}

fn decode_value(value: Value) -> Result<ClientFrame, FrameError> {
    if !value.is_object() {
        return Err(FrameError::new(
            "invalid_frame",
            "a frame is a JSON object with a \"type\"",
        ));
    }
    let kind = match value.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err(FrameError::invalid("type", "must be a string")),
        None => return Err(FrameError::invalid("type", "is required")),
    };
    Ok(match kind.as_str() {
        "send-message" => {
            // Two passes rather than `#[serde(flatten)]`, which loses the names of bad fields.
            let ChatId { chat_id } = field(value.clone())?;
            let draft: Draft = field(value)?;
            ClientFrame::SendMessage { chat_id, draft }
        }
        "forward-message" => {
            let f: Forward = field(value)?;
            crate::forward::check_targets(&f.chat_ids).map_err(|_| {
                FrameError::invalid("chat_ids", "must list 1 to 5 distinct chat ids")
            })?;
            ClientFrame::ForwardMessage {
                message_id: f.message_id,
                chat_ids: f.chat_ids,
            }
        }
        "typing" => {
            let f: Typing = field(value)?;
            ClientFrame::Typing {
                chat_id: f.chat_id,
                is_typing: f.is_typing,
            }
        }
        "delivered" => {
            let f: Delivered = field(value)?;
            if f.message_ids.is_empty() || f.message_ids.len() > 1000 {
                return Err(FrameError::invalid(
                    "message_ids",
                    "must list 1 to 1000 message ids",
                ));
            }
            ClientFrame::Delivered {
                message_ids: f.message_ids,
            }
        }
        "read" => {
            let f: Read = field(value)?;
            ClientFrame::Read {
                chat_id: f.chat_id,
                message_id: f.message_id,
            }
        }
        "sync" => {
            let f: Sync = field(value)?;
            if f.since < 0 {
                return Err(FrameError::invalid(
                    "since",
                    "must be a cursor from an earlier sync (or 0)",
                ));
            }
            if f.limit.is_some_and(|l| !(1..=1000).contains(&l)) {
                return Err(FrameError::invalid("limit", "must be between 1 and 1000"));
            }
            ClientFrame::Sync {
                since: f.since,
                limit: f.limit,
            }
        }
        "ping" => ClientFrame::Ping,
        "call-initiate" => {
            let f: CallInitiate = field(value)?;
            ClientFrame::CallInitiate {
                chat_id: f.chat_id,
                call_type: f.call_type,
            }
        }
        "call-ringing" | "call-answer" | "call-decline" | "call-end" => {
            let action = match kind.as_str() {
                "call-ringing" => CallAction::Ringing,
                "call-answer" => CallAction::Answer,
                "call-decline" => CallAction::Decline,
                _ => CallAction::End,
            };
            let f: CallId = field(value)?;
            ClientFrame::Call {
                call_id: f.call_id,
                action,
            }
        }
        "call-signal" => {
            let f: CallSignal = field(value)?;
            if !matches!(f.kind.as_str(), "offer" | "answer" | "ice-candidate") {
                return Err(FrameError::invalid(
                    "kind",
                    "must be offer, answer or ice-candidate",
                ));
            }
            ClientFrame::CallSignal {
                call_id: f.call_id,
                kind: f.kind,
                payload: f.payload,
                to_user_id: f.to_user_id,
            }
        }
        "presence-subscribe" => {
            let f: PresenceIds = field(value)?;
            ClientFrame::PresenceSubscribe {
                user_ids: presence_ids(f.user_ids)?,
            }
        }
        "presence-unsubscribe" => {
            let f: MaybePresenceIds = field(value)?;
            ClientFrame::PresenceUnsubscribe {
                user_ids: f.user_ids.map(presence_ids).transpose()?,
            }
        }
        other => {
            return Err(FrameError::new(
                "unknown_type",
                format!(
                    "unknown frame type {:?}",
                    other.chars().take(40).collect::<String>()
                ),
            ))
        }
    })
}

/// `{"type":"error", …}` answering a frame.
pub fn error_frame(reference: &Value, client_msg_id: Option<&str>, e: &FrameError) -> String {
    let mut f = json!({ "type": "error", "code": e.code, "message": e.message });
    if !reference.is_null() {
        f["ref"] = reference.clone();
    }
    if let Some(id) = client_msg_id {
        f["client_msg_id"] = id.into();
    }
    if let Some(field) = &e.field {
        f["field"] = field.as_str().into();
    }
    if let Some(secs) = e.retry_after {
        f["retry_after"] = secs.into();
    }
    f.to_string()
}

/// Any other server frame (`hello`, `pong`, `sync-result`).
pub fn frame(kind: &str, reference: &Value, extra: Value) -> String {
    let mut f = json!({ "type": kind });
    if !reference.is_null() {
        f["ref"] = reference.clone();
    }
    if let Value::Object(map) = extra {
        for (k, v) in map {
            f[k] = v;
        }
    }
    f.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_frames_and_names_bad_fields() {
        let d = decode(
            r#"{"type":"send-message","chat_id":1,"content":"hi","client_msg_id":"a1","ref":7}"#,
        );
        assert!(matches!(
            d.frame,
            Ok(ClientFrame::SendMessage { chat_id: 1, .. })
        ));
        assert_eq!(
            (d.reference, d.client_msg_id.as_deref()),
            (json!(7), Some("a1"))
        );

        let e = decode(r#"{"type":"typing","chat_id":"x","is_typing":true}"#)
            .frame
            .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("validation_failed", Some("chat_id"))
        );
        let e = decode(r#"{"type":"read","chat_id":1}"#).frame.unwrap_err();
        assert_eq!(e.field.as_deref(), Some("message_id"));
        assert_eq!(
            decode(r#"{"type":"dance"}"#).frame.unwrap_err().code,
            "unknown_type"
        );
        assert_eq!(decode("{nope").frame.unwrap_err().code, "invalid_json");
        assert_eq!(decode("[1,2]").frame.unwrap_err().code, "invalid_frame");
        assert_eq!(
            decode(r#"{"type":"delivered","message_ids":[]}"#)
                .frame
                .unwrap_err()
                .field
                .as_deref(),
            Some("message_ids")
        );
    }
}
