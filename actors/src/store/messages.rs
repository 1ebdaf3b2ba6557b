//! Messages: the row, the rules a new message must follow (shared by REST and WebSocket), and
//! the queries that read them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Deserialize;

use super::schema::{message_hides, messages};
use super::{Conn, StoreResult};
use crate::on_conn;

/// Longest text message, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Longest `client_msg_id`.
pub const MAX_CLIENT_MSG_ID: usize = 64;

/// A message row. Also what the writer inserts (ids are allocated by the writer).
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = messages, treat_none_as_default_value = false)]
pub struct Message {
    pub id: i64,
    pub chat_id: i64,
    pub sender_id: i64,
    pub client_msg_id: Option<String>,
    pub reply_to_message_id: Option<i64>,
    pub message_type: String,
    pub content: Option<String>,
    pub media_url: Option<String>,
    pub media_size: Option<i64>,
    pub media_duration: Option<i32>,
    pub media_mime_type: Option<String>,
    pub file_name: Option<String>,
    pub thumbnail_url: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub location_name: Option<String>,
    pub contact_data: Option<String>,
    /// What a `system` message records (group changes), as JSON.
    pub system_data: Option<String>,
    /// Change sequence: moves on every change (send, edit, delete, reaction); what sync counts.
    pub seq: i64,
    pub sent_at: NaiveDateTime,
    pub edited_at: Option<NaiveDateTime>,
    pub deleted_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    /// Forwards the content went through to reach this message (0: not forwarded).
    pub forward_count: i32,
    /// When the message disappears (sent under the chat's disappearing-messages timer).
    pub expires_at: Option<NaiveDateTime>,
}

/// A new message as a client sends it (REST body or `send-message` frame).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = SendMessage)]
pub struct Draft {
    pub message_type: Option<String>,
    pub content: Option<String>,
    pub reply_to_message_id: Option<i64>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub location_name: Option<String>,
    /// For `contact`: `{name, phone_number}`.
    #[schema(value_type = Option<Object>)]
    pub contact_data: Option<serde_json::Value>,
    pub client_msg_id: Option<String>,
}

/// A field that breaks a rule, and which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

/// A draft that passed every rule, ready for the writer.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub chat_id: i64,
    pub sender_id: i64,
    pub client_msg_id: Option<String>,
    pub reply_to_message_id: Option<i64>,
    pub message_type: String,
    pub content: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub location_name: Option<String>,
    pub contact_data: Option<String>,
    /// For image, video, audio and document messages.
    pub media: Option<Box<Media>>,
    /// For a forwarded copy: the original's count plus one (0: not forwarded).
    pub forward_count: i32,
    /// The content filter flagged it: a report is filed in the same transaction.
    pub flagged: bool,
}

/// A stored file a message carries (keys as stored, `store:…`).
#[derive(Debug, Clone)]
pub struct Media {
    pub url: String,
    pub thumbnail_url: Option<String>,
    pub size: i64,
    pub mime_type: String,
    pub duration: Option<i32>,
    pub file_name: Option<String>,
}

/// Checks free text: not blank, at most `max` characters, no control characters but newline,
/// carriage return and tab. Surrounding whitespace is kept (it may be meaningful).
pub fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), Invalid> {
    if s.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// Checks a `client_msg_id`: 1 to 64 characters of letters, digits and `-_.:`.
pub fn check_client_msg_id(id: &str) -> Result<(), Invalid> {
    let ok = !id.is_empty()
        && id.len() <= MAX_CLIENT_MSG_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "client_msg_id",
            "must be 1 to 64 letters, digits or -_.:",
        ))
    }
}

impl Draft {
    /// Applies the rules of each message type. Media types arrive as uploads, not JSON.
    pub fn validate(
        self,
        chat_id: i64,
        sender_id: i64,
        require_client_id: bool,
    ) -> Result<NewMessage, Invalid> {
        match &self.client_msg_id {
            Some(id) => check_client_msg_id(id)?,
            None if require_client_id => return Err(invalid("client_msg_id", "is required")),
            None => {}
        }
        if self.reply_to_message_id.is_some_and(|id| id <= 0) {
            return Err(invalid("reply_to_message_id", "must be a message id"));
        }
        let kind = self.message_type.as_deref().unwrap_or("text");
        let mut msg = NewMessage {
            chat_id,
            sender_id,
            client_msg_id: self.client_msg_id,
            reply_to_message_id: self.reply_to_message_id,
            message_type: kind.to_string(),
            content: None,
            latitude: None,
            longitude: None,
            location_name: None,
            contact_data: None,
            media: None,
            forward_count: 0,
            flagged: false,
        };
        match kind {
            "text" => {
                let content = self
                    .content
                    .ok_or_else(|| invalid("content", "is required"))?;
                check_text("content", &content, MAX_TEXT_CHARS)?;
                msg.content = Some(content);
            }
            "location" => {
                let lat = self
                    .latitude
                    .ok_or_else(|| invalid("latitude", "is required"))?;
                let lon = self
                    .longitude
                    .ok_or_else(|| invalid("longitude", "is required"))?;
                if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                    return Err(invalid("latitude", "must be between -90 and 90"));
                }
                if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                    return Err(invalid("longitude", "must be between -180 and 180"));
                }
                if let Some(name) = &self.location_name {
                    check_text("location_name", name, 255)?;
                }
                if let Some(c) = &self.content {
                    check_text("content", c, MAX_TEXT_CHARS)?;
                }
                msg.latitude = Some(lat);
                msg.longitude = Some(lon);
                msg.location_name = self.location_name;
                msg.content = self.content;
            }
            "contact" => {
                let data = self
                    .contact_data
                    .ok_or_else(|| invalid("contact_data", "is required"))?;
                let obj = data
                    .as_object()
                    .ok_or_else(|| invalid("contact_data", "must be an object"))?;
                let name = obj.get("name").and_then(|v| v.as_str()).unwrap_or("");
                check_text("contact_data", name, 255)
                    .map_err(|_| invalid("contact_data", "needs a name of 1 to 255 characters"))?;
                let phone = obj
                    .get("phone_number")
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                let phone_ok = (3..=32).contains(&phone.len())
                    && phone
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b" +-()".contains(&b));
                if !phone_ok {
                    return Err(invalid("contact_data", "needs a phone_number"));
                }
                let text = data.to_string();
                if text.len() > 4096 {
                    return Err(invalid("contact_data", "must be at most 4096 bytes"));
                }
                msg.contact_data = Some(text);
            }
            "image" | "video" | "audio" | "document" => {
                return Err(invalid(
                    "message_type",
                    "media messages are sent as multipart uploads",
                ));
            }
            _ => {
                return Err(invalid(
                    "message_type",
                    "must be one of text, location, contact, image, video, audio, document",
                ));
            }
        }
        Ok(msg)
    }
}

/// A message the user may see: in a chat they are a current member of, or a former member
/// who saw it before leaving; not hidden by them.
pub async fn find_visible(
    conn: &mut Conn<'_>,
    id: i64,
    user_id: i64,
) -> StoreResult<Option<Message>> {
    use super::schema::chat_participants as cp;
    let found: Option<Message> = on_conn!(conn, |c| {
        messages::table
            .inner_join(
                cp::table.on(cp::chat_id
                    .eq(messages::chat_id)
                    .and(cp::user_id.eq(user_id))),
            )
            .filter(messages::id.eq(id))
            .filter(
                cp::left_at
                    .is_null()
                    .or(messages::id.le(cp::last_visible_message_id.assume_not_null())),
            )
            .filter(diesel::dsl::not(diesel::dsl::exists(
                message_hides::table
                    .filter(message_hides::message_id.eq(messages::id))
                    .filter(message_hides::user_id.eq(user_id)),
            )))
            .select(Message::as_select())
            .first(c)
            .await
            .optional()?
    });
    Ok(found)
}

/// A page of a chat's history as `user_id` sees it: newest first, ids below `before`,
/// hidden messages left out, nothing after `last_visible` (for a former member); the first
/// `skip` of those passed over (numbered pages).
pub async fn page(
    conn: &mut Conn<'_>,
    chat_id: i64,
    user_id: i64,
    before: Option<i64>,
    last_visible: Option<i64>,
    limit: i64,
    skip: i64,
) -> StoreResult<Vec<Message>> {
    Ok(on_conn!(conn, |c| {
        let mut q = messages::table
            .filter(messages::chat_id.eq(chat_id))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                message_hides::table
                    .filter(message_hides::message_id.eq(messages::id))
                    .filter(message_hides::user_id.eq(user_id)),
            )))
            .select(Message::as_select())
            .into_boxed();
        if let Some(before) = before {
            q = q.filter(messages::id.lt(before));
        }
        if let Some(last) = last_visible {
            q = q.filter(messages::id.le(last));
        }
        q.order(messages::id.desc())
            .limit(limit)
            .offset(skip)
            .load(c)
            .await?
    }))
}

/// Messages by id (any chat), for replies and views.
pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> StoreResult<Vec<Message>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(on_conn!(conn, |c| {
        messages::table
            .filter(messages::id.eq_any(ids))
            .select(Message::as_select())
            .load(c)
            .await?
    }))
}
