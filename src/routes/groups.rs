//! `/api/groups/*`: creating groups, their settings, members and roles.

use std::collections::HashMap;

use actix_web::{guard, web, HttpResponse};
use courier_actors::room::{announce_new_group, GroupCmd, RoomCmd};
use courier_actors::store::contacts::relations_to;
use courier_actors::store::groups::{Change, CreateGroup, ADMIN, MEMBER};
use courier_actors::store::{chats, former};

use crate::api::common::{Done, Named};
use crate::api::groups::{
    AddMembersRequest, CreateGroupRequest, GroupCreated, GroupDetail, GroupForm, GroupMember,
    GroupUpdated, MembersAdded, RoleRequest, RoleSet, UpdateGroupRequest,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::routes::common::{access, ask_room};
use crate::routes::group_invites;
use crate::routes::group_limits::{invite_ttl, outcome, reserve_adds, reserve_group};
use crate::routes::group_shapes::{check_participants, created, description_of, distinct};
use crate::routes::users::PublicProfile;
use crate::state::AppState;
use crate::validate;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/groups")
            .route(
                "",
                web::post()
                    .guard(guard::fn_guard(crate::media::is_multipart))
                    .to(crate::routes::group_media::create),
            )
            .route("", web::post().to(create))
            .route("/invites", web::get().to(group_invites::list))
            .route(
                "/invites/{id}/accept",
                web::post().to(group_invites::accept),
            )
            .route(
                "/invites/{id}/decline",
                web::post().to(group_invites::decline),
            )
            .route("/{id}", web::get().to(get))
            .route(
                "/{id}",
                web::put()
                    .guard(guard::fn_guard(crate::media::is_multipart))
                    .to(crate::routes::group_media::update),
            )
            .route("/{id}", web::put().to(update))
            .route("/{id}/members", web::post().to(add_members))
            .route("/{id}/members/{user_id}", web::delete().to(remove_member))
            .route("/{id}/members/{user_id}/role", web::put().to(set_role))
            .route("/{id}/leave", web::post().to(leave)),
    );
}

/// Creates a group; the creator is its admin. Users whose privacy does not let the creator
/// add them are invited instead. A multipart form also takes a photo (`avatar`).
#[utoipa::path(post, path = "/api/groups", tag = "groups",
    request_body(content(
        (CreateGroupRequest = "application/json"),
        (GroupForm = "multipart/form-data"),
    )),
    responses((status = 201, body = GroupCreated)))]
pub(crate) async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<CreateGroupRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let name = validate::name("name", &body.name, 1, 100)?;
    let description = description_of(body.description)?.flatten();
    check_participants(&state, user.user_id, &body.participants)?;
    let group_slot = reserve_group(&state, user.user_id).await?;
    let add_slots = reserve_adds(
        &state,
        user.user_id,
        "participants",
        body.participants.len(),
    )
    .await?;
    let max = state.settings.limits.max_group_size;
    let change = state
        .write(CreateGroup {
            creator: user.user_id,
            name,
            description,
            avatar_url: None,
            participants: body.participants,
            max_size: max,
            invite_ttl: invite_ttl(&state),
        })
        .await?
        .map_err(|r| ApiError::from(r).with_field("participants"))?;
    group_slot.keep(1);
    add_slots.keep(change.added.len() + change.invited.len());
    announce_new_group(&state.engine, &change);
    Ok(HttpResponse::Created().json(state.signed(created(&change))))
}

/// A group with its current members (a former member sees it as it was when they left).
#[utoipa::path(get, path = "/api/groups/{id}", tag = "groups",
    params(("id" = i64, Path, description = "group (chat) id")),
    responses((status = 200, body = GroupDetail)))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let chat_id = path.into_inner();
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let (chat, me) = access(&mut conn, chat_id, user.user_id).await?;
    if !chat.is_group() {
        return Err(ApiError::not_found("group"));
    }
    let everyone = chats::participants(&mut conn, chat_id).await?;
    // A former member sees the group as it was when they left.
    let then = former::of_participant(&mut conn, &me).await?;
    let frozen = then
        .as_ref()
        .map(|t| t.members_with(&former::users_by_id(&everyone)));
    let members = frozen.as_deref().unwrap_or(&everyone);
    let chat = then.map(|t| t.chat(&chat)).unwrap_or(chat);
    let ids: Vec<i64> = members.iter().map(|(p, _)| p.user_id).collect();
    let relations = relations_to(&mut conn, &ids, user.user_id).await?;
    let creator = everyone
        .iter()
        .find(|(_, u)| Some(u.id) == chat.created_by)
        .map(|(_, u)| u);
    let current: Vec<GroupMember> = members
        .iter()
        .filter(|(p, _)| p.is_current())
        .map(|(p, u)| {
            let profile = if u.id == user.user_id {
                PublicProfile::unfiltered(u)
            } else {
                PublicProfile::of(u, relations.get(&u.id).copied().unwrap_or_default())
            };
            GroupMember {
                id: u.id,
                name: u.name.clone(),
                avatar_url: profile.avatar_url,
                about: profile.about,
                role: p.role.clone(),
                joined_at: p.joined_at.and_utc(),
            }
        })
        .collect();
    let answer = GroupDetail {
        id: chat.id,
        name: chat.name.clone(),
        description: chat.description.clone(),
        avatar_url: chat.avatar_url.clone(),
        created_by: creator.map(|u| Named {
            id: u.id,
            name: u.name.clone(),
        }),
        participants_count: current.len(),
        participants: current,
        is_member: me.is_current(),
        my_role: me.role.clone(),
        created_at: chat.created_at.and_utc(),
        updated_at: chat.updated_at.and_utc(),
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}

async fn change(state: &AppState, chat_id: i64, actor: i64, cmd: GroupCmd) -> ApiResult<Change> {
    ask_room(state, chat_id, |reply| RoomCmd::Group { actor, cmd, reply }).await
}

/// Changes a group's name and/or description (admins); a multipart form also takes a photo.
#[utoipa::path(put, path = "/api/groups/{id}", tag = "groups",
    params(("id" = i64, Path, description = "group (chat) id")),
    request_body(content(
        (UpdateGroupRequest = "application/json"),
        (GroupForm = "multipart/form-data"),
    )),
    responses((status = 200, body = GroupUpdated)))]
pub(crate) async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    body: ApiJson<UpdateGroupRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let name = body
        .name
        .as_deref()
        .map(|n| validate::name("name", n, 1, 100))
        .transpose()?;
    let description = description_of(body.description)?;
    if name.is_none() && description.is_none() {
        return Err(ApiError::invalid(
            "name",
            "give a name and/or a description to change",
        ));
    }
    let done = change(
        &state,
        path.into_inner(),
        user.user_id,
        GroupCmd::Update {
            name,
            description,
            avatar_url: None,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(state.signed(GroupUpdated::of(&done.chat))))
}

/// Adds users to a group (admins); those whose privacy asks for it are invited instead.
#[utoipa::path(post, path = "/api/groups/{id}/members", tag = "groups",
    params(("id" = i64, Path, description = "group (chat) id")), request_body = AddMembersRequest,
    responses((status = 200, body = MembersAdded)))]
pub(crate) async fn add_members(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    body: ApiJson<AddMembersRequest>,
) -> ApiResult<HttpResponse> {
    let ids = body.0.user_ids;
    if ids.is_empty() {
        return Err(ApiError::invalid("user_ids", "must list at least one user"));
    }
    if ids.len() > state.settings.limits.max_group_size {
        return Err(ApiError::invalid(
            "user_ids",
            "lists more users than a group can hold",
        ));
    }
    distinct("user_ids", &ids)?;
    let slots = reserve_adds(&state, user.user_id, "user_ids", ids.len()).await?;
    let cmd = GroupCmd::Add {
        user_ids: ids,
        invite_ttl: invite_ttl(&state),
    };
    let done = change(&state, path.into_inner(), user.user_id, cmd).await?;
    slots.keep(done.added.len() + done.invited.len());
    let (added_members, invited) = outcome(&done);
    Ok(HttpResponse::Ok().json(MembersAdded {
        success: true,
        added_members,
        invited,
    }))
}

/// Removes a member (admins), or leaves (one's own id).
#[utoipa::path(delete, path = "/api/groups/{id}/members/{user_id}", tag = "groups",
    params(
        ("id" = i64, Path, description = "group (chat) id"),
        ("user_id" = i64, Path, description = "the member"),
    ),
    responses((status = 200, body = Done)))]
pub(crate) async fn remove_member(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
) -> ApiResult<HttpResponse> {
    let (chat_id, target) = path.into_inner();
    change(&state, chat_id, user.user_id, GroupCmd::Remove { target }).await?;
    let message = if target == user.user_id {
        "Left group successfully"
    } else {
        "Member removed successfully"
    };
    Ok(HttpResponse::Ok().json(Done::new(message)))
}

/// Leaves a group (its only admin hands the role on first, or one is appointed).
#[utoipa::path(post, path = "/api/groups/{id}/leave", tag = "groups",
    params(("id" = i64, Path, description = "group (chat) id")),
    responses((status = 200, body = Done)))]
pub(crate) async fn leave(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    change(
        &state,
        path.into_inner(),
        user.user_id,
        GroupCmd::Remove {
            target: user.user_id,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(Done::new("Left group successfully")))
}

/// Makes a member admin or member (admins).
#[utoipa::path(put, path = "/api/groups/{id}/members/{user_id}/role", tag = "groups",
    params(
        ("id" = i64, Path, description = "group (chat) id"),
        ("user_id" = i64, Path, description = "the member"),
    ),
    request_body = RoleRequest,
    responses((status = 200, body = RoleSet)))]
pub(crate) async fn set_role(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(i64, i64)>,
    body: ApiJson<RoleRequest>,
) -> ApiResult<HttpResponse> {
    let (chat_id, target) = path.into_inner();
    let role = match body.0.role.as_str() {
        "admin" => ADMIN,
        "member" => MEMBER,
        _ => return Err(ApiError::invalid("role", "must be admin or member")),
    };
    let done = change(
        &state,
        chat_id,
        user.user_id,
        GroupCmd::SetRole { target, role },
    )
    .await?;
    let now: HashMap<i64, &str> = done
        .members
        .iter()
        .map(|(p, _)| (p.user_id, p.role.as_str()))
        .collect();
    Ok(HttpResponse::Ok().json(RoleSet {
        success: true,
        user_id: target,
        role: now.get(&target).map(|r| r.to_string()),
    }))
}
