//! `PUT /api/chats/{id}/settings`: the caller's own mute, archive and pin of a chat.

use actix_web::{web, HttpResponse};
use courier_actors::bus::Delivery;
use courier_actors::event::user_channel;
use courier_actors::store::chat_settings::{SetChatSettings, SettingsRefusal};

use crate::api::chats::{ChatSettings, ChatSettingsRequest, ChatSettingsUpdated};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::state::AppState;

/// Changes the caller's own settings of a chat they are (or were) a member of: mute until a
/// time, archive, pin. Others see nothing of it; the caller's other devices get
/// `chat-settings-updated`.
#[utoipa::path(put, path = "/api/chats/{id}/settings", tag = "chats",
    params(("id" = i64, Path, description = "chat id")), request_body = ChatSettingsRequest,
    responses((status = 200, body = ChatSettingsUpdated)))]
pub(crate) async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    body: ApiJson<ChatSettingsRequest>,
) -> ApiResult<HttpResponse> {
    let chat_id = path.into_inner();
    let body = body.0;
    if body.muted_until.is_none() && body.archived.is_none() && body.pinned.is_none() {
        return Err(ApiError::invalid(
            "muted_until",
            "give at least one of muted_until, archived, pinned",
        ));
    }
    if body.archived == Some(true) && body.pinned == Some(true) {
        return Err(ApiError::invalid(
            "pinned",
            "an archived chat cannot be pinned",
        ));
    }
    let now = state.engine.clock.now();
    let muted_until = match body.muted_until {
        Some(Some(t)) if t.naive_utc() <= now => {
            return Err(ApiError::invalid("muted_until", "must be in the future"))
        }
        Some(Some(t)) if t.timestamp() > MAX_MUTE => {
            return Err(ApiError::invalid(
                "muted_until",
                "must be before the year 10000",
            ))
        }
        other => other.map(|t| t.map(|t| t.naive_utc())),
    };
    let done = state
        .write(SetChatSettings {
            chat_id,
            user_id: user.user_id,
            muted_until,
            archived: body.archived,
            pinned: body.pinned,
            max_pinned: state.engine.realtime.privacy.max_pinned_chats,
        })
        .await?;
    let me = match done {
        Ok(me) => me,
        Err(SettingsRefusal::NotFound) => return Err(ApiError::not_found("chat")),
        Err(SettingsRefusal::TooManyPinned) => {
            return Err(ApiError::conflict(
                "too_many_pinned",
                format!(
                    "at most {} chats can be pinned; unpin one first",
                    state.engine.realtime.privacy.max_pinned_chats
                ),
            ))
        }
    };
    let settings = ChatSettings::of(&me, now);
    let data = serde_json::json!({ "chat_id": chat_id, "settings": settings });
    let event = state.engine.event(
        "chat-settings-updated",
        user_channel(user.user_id),
        None,
        data,
    );
    state.engine.bus.publish(Delivery {
        users: vec![user.user_id],
        event,
        skip: None,
        only: None,
        order: None,
    });
    Ok(HttpResponse::Ok().json(ChatSettingsUpdated {
        success: true,
        chat_id,
        settings,
    }))
}

/// 9999-12-31T23:59:59Z: the latest mute both databases and every client hold.
const MAX_MUTE: i64 = 253_402_300_799;
