//! The JSON shapes of messages and the people in them, shared by REST answers, WebSocket
//! events and sync. Built without a query per message.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::chats::Participant;
use super::former::Frozen;
use super::messages::{by_ids, Message};
use super::reactions::{for_messages, ReactionView};
use super::receipts::{status_of, ReceiptLog};
use super::users::{User, Visibility};
use super::{Conn, StoreResult};

/// Who sent something, as every member may see it. The photo is shown only when its owner
/// shows it to everyone (one payload serves every member).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserBrief {
    pub id: i64,
    pub name: String,
    pub avatar_url: Option<String>,
}

impl UserBrief {
    pub fn of(u: &User) -> Self {
        UserBrief {
            id: u.id,
            name: u.name.clone(),
            avatar_url: u
                .avatar_url
                .clone()
                .filter(|_| u.photo_visibility() == Visibility::Everyone),
        }
    }
}

/// The message a reply quotes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplyBrief {
    pub id: i64,
    pub sender_id: i64,
    pub message_type: String,
    pub content: Option<String>,
    pub is_deleted: bool,
}

impl ReplyBrief {
    pub fn of(m: &Message) -> Self {
        ReplyBrief {
            id: m.id,
            sender_id: m.sender_id,
            message_type: m.message_type.clone(),
            content: m.content.clone(),
            is_deleted: m.deleted_at.is_some(),
        }
    }
}

fn utc(t: Option<NaiveDateTime>) -> Option<DateTime<Utc>> {
    t.map(|t| t.and_utc())
}

/// A message as clients receive it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Message)]
pub struct MessageView {
    pub id: i64,
    pub chat_id: i64,
    pub sender_id: i64,
    pub sender: Option<UserBrief>,
    pub client_msg_id: Option<String>,
    pub message_type: String,
    pub content: Option<String>,
    pub reply_to_message_id: Option<i64>,
    pub reply_to: Option<ReplyBrief>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_duration: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_mime_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub contact_data: Option<serde_json::Value>,
    /// For `system` messages: what happened (`action`, `actor_id`, `user_ids`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub system: Option<serde_json::Value>,
    /// `sent`, `delivered` or `read`.
    #[schema(value_type = String)]
    pub status: &'static str,
    pub reactions: Vec<ReactionView>,
    pub sent_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub is_deleted: bool,
    /// The content was forwarded from another message.
    pub is_forwarded: bool,
    /// Forwarded through a chain of five or more forwards (as WhatsApp labels it).
    pub is_forwarded_many_times: bool,
    /// When the message disappears (sent under the chat's disappearing-messages timer).
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the viewer starred it; only in answers for one viewer (history, search).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_starred: Option<bool>,
    /// Change sequence of this message's current state (see `sync`).
    pub seq: i64,
}

/// From this many forwards on, a message is "forwarded many times".
pub const MANY_FORWARDS: i32 = 5;

impl MessageView {
    /// The view of a message with the parts that need other rows given.
    pub fn new(m: &Message, sender: Option<UserBrief>, reply_to: Option<ReplyBrief>) -> Self {
        MessageView {
            id: m.id,
            chat_id: m.chat_id,
            sender_id: m.sender_id,
            sender,
            client_msg_id: m.client_msg_id.clone(),
            message_type: m.message_type.clone(),
            content: m.content.clone(),
            reply_to_message_id: m.reply_to_message_id,
            reply_to,
            media_url: m.media_url.clone(),
            thumbnail_url: m.thumbnail_url.clone(),
            media_size: m.media_size,
            media_duration: m.media_duration,
            media_mime_type: m.media_mime_type.clone(),
            file_name: m.file_name.clone(),
            latitude: m.latitude,
            longitude: m.longitude,
            location_name: m.location_name.clone(),
            contact_data: m
                .contact_data
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok()),
            system: m
                .system_data
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok()),
            status: "sent",
            reactions: Vec::new(),
            sent_at: m.sent_at.and_utc(),
            delivered_at: None,
            read_at: None,
            edited_at: utc(m.edited_at),
            deleted_at: utc(m.deleted_at),
            is_deleted: m.deleted_at.is_some(),
            is_forwarded: m.forward_count > 0,
            is_forwarded_many_times: m.forward_count >= MANY_FORWARDS,
            expires_at: utc(m.expires_at),
            is_starred: None,
            seq: m.seq,
        }
    }
}

/// Full views (sender, quoted message, reactions, status, receipt times) of messages, in the
/// order given, for a current member of their chats. `members` holds the participants (with
/// users) of every chat involved. A fixed number of queries whatever the number of messages
/// or chats.
pub async fn build(
    conn: &mut Conn<'_>,
    members: &[(Participant, User)],
    messages: &[Message],
) -> StoreResult<Vec<MessageView>> {
    build_frozen(conn, members, messages, &Frozen::default()).await
}

/// As [`build`], for `viewer`: in a group they left, messages show as they were when they
/// left (see [`super::former`]).
pub async fn build_for(
    conn: &mut Conn<'_>,
    viewer: i64,
    members: &[(Participant, User)],
    messages: &[Message],
) -> StoreResult<Vec<MessageView>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let frozen = Frozen::load(conn, viewer, members).await?;
    build_frozen(conn, members, messages, &frozen).await
}

async fn build_frozen(
    conn: &mut Conn<'_>,
    members: &[(Participant, User)],
    messages: &[Message],
    frozen: &Frozen,
) -> StoreResult<Vec<MessageView>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let users: HashMap<i64, &User> = members.iter().map(|(_, u)| (u.id, u)).collect();
    // In a chat the viewer left, receipts count the members as they were then.
    let then: HashMap<i64, Vec<Participant>> = messages
        .iter()
        .filter_map(|m| frozen.get(m.chat_id))
        .map(|d| (d.chat_id, d.participants()))
        .collect();
    let mut by_chat: HashMap<i64, Vec<&Participant>> = HashMap::new();
    for (p, _) in members
        .iter()
        .filter(|(p, _)| !then.contains_key(&p.chat_id))
    {
        by_chat.entry(p.chat_id).or_default().push(p);
    }
    for (chat, parts) in &then {
        by_chat.insert(*chat, parts.iter().collect());
    }
    let reply_ids: Vec<i64> = messages
        .iter()
        .filter_map(|m| m.reply_to_message_id)
        .collect();
    let replies: HashMap<i64, Message> = by_ids(conn, &reply_ids)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    let until: HashMap<i64, NaiveDateTime> = messages
        .iter()
        .filter_map(|m| Some((m.id, frozen.cutoff(m.chat_id)?)))
        .collect();
    let mut reactions = for_messages(conn, &ids, &until).await?;
    let texts = frozen.texts(conn, messages).await?;
    let chat_ids: Vec<i64> = by_chat.keys().copied().collect();
    let (lo, hi) = (
        ids.iter().copied().min().unwrap_or(0),
        ids.iter().copied().max().unwrap_or(0),
    );
    let mut log = ReceiptLog::load(conn, &chat_ids, lo, hi).await?;
    for chat in then.keys() {
        if let Some(left) = frozen.cutoff(*chat) {
            log.forget_after(*chat, left);
        }
    }
    let none = Vec::new();
    Ok(messages
        .iter()
        .map(|m| {
            let reply = m
                .reply_to_message_id
                .and_then(|id| replies.get(&id))
                .filter(|r| r.chat_id == m.chat_id)
                .map(ReplyBrief::of);
            let mut v =
                MessageView::new(m, users.get(&m.sender_id).map(|u| UserBrief::of(u)), reply);
            let s = status_of(m, by_chat.get(&m.chat_id).unwrap_or(&none), Some(&log));
            v.status = s.status;
            v.delivered_at = utc(s.delivered_at);
            v.read_at = utc(s.read_at);
            v.reactions = reactions.remove(&m.id).unwrap_or_default();
            if let Some((content, edited_at)) = texts.get(&m.id) {
                if !v.is_deleted {
                    v.content = content.clone();
                    v.edited_at = utc(*edited_at);
                }
            }
            v
        })
        .collect())
}
