//! Forwarding: a message the user can see, copied into up to five of their chats at once, as
//! WhatsApp does. Each copy is a new message of its chat (sent through that chat's room, so
//! it is ordered, announced and refused like any other send), marked as forwarded; its files
//! are referenced, not copied. Shared by `POST /api/messages/{id}/forward` and the
//! `forward-message` frame.

use tokio::sync::oneshot;

use crate::engine::Engine;
use crate::room::{RoomCmd, RoomError, SendReply};
use crate::session::ConnId;
use crate::store::chats;
use crate::store::contacts::relation;
use crate::store::messages::{find_visible, Media, Message, NewMessage};

/// Most chats one forward reaches.
pub const MAX_TARGETS: usize = 5;

/// Checks the target list: 1 to [`MAX_TARGETS`] distinct chat ids.
pub fn check_targets(chat_ids: &[i64]) -> Result<(), RoomError> {
    let invalid = |m: &str| Err(RoomError::Invalid("chat_ids", m.to_string()));
    if chat_ids.is_empty() || chat_ids.len() > MAX_TARGETS {
        return invalid("must list 1 to 5 chats");
    }
    if chat_ids.iter().any(|id| *id <= 0) {
        return invalid("must be chat ids");
    }
    let mut sorted = chat_ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != chat_ids.len() {
        return invalid("must not repeat a chat");
    }
    Ok(())
}

/// The copy of `m` that `sender` sends to `chat_id`.
fn copy_of(m: &Message, chat_id: i64, sender: i64) -> NewMessage {
    let media = m.media_url.clone().map(|url| {
        Box::new(Media {
            url,
            thumbnail_url: m.thumbnail_url.clone(),
            size: m.media_size.unwrap_or(0),
            mime_type: m.media_mime_type.clone().unwrap_or_default(),
            duration: m.media_duration,
            file_name: m.file_name.clone(),
        })
    });
    NewMessage {
        chat_id,
        sender_id: sender,
        client_msg_id: None,
        reply_to_message_id: None,
        message_type: m.message_type.clone(),
        content: m.content.clone(),
        latitude: m.latitude,
        longitude: m.longitude,
        location_name: m.location_name.clone(),
        contact_data: m.contact_data.clone(),
        media,
        forward_count: m.forward_count.saturating_add(1),
        flagged: false,
    }
}

/// Whether `user_id` may send to `chat_id` now: a current member, and in a private chat no
/// block either way. Checked for every target before anything is sent, so that a refused
/// target stores no copy anywhere.
async fn check_target(
    conn: &mut crate::store::Conn<'_>,
    chat_id: i64,
    user_id: i64,
) -> Result<(), RoomError> {
    let chat = chats::find(conn, chat_id)
        .await?
        .filter(|c| c.deleted_at.is_none())
        .ok_or(RoomError::NotFound("chat"))?;
    let members = chats::participants(conn, chat_id).await?;
    if !members
        .iter()
        .any(|(p, _)| p.user_id == user_id && p.is_current())
    {
        return Err(RoomError::NotFound("chat"));
    }
    if chat.is_group() {
        return Ok(());
    }
    let Some(other) = members
        .iter()
        .map(|(p, _)| p.user_id)
        .find(|id| *id != user_id)
    else {
        return Ok(());
    };
    if relation(conn, other, user_id).await?.blocked {
        return Err(RoomError::Forbidden(
            "blocked",
            "this user does not accept your messages",
        ));
    }
    if relation(conn, user_id, other).await?.blocked {
        return Err(RoomError::Forbidden(
            "you_blocked",
            "unblock this user to send them messages",
        ));
    }
    Ok(())
}

/// Forwards message `message_id` to `chat_ids` for `user_id`; `conn` is the sending device
/// (it gets the answer instead of the events). Answers the copies in the order of `chat_ids`.
pub async fn forward(
    engine: &Engine,
    user_id: i64,
    message_id: i64,
    chat_ids: &[i64],
    conn: Option<ConnId>,
) -> Result<Vec<SendReply>, RoomError> {
    check_targets(chat_ids)?;
    let original = {
        let mut db = engine.db.get().await?;
        let mut db = db.conn();
        let m = find_visible(&mut db, message_id, user_id)
            .await?
            .ok_or(RoomError::NotFound("message"))?;
        for chat_id in chat_ids {
            check_target(&mut db, *chat_id, user_id).await?;
        }
        m
    };
    if original.message_type == "system" {
        return Err(RoomError::Forbidden(
            "system_message",
            "system messages cannot be forwarded",
        ));
    }
    if original.deleted_at.is_some() {
        return Err(RoomError::Forbidden(
            "message_deleted",
            "the message was deleted",
        ));
    }
    // Every room gets its copy at once; the answers are collected in order.
    let answers: Vec<_> = chat_ids
        .iter()
        .map(|chat_id| {
            let (reply, answer) = oneshot::channel();
            let message = copy_of(&original, *chat_id, user_id);
            engine.room(
                *chat_id,
                RoomCmd::Send {
                    message,
                    conn,
                    reply,
                },
            );
            answer
        })
        .collect();
    let mut copies = Vec::with_capacity(answers.len());
    for answer in answers {
        let sent = answer.await.unwrap_or_else(|_| {
            Err(RoomError::Store(crate::store::StoreError::Pool(
                "chat unavailable; try again".into(),
            )))
        })?;
        copies.push(sent);
    }
    Ok(copies)
}
