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

/// `POST` / `DELETE /api/messages/{id}/star`: the caller's star on the message.
#[derive(Debug, Serialize, ToSchema)]
pub struct StarDone {
    pub success: bool,
    pub message_id: i64,
    pub is_starred: bool,
    /// When it was starred (null once unstarred).
    pub starred_at: Option<DateTime<Utc>>,
}

/// A message the caller starred.
#[derive(Debug, Serialize, ToSchema)]
pub struct StarredMessage {
    pub message: MessageView,
    pub starred_at: DateTime<Utc>,
}

sign_fields!(StarredMessage {
    links: [],
    parts: [message]
});

/// `GET /api/messages/starred`: newest star first.
#[derive(Debug, Serialize, ToSchema)]
pub struct StarredPage {
    pub messages: Vec<StarredMessage>,
    pub pagination: crate::api::common::Pagination,
}

sign_fields!(StarredPage {
    links: [],
    parts: [messages]
});

/// `POST /api/messages/{id}/forward`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardRequest {
    /// 1 to 5 distinct chats the caller is a current member of.
    pub chat_ids: Vec<i64>,
}

/// The copies stored, one per chat, in the order of `chat_ids`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Forwarded {
    pub success: bool,
    pub messages: Vec<MessageView>,
}

sign_fields!(Forwarded {
    links: [],
    parts: [messages]
});

/// `GET /api/search`: matching messages, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    pub messages: Vec<MessageView>,
    pub pagination: crate::api::chats::HistoryPagination,
}

sign_fields!(SearchPage {
    links: [],
    parts: [messages]
});
