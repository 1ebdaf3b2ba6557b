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
use serde::Deserialize;
use serde_json::{json, Value};
use sha1::Sha1;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::routes::chats::int_param;
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

#[derive(Deserialize)]
struct StartBody {
    chat_id: i64,
    call_type: String,
}

async fn start(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<StartBody>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let c = call::initiate(&state.engine, user.user_id, b.chat_id, &b.call_type, None).await?;
    Ok(HttpResponse::Created().json(json!({
        "call": {
            "id": c.id,
            "chat_id": c.chat_id,
            "call_type": c.call_type,
            "status": c.status,
            "created_at": c.created_at.and_utc(),
        }
    })))
}

async fn act(
    state: &AppState,
    user: &AuthUser,
    id: i64,
    cmd: impl FnOnce(call::CallReply) -> CallCmd,
) -> ApiResult<Call> {
    Ok(call::act(&state.engine, user.user_id, id, cmd).await?)
}

async fn answer(
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
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "call": { "id": c.id, "status": c.status, "started_at": c.started_at.map(|t| t.and_utc()) },
    })))
}

async fn decline(
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
    Ok(HttpResponse::Ok()
        .json(json!({ "success": true, "call": { "id": c.id, "status": c.status } })))
}

async fn end(
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
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "call": {
            "id": c.id,
            "status": c.status,
            "ended_at": c.ended_at.map(|t| t.and_utc()),
            "duration": c.duration,
        },
    })))
}

/// The caller's and the callees' view alike: every call in the user's chats, newest first.
async fn history(
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
    let items: Vec<Value> = rows
        .iter()
        .map(|c| {
            let chat = chats.get(&c.chat_id);
            let mut chat_json = json!({ "id": c.chat_id });
            match chat {
                Some(ch) if ch.is_group() => {
                    chat_json["type"] = json!("group");
                    chat_json["name"] = json!(ch.name);
                }
                _ => {
                    chat_json["type"] = json!("private");
                    let other = members
                        .iter()
                        .find(|(p, _)| p.chat_id == c.chat_id && p.user_id != user.user_id);
                    chat_json["participant"] = json!(other.map(|(_, u)| UserBrief::of(u)));
                }
            }
            let caller = members
                .iter()
                .find(|(p, _)| p.chat_id == c.chat_id && p.user_id == c.caller_id);
            json!({
                "id": c.id,
                "chat": chat_json,
                "caller": caller.map(|(_, u)| UserBrief::of(u)),
                "direction": if c.caller_id == user.user_id { "outgoing" } else { "incoming" },
                "call_type": c.call_type,
                "status": c.status,
                "duration": c.duration,
                "started_at": c.started_at.map(|t| t.and_utc()),
                "ended_at": c.ended_at.map(|t| t.and_utc()),
                "created_at": c.created_at.and_utc(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "calls": items,
        "pagination": {
            "current_page": page,
            "per_page": limit,
            "total_pages": (total + limit - 1) / limit,
            "total_items": total,
        }
    })))
}

/// STUN and TURN servers, TURN with credentials in the TURN REST API scheme (coturn
/// `use-auth-secret`): username `expiry:user_id`, password base64(HMAC-SHA1(secret, username)).
async fn ice_servers(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let c = &state.settings.calls;
    let mut servers = Vec::new();
    if !c.stun_urls.is_empty() {
        servers.push(json!({ "urls": c.stun_urls }));
    }
    if !c.turn_urls.is_empty() {
        let expiry = state.engine.clock.now() + TimeDelta::seconds(c.turn_ttl_secs as i64);
        let username = format!("{}:{}", expiry.and_utc().timestamp(), user.user_id);
        // unwrap: HMAC accepts keys of any length.
        let mut mac = Hmac::<Sha1>::new_from_slice(c.turn_secret.as_bytes()).unwrap();
        mac.update(username.as_bytes());
        let credential = BASE64.encode(mac.finalize().into_bytes());
        servers.push(json!({
            "urls": c.turn_urls,
            "username": username,
            "credential": credential,
            "credential_type": "password",
        }));
    }
    Ok(HttpResponse::Ok().json(json!({ "ice_servers": servers, "ttl": c.turn_ttl_secs })))
}
