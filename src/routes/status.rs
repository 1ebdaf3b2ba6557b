//! `/api/status/*`: 24-hour statuses (text, image or video) shared with one's contacts.

use actix_multipart::Multipart;
use actix_web::{guard, web, HttpResponse};
use chrono::{Datelike, TimeDelta};
use courier_actors::storage::{key_of, stored};
use courier_actors::store::statuses::{self, CreateStatus, DeleteStatus, Status, ViewStatus};
use courier_actors::store::views::UserBrief;

use crate::api::common::Done;
use crate::api::status::{
    MediaStatusForm, StatusCreated, StatusFeed, StatusGroup, StatusItem, StatusViewed,
    StatusViewer, StatusViews, TextStatusRequest,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::media::images::{self, bad_image};
use crate::media::{detached, put_all, receive, upload_id, FileSpec, Kind, Sniffed};
use crate::state::AppState;
use crate::validate;

/// How long a status lives.
pub const LIFETIME: TimeDelta = TimeDelta::hours(24);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/status")
            .route("", web::get().to(list))
            .route(
                "",
                web::post()
                    .guard(guard::fn_guard(crate::media::is_multipart))
                    .to(create_media),
            )
            .route("", web::post().to(create_text))
            .route("/{id}/view", web::post().to(view))
            .route("/{id}/views", web::get().to(views))
            .route("/{id}", web::delete().to(delete)),
    );
}

fn posted(state: &AppState, s: &Status) -> HttpResponse {
    let answer = StatusCreated {
        status: StatusItem::of(s),
    };
    HttpResponse::Created().json(state.signed(answer))
}

fn color(value: Option<String>) -> ApiResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(c)
            if c.len() == 7
                && c.starts_with('#')
                && c[1..].bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(Some(c))
        }
        Some(_) => Err(ApiError::invalid(
            "background_color",
            "must be a colour like #25D366",
        )),
    }
}

fn font(value: Option<String>) -> ApiResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(f)
            if !f.is_empty()
                && f.len() <= 50
                && f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Ok(Some(f))
        }
        Some(_) => Err(ApiError::invalid(
            "font_style",
            "must be up to 50 letters, digits, - or _",
        )),
    }
}

/// Posts a status for 24 hours: JSON for text, a multipart form for an image or video.
#[utoipa::path(post, path = "/api/status", tag = "status",
    request_body(content(
        (TextStatusRequest = "application/json"),
        (MediaStatusForm = "multipart/form-data"),
    )),
    responses((status = 201, body = StatusCreated)))]
pub(crate) async fn create_text(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<TextStatusRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    if b.content_type != "text" {
        return Err(ApiError::invalid(
            "content_type",
            "a JSON status is text; images and videos are multipart uploads",
        ));
    }
    let content = b
        .content
        .ok_or_else(|| ApiError::invalid("content", "is required"))?;
    let content = validate::text("content", &content, 1, 700)?;
    let status = state
        .write(CreateStatus {
            user_id: user.user_id,
            content_type: "text",
            content: Some(content),
            media_url: None,
            background_color: color(b.background_color)?,
            font_style: font(b.font_style)?,
            expires_at: state.engine.clock.now() + LIFETIME,
        })
        .await?;
    Ok(posted(&state, &status))
}

async fn create_media(
    state: web::Data<AppState>,
    user: AuthUser,
    form: Multipart,
) -> ApiResult<HttpResponse> {
    // Runs to the end even if the client goes away, so a failure always cleans up.
    detached(async move {
        let now = state.engine.clock.now();
        let base = format!("status/{}/{:02}/{}", now.year(), now.month(), upload_id());
        // A video goes into the store as it arrives; a photo is re-encoded first.
        let video_key = |s: Sniffed, _: Option<Kind>| format!("{base}.{}", s.ext);
        let spec = FileSpec {
            field: "media",
            kind_field: Some("content_type"),
            declared: None,
            stream_to: Some(&video_key),
        };
        let form = receive(&state, user.user_id, form, spec).await?;
        let (kind, content_type) = match form.text("content_type") {
            Some("image") => (Kind::Image, "image"),
            Some("video") => (Kind::Video, "video"),
            _ => {
                return Err(ApiError::invalid(
                    "content_type",
                    "must be image or video for an upload",
                ))
            }
        };
        let caption = form
            .text("content")
            .filter(|c| !c.trim().is_empty())
            .map(|c| validate::text("content", c, 1, 700))
            .transpose()?;
        let file = form
            .file
            .ok_or_else(|| ApiError::invalid("media", "is required"))?;
        let key = if kind == Kind::Image {
            let bytes = file.image()?.clone();
            let img = images::process(move || images::message_image(&bytes))
                .await
                .map_err(ApiError::internal)?
                .map_err(|e| bad_image(e).with_field("media"))?;
            let key = format!("{base}.jpg");
            put_all(&state, vec![(key.clone(), img.image.into())]).await?;
            key
        } else {
            let sniffed = file.sniffed;
            file.store(&state, || video_key(sniffed, None)).await?
        };
        let created = state
            .write(CreateStatus {
                user_id: user.user_id,
                content_type,
                content: caption,
                media_url: Some(stored(&key)),
                background_color: None,
                font_style: None,
                expires_at: now + LIFETIME,
            })
            .await;
        match created {
            Ok(status) => Ok(posted(&state, &status)),
            Err(e) => {
                state.engine.storage.delete_quietly(&[key]).await;
                Err(e)
            }
        }
    })
    .await
}

/// Statuses grouped by person, the most recent first; the caller's own included.
#[utoipa::path(get, path = "/api/status", tag = "status",
    responses((status = 200, body = StatusFeed)))]
pub(crate) async fn list(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let mut conn = state.engine.db.get().await?;
    let (rows, people, seen) =
        statuses::feed(&mut conn.conn(), user.user_id, state.engine.clock.now()).await?;
    let mut groups: Vec<(i64, Vec<StatusItem>)> = Vec::new();
    for s in &rows {
        let mut item = StatusItem::of(s);
        item.is_viewed = Some(s.user_id == user.user_id || seen.contains(&s.id));
        match groups.iter_mut().find(|(owner, _)| *owner == s.user_id) {
            Some((_, list)) => list.push(item),
            None => groups.push((s.user_id, vec![item])),
        }
    }
    let statuses = groups
        .into_iter()
        .map(|(owner, list)| StatusGroup {
            user: people.get(&owner).map(UserBrief::of),
            is_mine: owner == user.user_id,
            latest_status_at: list.first().map(|s| s.created_at),
            all_viewed: list.iter().all(|s| s.is_viewed == Some(true)),
            statuses: list,
        })
        .collect();
    Ok(HttpResponse::Ok().json(state.signed(StatusFeed { statuses })))
}

/// Marks a status seen by the caller.
#[utoipa::path(post, path = "/api/status/{id}/view", tag = "status",
    params(("id" = i64, Path, description = "status id")),
    responses((status = 200, body = StatusViewed)))]
pub(crate) async fn view(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let status = {
        let mut conn = state.engine.db.get().await?;
        statuses::visible(&mut conn.conn(), id, user.user_id, state.engine.clock.now()).await?
    };
    let status = status.ok_or_else(|| ApiError::not_found("status"))?;
    let viewed_at = if status.user_id == user.user_id {
        state.engine.clock.now()
    } else {
        state
            .write(ViewStatus {
                status_id: id,
                viewer: user.user_id,
            })
            .await?
    };
    Ok(HttpResponse::Ok().json(StatusViewed {
        success: true,
        viewed_at: viewed_at.and_utc(),
    }))
}

/// Who saw the caller's status.
#[utoipa::path(get, path = "/api/status/{id}/views", tag = "status",
    params(("id" = i64, Path, description = "status id")),
    responses((status = 200, body = StatusViews)))]
pub(crate) async fn views(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let status = statuses::visible(&mut conn, id, user.user_id, state.engine.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("status"))?;
    if status.user_id != user.user_id {
        return Err(ApiError::forbidden(
            "not_owner",
            "only the status's owner sees who viewed it",
        ));
    }
    let views: Vec<StatusViewer> = statuses::views(&mut conn, id)
        .await?
        .iter()
        .map(|(u, at)| StatusViewer {
            viewer: UserBrief::of(u),
            viewed_at: at.and_utc(),
        })
        .collect();
    let answer = StatusViews {
        total_views: views.len(),
        views,
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}

/// Deletes the caller's status and its file.
#[utoipa::path(delete, path = "/api/status/{id}", tag = "status",
    params(("id" = i64, Path, description = "status id")),
    responses((status = 200, body = Done)))]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let keys = state
        .write(DeleteStatus {
            status_id: path.into_inner(),
            owner: user.user_id,
        })
        .await?
        .ok_or_else(|| ApiError::not_found("status"))?;
    let keys: Vec<String> = keys
        .iter()
        .filter_map(|k| key_of(k).map(str::to_string))
        .collect();
    state.engine.storage.delete_quietly(&keys).await;
    Ok(HttpResponse::Ok().json(Done::new("Status deleted successfully")))
}
