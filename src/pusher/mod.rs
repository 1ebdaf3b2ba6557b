//! The Pusher protocol's edge: `GET /app/{key}` (the WebSocket, see [`connect`]) and
//! `POST /broadcasting/auth` (channel authorization, see [`auth`]), and Pusher's HTTP events
//! API ([`api`]). The socket is not
//! authenticated when it connects: it is bound to a user by its first authorized
//! subscription. Until then it counts under the per-address caps only
//! (`server.max_connections_per_ip`, `pusher.connects_per_ip_per_minute`); once bound, under
//! the user's `realtime.max_sockets_per_user` as well.

pub mod api;
pub mod auth;
pub mod config;
pub mod signature;

pub use config::PusherSettings;

use actix_web::{web, HttpRequest, HttpResponse};
use courier_actors::pusher::codec::{codes, PROTOCOL};
use courier_actors::pusher::PusherSocket;

use crate::error::{ApiError, ApiResult};
use crate::extract::client_ip;
use crate::state::AppState;
use crate::upgrade;

/// Frames larger than this end the connection (1009).
const HARD_FRAME_LIMIT: usize = 1024 * 1024;

/// The routes, when the protocol is on.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/{key}", web::get().to(connect))
        .route("/broadcasting/auth", web::post().to(auth::authorize))
        .configure(api::routes);
}

/// `GET /app/{key}?protocol=7`: upgrades, then refuses with the protocol's error (4001
/// unknown app key, 4007 unsupported protocol) or starts the socket.
pub async fn connect(
    req: HttpRequest,
    key: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let hub = state
        .pusher
        .clone()
        .ok_or_else(|| ApiError::not_found("resource"))?;
    let per_minute = state.settings.pusher.connects_per_ip_per_minute;
    state
        .engine
        .limiter
        .hit(
            &format!("pusher-connect:{}", client_ip(&req, &state)),
            per_minute.div_ceil(6),
            chrono::TimeDelta::seconds(10),
        )
        .await
        .map_err(ApiError::too_many)?;
    let protocol = query_param(req.query_string(), "protocol").and_then(|p| p.parse::<u32>().ok());
    let limit = HARD_FRAME_LIMIT.max(state.settings.realtime.max_frame_bytes * 2);
    let engine = state.shared_engine.clone();
    upgrade::accept(&req, limit, move |socket| {
        let refusal = if key.as_str() != hub.app.key {
            Some((codes::UNKNOWN_APP, "App key not in this cluster"))
        } else if protocol != Some(PROTOCOL) {
            Some((
                codes::UNSUPPORTED_PROTOCOL,
                "Unsupported protocol version: this server speaks protocol 7",
            ))
        } else {
            None
        };
        match refusal {
            Some((code, message)) => {
                actix_web::rt::spawn(PusherSocket::refuse(socket.sender, code, message));
            }
            None => {
                PusherSocket::start(hub, engine, socket);
            }
        }
    })
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then_some(v)
    })
}
