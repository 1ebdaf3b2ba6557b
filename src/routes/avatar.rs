//! `POST /api/user/avatar`: a profile photo, stored as 150, 300 and 600 px square JPEGs.

use actix_multipart::Multipart;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use courier_actors::storage::{avatar_key, key_of, stored, AVATAR_KEPT_SIZE};
use courier_actors::store::users::SetAvatar;

use crate::api::users::{AvatarForm, AvatarSize, AvatarUploaded};
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::media::images::{self, bad_image};
use crate::media::{detached, put_all, receive, upload_id, FileSpec};
use crate::state::AppState;

/// Stores a photo (the form's `avatar`) at every avatar size under `base`; answers the stored
/// 300 px key (what profiles and groups keep) and every key written (to remove if what follows
/// fails).
pub async fn store_avatar(
    state: &AppState,
    base: &str,
    data: Bytes,
) -> ApiResult<(String, Vec<String>)> {
    let sizes = images::process(move || images::avatar(&data))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| bad_image(e).with_field("avatar"))?;
    let objects: Vec<(String, Bytes)> = sizes
        .into_iter()
        .map(|(n, data)| (avatar_key(base, n), Bytes::from(data)))
        .collect();
    let keys: Vec<String> = objects.iter().map(|(k, _)| k.clone()).collect();
    put_all(state, objects).await?;
    Ok((stored(&avatar_key(base, AVATAR_KEPT_SIZE)), keys))
}

/// Every size of a stored avatar (`store:…_300.jpg`), to remove once it is replaced.
pub fn avatar_files(avatar: &str) -> Vec<String> {
    let kept = format!("_{AVATAR_KEPT_SIZE}.jpg");
    key_of(avatar)
        .and_then(|k| k.strip_suffix(&kept))
        .map(|base| {
            images::AVATAR_SIZES
                .iter()
                .map(|n| avatar_key(base, *n))
                .collect()
        })
        .unwrap_or_default()
}

/// Sets the caller's profile photo (stored as 150, 300 and 600 px square JPEGs).
#[utoipa::path(post, path = "/api/user/avatar", tag = "users",
    request_body(content = AvatarForm, content_type = "multipart/form-data"),
    responses((status = 200, body = AvatarUploaded)))]
pub async fn upload(
    state: web::Data<AppState>,
    user: AuthUser,
    form: Multipart,
) -> ApiResult<HttpResponse> {
    // Runs to the end even if the client goes away, so a failure always cleans up.
    detached(async move {
        let form = receive(&state, user.user_id, form, FileSpec::image("avatar")).await?;
        let file = form
            .file
            .ok_or_else(|| ApiError::invalid("avatar", "is required (an image file)"))?;
        let base = format!("avatars/users/{}/{}", user.user_id, upload_id());
        let (avatar_url, keys) = store_avatar(&state, &base, file.image()?.clone()).await?;
        let previous = match state
            .write(SetAvatar {
                user_id: user.user_id,
                avatar_url: Some(avatar_url.clone()),
            })
            .await
        {
            Ok(previous) => previous,
            Err(e) => {
                state.engine.storage.delete_quietly(&keys).await;
                return Err(e);
            }
        };
        if let Some(old) = previous {
            state
                .engine
                .storage
                .delete_quietly(&avatar_files(&old))
                .await;
        }
        let avatar_urls = images::AVATAR_SIZES
            .iter()
            .map(|n| AvatarSize {
                size: *n,
                url: stored(&avatar_key(&base, *n)),
            })
            .collect();
        let answer = AvatarUploaded {
            success: true,
            avatar_url,
            avatar_urls,
        };
        Ok(HttpResponse::Ok().json(state.signed(answer)))
    })
    .await
}
