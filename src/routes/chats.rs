//! `/api/chats/*`: the chat list, private chats, a chat's history, sending, marking read.

use std::collections::HashMap;

use actix_web::{guard, web, HttpResponse};
use chrono::TimeDelta;
use courier_actors::room::RoomCmd;
use courier_actors::store::chats::{self, ArchiveFilter, Chat, GetOrCreatePrivate, Participant};
use courier_actors::store::contacts::relations_to;
use courier_actors::store::former;
use courier_actors::store::messages::{self, Draft};
use courier_actors::store::receipts::{status_of, Kind};
use courier_actors::store::users::{self, User};
use courier_actors::store::views;

use crate::api::chats::{
    ChatItem, ChatList, ChatSettings, HistoryPagination, LastMessage, MediaMessageForm,
    MessagePage, MessageSent, PrivateChatRequest, ReadDone, ReadRequest,
};
use crate::api::common::Pagination;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::routes::common::{access, ask_room, int_param};
use crate::routes::users::PublicProfile;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/chats")
            .route("", web::get().to(list))
            .route("/private", web::post().to(private))
            .route("/{id}", web::get().to(get))
            .route("/{id}/messages", web::get().to(history))
            .route(
                "/{id}/messages",
                web::post()
                    .guard(guard::fn_guard(crate::media::is_multipart))
                    .to(crate::routes::chat_media::send),
            )
            .route("/{id}/messages", web::post().to(send))
            .route("/{id}/read", web::put().to(read))
            .route(
                "/{id}/settings",
                web::put().to(crate::routes::chat_settings::update),
            )
            .route(
                "/{id}/disappearing",
                web::put().to(crate::routes::chat_timer::set),
            ),
    );
}

/// A chat as its list item / detail shows it, for one viewer.
fn chat_json(
    chat: &Chat,
    me: &Participant,
    members: &[(&Participant, &User)],
    relations: &HashMap<i64, courier_actors::store::contacts::Relation>,
    last: Option<&messages::Message>,
    unread: i64,
    now: chrono::NaiveDateTime,
) -> ChatItem {
    let profile =
        |u: &User| PublicProfile::of(u, relations.get(&u.id).copied().unwrap_or_default());
    let others: Vec<&(&Participant, &User)> = members
        .iter()
        .filter(|(p, _)| p.user_id != me.user_id)
        .collect();
    let parts: Vec<&Participant> = members.iter().map(|(p, _)| *p).collect();
    let last_message = last.map(|m| LastMessage {
        id: m.id,
        sender_id: m.sender_id,
        content: m.content.clone(),
        message_type: m.message_type.clone(),
        sent_at: m.sent_at.and_utc(),
        status: status_of(m, &parts, None).status.to_string(),
        is_deleted: m.deleted_at.is_some(),
    });
    let mut item = ChatItem {
        id: chat.id,
        chat_type: chat.chat_type.clone(),
        last_message,
        unread_count: unread,
        created_at: chat.created_at.and_utc(),
        updated_at: chat.updated_at.and_utc(),
        participant: None,
        name: None,
        description: None,
        avatar_url: None,
        participants_count: None,
        is_member: None,
        settings: ChatSettings::of(me, now),
        disappearing_secs: chat.disappearing_secs.unwrap_or(0),
    };
    if chat.is_group() {
        item.name = Some(chat.name.clone());
        item.description = Some(chat.description.clone());
        item.avatar_url = Some(chat.avatar_url.clone());
        item.participants_count = Some(members.iter().filter(|(p, _)| p.is_current()).count());
        item.is_member = Some(me.is_current());
    } else {
        item.participant = Some(others.first().map(|(_, u)| profile(u)));
    }
    item
}

/// The caller's chats, newest activity first.
#[utoipa::path(get, path = "/api/chats", tag = "chats",
    params(
        ("page" = Option<i64>, Query, minimum = 1, maximum = 1000000, description = "from 1"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "default 20"),
        ("archived" = Option<bool>, Query, description = "true: only archived chats; false: only the others; absent: all"),
    ),
    responses((status = 200, body = ChatList)))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let page = int_param(&q, "page", 1, 1, 1_000_000)?;
    let limit = int_param(&q, "limit", 20, 1, 100)?;
    let archive = match q.get("archived").map(String::as_str) {
        None => ArchiveFilter::All,
        Some("true") => ArchiveFilter::Archived,
        Some("false") => ArchiveFilter::NotArchived,
        Some(_) => return Err(ApiError::invalid("archived", "must be true or false")),
    };
    let now = state.engine.clock.now();
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let data =
        chats::list_for_user(&mut conn, user.user_id, archive, limit, (page - 1) * limit).await?;
    let others: Vec<i64> = data
        .members
        .iter()
        .map(|(p, _)| p.user_id)
        .filter(|id| *id != user.user_id)
        .collect();
    let relations = relations_to(&mut conn, &others, user.user_id).await?;
    // Groups the user left show as they were when they left.
    let left: Vec<i64> = data
        .chats
        .iter()
        .filter(|(_, me)| !me.is_current())
        .map(|(c, _)| c.id)
        .collect();
    let departures = former::of_user(&mut conn, user.user_id, &left).await?;
    let users = former::users_by_id(&data.members);
    let frozen: HashMap<i64, (Chat, Vec<(Participant, User)>)> = data
        .chats
        .iter()
        .filter_map(|(chat, _)| {
            let then = departures.get(&chat.id)?;
            Some((chat.id, (then.chat(chat), then.members_with(&users))))
        })
        .collect();
    let mut by_chat: HashMap<i64, Vec<(&Participant, &User)>> = HashMap::new();
    for (p, u) in data
        .members
        .iter()
        .filter(|(p, _)| !frozen.contains_key(&p.chat_id))
        .chain(frozen.values().flat_map(|(_, m)| m))
    {
        by_chat.entry(p.chat_id).or_default().push((p, u));
    }
    let chats: Vec<ChatItem> = data
        .chats
        .iter()
        .map(|(chat, me)| {
            let chat = frozen.get(&chat.id).map(|(c, _)| c).unwrap_or(chat);
            let members = by_chat.get(&chat.id).map(Vec::as_slice).unwrap_or(&[]);
            let unread = data.unread.get(&chat.id).copied().unwrap_or(0);
            chat_json(
                chat,
                me,
                members,
                &relations,
                data.last_messages.get(&chat.id),
                unread,
                now,
            )
        })
        .collect();
    let answer = ChatList {
        chats,
        pagination: Pagination::new(page, limit, data.total),
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}

/// One chat, as in the list.
#[utoipa::path(get, path = "/api/chats/{id}", tag = "chats",
    params(("id" = i64, Path, description = "chat id")),
    responses((status = 200, body = ChatItem)))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let chat_id = path.into_inner();
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let (chat, me) = access(&mut conn, chat_id, user.user_id).await?;
    let mut members = chats::participants(&mut conn, chat_id).await?;
    let last_visible = chats::last_visible(&chat, &me);
    // A group the user left shows as it was when they left.
    let then = former::of_participant(&mut conn, &me).await?;
    if let Some(then) = &then {
        members = then.members_with(&former::users_by_id(&members));
    }
    let chat = then.map(|t| t.chat(&chat)).unwrap_or(chat);
    let others: Vec<i64> = members
        .iter()
        .map(|(p, _)| p.user_id)
        .filter(|id| *id != user.user_id)
        .collect();
    let relations = relations_to(&mut conn, &others, user.user_id).await?;
    let last = match last_visible {
        Some(id) => chats::last_messages(&mut conn, user.user_id, &[id])
            .await?
            .pop(),
        None => None,
    };
    let refs: Vec<(&Participant, &User)> = members.iter().map(|(p, u)| (p, u)).collect();
    let unread = chats::unread_counts(&mut conn, user.user_id, &[chat_id]).await?;
    let unread = unread.get(&chat_id).copied().unwrap_or(0);
    let now = state.engine.clock.now();
    let item = chat_json(&chat, &me, &refs, &relations, last.as_ref(), unread, now);
    Ok(HttpResponse::Ok().json(state.signed(item)))
}

/// The one private chat between the caller and another user: 201 when created, 200 when it
/// existed.
#[utoipa::path(post, path = "/api/chats/private", tag = "chats", request_body = PrivateChatRequest,
    responses((status = 200, body = ChatItem), (status = 201, body = ChatItem)))]
pub(crate) async fn private(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<PrivateChatRequest>,
) -> ApiResult<HttpResponse> {
    let other = body.0.contact_id;
    if other == user.user_id {
        return Err(ApiError::invalid(
            "contact_id",
            "cannot start a chat with yourself",
        ));
    }
    {
        let mut conn = state.engine.db.get().await?;
        users::find(&mut conn.conn(), other)
            .await?
            .ok_or_else(|| ApiError::not_found("user"))?;
    }
    let (chat, created) = state
        .write(GetOrCreatePrivate {
            user_id: user.user_id,
            other_id: other,
        })
        .await?;
    if created {
        // A room started for this id before the chat existed (someone probing ids) knows it
        // as missing: it reloads.
        state.engine.membership_changed_everywhere(chat.id).await;
    }
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let members = chats::participants(&mut conn, chat.id).await?;
    let relations = relations_to(&mut conn, &[other], user.user_id).await?;
    let me = members
        .iter()
        .find(|(p, _)| p.user_id == user.user_id)
        .map(|(p, _)| p.clone());
    let me = me.ok_or_else(|| ApiError::internal("creator is not a participant"))?;
    let refs: Vec<(&Participant, &User)> = members.iter().map(|(p, u)| (p, u)).collect();
    let last = match chat.last_message_id {
        Some(id) => messages::by_ids(&mut conn, &[id]).await?.pop(),
        None => None,
    };
    let now = state.engine.clock.now();
    let body = state.signed(chat_json(
        &chat,
        &me,
        &refs,
        &relations,
        last.as_ref(),
        0,
        now,
    ));
    Ok(if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .json(body))
}

/// A page of the chat's history, oldest first.
#[utoipa::path(get, path = "/api/chats/{id}/messages", tag = "chats",
    params(
        ("id" = i64, Path, description = "chat id"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "default 50"),
        ("before_message_id" = Option<i64>, Query, minimum = 1, description = "messages before this one"),
        ("page" = Option<i64>, Query, minimum = 1, maximum = 10000, description = "from 1 (the newest page), counted from `before_message_id` when given"),
    ),
    responses((status = 200, body = MessagePage)))]
pub(crate) async fn history(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let chat_id = path.into_inner();
    let limit = int_param(&q, "limit", 50, 1, 100)?;
    let number = int_param(&q, "page", 1, 1, 10_000)?;
    let before = match q.get("before_message_id") {
        Some(_) => Some(int_param(&q, "before_message_id", 0, 1, i64::MAX)?),
        None => None,
    };
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let (_, me) = access(&mut conn, chat_id, user.user_id).await?;
    let mut page = messages::page(
        &mut conn,
        chat_id,
        user.user_id,
        before,
        me.last_visible_message_id.filter(|_| me.left_at.is_some()),
        limit + 1,
        (number - 1) * limit,
    )
    .await?;
    let has_more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    page.reverse();
    let members = chats::participants(&mut conn, chat_id).await?;
    let mut views = views::build_for(&mut conn, user.user_id, &members, &page).await?;
    let ids: Vec<i64> = page.iter().map(|m| m.id).collect();
    let starred =
        courier_actors::store::stars::starred_among(&mut conn, user.user_id, &ids).await?;
    for v in &mut views {
        v.is_starred = Some(starred.contains(&v.id));
    }
    let answer = MessagePage {
        messages: views,
        pagination: HistoryPagination {
            has_more,
            next_before_message_id: if has_more {
                page.first().map(|m| m.id)
            } else {
                None
            },
        },
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}

/// Sends a message: JSON for text, location and contact messages, a multipart form for media.
/// Resending a `client_msg_id` answers 200 with the original.
#[utoipa::path(post, path = "/api/chats/{id}/messages", tag = "chats",
    params(("id" = i64, Path, description = "chat id")),
    request_body(content(
        (courier_actors::store::messages::Draft = "application/json"),
        (MediaMessageForm = "multipart/form-data"),
    )),
    responses((status = 201, body = MessageSent), (status = 200, body = MessageSent)))]
pub(crate) async fn send(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    body: ApiJson<Draft>,
) -> ApiResult<HttpResponse> {
    let chat_id = path.into_inner();
    let limit = state.engine.realtime.messages_per_minute;
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
    let message = body
        .0
        .validate(chat_id, user.user_id, false)
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    let sent = ask_room(&state, chat_id, |reply| RoomCmd::Send {
        message,
        conn: None,
        reply,
    })
    .await?;
    let status = if sent.duplicate {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    let answer = MessageSent {
        message: sent.message,
        duplicate: sent.duplicate,
    };
    Ok({ status }.json(state.signed(answer)))
}

/// Moves the caller's read cursor to a message.
#[utoipa::path(put, path = "/api/chats/{id}/read", tag = "chats",
    params(("id" = i64, Path, description = "chat id")), request_body = ReadRequest,
    responses((status = 200, body = ReadDone)))]
pub(crate) async fn read(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    body: ApiJson<ReadRequest>,
) -> ApiResult<HttpResponse> {
    let chat_id = path.into_inner();
    let message_id = body.0.message_id;
    {
        let mut conn = state.engine.db.get().await?;
        access(&mut conn.conn(), chat_id, user.user_id).await?;
    }
    let read_at = ask_room(&state, chat_id, |reply| RoomCmd::Receipt {
        user_id: user.user_id,
        kind: Kind::Read,
        up_to: message_id,
        reply,
    })
    .await?
    .unwrap_or_else(|| state.engine.clock.now());
    Ok(HttpResponse::Ok().json(ReadDone {
        success: true,
        read_at: read_at.and_utc(),
    }))
}
