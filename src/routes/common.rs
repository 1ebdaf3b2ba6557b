//! What the routes of several resources share: asking a chat's room and waiting for its
//! answer, integer query parameters, and a chat as one of its (current or former) members
//! reaches it.

use std::collections::HashMap;

use courier_actors::room::{Reply, RoomCmd};
use courier_actors::store::chats::{self, Chat, Participant};
use courier_actors::store::Conn;
use tokio::sync::oneshot;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Runs a room command and waits for its answer.
pub async fn ask_room<T>(
    state: &AppState,
    chat_id: i64,
    cmd: impl FnOnce(Reply<T>) -> RoomCmd,
) -> ApiResult<T> {
    let (reply, answer) = oneshot::channel();
    state.engine.room(chat_id, cmd(reply));
    answer
        .await
        .map_err(|_| {
            ApiError::new(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "chat unavailable; try again",
            )
        })?
        .map_err(ApiError::from)
}

/// An integer query parameter within bounds (422 naming it otherwise).
pub fn int_param(
    q: &HashMap<String, String>,
    name: &str,
    default: i64,
    min: i64,
    max: i64,
) -> ApiResult<i64> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(
                name,
                format!("must be a whole number from {min} to {max}"),
            )),
        },
    }
}

/// The chat and the caller's participant row (current or former member), or 404.
pub async fn access(
    conn: &mut Conn<'_>,
    chat_id: i64,
    user_id: i64,
) -> ApiResult<(Chat, Participant)> {
    let chat = chats::find(conn, chat_id)
        .await?
        .ok_or_else(|| ApiError::not_found("chat"))?;
    let members = chats::participants(conn, chat_id).await?;
    members
        .into_iter()
        .find(|(p, _)| p.user_id == user_id)
        .map(|(p, _)| (chat, p))
        .ok_or_else(|| ApiError::not_found("chat"))
}
