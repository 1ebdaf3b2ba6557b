//! `POST /api/messages/{id}/forward`: a message copied to up to five of the caller's chats.

use actix_web::{web, HttpResponse};
use chrono::TimeDelta;
use courier_actors::forward::{check_targets, forward as forward_to};

use crate::api::messages::{ForwardRequest, Forwarded};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::state::AppState;

/// Forwards a message the caller can see to 1 to 5 chats they are a current member of. Every
/// target is checked first (membership, blocks), so a refusal stores nothing. Each copy is a
/// new message marked as forwarded, announced to its chat like any other; files are shared,
/// not copied. Each copy counts against the caller's message rate.
#[utoipa::path(post, path = "/api/messages/{id}/forward", tag = "messages",
    params(("id" = i64, Path, description = "message id")), request_body = ForwardRequest,
    responses((status = 201, body = Forwarded)))]
pub(crate) async fn forward(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    body: ApiJson<ForwardRequest>,
) -> ApiResult<HttpResponse> {
    let chat_ids = body.0.chat_ids;
    check_targets(&chat_ids)?;
    let limit = state.engine.realtime.messages_per_minute;
    for _ in &chat_ids {
        state
            .engine
            .limiter
            .hit(
                &format!("msg:{}", user.user_id),
                limit,
                TimeDelta::minutes(1),
            )
            .await
            .map_err(ApiError::too_many)?;
    }
    let copies = forward_to(
        &state.engine,
        user.user_id,
        path.into_inner(),
        &chat_ids,
        None,
    )
    .await?;
    let answer = Forwarded {
        success: true,
        messages: copies.into_iter().map(|c| c.message).collect(),
    };
    Ok(HttpResponse::Created().json(state.signed(answer)))
}
