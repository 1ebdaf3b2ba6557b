//! `POST /api/chats/{id}/messages` with a multipart body: an image, video, audio or document
//! message (`message_type`, `file`, optional `caption`, `duration`, `client_msg_id`,
//! `reply_to_message_id`). Registered in `routes::chats` beside the JSON form.

use actix_multipart::Multipart;
use actix_web::{web, HttpResponse};
use chrono::{Datelike, TimeDelta};
use courier_actors::room::RoomCmd;
use courier_actors::storage::stored;
use courier_actors::store::messages::{
    check_client_msg_id, check_text, Media, NewMessage, MAX_TEXT_CHARS,
};

use crate::api::chats::MessageSent;
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::media::images::{self, bad_image};
use crate::media::{detached, put_all, receive, upload_id, FileSpec, Kind, Sniffed};
use crate::routes::common::{access, ask_room};
use crate::state::AppState;

fn int_field(form: &crate::media::Form, name: &str, max: i64) -> ApiResult<Option<i64>> {
    form.text(name)
        .map(|v| match v.trim().parse::<i64>() {
            Ok(n) if (0..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(
                name.to_string(),
                format!("must be a whole number from 0 to {max}"),
            )),
        })
        .transpose()
}

pub async fn send(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<i64>,
    form: Multipart,
) -> ApiResult<HttpResponse> {
    // Runs to the end even if the client goes away, so a failure always cleans up.
    detached(async move {
        let chat_id = path.into_inner();
        {
            let mut conn = state.engine.db.get().await?;
            let (_, me) = access(&mut conn.conn(), chat_id, user.user_id).await?;
            if !me.is_current() {
                return Err(ApiError::not_found("chat"));
            }
        }
        let limit = state.engine.realtime.messages_per_minute;
        state
            .engine
            .limiter
            .hit(
                &format!("msg:{}", user.user_id),
                limit,
                TimeDelta::minutes(1),
            )
            .await
            .map_err(ApiError::too_many)?;

        // The PRD's layout, with a random id in place of the message id: that id is assigned
        // when the message is stored, after the upload. The folder is the declared kind's
        // (the file's own when `message_type` comes after the file).
        let now = state.engine.clock.now();
        let id = upload_id();
        let key = |kind: Kind, ext: &str| {
            let (folder, year, month) = (kind.folder(), now.year(), now.month());
            format!("messages/{folder}/{year}/{month:02}/{id}.{ext}")
        };
        let stream_to = |s: Sniffed, declared: Option<Kind>| key(declared.unwrap_or(s.kind), s.ext);
        let spec = FileSpec {
            field: "file",
            kind_field: Some("message_type"),
            declared: None,
            stream_to: Some(&stream_to),
        };
        let form = receive(&state, user.user_id, form, spec).await?;
        let kind = form
            .text("message_type")
            .and_then(Kind::parse)
            .ok_or_else(|| {
                ApiError::invalid("message_type", "must be image, video, audio or document")
            })?;
        let caption = form
            .text("caption")
            .filter(|c| !c.trim().is_empty())
            .map(str::to_string);
        if let Some(c) = &caption {
            check_text("caption", c, MAX_TEXT_CHARS)
                .map_err(|e| ApiError::invalid(e.field, e.message))?;
        }
        let client_msg_id = form.text("client_msg_id").map(str::to_string);
        if let Some(id) = &client_msg_id {
            check_client_msg_id(id).map_err(|e| ApiError::invalid(e.field, e.message))?;
        }
        let reply_to = int_field(&form, "reply_to_message_id", i64::MAX)?.filter(|id| *id > 0);
        let duration = int_field(&form, "duration", 24 * 3600)?.map(|d| d as i32);
        let file = form
            .file
            .ok_or_else(|| ApiError::invalid("file", "is required"))?;

        let (keys, media) = if kind == Kind::Image {
            let data = file.image()?.clone();
            let img = images::process(move || images::message_image(&data))
                .await
                .map_err(ApiError::internal)?
                .map_err(bad_image)?;
            let key = key(kind, "jpg");
            let thumb = format!("thumbnails/images/{id}_thumb.jpg");
            let media = Media {
                url: stored(&key),
                thumbnail_url: Some(stored(&thumb)),
                size: img.image.len() as i64,
                mime_type: "image/jpeg".into(),
                duration: None,
                file_name: file.file_name.clone(),
            };
            let objects = vec![(key, img.image.into()), (thumb, img.thumbnail.into())];
            let keys: Vec<String> = objects.iter().map(|(k, _)| k.clone()).collect();
            put_all(&state, objects).await?;
            (keys, media)
        } else {
            let (sniffed, size, file_name) = (file.sniffed, file.size, file.file_name.clone());
            let key = file.store(&state, || key(kind, sniffed.ext)).await?;
            let media = Media {
                url: stored(&key),
                thumbnail_url: None,
                size: size as i64,
                mime_type: sniffed.mime.to_string(),
                duration: if kind == Kind::Document {
                    None
                } else {
                    duration
                },
                file_name,
            };
            (vec![key], media)
        };

        let message = NewMessage {
            chat_id,
            sender_id: user.user_id,
            client_msg_id,
            reply_to_message_id: reply_to,
            message_type: kind.as_str().to_string(),
            content: caption,
            latitude: None,
            longitude: None,
            location_name: None,
            contact_data: None,
            media: Some(Box::new(media)),
            forward_count: 0,
            flagged: false,
        };
        match ask_room(&state, chat_id, |reply| RoomCmd::Send {
            message,
            conn: None,
            reply,
        })
        .await
        {
            Ok(sent) => {
                if sent.duplicate {
                    // The original message keeps its own files; this copy's are not needed.
                    state.engine.storage.delete_quietly(&keys).await;
                }
                let status = if sent.duplicate {
                    HttpResponse::Ok()
                } else {
                    HttpResponse::Created()
                };
                let answer = MessageSent {
                    message: sent.message,
                    duplicate: sent.duplicate,
                };
                Ok({ status }.json(state.signed(answer)))
            }
            Err(e) => {
                // Nothing stored: no message, and no file left behind.
                state.engine.storage.delete_quietly(&keys).await;
                Err(e)
            }
        }
    })
    .await
}
