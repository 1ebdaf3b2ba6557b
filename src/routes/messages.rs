//! `/api/messages/{id}*`: edit, delete (for everyone or for me), reactions, message info.

use std::collections::HashMap;

use crate::api::common::Done;
use crate::api::messages::{
    EditRequest, MessageEdited, MessageInfo, ReactionCount, ReactionDone, ReactionRequest,
    Recipient,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::routes::common::ask_room;
use crate::routes::{message_forward, message_stars};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use courier_actors::room::{announce_hidden, RoomCmd};
use courier_actors::store::message_ops::HideForMe;
use courier_actors::store::messages::{check_text, find_visible, Message, MAX_TEXT_CHARS};
use courier_actors::store::reactions::is_emoji;
use courier_actors::store::receipts::{times_for_message, Kind};
use courier_actors::store::views::{self, UserBrief};
use courier_actors::store::{chats, former, Conn};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/messages")
            .route("/starred", web::get().to(message_stars::starred))
            .route("/{id}", web::put().to(edit))
            .route("/{id}", web::delete().to(delete))
            .route("/{id}/reactions", web::post().to(react))
            .route("/{id}/reactions", web::delete().to(unreact))
            .route("/{id}/info", web::get().to(info))
            .route("/{id}/star", web::post().to(message_stars::star))
            .route("/{id}/star", web::delete().to(message_stars::unstar))
            .route("/{id}/forward", web::post().to(message_forward::forward)),
    );
}

/// The message if the caller may see it, else 404.
async fn visible(conn: &mut Conn<'_>, id: i64, user_id: i64) -> ApiResult<Message> {
    find_visible(conn, id, user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))
}

pub(crate) async fn load(state: &AppState, id: i64, user_id: i64) -> ApiResult<Message> {
    let mut conn = state.engine.db.get().await?;
    let m = visible(&mut conn.conn(), id, user_id).await?;
    Ok(m)
}

/// Edits the caller's own text message.
#[utoipa::path(put, path = "/api/messages/{id}", tag = "messages",
    params(("id" = i64, Path, description = "message id")), request_body = EditRequest,
    responses((status = 200, body = MessageEdited)))]
pub(crate) async fn edit(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    body: ApiJson<EditRequest>,
) -> ApiResult<HttpResponse> {
    let content = body.0.content;
    check_text("content", &content, MAX_TEXT_CHARS)
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    let m = load(&state, path.into_inner(), user.user_id).await?;
    let edited = ask_room(&state, m.chat_id, |reply| RoomCmd::Edit {
        user_id: user.user_id,
        message_id: m.id,
        content,
        reply,
    })
    .await?;
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let members = chats::participants(&mut conn, edited.chat_id).await?;
    let view = views::build(&mut conn, &members, &[edited]).await?.pop();
    let answer = MessageEdited {
        success: true,
        message: view,
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}

/// Deletes the caller's own message for everyone (a marker stays), or hides any message for
/// the caller only (`?for=me`).
#[utoipa::path(delete, path = "/api/messages/{id}", tag = "messages",
    params(
        ("id" = i64, Path, description = "message id"),
        ("for" = Option<String>, Query, description = "`everyone` (default) or `me`"),
    ),
    responses((status = 200, body = Done)))]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let m = load(&state, path.into_inner(), user.user_id).await?;
    match q.get("for").map(String::as_str) {
        None | Some("everyone") => {
            let files = ask_room(&state, m.chat_id, |reply| RoomCmd::Delete {
                user_id: user.user_id,
                message_id: m.id,
                reply,
            })
            .await?;
            // Committed: the files go too, and links already handed out stop working.
            state.engine.storage.delete_quietly(&files).await;
        }
        Some("me") => {
            if let Some(seq) = state
                .write(HideForMe {
                    message_id: m.id,
                    user_id: user.user_id,
                })
                .await?
            {
                announce_hidden(&state.engine, user.user_id, m.chat_id, m.id, seq);
            }
        }
        Some(_) => return Err(ApiError::invalid("for", "must be me or everyone")),
    }
    Ok(HttpResponse::Ok().json(Done::new("Message deleted successfully")))
}

async fn set_reaction(
    state: &AppState,
    user: &AuthUser,
    id: i64,
    emoji: String,
    add: bool,
) -> ApiResult<HttpResponse> {
    if !is_emoji(&emoji) {
        return Err(ApiError::invalid("emoji", "must be a single emoji"));
    }
    let m = load(state, id, user.user_id).await?;
    if m.message_type == "system" {
        return Err(ApiError::forbidden(
            "system_message",
            "system messages cannot be changed",
        ));
    }
    if m.deleted_at.is_some() {
        return Err(ApiError::forbidden(
            "message_deleted",
            "the message was deleted",
        ));
    }
    let count = ask_room(state, m.chat_id, |reply| RoomCmd::React {
        user_id: user.user_id,
        message_id: m.id,
        emoji: emoji.clone(),
        add,
        reply,
    })
    .await?;
    Ok(HttpResponse::Ok().json(ReactionDone {
        success: true,
        reaction: ReactionCount {
            message_id: m.id,
            emoji,
            count,
        },
    }))
}

/// Puts an emoji on a message (each user once per emoji).
#[utoipa::path(post, path = "/api/messages/{id}/reactions", tag = "messages",
    params(("id" = i64, Path, description = "message id")), request_body = ReactionRequest,
    responses((status = 200, body = ReactionDone)))]
pub(crate) async fn react(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    body: ApiJson<ReactionRequest>,
) -> ApiResult<HttpResponse> {
    set_reaction(&state, &user, path.into_inner(), body.0.emoji, true).await
}

/// Takes the caller's emoji off a message.
#[utoipa::path(delete, path = "/api/messages/{id}/reactions", tag = "messages",
    params(("id" = i64, Path, description = "message id")), request_body = ReactionRequest,
    responses((status = 200, body = ReactionDone)))]
pub(crate) async fn unreact(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    body: ApiJson<ReactionRequest>,
) -> ApiResult<HttpResponse> {
    set_reaction(&state, &user, path.into_inner(), body.0.emoji, false).await
}

/// Per recipient: when the message reached their device and when they read it. For the
/// sender only (as in WhatsApp).
#[utoipa::path(get, path = "/api/messages/{id}/info", tag = "messages",
    params(("id" = i64, Path, description = "message id")),
    responses((status = 200, body = MessageInfo)))]
pub(crate) async fn info(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let m = visible(&mut conn, path.into_inner(), user.user_id).await?;
    if m.sender_id != user.user_id {
        return Err(ApiError::forbidden(
            "not_sender",
            "only the sender can see who received a message",
        ));
    }
    let mut members = chats::participants(&mut conn, m.chat_id).await?;
    // A sender who left the group sees its members, and their receipts, as they were then.
    let me = members
        .iter()
        .find(|(p, _)| p.user_id == user.user_id)
        .map(|(p, _)| p.clone());
    let until = me.as_ref().and_then(|p| p.left_at);
    if let Some(me) = &me {
        if let Some(then) = former::of_participant(&mut conn, me).await? {
            members = then.members_with(&former::users_by_id(&members));
        }
    }
    let times = times_for_message(&mut conn, m.chat_id, m.id, until).await?;
    let recipients: Vec<Recipient> = members
        .iter()
        .filter(|(p, _)| p.user_id != m.sender_id && p.joined_at <= m.sent_at && p.is_current())
        .map(|(p, u)| Recipient {
            user: UserBrief::of(u),
            delivered_at: times
                .get(&(p.user_id, Kind::Delivered))
                .map(|t| t.and_utc()),
            read_at: times.get(&(p.user_id, Kind::Read)).map(|t| t.and_utc()),
        })
        .collect();
    let answer = MessageInfo {
        message_id: m.id,
        chat_id: m.chat_id,
        sent_at: m.sent_at.and_utc(),
        recipients,
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}
