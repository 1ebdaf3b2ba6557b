//! The loadgen's messages on the wire: the `send-message` frame it sends and the server frames
//! it reads (acks, refusals, new messages). Every message carries the run, its sender, its
//! sequence number per sender and its send time in its `content` and `client_msg_id`.

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// What a message carries: who sent it, its number, when it was sent (µs since the origin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    pub sender: u32,
    pub seq: u64,
    pub sent_us: u64,
}

/// The unique `client_msg_id` of a message of this run.
pub fn client_msg_id(run: u32, sender: u32, seq: u64) -> String {
    format!("lg-{run:08x}-{sender}-{seq}")
}

/// The `content` of a message of this run.
pub fn content(run: u32, tag: Tag) -> String {
    format!("lg {run:08x} {} {} {}", tag.sender, tag.seq, tag.sent_us)
}

/// A `send-message` frame.
pub fn send_frame(run: u32, chat: i64, tag: Tag) -> Message {
    let frame = json!({
        "type": "send-message",
        "chat_id": chat,
        "client_msg_id": client_msg_id(run, tag.sender, tag.seq),
        "content": content(run, tag),
    });
    Message::text(frame.to_string())
}

/// A server frame, as far as the loadgen cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// `ack` of one of this run's sends.
    Ack(Tag),
    /// `error`; `of` names this run's send it answers, if any.
    Refused {
        of: Option<(u32, u64)>,
        code: String,
        message: String,
    },
    /// `new-message` of one of this run's messages.
    Delivery { chat: i64, id: i64, tag: Tag },
    /// Anything else (hello, other runs' messages, system messages, receipts).
    Other,
}

/// Reads the tag out of a `content` of this run.
pub fn parse_content(run: u32, content: &str) -> Option<Tag> {
    let mut parts = content.split(' ');
    if parts.next()? != "lg" || u32::from_str_radix(parts.next()?, 16).ok()? != run {
        return None;
    }
    let sender = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let sent_us = parts.next()?.parse().ok()?;
    Some(Tag {
        sender,
        seq,
        sent_us,
    })
}

/// Reads sender and number out of a `client_msg_id` of this run.
fn parse_client_msg_id(run: u32, id: &str) -> Option<(u32, u64)> {
    let mut parts = id.split('-');
    if parts.next()? != "lg" || u32::from_str_radix(parts.next()?, 16).ok()? != run {
        return None;
    }
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Classifies one text frame from the server.
pub fn parse(run: u32, text: &str) -> Incoming {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Incoming::Other;
    };
    let content = |m: &Value| m["content"].as_str().and_then(|c| parse_content(run, c));
    match v["type"].as_str() {
        Some("ack") => match content(&v["message"]) {
            Some(tag) => Incoming::Ack(tag),
            None => Incoming::Other,
        },
        Some("error") => Incoming::Refused {
            of: v["client_msg_id"]
                .as_str()
                .and_then(|c| parse_client_msg_id(run, c)),
            code: v["code"].as_str().unwrap_or("?").to_string(),
            message: v["message"].as_str().unwrap_or("").to_string(),
        },
        Some("new-message") => {
            let m = &v["data"]["message"];
            match (content(m), m["chat_id"].as_i64(), m["id"].as_i64()) {
                (Some(tag), Some(chat), Some(id)) => Incoming::Delivery { chat, id, tag },
                _ => Incoming::Other,
            }
        }
        _ => Incoming::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let tag = Tag {
            sender: 3,
            seq: 41,
            sent_us: 123_456,
        };
        let Message::Text(sent) = send_frame(0xabc, 7, tag) else {
            panic!("not text")
        };
        let sent: Value = serde_json::from_str(sent.as_str()).unwrap();
        assert_eq!(sent["client_msg_id"], "lg-00000abc-3-41");
        let message = json!({"id": 9, "chat_id": 7, "content": sent["content"]});
        let ack =
            json!({"type": "ack", "client_msg_id": sent["client_msg_id"], "message": message});
        assert_eq!(parse(0xabc, &ack.to_string()), Incoming::Ack(tag));
        assert_eq!(parse(0xabd, &ack.to_string()), Incoming::Other);
        let new = json!({"type": "new-message", "data": {"chat_id": 7, "message": message}});
        assert_eq!(
            parse(0xabc, &new.to_string()),
            Incoming::Delivery {
                chat: 7,
                id: 9,
                tag
            }
        );
        let err = json!({"type": "error", "client_msg_id": "lg-00000abc-3-41", "code": "rate_limited", "message": "slow down"});
        assert_eq!(
            parse(0xabc, &err.to_string()),
            Incoming::Refused {
                of: Some((3, 41)),
                code: "rate_limited".into(),
                message: "slow down".into()
            }
        );
        assert_eq!(parse(0xabc, r#"{"type":"hello"}"#), Incoming::Other);
    }
}
