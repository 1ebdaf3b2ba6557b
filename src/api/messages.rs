//! `/api/messages/{id}*`: edit, delete, reactions, message info.

use chrono::{DateTime, Utc};
use courier_actors::store::views::{MessageView, UserBrief};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::sign_fields;

/// `PUT /api/messages/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EditRequest {
    /// 1–4096 characters.
    pub content: String,
}

/// The message after the edit, with `edited_at`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageEdited {
    pub success: bool,
    pub message: Option<MessageView>,
}

sign_fields!(MessageEdited {
    links: [],
    parts: [message]
});

/// `POST` / `DELETE /api/messages/{id}/reactions`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReactionRequest {
    /// One emoji.
    pub emoji: String,
}

/// How many put this emoji on the message now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReactionCount {
    pub message_id: i64,
    pub emoji: String,
    pub count: i64,
}

/// A reaction added or removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReactionDone {
    pub success: bool,
    pub reaction: ReactionCount,
}

/// One recipient of a message: when it reached their device, when they read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recipient {
    pub user: UserBrief,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
}

sign_fields!(Recipient {
    links: [],
    parts: [user]
});

/// `GET /api/messages/{id}/info` (the sender only).
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageInfo {
    pub message_id: i64,
    pub chat_id: i64,
    pub sent_at: DateTime<Utc>,
    pub recipients: Vec<Recipient>,
}

sign_fields!(MessageInfo {
    links: [],
    parts: [recipients]
});
