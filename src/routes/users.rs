//! `/api/user/*` (the caller's own profile and privacy) and `/api/users/{id}` (someone else's
//! profile, with their privacy settings applied).

use actix_web::{web, HttpResponse};
use chrono::TimeDelta;
use courier_actors::store::contacts::relation;
use courier_actors::store::users::{self, UpdatePrivacy, UpdateProfile, User, Visibility};

pub use crate::api::users::{OwnProfile, PrivacySettings, PublicProfile};
use crate::api::users::{
    PrivacyUpdate, PrivacyUpdated, ProfileUpdate, ProfileUpdated, UpdatedUser,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::state::AppState;
use crate::validate;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/user")
            .route("/profile", web::get().to(get_profile))
            .route("/profile", web::put().to(update_profile))
            .route("/privacy", web::put().to(update_privacy))
            .route("/avatar", web::post().to(crate::routes::avatar::upload)),
    )
    .route("/users/{id}", web::get().to(get_user));
}

async fn load_self(state: &AppState, user: &AuthUser) -> ApiResult<User> {
    let mut conn = state.engine.db.get().await?;
    users::find(&mut conn.conn(), user.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))
}

/// The caller's own profile.
#[utoipa::path(get, path = "/api/user/profile", tag = "users",
    responses((status = 200, body = OwnProfile)))]
pub(crate) async fn get_profile(
    state: web::Data<AppState>,
    user: AuthUser,
) -> ApiResult<HttpResponse> {
    let profile = OwnProfile::of(&load_self(&state, &user).await?);
    Ok(HttpResponse::Ok().json(state.signed(profile)))
}

/// Changes the caller's name and/or about text.
#[utoipa::path(put, path = "/api/user/profile", tag = "users", request_body = ProfileUpdate,
    responses((status = 200, body = ProfileUpdated)))]
pub(crate) async fn update_profile(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<ProfileUpdate>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let name = body
        .name
        .as_deref()
        .map(|n| validate::name("name", n, 1, 255))
        .transpose()?;
    let about = body
        .about
        .as_deref()
        .map(|a| validate::text("about", a, 0, 700))
        .transpose()?;
    let updated = state
        .write(UpdateProfile {
            user_id: user.user_id,
            name,
            about,
        })
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let answer = ProfileUpdated {
        success: true,
        user: UpdatedUser {
            id: updated.id,
            name: updated.name,
            about: updated.about,
            avatar_url: updated.avatar_url,
            updated_at: updated.updated_at.and_utc(),
        },
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}

/// One of `everyone`, `contacts`, `nobody`.
fn visibility(field: &str, value: Option<String>) -> ApiResult<Option<Visibility>> {
    value
        .map(|v| match v.as_str() {
            "everyone" => Ok(Visibility::Everyone),
            "contacts" => Ok(Visibility::Contacts),
            "nobody" => Ok(Visibility::Nobody),
            _ => Err(ApiError::invalid(
                field,
                "must be one of everyone, contacts, nobody",
            )),
        })
        .transpose()
}

/// Changes who sees the caller's last seen, photo and about text, and who may add them to
/// groups.
#[utoipa::path(put, path = "/api/user/privacy", tag = "users", request_body = PrivacyUpdate,
    responses((status = 200, body = PrivacyUpdated)))]
pub(crate) async fn update_privacy(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<PrivacyUpdate>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let updated = state
        .write(UpdatePrivacy {
            user_id: user.user_id,
            last_seen: visibility("last_seen", b.last_seen)?,
            profile_photo: visibility("profile_photo", b.profile_photo)?,
            about: visibility("about", b.about)?,
            groups: visibility("groups", b.groups)?,
        })
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(HttpResponse::Ok().json(PrivacyUpdated {
        success: true,
        privacy_settings: PrivacySettings::of(&updated),
    }))
}

/// Someone's profile, with their privacy settings applied (hidden parts are `null`).
#[utoipa::path(get, path = "/api/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "user id")),
    responses((status = 200, body = PublicProfile)))]
pub(crate) async fn get_user(
    state: web::Data<AppState>,
    viewer: AuthUser,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    // Profiles are looked up one at a time; a client walking through ids is slowed down.
    state
        .engine
        .limiter
        .hit(
            &format!("profile-lookup:user:{}", viewer.user_id),
            state.settings.limits.profile_lookups_per_minute,
            TimeDelta::minutes(1),
        )
        .map_err(ApiError::too_many)?;
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let owner = users::find(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let profile = if id == viewer.user_id {
        PublicProfile::unfiltered(&owner)
    } else {
        PublicProfile::of(&owner, relation(&mut conn, id, viewer.user_id).await?)
    };
    Ok(HttpResponse::Ok().json(state.signed(profile)))
}
