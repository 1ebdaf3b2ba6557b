//! `/api/user/*` (the caller's own profile and privacy) and `/api/users/{id}` (someone else's
//! profile, with their privacy settings applied).

use actix_web::{web, HttpResponse};
use chrono::TimeDelta;
use courier_actors::store::contacts::relation;
use courier_actors::store::erasure::{DeleteAccount, DeleteOutcome};
use courier_actors::store::users::{self, UpdatePrivacy, UpdateProfile, User, Visibility};

use crate::api::users::{
    AccountDeleted, DeleteAccountRequest, PrivacyUpdate, PrivacyUpdated, ProfileUpdate,
    ProfileUpdated, UpdatedUser,
};
pub use crate::api::users::{OwnProfile, PrivacySettings, PublicProfile};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::state::AppState;
use crate::validate;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/user")
            .route("", web::delete().to(delete_account))
            .route("/profile", web::get().to(get_profile))
            .route("/profile", web::put().to(update_profile))
            .route("/privacy", web::put().to(update_privacy))
            .route("/export", web::post().to(crate::routes::user_export::start))
            .route("/export", web::get().to(crate::routes::user_export::show))
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
        .await
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

/// Deletes the caller's account, confirmed with a fresh one-time code sent to its phone (ask
/// for it with `POST /api/auth/send-otp`). At once: every session ends and its sockets close,
/// the profile shows as "Deleted account" wherever others still see it, and the number can
/// sign up again as a new account. Within `privacy.account_purge_after_days` (30 by default)
/// its messages, files, statuses, contacts and phone number are removed for good.
#[utoipa::path(delete, path = "/api/user", tag = "users", request_body = DeleteAccountRequest,
    responses((status = 200, body = AccountDeleted)))]
pub(crate) async fn delete_account(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<DeleteAccountRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    if !(body.otp.len() == 6 && body.otp.bytes().all(|b| b.is_ascii_digit())) {
        return Err(ApiError::invalid("otp", "must be the 6-digit code"));
    }
    let me = load_self(&state, &user).await?;
    let phone_hash = state.secrets.phone_hash(&me.phone_number);
    // Counted with sign-in attempts: a code is guessed no faster here than there.
    state
        .engine
        .limiter
        .hit(
            &format!("otp-verify:phone:{phone_hash}"),
            state.settings.limits.otp_per_phone_per_minute,
            TimeDelta::minutes(1),
        )
        .await
        .map_err(ApiError::too_many)?;
    let outcome = state
        .write(DeleteAccount {
            user_id: me.id,
            code_hash: state.secrets.otp_hash(&phone_hash, &body.otp),
            phone_hash,
            max_attempts: state.settings.auth.otp_max_attempts as i32,
        })
        .await?;
    let done = match outcome {
        DeleteOutcome::Deleted(done) => done,
        DeleteOutcome::Gone => return Err(ApiError::not_found("user")),
        DeleteOutcome::NoCode => {
            return Err(ApiError::bad_request(
                "otp_invalid",
                "no code is pending for this number; request one with /api/auth/send-otp",
            ))
        }
        DeleteOutcome::Expired => {
            return Err(ApiError::bad_request(
                "otp_expired",
                "the code expired; request a new one",
            ))
        }
        DeleteOutcome::Wrong { attempts_left: 0 } => {
            return Err(ApiError::bad_request(
                "otp_locked",
                "too many wrong codes; request a new one",
            ))
        }
        DeleteOutcome::Wrong { attempts_left } => {
            return Err(ApiError::bad_request(
                "otp_invalid",
                format!("wrong code; {attempts_left} tries left"),
            ))
        }
    };
    for session in &done.sessions {
        state.engine.end_auth_session(me.id, *session);
    }
    for chat_id in &done.chats {
        state.engine.membership_changed_everywhere(*chat_id).await;
    }
    if let Some(avatar) = &done.avatar_url {
        let files = crate::routes::avatar::avatar_files(avatar);
        state.engine.storage.delete_quietly(&files).await;
    }
    let purge_by = done.deleted_at + state.engine.realtime.privacy.account_purge_after;
    Ok(HttpResponse::Ok().json(AccountDeleted {
        success: true,
        message: "Account deleted".into(),
        deleted_at: done.deleted_at.and_utc(),
        purge_by: purge_by.and_utc(),
    }))
}
