//! `PUT /api/chats/{id}/disappearing`: a chat's disappearing-messages timer.

use actix_web::{web, HttpResponse};
use courier_actors::room::{GroupCmd, RoomCmd};
use courier_actors::store::disappearing::TIMERS;

use crate::api::chats::{TimerRequest, TimerSet};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::routes::common::ask_room;
use crate::state::AppState;

/// Sets the timer: any member of a private chat, an admin of a group. Messages sent from now
/// on disappear that long after they were sent; earlier ones keep the timer they had. The
/// change is a system message every member receives.
#[utoipa::path(put, path = "/api/chats/{id}/disappearing", tag = "chats",
    params(("id" = i64, Path, description = "chat id")), request_body = TimerRequest,
    responses((status = 200, body = TimerSet)))]
pub(crate) async fn set(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    body: ApiJson<TimerRequest>,
) -> ApiResult<HttpResponse> {
    let chat_id = path.into_inner();
    let secs = body.0.seconds;
    if !TIMERS.contains(&secs) {
        return Err(ApiError::invalid(
            "seconds",
            "must be 0 (off), 86400 (24 hours), 604800 (7 days) or 7776000 (90 days)",
        ));
    }
    let change = ask_room(&state, chat_id, |reply| RoomCmd::Group {
        actor: user.user_id,
        cmd: GroupCmd::SetTimer { secs },
        reply,
    })
    .await?;
    let answer = TimerSet {
        success: true,
        chat_id,
        disappearing_secs: change.chat.disappearing_secs.unwrap_or(0),
        message: change.system.as_ref().map(courier_actors::room::view_of),
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}
