//! `/api/user/export`: a copy of the caller's data, as a ZIP built in the background.

use actix_web::{web, HttpResponse};
use chrono::TimeDelta;
use courier_actors::store::exports::{self, Export, StartExport};

use crate::api::users::{ExportAnswer, ExportView};
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::state::AppState;

fn view(state: &AppState, e: &Export) -> ExportView {
    let live = e.expires_at.is_some_and(|t| t > state.engine.clock.now());
    ExportView {
        id: e.id,
        status: e.status.clone(),
        created_at: e.created_at.and_utc(),
        finished_at: e.finished_at.map(|t| t.and_utc()),
        size: e.size,
        download_url: e
            .object_key
            .as_deref()
            .filter(|_| live)
            .map(|key| state.engine.storage.link(key)),
        expires_at: e.expires_at.map(|t| t.and_utc()),
        error: e.error.clone(),
    }
}

/// Starts an export of the caller's data: profile, contacts, every chat and message they can
/// see, their own files. 202 with the export (`pending`); while one is being built, that one.
/// At most `limits.exports_per_day` (default 3) a day.
#[utoipa::path(post, path = "/api/user/export", tag = "users",
    responses((status = 202, body = ExportAnswer)))]
pub(crate) async fn start(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let limit = state.settings.limits.exports_per_day;
    state
        .engine
        .limiter
        .hit(
            &format!("export:{}", user.user_id),
            limit,
            TimeDelta::days(1),
        )
        .await
        .map_err(ApiError::too_many)?;
    let (export, new) = state
        .write(StartExport {
            user_id: user.user_id,
        })
        .await?;
    if new {
        state.engine.spawn_export(export.clone());
    }
    Ok(HttpResponse::Accepted().json(ExportAnswer {
        export: view(&state, &export),
    }))
}

/// The caller's latest export: its progress, then a signed link to the ZIP until it expires.
/// 404 when they never asked for one.
#[utoipa::path(get, path = "/api/user/export", tag = "users",
    responses((status = 200, body = ExportAnswer)))]
pub(crate) async fn show(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let mut conn = state.engine.db.get().await?;
    let export = exports::latest(&mut conn.conn(), user.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("export"))?;
    Ok(HttpResponse::Ok().json(ExportAnswer {
        export: view(&state, &export),
    }))
}
