//! `POST /broadcasting/auth`: Laravel Echo's channel authorization, with the Courier access
//! token as Bearer. The body (JSON or form) names `socket_id` and `channel_name`; the answer
//! is `{"auth": "key:signature"}` (and `channel_data` for presence channels). Only the user
//! gets `private-user.{own id}`; only current members get a chat's `private-chat.{id}` and
//! `presence-chat.{id}`; anything else is 403, unknown chats alike (nothing leaks).

use crate::api::pusher::{ChannelAuth, ChannelAuthRequest as AuthRequest, ChannelData, MemberInfo};
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use courier_actors::pusher::codec::{self, ChannelKind};
use courier_actors::pusher::{Grant, GrantError, Member};
use courier_actors::store::users::Visibility;
use courier_actors::store::{chats, users};

/// Largest body accepted.
const MAX_BODY: usize = 4096;

/// Users of a chat a presence subscription watches the presence of.
const MAX_WATCH: usize = 100;

/// The channels Courier authorizes.
#[derive(Debug, PartialEq)]
pub(super) enum Target {
    User(i64),
    Chat(i64),
    Presence(i64),
}

pub(super) fn target(channel: &str) -> Option<Target> {
    let id = |rest: &str| rest.parse::<i64>().ok().filter(|id| *id > 0);
    if let Some(rest) = channel.strip_prefix("private-user.") {
        return id(rest).map(Target::User);
    }
    if let Some(rest) = channel.strip_prefix("private-chat.") {
        return id(rest).map(Target::Chat);
    }
    channel
        .strip_prefix("presence-chat.")
        .and_then(id)
        .map(Target::Presence)
}

fn refused() -> ApiError {
    ApiError::forbidden("forbidden", "you may not subscribe to this channel")
}

fn parse(req: &HttpRequest, body: &[u8]) -> ApiResult<AuthRequest> {
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let parsed: AuthRequest = if form {
        serde_urlencoded::from_bytes(body)
            .map_err(|e| ApiError::invalid("body", format!("malformed form: {e}")))?
    } else {
        crate::extract::parse(body)?
    };
    if !codec::valid_socket_id(&parsed.socket_id) {
        return Err(ApiError::invalid("socket_id", "must look like 123.456"));
    }
    if !codec::valid_channel(&parsed.channel_name) {
        return Err(ApiError::invalid(
            "channel_name",
            "is not a valid channel name",
        ));
    }
    Ok(parsed)
}

/// Laravel Echo's channel authorization, with the Courier access token as bearer.
#[utoipa::path(post, path = "/broadcasting/auth", tag = "pusher",
    request_body(content(
        (AuthRequest = "application/json"),
        (AuthRequest = "application/x-www-form-urlencoded"),
    )),
    responses((status = 200, body = ChannelAuth)))]
pub async fn authorize(
    req: HttpRequest,
    user: AuthUser,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let hub = state
        .pusher
        .clone()
        .ok_or_else(|| ApiError::not_found("resource"))?;
    if body.len() > MAX_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {MAX_BODY} bytes"),
        ));
    }
    let AuthRequest {
        socket_id,
        channel_name: channel,
    } = parse(&req, &body)?;
    if ChannelKind::of(&channel) == ChannelKind::Public {
        return Err(ApiError::invalid(
            "channel_name",
            "public channels need no authorization",
        ));
    }
    let me = user.user_id;
    let mut conn = state.engine.db.get().await?;
    let mut grant = Grant {
        member: None,
        watch: Vec::new(),
    };
    let mut channel_data = None;
    match target(&channel).ok_or_else(refused)? {
        Target::User(id) => {
            if id != me {
                return Err(refused());
            }
        }
        Target::Chat(chat) => {
            chats::find_for_member(&mut conn.conn(), chat, me)
                .await?
                .ok_or_else(refused)?;
        }
        Target::Presence(chat) => {
            chats::find_for_member(&mut conn.conn(), chat, me)
                .await?
                .ok_or_else(refused)?;
            let me_row = users::find(&mut conn.conn(), me)
                .await?
                .ok_or_else(refused)?;
            // Other members see the name always (they see it on every message), the photo
            // only if it is shown to everyone; a user whose last seen is not shown to
            // everyone is not listed as a member (that would tell when they are online).
            let avatar = (me_row.photo_visibility() == Visibility::Everyone)
                .then(|| me_row.avatar_url.clone())
                .flatten();
            let data = ChannelData {
                user_id: me,
                user_info: state.signed(MemberInfo {
                    id: me,
                    name: me_row.name.clone(),
                    avatar_url: avatar,
                }),
            };
            let info = serde_json::to_value(&data.user_info).map_err(ApiError::internal)?;
            let data = serde_json::to_string(&data).map_err(ApiError::internal)?;
            grant.member = Some(Member {
                user_id: me,
                info,
                listed: me_row.last_seen_visibility() == Visibility::Everyone,
            });
            grant.watch = chats::participants(&mut conn.conn(), chat)
                .await?
                .into_iter()
                .filter(|(p, _)| p.is_current() && p.user_id != me)
                .map(|(p, _)| p.user_id)
                .take(MAX_WATCH)
                .collect();
            channel_data = Some(data);
        }
    }
    drop(conn);
    hub.grant(&socket_id, (me, user.session_id), &channel, grant)
        .await
        .map_err(|e| match e {
            GrantError::UnknownSocket => ApiError::forbidden(
                "unknown_socket",
                "no live Pusher socket has this socket_id on this server",
            ),
            GrantError::OtherUser => {
                ApiError::forbidden("forbidden", "this socket belongs to another user")
            }
            GrantError::TooMany => ApiError::forbidden(
                "too_many_channels",
                "this socket holds as many channel authorizations as it may",
            ),
            GrantError::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the socket is on another node, which cannot be reached now",
            ),
        })?;
    let app = &hub.app;
    let auth = codec::auth_string(
        &app.key,
        &app.secret,
        &socket_id,
        &channel,
        channel_data.as_deref(),
    );
    Ok(HttpResponse::Ok().json(ChannelAuth { auth, channel_data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_channels_courier_authorizes() {
        assert_eq!(target("private-user.7"), Some(Target::User(7)));
        assert_eq!(target("private-chat.42"), Some(Target::Chat(42)));
        assert_eq!(target("presence-chat.42"), Some(Target::Presence(42)));
        assert_eq!(target("private-chat.x"), None);
        assert_eq!(target("private-chat.-1"), None);
        assert_eq!(target("private-other.1"), None);
    }
}
