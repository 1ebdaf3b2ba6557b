//! `GET /api/sync?since=&limit=`: the REST form of the native `sync` frame, for clients
//! without a native socket (Pusher / Laravel Echo clients catching up after a disconnect).
//! Same answer as `sync-result`: the changes after a cursor, oldest first.
//! `GET /api/sync/cursor`: the current cursor, for a device that loads the chat list and
//! histories over REST and only needs what changes from then on (the web client).

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use courier_actors::store::sync::{self, SyncView};

use crate::api::sync::SyncCursor;
use crate::error::ApiResult;
use crate::extract::AuthUser;
use crate::routes::common::int_param;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sync", web::get().to(since))
        .route("/sync/cursor", web::get().to(cursor));
}

/// The changes after a cursor, oldest first: the REST form of the WebSocket `sync` frame.
#[utoipa::path(get, path = "/api/sync", tag = "sync",
    params(
        ("since" = Option<i64>, Query, minimum = 0, description = "the cursor of the last page (0 on a new device)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "default 200"),
    ),
    responses((status = 200, body = SyncView)))]
pub(crate) async fn since(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let from = int_param(&q, "since", 0, 0, i64::MAX)?;
    let limit = int_param(&q, "limit", 200, 1, 1000)?;
    let mut conn = state.engine.db.get().await?;
    let page = sync::since(&mut conn.conn(), user.user_id, from, limit).await?;
    Ok(HttpResponse::Ok().json(state.signed(page.view())))
}

/// The current sync cursor. Read it before loading the chat list and histories over REST, then
/// `sync` from it: nothing that changed in between is missed, and nothing older is fetched.
#[utoipa::path(get, path = "/api/sync/cursor", tag = "sync",
    responses((status = 200, body = SyncCursor)))]
pub(crate) async fn cursor(state: web::Data<AppState>, _user: AuthUser) -> ApiResult<HttpResponse> {
    let mut conn = state.engine.db.get().await?;
    let cursor = sync::latest(&mut conn.conn()).await?;
    Ok(HttpResponse::Ok().json(SyncCursor { cursor }))
}
