//! Pusher's HTTP API, so a Laravel backend's `pusher` broadcaster (or the Node `pusher`
//! library) publishes to Courier as it would to Reverb: `POST /apps/{app_id}/events` and
//! `/batch_events`, `GET /apps/{app_id}/channels`, `/channels/{name}` and
//! `/channels/{name}/users`, each checked with Pusher's request signature ([`signature`]).
//!
//! An event for one of Courier's channels (`private-user.{id}`, `private-chat.{id}`,
//! `presence-chat.{id}`) goes through the engine like any other: to the Pusher sockets
//! subscribed to it and to the native `/ws` sessions of the users the channel belongs to. An
//! event for any other channel goes to its Pusher subscribers only.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use courier_actors::bus::Delivery;
use courier_actors::pusher::codec::{self, ChannelKind};
use courier_actors::pusher::Hub;
use courier_actors::store::chats;
use serde_json::Value;

use super::auth::{target, Target};
use super::signature;
use crate::api::pusher::{
    BatchPublished, BatchRequest as Batch, ChannelAttributes, ChannelInfo, ChannelList,
    ChannelUser, ChannelUsers, EventFrame, PublishRequest as Publish, Published,
};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Channels one event may name, and events one batch may hold (Pusher's limits).
const MAX_CHANNELS: usize = 100;
const MAX_BATCH: usize = 10;
/// Distinct event names published over this API that the server keeps (engine events name
/// themselves with static strings; these are interned once each).
const MAX_NAMES: usize = 1000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/apps/{app_id}/events", web::post().to(events))
        .route("/apps/{app_id}/batch_events", web::post().to(batch_events))
        .route("/apps/{app_id}/channels", web::get().to(channels))
        .route("/apps/{app_id}/channels/{name}", web::get().to(channel))
        .route("/apps/{app_id}/channels/{name}/users", web::get().to(users));
}

/// The hub, once the app id and the request's signature check out.
fn checked(req: &HttpRequest, body: &[u8], state: &AppState) -> ApiResult<Arc<Hub>> {
    let hub = state
        .pusher
        .clone()
        .ok_or_else(|| ApiError::not_found("resource"))?;
    let app_id = req.match_info().get("app_id").unwrap_or("");
    if app_id != hub.app.app_id {
        return Err(ApiError::not_found("app"));
    }
    let now = state.engine.clock.now_utc().timestamp();
    signature::check(
        req.method().as_str(),
        req.path(),
        req.query_string(),
        body,
        &hub.app.key,
        &hub.app.secret,
        now,
    )
    .map_err(|e| ApiError::unauthorized(e.0))?;
    Ok(hub)
}

/// An event name for the engine: interned, at most [`MAX_NAMES`] distinct ones.
fn intern(name: &str) -> ApiResult<&'static str> {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(n) = names.get(name) {
        return Ok(n);
    }
    if names.len() >= MAX_NAMES {
        return Err(ApiError::bad_request(
            "too_many_event_names",
            format!("at most {MAX_NAMES} distinct event names are accepted"),
        ));
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    Ok(leaked)
}

/// Checks an event and answers its channels.
fn validate(p: &Publish, hub: &Hub) -> ApiResult<Vec<String>> {
    let reserved = p.name.starts_with("pusher:") || p.name.starts_with("pusher_internal:");
    if p.name.is_empty() || p.name.len() > 200 || reserved {
        return Err(ApiError::invalid(
            "name",
            "must be 1 to 200 characters, not starting with pusher:",
        ));
    }
    if p.data.len() > hub.app.max_event_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("data is limited to {} bytes", hub.app.max_event_bytes),
        ));
    }
    let channels: Vec<String> = match (&p.channel, &p.channels) {
        (Some(c), None) => vec![c.clone()],
        (None, Some(cs)) => cs.clone(),
        _ => {
            return Err(ApiError::invalid(
                "channels",
                "give either channel or channels",
            ))
        }
    };
    if channels.is_empty() || channels.len() > MAX_CHANNELS {
        return Err(ApiError::invalid(
            "channels",
            format!("must name 1 to {MAX_CHANNELS} channels"),
        ));
    }
    if let Some(bad) = channels.iter().find(|c| !codec::valid_channel(c)) {
        return Err(ApiError::invalid(
            "channels",
            format!("invalid channel name {bad:?}"),
        ));
    }
    if p.socket_id
        .as_deref()
        .is_some_and(|s| !codec::valid_socket_id(s))
    {
        return Err(ApiError::invalid("socket_id", "must look like 123.456"));
    }
    Ok(channels)
}

/// Publishes one checked event on its channels.
async fn publish(state: &AppState, hub: &Hub, p: Publish, channels: Vec<String>) -> ApiResult<()> {
    let name = intern(&p.name)?;
    // Data that is JSON reaches native clients as JSON; anything else as a string.
    let value: Value = serde_json::from_str(&p.data).unwrap_or(Value::String(p.data.clone()));
    let skip = p.socket_id.as_deref().and_then(|s| hub.conn_of(s));
    for channel in channels {
        let users = match target(&channel) {
            Some(Target::User(id)) => Some(vec![id]),
            Some(Target::Chat(id) | Target::Presence(id)) => {
                let mut conn = state.engine.db.get().await?;
                let members = chats::participants(&mut conn.conn(), id).await?;
                Some(
                    members
                        .into_iter()
                        .filter(|(p, _)| p.is_current())
                        .map(|(p, _)| p.user_id)
                        .collect(),
                )
            }
            None => None,
        };
        match users {
            Some(users) => state.engine.bus.publish(Delivery {
                users,
                event: state.engine.event(name, channel, None, value.clone()),
                skip,
                only: None,
                order: None,
            }),
            None => {
                let frame = EventFrame {
                    event: name,
                    channel: &channel,
                    data: &p.data,
                };
                let text = serde_json::to_string(&frame).map_err(ApiError::internal)?;
                hub.broadcast(&channel, text, p.socket_id.as_deref());
            }
        }
    }
    Ok(())
}

/// Publishes an event (Pusher's HTTP API, signed with the app secret).
#[utoipa::path(post, path = "/apps/{app_id}/events", tag = "pusher",
    params(
        ("app_id" = String, Path, description = "the configured `pusher.app_id`"),
        ("auth_key" = String, Query, description = "the app key"),
        ("auth_timestamp" = i64, Query, description = "Unix seconds (within 600 s of the server's clock)"),
        ("auth_version" = String, Query, description = "`1.0`"),
        ("body_md5" = Option<String>, Query, description = "hex MD5 of the body (requests with one)"),
        ("auth_signature" = String, Query, description = "hex HMAC-SHA256 of the request, Pusher's scheme"),
    ),
    request_body = Publish,
    responses((status = 200, body = Published)))]
pub(crate) async fn events(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let hub = checked(&req, &body, &state)?;
    let p: Publish = crate::extract::parse(&body)?;
    let channels = validate(&p, &hub)?;
    publish(&state, &hub, p, channels).await?;
    Ok(HttpResponse::Ok().json(Published {}))
}

/// Publishes up to 10 events; a batch with one bad event publishes nothing.
#[utoipa::path(post, path = "/apps/{app_id}/batch_events", tag = "pusher",
    params(
        ("app_id" = String, Path, description = "the configured `pusher.app_id`"),
        ("auth_key" = String, Query, description = "the app key"),
        ("auth_timestamp" = i64, Query, description = "Unix seconds (within 600 s of the server's clock)"),
        ("auth_version" = String, Query, description = "`1.0`"),
        ("body_md5" = Option<String>, Query, description = "hex MD5 of the body (requests with one)"),
        ("auth_signature" = String, Query, description = "hex HMAC-SHA256 of the request, Pusher's scheme"),
    ),
    request_body = Batch,
    responses((status = 200, body = BatchPublished)))]
pub(crate) async fn batch_events(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let hub = checked(&req, &body, &state)?;
    let b: Batch = crate::extract::parse(&body)?;
    if b.batch.is_empty() || b.batch.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "batch",
            format!("must hold 1 to {MAX_BATCH} events"),
        ));
    }
    // Every event is checked before any is published: a bad batch publishes nothing.
    let mut checked_events = Vec::with_capacity(b.batch.len());
    for p in b.batch {
        let channels = validate(&p, &hub)?;
        checked_events.push((p, channels));
    }
    for (p, channels) in checked_events {
        publish(&state, &hub, p, channels).await?;
    }
    Ok(HttpResponse::Ok().json(BatchPublished { batch: Vec::new() }))
}

fn info_wants(q: &HashMap<String, String>, what: &str) -> bool {
    q.get("info")
        .is_some_and(|i| i.split(',').any(|x| x.trim() == what))
}

/// The occupied channels.
#[utoipa::path(get, path = "/apps/{app_id}/channels", tag = "pusher",
    params(
        ("app_id" = String, Path, description = "the configured `pusher.app_id`"),
        ("auth_key" = String, Query, description = "the app key"),
        ("auth_timestamp" = i64, Query, description = "Unix seconds (within 600 s of the server's clock)"),
        ("auth_version" = String, Query, description = "`1.0`"),
        ("body_md5" = Option<String>, Query, description = "hex MD5 of the body (requests with one)"),
        ("auth_signature" = String, Query, description = "hex HMAC-SHA256 of the request, Pusher's scheme"),
        ("filter_by_prefix" = Option<String>, Query, description = "e.g. `presence-`"),
        ("info" = Option<String>, Query, description = "`user_count`"),
    ),
    responses((status = 200, body = ChannelList)))]
pub(crate) async fn channels(
    req: HttpRequest,
    q: web::Query<HashMap<String, String>>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let hub = checked(&req, b"", &state)?;
    let prefix = q.get("filter_by_prefix").map(String::as_str).unwrap_or("");
    let users = info_wants(&q, "user_count");
    let mut channels = std::collections::BTreeMap::new();
    for (name, _, members) in hub.channels() {
        if !name.starts_with(prefix) {
            continue;
        }
        let user_count =
            (users && ChannelKind::of(&name) == ChannelKind::Presence).then_some(members);
        channels.insert(name, ChannelAttributes { user_count });
    }
    Ok(HttpResponse::Ok().json(ChannelList { channels }))
}

/// One channel's state.
#[utoipa::path(get, path = "/apps/{app_id}/channels/{name}", tag = "pusher",
    params(
        ("app_id" = String, Path, description = "the configured `pusher.app_id`"),
        ("auth_key" = String, Query, description = "the app key"),
        ("auth_timestamp" = i64, Query, description = "Unix seconds (within 600 s of the server's clock)"),
        ("auth_version" = String, Query, description = "`1.0`"),
        ("body_md5" = Option<String>, Query, description = "hex MD5 of the body (requests with one)"),
        ("auth_signature" = String, Query, description = "hex HMAC-SHA256 of the request, Pusher's scheme"),
        ("name" = String, Path, description = "channel name"),
        ("info" = Option<String>, Query, description = "`subscription_count`, `user_count`"),
    ),
    responses((status = 200, body = ChannelInfo)))]
pub(crate) async fn channel(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<HashMap<String, String>>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let hub = checked(&req, b"", &state)?;
    let name = &path.1;
    let (subscribers, _) = hub.channel(name).unwrap_or((0, 0));
    let presence = ChannelKind::of(name) == ChannelKind::Presence;
    let members = match presence {
        true => all_members(&state, &hub, name).await.len(),
        false => 0,
    };
    Ok(HttpResponse::Ok().json(ChannelInfo {
        occupied: subscribers > 0 || members > 0,
        subscription_count: info_wants(&q, "subscription_count").then_some(subscribers),
        user_count: (info_wants(&q, "user_count") && presence).then_some(members),
    }))
}

/// A presence channel's members.
#[utoipa::path(get, path = "/apps/{app_id}/channels/{name}/users", tag = "pusher",
    params(
        ("app_id" = String, Path, description = "the configured `pusher.app_id`"),
        ("auth_key" = String, Query, description = "the app key"),
        ("auth_timestamp" = i64, Query, description = "Unix seconds (within 600 s of the server's clock)"),
        ("auth_version" = String, Query, description = "`1.0`"),
        ("body_md5" = Option<String>, Query, description = "hex MD5 of the body (requests with one)"),
        ("auth_signature" = String, Query, description = "hex HMAC-SHA256 of the request, Pusher's scheme"),
        ("name" = String, Path, description = "a presence channel's name"),
    ),
    responses((status = 200, body = ChannelUsers)))]
pub(crate) async fn users(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let hub = checked(&req, b"", &state)?;
    let name = &path.1;
    if ChannelKind::of(name) != ChannelKind::Presence {
        return Err(ApiError::bad_request(
            "not_presence",
            "only presence channels have users",
        ));
    }
    let users = all_members(&state, &hub, name)
        .await
        .into_iter()
        .map(|id| ChannelUser { id: id.to_string() })
        .collect();
    Ok(HttpResponse::Ok().json(ChannelUsers { users }))
}

/// A presence channel's members: this node's, and in a cluster those of the other live nodes
/// (each user once). With Redis away, this node's alone.
async fn all_members(state: &AppState, hub: &Hub, name: &str) -> Vec<i64> {
    let mut ids: std::collections::BTreeSet<i64> = hub.members(name).into_iter().collect();
    if let Some(cluster) = &state.engine.cluster {
        match cluster.members_elsewhere(name).await {
            Ok(elsewhere) => ids.extend(elsewhere.into_iter().map(|(id, _)| id)),
            Err(e) => tracing::warn!(error = %e, "other nodes' presence members unknown (Redis)"),
        }
    }
    ids.into_iter().collect()
}
