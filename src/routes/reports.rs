//! `POST /api/reports`: a user reports a message, a user or a group to the system admins, and
//! may block the reported user in the same request ("report and block").

use actix_web::{web, HttpResponse};
use chrono::TimeDelta;
use courier_actors::store::messages::find_visible;
use courier_actors::store::reports::{self, FileReport, Target, REASONS};
use courier_actors::store::{chats, users};

use crate::api::reports::{ReportFiled, ReportRequest, ReportView};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::state::AppState;
use crate::validate;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports", web::post().to(create));
}

/// Longest note a reporter may add, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;

/// A note, cleaned as other user text (invisible formatting characters removed, no control
/// characters, trimmed); an empty one is no note.
pub fn note(field: &str, value: Option<&str>) -> ApiResult<Option<String>> {
    let Some(v) = value else { return Ok(None) };
    let cleaned = validate::name(field, v, 0, MAX_NOTE_CHARS)?;
    Ok(Some(cleaned).filter(|s| !s.is_empty()))
}

/// Reports a message, a user or a group to the system admins, and may block the reported
/// user in the same request.
#[utoipa::path(post, path = "/api/reports", tag = "moderation", request_body = ReportRequest,
    responses((status = 201, body = ReportFiled), (status = 200, body = ReportFiled)))]
pub(crate) async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<ReportRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let targets = [body.message_id, body.user_id, body.group_id];
    if targets.iter().flatten().count() != 1 {
        return Err(ApiError::invalid(
            "message_id",
            "name exactly one of message_id, user_id or group_id",
        ));
    }
    if !REASONS.contains(&body.reason.as_str()) {
        return Err(ApiError::invalid(
            "reason",
            format!("must be one of {}", REASONS.join(", ")),
        ));
    }
    let note = note("note", body.note.as_deref())?;
    let m = &state.settings.moderation;
    state
        .engine
        .limiter
        .hit(
            &format!("report:{}", user.user_id),
            m.reports_per_hour,
            TimeDelta::hours(1),
        )
        .await
        .map_err(ApiError::too_many)?;
    let me = user.user_id;
    let (target, block) = {
        let mut conn = state.engine.db.get().await?;
        let mut conn = conn.conn();
        if let Some(id) = body.message_id {
            let msg = find_visible(&mut conn, id, me)
                .await?
                .ok_or_else(|| ApiError::not_found("message"))?;
            if msg.sender_id == me {
                return Err(ApiError::invalid("message_id", "is your own message"));
            }
            if msg.message_type == "system" {
                return Err(ApiError::invalid("message_id", "is a system message"));
            }
            if msg.deleted_at.is_some() {
                return Err(ApiError::conflict(
                    "message_deleted",
                    "the message was deleted",
                ));
            }
            let private = chats::find(&mut conn, msg.chat_id)
                .await?
                .is_some_and(|c| !c.is_group());
            if body.block && !private {
                return Err(ApiError::invalid(
                    "block",
                    "only a user or a private chat's message can be reported and blocked",
                ));
            }
            let block = body.block.then_some(msg.sender_id);
            (Target::Message(Box::new(msg)), block)
        } else if let Some(id) = body.user_id {
            if id == me {
                return Err(ApiError::invalid("user_id", "is you"));
            }
            let other = users::find(&mut conn, id)
                .await?
                .ok_or_else(|| ApiError::not_found("user"))?;
            let related = reports::share_a_chat(&mut conn, me, id).await?
                || courier_actors::store::contacts::relation(&mut conn, me, id)
                    .await
                    .map(|r| r.in_contacts || r.blocked)?;
            if !related {
                return Err(ApiError::not_found("user"));
            }
            let chat_id = chats::find_private(&mut conn, me, id).await?.map(|c| c.id);
            let block = body.block.then_some(other.id);
            (Target::User { id, chat_id }, block)
        } else {
            let id = body.group_id.unwrap_or_default();
            if !reports::in_group(&mut conn, id, me).await? {
                return Err(ApiError::not_found("group"));
            }
            if body.block {
                return Err(ApiError::invalid(
                    "block",
                    "only a user or a private chat's message can be reported and blocked",
                ));
            }
            (Target::Group { chat_id: id }, None)
        }
    };
    let block = match block {
        Some(id) => {
            let mut conn = state.engine.db.get().await?;
            let name = users::find(&mut conn.conn(), id)
                .await?
                .map(|u| u.name)
                .unwrap_or_default();
            Some((id, name))
        }
        None => None,
    };
    let auto = (m.auto_suspend_reports > 0).then(|| (m.auto_suspend_reports, m.reports_window()));
    let blocking = block.as_ref().map(|(id, _)| *id);
    let filed = state
        .write(FileReport {
            reporter_id: Some(me),
            target,
            reason: body.reason,
            note,
            block,
            auto_suspend: auto,
        })
        .await?;
    if let Some(other) = blocking {
        // The private chat's room (if running) learns of the block before anything else is sent.
        let mut conn = state.engine.db.get().await?;
        if let Some(chat) = chats::find_private(&mut conn.conn(), me, other).await? {
            state.engine.membership_changed_everywhere(chat.id).await;
        }
    }
    if let Some((user_id, sessions)) = filed.suspended {
        courier_actors::moderation::end_sessions(&state.engine, user_id, sessions);
    }
    let body = state.signed(ReportFiled {
        success: true,
        report: ReportView::of(&filed.report),
        duplicate: filed.duplicate,
        blocked: filed.blocked,
    });
    Ok(if filed.duplicate {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    }
    .json(body))
}
