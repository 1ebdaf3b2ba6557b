//! `GET /ws`: the WebSocket endpoint. The token (`Authorization: Bearer` or `?token=` for
//! browsers) is checked before the upgrade: a bad one gets a JSON 401, not a socket. A user
//! who connects more often than `realtime.connects_per_minute`, or already holds
//! `realtime.max_sockets_per_user` sockets, gets a JSON 429.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use courier_actors::session::WsSession;

use crate::error::{ApiError, ApiResult};
use crate::extract::{authenticate, bearer};
use crate::state::AppState;
use crate::upgrade;

/// Frames larger than this end the connection (1009); frames up to `realtime.max_frame_bytes`
/// are read, and those between the two get an `error` frame with the socket kept open.
const HARD_FRAME_LIMIT: usize = 1024 * 1024;

pub async fn connect(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    if state.shutdown.is_started() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the server is shutting down; connect again in a moment",
        ));
    }
    let token = bearer(&req)
        .map(str::to_string)
        .or_else(|| query_token(req.query_string()))
        .ok_or_else(|| {
            ApiError::unauthorized("missing token (Authorization: Bearer or ?token=)")
        })?;
    let user = authenticate(&state, &token).await?;
    req.extensions_mut()
        .insert(crate::request_log::RequestUser(user.user_id));
    // Each connect costs a sign-in check, an upgrade and a presence
    // change: a client that reconnects in a loop is slowed down here, evenly (a sixth of the
    // minute's allowance in any ten seconds), so that it cannot spend the minute in a burst.
    let per_minute = state.settings.realtime.connects_per_minute;
    state
        .engine
        .limiter
        .hit(
            &format!("ws-connect:{}", user.user_id),
            per_minute.div_ceil(6),
            chrono::TimeDelta::seconds(10),
        )
        .await
        .map_err(ApiError::too_many)?;
    let slot = state
        .engine
        .sockets
        .take(user.user_id, state.engine.clock.now())
        .await
        .ok_or_else(|| {
            ApiError::new(
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_sockets",
                format!(
                    "at most {} sockets per user; close one first",
                    state.engine.sockets.max_per_user()
                ),
            )
        })?;
    let limit = HARD_FRAME_LIMIT.max(state.settings.realtime.max_frame_bytes * 2);
    let engine = state.shared_engine.clone();
    upgrade::accept(&req, limit, move |socket| {
        WsSession::start(user.user_id, user.session_id, engine, slot, socket);
    })
}

fn query_token(query: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}
