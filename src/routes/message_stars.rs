//! `/api/messages/{id}/star` and `/api/messages/starred`: each user's starred messages.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use courier_actors::store::chats;
use courier_actors::store::stars::{self, Star, Unstar};
use courier_actors::store::views;

use crate::api::common::Pagination;
use crate::api::messages::{StarDone, StarredMessage, StarredPage};
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::routes::common::int_param;
use crate::routes::messages::load;
use crate::state::AppState;

/// Stars a message the caller can see (again: nothing changes).
#[utoipa::path(post, path = "/api/messages/{id}/star", tag = "messages",
    params(("id" = i64, Path, description = "message id")),
    responses((status = 200, body = StarDone)))]
pub(crate) async fn star(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let m = load(&state, path.into_inner(), user.user_id).await?;
    if m.message_type == "system" {
        return Err(ApiError::forbidden(
            "system_message",
            "system messages cannot be starred",
        ));
    }
    if m.deleted_at.is_some() {
        return Err(ApiError::forbidden(
            "message_deleted",
            "the message was deleted",
        ));
    }
    let at = state
        .write(Star {
            user_id: user.user_id,
            message_id: m.id,
        })
        .await?;
    Ok(HttpResponse::Ok().json(StarDone {
        success: true,
        message_id: m.id,
        is_starred: true,
        starred_at: Some(at.and_utc()),
    }))
}

/// Takes the caller's star off a message (none there: nothing changes).
#[utoipa::path(delete, path = "/api/messages/{id}/star", tag = "messages",
    params(("id" = i64, Path, description = "message id")),
    responses((status = 200, body = StarDone)))]
pub(crate) async fn unstar(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let m = load(&state, path.into_inner(), user.user_id).await?;
    state
        .write(Unstar {
            user_id: user.user_id,
            message_id: m.id,
        })
        .await?;
    Ok(HttpResponse::Ok().json(StarDone {
        success: true,
        message_id: m.id,
        is_starred: false,
        starred_at: None,
    }))
}

/// The caller's starred messages they can still see, newest star first.
#[utoipa::path(get, path = "/api/messages/starred", tag = "messages",
    params(
        ("page" = Option<i64>, Query, minimum = 1, maximum = 1000000, description = "from 1"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "default 20"),
        ("chat_id" = Option<i64>, Query, minimum = 1, description = "within this chat only"),
    ),
    responses((status = 200, body = StarredPage)))]
pub(crate) async fn starred(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let page = int_param(&q, "page", 1, 1, 1_000_000)?;
    let limit = int_param(&q, "limit", 20, 1, 100)?;
    let chat_id = match q.get("chat_id") {
        Some(_) => Some(int_param(&q, "chat_id", 0, 1, i64::MAX)?),
        None => None,
    };
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let (rows, total) =
        stars::page(&mut conn, user.user_id, chat_id, limit, (page - 1) * limit).await?;
    let mut chat_ids: Vec<i64> = rows.iter().map(|(m, _)| m.chat_id).collect();
    chat_ids.sort_unstable();
    chat_ids.dedup();
    let members = chats::participants_of(&mut conn, &chat_ids).await?;
    let (messages, times): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
    let built = views::build_for(&mut conn, user.user_id, &members, &messages).await?;
    let messages = built
        .into_iter()
        .zip(times)
        .map(|(mut v, at)| {
            v.is_starred = Some(true);
            StarredMessage {
                message: v,
                starred_at: at.and_utc(),
            }
        })
        .collect();
    let answer = StarredPage {
        messages,
        pagination: Pagination::new(page, limit, total),
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}
