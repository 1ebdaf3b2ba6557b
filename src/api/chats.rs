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
    /// The caller's own mute, archive and pin of the chat.
    pub settings: ChatSettings,
    /// The chat's disappearing-messages timer in seconds (0: off).
    pub disappearing_secs: i64,
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

/// `GET /api/chats`: pinned chats first (latest pinned first), then newest activity first.
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

/// Reads a field that may be absent (`None`), `null` (`Some(None)`) or a value.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `PUT /api/chats/{id}/settings`: the caller's own settings of a chat; a member left out
/// stays as it is, at least one must be given.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatSettingsRequest {
    /// Mute until this time (RFC 3339, in the future; "always" is a far one such as
    /// `9999-12-31T23:59:59Z`); `null` unmutes.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub muted_until: Option<Option<DateTime<Utc>>>,
    /// Archiving a chat also unpins it.
    pub archived: Option<bool>,
    /// At most `privacy.max_pinned_chats` (3) pinned chats; pinning takes a chat out of the
    /// archive.
    pub pinned: Option<bool>,
}

/// The caller's own settings of a chat.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatSettings {
    pub muted_until: Option<DateTime<Utc>>,
    pub is_muted: bool,
    pub is_archived: bool,
    pub is_pinned: bool,
    /// When the chat was pinned (pinned chats are listed latest pinned first).
    pub pinned_at: Option<DateTime<Utc>>,
}

impl ChatSettings {
    pub fn of(p: &courier_actors::store::chats::Participant, now: chrono::NaiveDateTime) -> Self {
        ChatSettings {
            muted_until: p.muted_until.map(|t| t.and_utc()),
            is_muted: p.is_muted(now),
            is_archived: p.archived_at.is_some(),
            is_pinned: p.pinned_at.is_some(),
            pinned_at: p.pinned_at.map(|t| t.and_utc()),
        }
    }
}

/// The settings after the change.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatSettingsUpdated {
    pub success: bool,
    pub chat_id: i64,
    pub settings: ChatSettings,
}

/// `PUT /api/chats/{id}/disappearing`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimerRequest {
    /// 0 (off), 86400 (24 hours), 604800 (7 days) or 7776000 (90 days).
    pub seconds: i64,
}

/// The chat's timer now, and the system message that announced the change (none if the timer
/// already had this value).
#[derive(Debug, Serialize, ToSchema)]
pub struct TimerSet {
    pub success: bool,
    pub chat_id: i64,
    pub disappearing_secs: i64,
    pub message: Option<MessageView>,
}

sign_fields!(TimerSet {
    links: [],
    parts: [message]
});
