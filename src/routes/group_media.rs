//! `POST /api/groups` and `PUT /api/groups/{id}` as multipart forms, with a group photo
//! (`avatar`). Registered in `routes::groups` beside the JSON forms.

use actix_multipart::Multipart;
use actix_web::{web, HttpResponse};
use courier_actors::room::{announce_new_group, GroupCmd, RoomCmd};
use courier_actors::store::groups::CreateGroup;
use courier_actors::store::{chats, former};
use serde_json::Value;

use crate::api::groups::GroupUpdated;
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::media::{detached, receive, upload_id, FileSpec, Form};
use crate::routes::avatar::{avatar_files, store_avatar};
use crate::routes::common::ask_room;
use crate::routes::group_limits::{invite_ttl, reserve_adds, reserve_group};
use crate::routes::group_shapes::{self, check_participants, description_of};
use crate::state::AppState;
use crate::validate;

/// Stores the photo in the form (if any) at the avatar sizes; answers the stored 300 px key and
/// every key written (to remove if what follows fails).
async fn photo(state: &AppState, form: &mut Form) -> ApiResult<(Option<String>, Vec<String>)> {
    let Some(file) = form.file.take() else {
        return Ok((None, Vec::new()));
    };
    let base = format!("avatars/groups/{}", upload_id());
    let (avatar_url, keys) = store_avatar(state, &base, file.image()?.clone()).await?;
    Ok((Some(avatar_url), keys))
}

/// `participants`: a JSON array (`[2, 3]`) or a comma-separated list (`2,3`).
fn participants(form: &Form) -> ApiResult<Vec<i64>> {
    let Some(raw) = form
        .text("participants")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return Ok(Vec::new());
    };
    let parsed: Option<Vec<i64>> = if raw.starts_with('[') {
        serde_json::from_str(raw).ok()
    } else {
        raw.split(',').map(|p| p.trim().parse().ok()).collect()
    };
    parsed.ok_or_else(|| ApiError::invalid("participants", "must be user ids, as [1, 2] or 1,2"))
}

pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    form: Multipart,
) -> ApiResult<HttpResponse> {
    // Runs to the end even if the client goes away, so a failure always cleans up.
    detached(async move {
        // Before the upload is read: a user over the limit makes the server take in nothing.
        let group_slot = reserve_group(&state, user.user_id).await?;
        let mut form = receive(&state, user.user_id, form, FileSpec::image("avatar")).await?;
        let name = validate::name("name", form.text("name").unwrap_or(""), 1, 100)?;
        let description = description_of(
            form.text("description")
                .map(|d| Value::String(d.to_string())),
        )?
        .flatten();
        let ids = participants(&form)?;
        check_participants(&state, user.user_id, &ids)?;
        let add_slots = reserve_adds(&state, user.user_id, "participants", ids.len()).await?;
        let (avatar_url, keys) = photo(&state, &mut form).await?;
        let max = state.settings.limits.max_group_size;
        let created = state
            .write(CreateGroup {
                creator: user.user_id,
                name,
                description,
                avatar_url,
                participants: ids,
                max_size: max,
                invite_ttl: invite_ttl(&state),
            })
            .await
            .and_then(|r| r.map_err(|r| ApiError::from(r).with_field("participants")));
        match created {
            Ok(change) => {
                group_slot.keep(1);
                add_slots.keep(change.added.len() + change.invited.len());
                announce_new_group(&state.engine, &change);
                Ok(HttpResponse::Created().json(state.signed(group_shapes::created(&change))))
            }
            Err(e) => {
                state.engine.storage.delete_quietly(&keys).await;
                Err(e)
            }
        }
    })
    .await
}

pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    form: Multipart,
) -> ApiResult<HttpResponse> {
    // Runs to the end even if the client goes away, so a failure always cleans up.
    detached(async move {
        let chat_id = path.into_inner();
        // Checked before the upload is read, so only a group's admins make the server take in a
        // picture for it (the room checks again, against the state at the time of the change).
        let previous = {
            let mut conn = state.engine.db.get().await?;
            match chats::find_for_member(&mut conn.conn(), chat_id, user.user_id).await? {
                Some((chat, member)) if chat.is_group() => {
                    if member.role != "admin" {
                        return Err(ApiError::forbidden(
                            "not_admin",
                            "only group admins can do this",
                        ));
                    }
                    chat.avatar_url
                }
                _ => return Err(ApiError::not_found("group")),
            }
        };
        let mut form = receive(&state, user.user_id, form, FileSpec::image("avatar")).await?;
        let name = form
            .text("name")
            .map(|n| validate::name("name", n, 1, 100))
            .transpose()?;
        let description = description_of(
            form.text("description")
                .map(|d| Value::String(d.to_string())),
        )?;
        if name.is_none() && description.is_none() && form.file.is_none() {
            return Err(ApiError::invalid(
                "name",
                "give a name, a description and/or an avatar to change",
            ));
        }
        let (avatar_url, keys) = photo(&state, &mut form).await?;
        let changed = avatar_url.is_some();
        let cmd = GroupCmd::Update {
            name,
            description,
            avatar_url,
        };
        match ask_room(&state, chat_id, |reply| RoomCmd::Group {
            actor: user.user_id,
            cmd,
            reply,
        })
        .await
        {
            Ok(done) => {
                if let Some(old) = previous.filter(|_| changed) {
                    // Former members who saw the old photo keep it; once none does (or if
                    // this cannot be told now), the orphan sweep removes it.
                    let in_use = match state.engine.db.get().await {
                        Ok(mut conn) => former::photo_in_use(&mut conn.conn(), &old)
                            .await
                            .unwrap_or(true),
                        Err(_) => true,
                    };
                    if !in_use {
                        state
                            .engine
                            .storage
                            .delete_quietly(&avatar_files(&old))
                            .await;
                    }
                }
                Ok(HttpResponse::Ok().json(state.signed(GroupUpdated::of(&done.chat))))
            }
            Err(e) => {
                state.engine.storage.delete_quietly(&keys).await;
                Err(e)
            }
        }
    })
    .await
}
