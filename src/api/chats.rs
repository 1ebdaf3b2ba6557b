//! `/api/chats/*`: the chat list, a chat, its history, sending, marking read.

use chrono::{DateTime, Utc};
use courier_actors::store::views::MessageView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::common::Pagination;
use crate::api::users::PublicProfile;
use crate::sign_fields;

/// The newest message of a chat, as the list shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LastMessage {
    pub id: i64,
    pub sender_id: i64,
    pub content: Option<String>,
    pub message_type: String,
    pub sent_at: DateTime<Utc>,
    /// `sent`, `delivered` or `read`.
    pub status: String,
    pub is_deleted: bool,
}

/// A chat as its list item and its detail show it. A private chat has `participant`; a group
/// has `name`, `description`, `avatar_url`, `participants_count` and `is_member`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatItem {
    pub id: i64,
    /// `private` or `group`.
    #[serde(rename = "type")]
    pub chat_type: String,
    pub last_message: Option<LastMessage>,
    pub unread_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Private chats: the other person, as they let the caller see them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PublicProfile>)]
    pub participant: Option<Option<PublicProfile>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants_count: Option<usize>,
    /// Groups: false once the caller left (the group shows as it was then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_member: Option<bool>,
}

impl crate::api::links::SignLinks for ChatItem {
    fn sign_links(&mut self, storage: &courier_actors::storage::Storage) {
        if let Some(link) = &mut self.avatar_url {
            crate::api::links::sign(storage, link);
        }
        if let Some(p) = &mut self.participant {
            p.sign_links(storage);
        }
    }
}

/// `GET /api/chats`: newest activity first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatList {
    pub chats: Vec<ChatItem>,
    pub pagination: Pagination,
}

sign_fields!(ChatList {
    links: [],
    parts: [chats]
});

/// `POST /api/chats/private`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PrivateChatRequest {
    /// The other user's id.
    pub contact_id: i64,
}

/// Where a page of history lies.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPagination {
    pub has_more: bool,
    /// Pass as `before_message_id` for the page before (null on the oldest page).
    pub next_before_message_id: Option<i64>,
}

/// `GET /api/chats/{id}/messages`: oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<MessageView>,
    pub pagination: HistoryPagination,
}

sign_fields!(MessagePage {
    links: [],
    parts: [messages]
});

/// A message stored: 201 when new, 200 with the original when its `client_msg_id` was sent
/// before.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageSent {
    pub message: MessageView,
    pub duplicate: bool,
}

sign_fields!(MessageSent {
    links: [],
    parts: [message]
});

/// `POST /api/chats/{id}/messages` as a multipart form: a media message.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MediaMessageForm {
    /// `image`, `video`, `audio` or `document`.
    pub message_type: String,
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    pub caption: Option<String>,
    /// Seconds (audio, video).
    pub duration: Option<i64>,
    pub client_msg_id: Option<String>,
    pub reply_to_message_id: Option<i64>,
}

/// `PUT /api/chats/{id}/read`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReadRequest {
    /// Read up to this message.
    pub message_id: i64,
}

/// The read cursor moved.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadDone {
    pub success: bool,
    pub read_at: DateTime<Utc>,
}
