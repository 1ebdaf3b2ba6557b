//! `/api/calls/*`: starting, answering, declining and ending calls, the call history, and the
//! STUN/TURN servers (with time-limited TURN credentials) clients connect through.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::TimeDelta;
use courier_actors::call::{self, CallCmd, CallError};
use courier_actors::store::calls::{self as store, Call};
use courier_actors::store::chats;
use courier_actors::store::views::UserBrief;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::api::calls::{
    CallAction, CallChat, CallHistory, CallItem, CallStarted, CallState, IceServer, IceServers,
    NewCall, StartCallRequest,
};
use crate::api::common::Pagination;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::routes::common::int_param;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/calls")
            .route("", web::get().to(history))
            .route("", web::post().to(start))
            .route("/ice-servers", web::get().to(ice_servers))
            .route("/{id}/answer", web::put().to(answer))
            .route("/{id}/decline", web::put().to(decline))
            .route("/{id}/end", web::put().to(end)),
    );
}

impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::NotFound(what) => ApiError::not_found(what),
            CallError::Forbidden(code, message) => ApiError::forbidden(code, message),
            CallError::Conflict(code, message) => ApiError::conflict(code, message),
            CallError::Invalid(field, message) => ApiError::invalid(field, message),
            CallError::NotLive => ApiError::conflict("call_ended", "the call is over"),
            CallError::Store(e) => e.into(),
        }
    }
}

/// Starts a call in a chat; its other members' devices ring.
#[utoipa::path(post, path = "/api/calls", tag = "calls", request_body = StartCallRequest,
    responses((status = 201, body = CallStarted)))]
pub(crate) async fn start(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<StartCallRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let c = call::initiate(&state.engine, user.user_id, b.chat_id, &b.call_type, None).await?;
    Ok(HttpResponse::Created().json(CallStarted {
        call: NewCall {
            id: c.id,
            chat_id: c.chat_id,
            call_type: c.call_type,
            status: c.status,
            created_at: c.created_at.and_utc(),
        },
    }))
}

async fn act(
    state: &AppState,
    user: &AuthUser,
    id: i64,
    cmd: impl FnOnce(call::CallReply) -> CallCmd,
) -> ApiResult<Call> {
    Ok(call::act(&state.engine, user.user_id, id, cmd).await?)
}

/// The state of a call after an action, with the fields that action tells.
fn call_state(c: Call) -> CallState {
    CallState {
        id: c.id,
        status: c.status,
        started_at: None,
        ended_at: None,
        duration: None,
    }
}

fn acted(call: CallState) -> HttpResponse {
    HttpResponse::Ok().json(CallAction {
        success: true,
        call,
    })
}

/// Answers a ringing call.
#[utoipa::path(put, path = "/api/calls/{id}/answer", tag = "calls",
    params(("id" = i64, Path, description = "call id")),
    responses((status = 200, body = CallAction)))]
pub(crate) async fn answer(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let user_id = user.user_id;
    let c = act(&state, &user, path.into_inner(), |reply| CallCmd::Answer {
        user_id,
        conn: None,
        reply,
    })
    .await?;
    let started_at = Some(c.started_at.map(|t| t.and_utc()));
    Ok(acted(CallState {
        started_at,
        ..call_state(c)
    }))
}

/// Declines a ringing call.
#[utoipa::path(put, path = "/api/calls/{id}/decline", tag = "calls",
    params(("id" = i64, Path, description = "call id")),
    responses((status = 200, body = CallAction)))]
pub(crate) async fn decline(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let user_id = user.user_id;
    let c = act(&state, &user, path.into_inner(), |reply| CallCmd::Decline {
        user_id,
        reply,
    })
    .await?;
    Ok(acted(call_state(c)))
}

/// Ends (or cancels) a call.
#[utoipa::path(put, path = "/api/calls/{id}/end", tag = "calls",
    params(("id" = i64, Path, description = "call id")),
    responses((status = 200, body = CallAction)))]
pub(crate) async fn end(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let user_id = user.user_id;
    let c = act(&state, &user, path.into_inner(), |reply| CallCmd::End {
        user_id,
        reply,
    })
    .await?;
    let (ended_at, duration) = (Some(c.ended_at.map(|t| t.and_utc())), Some(c.duration));
    Ok(acted(CallState {
        ended_at,
        duration,
        ..call_state(c)
    }))
}

/// The caller's and the callees' view alike: every call in the user's chats, newest first.
#[utoipa::path(get, path = "/api/calls", tag = "calls",
    params(
        ("page" = Option<i64>, Query, minimum = 1, maximum = 1000000, description = "from 1"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "default 20"),
    ),
    responses((status = 200, body = CallHistory)))]
pub(crate) async fn history(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let page = int_param(&q, "page", 1, 1, 1_000_000)?;
    let limit = int_param(&q, "limit", 20, 1, 100)?;
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let (rows, total) = store::history(&mut conn, user.user_id, limit, (page - 1) * limit).await?;
    let mut chat_ids: Vec<i64> = rows.iter().map(|c| c.chat_id).collect();
    chat_ids.sort_unstable();
    chat_ids.dedup();
    let chats: HashMap<i64, chats::Chat> = chats::by_ids(&mut conn, &chat_ids)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let members = chats::participants_of(&mut conn, &chat_ids).await?;
    let calls = rows
        .iter()
        .map(|c| {
            let chat = match chats.get(&c.chat_id) {
                Some(ch) if ch.is_group() => CallChat {
                    id: c.chat_id,
                    chat_type: "group".into(),
                    name: Some(ch.name.clone()),
                    participant: None,
                },
                _ => {
                    let other = members
                        .iter()
                        .find(|(p, _)| p.chat_id == c.chat_id && p.user_id != user.user_id);
                    CallChat {
                        id: c.chat_id,
                        chat_type: "private".into(),
                        name: None,
                        participant: Some(other.map(|(_, u)| UserBrief::of(u))),
                    }
                }
            };
            let caller = members
                .iter()
                .find(|(p, _)| p.chat_id == c.chat_id && p.user_id == c.caller_id);
            let direction = if c.caller_id == user.user_id {
                "outgoing"
            } else {
                "incoming"
            };
            CallItem {
                id: c.id,
                chat,
                caller: caller.map(|(_, u)| UserBrief::of(u)),
                direction: direction.into(),
                call_type: c.call_type.clone(),
                status: c.status.clone(),
                duration: c.duration,
                started_at: c.started_at.map(|t| t.and_utc()),
                ended_at: c.ended_at.map(|t| t.and_utc()),
                created_at: c.created_at.and_utc(),
            }
        })
        .collect();
    let answer = CallHistory {
        calls,
        pagination: Pagination::new(page, limit, total),
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}

/// STUN and TURN servers, TURN with credentials in the TURN REST API scheme (coturn
/// `use-auth-secret`): username `expiry:user_id`, password base64(HMAC-SHA1(secret, username)).
#[utoipa::path(get, path = "/api/calls/ice-servers", tag = "calls",
    responses((status = 200, body = IceServers)))]
pub(crate) async fn ice_servers(
    state: web::Data<AppState>,
    user: AuthUser,
) -> ApiResult<HttpResponse> {
    let c = &state.settings.calls;
    let mut servers = Vec::new();
    if !c.stun_urls.is_empty() {
        servers.push(IceServer {
            urls: c.stun_urls.clone(),
            username: None,
            credential: None,
            credential_type: None,
        });
    }
    if !c.turn_urls.is_empty() {
        let expiry = state.engine.clock.now() + TimeDelta::seconds(c.turn_ttl_secs as i64);
        let username = format!("{}:{}", expiry.and_utc().timestamp(), user.user_id);
        // unwrap: HMAC accepts keys of any length.
        let mut mac = Hmac::<Sha1>::new_from_slice(c.turn_secret.as_bytes()).unwrap();
        mac.update(username.as_bytes());
        let credential = BASE64.encode(mac.finalize().into_bytes());
        servers.push(IceServer {
            urls: c.turn_urls.clone(),
            username: Some(username),
            credential: Some(credential),
            credential_type: Some("password".into()),
        });
    }
    Ok(HttpResponse::Ok().json(IceServers {
        ice_servers: servers,
        ttl: c.turn_ttl_secs,
    }))
}
