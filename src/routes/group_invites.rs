//! `/api/groups/invites/*`: the invites a user received because their `groups` privacy
//! setting did not allow the adder; accepting joins the group, declining drops the invite.
//! Registered in `routes::groups`, before `/api/groups/{id}`.

use actix_web::{web, HttpResponse};
use courier_actors::room::{GroupCmd, InviteView, RoomCmd};
use courier_actors::store::groups::{find_pending, pending_for, DeclineInvite};

use crate::api::common::Done;
use crate::api::groups::{InviteAccepted, InviteList};
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::routes::common::ask_room;
use crate::routes::group_shapes::summary;
use crate::state::AppState;

/// Most invites listed at once (the newest).
const MAX_LISTED: i64 = 100;

/// `GET /api/groups/invites`: the caller's pending invites, newest first.
#[utoipa::path(get, path = "/api/groups/invites", tag = "groups",
    responses((status = 200, body = InviteList)))]
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let now = state.engine.clock.now();
    let mut conn = state.engine.db.get().await?;
    let pending = pending_for(&mut conn.conn(), user.user_id, now, MAX_LISTED).await?;
    let invites = pending
        .iter()
        .map(|p| InviteView::new(&p.invite, &p.chat, p.participants_count, &p.inviter))
        .collect();
    Ok(HttpResponse::Ok().json(state.signed(InviteList { invites })))
}

/// `POST /api/groups/invites/{id}/accept`: joins the group as an add would.
#[utoipa::path(post, path = "/api/groups/invites/{id}/accept", tag = "groups",
    params(("id" = i64, Path, description = "invite id")),
    responses((status = 200, body = InviteAccepted)))]
pub async fn accept(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let invite_id = path.into_inner();
    let invite = {
        let now = state.engine.clock.now();
        let mut conn = state.engine.db.get().await?;
        find_pending(&mut conn.conn(), invite_id, user.user_id, now)
            .await?
            .ok_or_else(|| ApiError::not_found("invite"))?
    };
    // The group's room runs the join, so its members hear of it in order with the rest.
    let done = ask_room(&state, invite.chat_id, |reply| RoomCmd::Group {
        actor: user.user_id,
        cmd: GroupCmd::AcceptInvite { invite_id },
        reply,
    })
    .await
    .map_err(|e| ApiError { field: None, ..e })?;
    let answer = InviteAccepted {
        success: true,
        group: summary(&done),
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}

/// `POST /api/groups/invites/{id}/decline`: drops the invite; nobody is told.
#[utoipa::path(post, path = "/api/groups/invites/{id}/decline", tag = "groups",
    params(("id" = i64, Path, description = "invite id")),
    responses((status = 200, body = Done)))]
pub async fn decline(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let declined = state
        .write(DeclineInvite {
            user_id: user.user_id,
            invite_id: path.into_inner(),
        })
        .await?;
    if !declined {
        return Err(ApiError::not_found("invite"));
    }
    Ok(HttpResponse::Ok().json(Done::new("Invite declined")))
}
