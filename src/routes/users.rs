//! `/api/user/*` (the caller's own profile and privacy) and `/api/users/{id}` (someone else's
//! profile, with their privacy settings applied).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, TimeDelta, Utc};
use courier_actors::store::contacts::{relation, Relation};
use courier_actors::store::users::{self, UpdatePrivacy, UpdateProfile, User, Visibility};
use serde::{Deserialize, Serialize};
use serde_json::json;

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

/// The privacy settings: the PRD's three, and who may add the user to groups.
#[derive(Serialize)]
pub struct PrivacySettings {
    pub last_seen: Visibility,
    pub profile_photo: Visibility,
    pub about: Visibility,
    pub groups: Visibility,
}

impl PrivacySettings {
    pub fn of(u: &User) -> Self {
        PrivacySettings {
            last_seen: u.last_seen_visibility(),
            profile_photo: u.photo_visibility(),
            about: u.about_visibility(),
            groups: u.groups_visibility(),
        }
    }
}

/// The caller's own profile (`GET /api/user/profile`).
#[derive(Serialize)]
pub struct OwnProfile {
    pub id: i64,
    pub phone_number: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub about: String,
    pub privacy_settings: PrivacySettings,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub is_online: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OwnProfile {
    pub fn of(u: &User) -> Self {
        OwnProfile {
            id: u.id,
            phone_number: u.phone_number.clone(),
            name: u.name.clone(),
            avatar_url: u.avatar_url.clone(),
            about: u.about.clone(),
            privacy_settings: PrivacySettings::of(u),
            last_seen_at: u.last_seen_at.map(|t| t.and_utc()),
            is_online: u.is_online,
            created_at: u.created_at.and_utc(),
            updated_at: u.updated_at.and_utc(),
        }
    }
}

/// Another user as a viewer may see them: hidden parts are `null` (and `is_online` false).
#[derive(Serialize, Debug, Clone)]
pub struct PublicProfile {
    pub id: i64,
    pub name: String,
    pub avatar_url: Option<String>,
    pub about: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub is_online: bool,
}

impl PublicProfile {
    /// Applies `owner`'s privacy settings for a viewer; `rel` is how the owner relates to the
    /// viewer (in the owner's contacts? blocked by the owner?).
    pub fn of(owner: &User, rel: Relation) -> Self {
        let shows = |v: Visibility| !rel.blocked && v.allows(rel.in_contacts);
        let last_seen = shows(owner.last_seen_visibility());
        PublicProfile {
            id: owner.id,
            name: owner.name.clone(),
            avatar_url: owner
                .avatar_url
                .clone()
                .filter(|_| shows(owner.photo_visibility())),
            about: Some(owner.about.clone()).filter(|_| shows(owner.about_visibility())),
            last_seen_at: owner
                .last_seen_at
                .filter(|_| last_seen)
                .map(|t| t.and_utc()),
            is_online: owner.is_online && last_seen,
        }
    }

    /// Everything, as the owner sees their own profile.
    pub fn unfiltered(owner: &User) -> Self {
        PublicProfile {
            id: owner.id,
            name: owner.name.clone(),
            avatar_url: owner.avatar_url.clone(),
            about: Some(owner.about.clone()),
            last_seen_at: owner.last_seen_at.map(|t| t.and_utc()),
            is_online: owner.is_online,
        }
    }
}

async fn load_self(state: &AppState, user: &AuthUser) -> ApiResult<User> {
    let mut conn = state.engine.db.get().await?;
    users::find(&mut conn.conn(), user.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))
}

async fn get_profile(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(OwnProfile::of(&load_self(&state, &user).await?)))
}

#[derive(Deserialize)]
struct ProfileUpdate {
    name: Option<String>,
    about: Option<String>,
}

async fn update_profile(
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
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "user": {
            "id": updated.id,
            "name": updated.name,
            "about": updated.about,
            "avatar_url": updated.avatar_url,
            "updated_at": updated.updated_at.and_utc(),
        }
    })))
}

#[derive(Deserialize)]
struct PrivacyUpdate {
    last_seen: Option<String>,
    profile_photo: Option<String>,
    about: Option<String>,
    groups: Option<String>,
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

async fn update_privacy(
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
    Ok(HttpResponse::Ok()
        .json(json!({ "success": true, "privacy_settings": PrivacySettings::of(&updated) })))
}

async fn get_user(
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
    Ok(HttpResponse::Ok().json(profile))
}
