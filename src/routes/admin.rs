//! `/api/admin/*`: what system admins do: list and resolve reports, see a reported message in
//! context, suspend and unsuspend users, delete a message or a group for everyone, and read
//! the audit log every one of these actions is written to. Admins are made with
//! `courier admin grant` or `moderation.admins`, never through the API. To anyone else every
//! route here answers 404, exactly as a route that does not exist.

use std::collections::HashMap;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use courier_actors::moderation::{announce_deleted, announce_group_deleted, end_sessions};
use courier_actors::store::audit::{
    self, AdminDeleteGroup, AdminDeleteMessage, AdminSuspend, AdminUnsuspend,
};
use courier_actors::store::message_ops::Refusal;
use courier_actors::store::reports::{self, ResolveRefusal, ResolveReport};
use courier_actors::store::views::{MessageView, UserBrief};
use courier_actors::store::{chats, users};

use crate::api::admin::{
    AdminPagination, AuditItem, AuditPage, GroupDeletedByAdmin, MessageDeletedByAdmin, NoteRequest,
    OneReport, ReportContext, ReportPage, ReportResolved, ResolveRequest, Suspended, Unsuspended,
};
use crate::api::reports::ReportView;
use crate::error::{ApiError, ApiResult};
use crate::extract::{authenticate, bearer, parse, ApiJson};
use crate::routes::common::int_param;
use crate::routes::reports::note;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .route("/reports", web::get().to(list_reports))
            .route("/reports/{id}", web::get().to(get_report))
            .route("/reports/{id}/resolve", web::post().to(resolve))
            .route("/reports/{id}/context", web::get().to(context))
            .route("/users/{id}/suspend", web::post().to(suspend))
            .route("/users/{id}/unsuspend", web::post().to(unsuspend))
            .route("/messages/{id}/delete", web::post().to(delete_message))
            .route("/groups/{id}/delete", web::post().to(delete_group))
            .route("/audit", web::get().to(audit_log))
            .wrap(actix_web::middleware::from_fn(require_admin)),
    );
}

/// A signed-in system admin, as [`require_admin`] found them.
#[derive(Debug, Clone, Copy)]
pub struct AdminUser {
    pub user_id: i64,
}

/// What a request for a route that does not exist answers.
fn no_route(req: &HttpRequest) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", req.method(), req.path()),
    )
}

/// The admin a request is signed in as, or the 404 of a route that does not exist.
async fn admin_of(req: &HttpRequest) -> Result<AdminUser, ApiError> {
    let hidden = no_route(req);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let (Some(state), Some(token)) = (state, bearer(req)) else {
        return Err(hidden);
    };
    let user = authenticate(&state, token)
        .await
        .map_err(|_| hidden.clone())?;
    let granted = state
        .settings
        .moderation
        .admins
        .contains(&user.phone_number)
        || {
            let mut conn = state.engine.db.get().await?;
            audit::is_granted(&mut conn.conn(), user.user_id).await?
        };
    if !granted {
        return Err(hidden);
    }
    Ok(AdminUser {
        user_id: user.user_id,
    })
}

/// Lets only system admins past, before anything of the request (path, query, body) is read:
/// anyone else gets the answer of a route that does not exist, whatever they send.
async fn require_admin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    match admin_of(req.request()).await {
        Ok(admin) => {
            req.extensions_mut().insert(admin);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(e) => Ok(req.into_response(e.error_response())),
    }
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let admin = req.extensions().get::<AdminUser>().copied();
        std::future::ready(admin.ok_or_else(|| no_route(req)))
    }
}

/// `page` and `per_page` from the query: (limit, offset, page).
fn paging(q: &HashMap<String, String>) -> ApiResult<(i64, i64, i64)> {
    let page = int_param(q, "page", 1, 1, 1_000_000)?;
    let per_page = int_param(q, "per_page", 20, 1, 100)?;
    Ok((per_page, (page - 1) * per_page, page))
}

/// Reports, newest first (only system admins; anyone else gets 404).
#[utoipa::path(get, path = "/api/admin/reports", tag = "admin",
    params(
        ("status" = Option<String>, Query, description = "`open` (default), `resolved`, `dismissed` or `all`"),
        ("page" = Option<i64>, Query, minimum = 1, maximum = 1000000, description = "from 1"),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 100, description = "default 20"),
    ),
    responses((status = 200, body = ReportPage)))]
pub(crate) async fn list_reports(
    admin: AdminUser,
    state: web::Data<AppState>,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let _ = admin;
    let status = match q.get("status").map(String::as_str) {
        None => Some("open"),
        Some("all") => None,
        Some(s @ ("open" | "resolved" | "dismissed")) => Some(s),
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "must be open, resolved, dismissed or all",
            ))
        }
    };
    let (limit, offset, page) = paging(&q)?;
    let mut conn = state.engine.db.get().await?;
    let (rows, total) = reports::page(&mut conn.conn(), status, limit, offset).await?;
    Ok(HttpResponse::Ok().json(state.signed(ReportPage {
        reports: rows.iter().map(ReportView::of).collect(),
        pagination: AdminPagination::new(page, limit, total),
    })))
}

async fn find_report(state: &AppState, id: i64) -> ApiResult<reports::Report> {
    let mut conn = state.engine.db.get().await?;
    reports::find(&mut conn.conn(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))
}

/// One report (only system admins; anyone else gets 404).
#[utoipa::path(get, path = "/api/admin/reports/{id}", tag = "admin",
    params(("id" = i64, Path, description = "report id")),
    responses((status = 200, body = OneReport)))]
pub(crate) async fn get_report(
    _admin: AdminUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let r = find_report(&state, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(state.signed(OneReport {
        report: ReportView::of(&r),
    })))
}

/// Closes an open report as resolved or dismissed (only system admins; anyone else gets 404).
#[utoipa::path(post, path = "/api/admin/reports/{id}/resolve", tag = "admin",
    params(("id" = i64, Path, description = "report id")), request_body = ResolveRequest,
    responses((status = 200, body = ReportResolved)))]
pub(crate) async fn resolve(
    admin: AdminUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: ApiJson<ResolveRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let status = match body.status.as_str() {
        "resolved" => "resolved",
        "dismissed" => "dismissed",
        _ => return Err(ApiError::invalid("status", "must be resolved or dismissed")),
    };
    let note = note("note", body.note.as_deref())?;
    let done = state
        .write(ResolveReport {
            admin_id: admin.user_id,
            report_id: path.into_inner(),
            status,
            note,
        })
        .await?;
    match done {
        Ok(r) => Ok(HttpResponse::Ok().json(state.signed(ReportResolved {
            success: true,
            report: ReportView::of(&r),
        }))),
        Err(ResolveRefusal::NotFound) => Err(ApiError::not_found("report")),
        Err(ResolveRefusal::Closed) => Err(ApiError::conflict(
            "report_closed",
            "the report was resolved or dismissed already",
        )),
    }
}

/// The reported message with up to `around` (default 5, at most 20) messages before and
/// after it, in the chat the report names. Only what a report names can be seen this way
/// (only system admins; anyone else gets 404).
#[utoipa::path(get, path = "/api/admin/reports/{id}/context", tag = "admin",
    params(
        ("id" = i64, Path, description = "report id"),
        ("around" = Option<i64>, Query, minimum = 0, maximum = 20, description = "messages before and after (default 5)"),
    ),
    responses((status = 200, body = ReportContext)))]
pub(crate) async fn context(
    _admin: AdminUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let around = int_param(&q, "around", 5, 0, 20)?;
    let r = find_report(&state, path.into_inner()).await?;
    let (Some(chat_id), Some(message_id)) = (r.chat_id, r.message_id) else {
        return Err(ApiError::not_found("reported message"));
    };
    let mut conn = state.engine.db.get().await?;
    let mut conn = conn.conn();
    let rows = reports::context(&mut conn, chat_id, message_id, around).await?;
    let members = chats::participants(&mut conn, chat_id).await?;
    let by_id: HashMap<i64, UserBrief> = members
        .iter()
        .map(|(p, u)| (p.user_id, UserBrief::of(u)))
        .collect();
    let messages: Vec<MessageView> = rows
        .iter()
        .map(|m| MessageView::new(m, by_id.get(&m.sender_id).cloned(), None))
        .collect();
    Ok(HttpResponse::Ok().json(state.signed(ReportContext {
        report: ReportView::of(&r),
        chat_id,
        message_id,
        messages,
    })))
}

/// The optional JSON body `{"note": …}` of an admin action (no body: no note).
fn note_of(body: &[u8]) -> ApiResult<Option<String>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let body: NoteRequest = parse(body)?;
    note("note", body.note.as_deref())
}

/// Suspends a user: every session ends, sockets close, sign-in is refused (only system admins; anyone else gets 404). The body is optional.
#[utoipa::path(post, path = "/api/admin/users/{id}/suspend", tag = "admin",
    params(("id" = i64, Path, description = "user id")), request_body = Option<NoteRequest>,
    responses((status = 200, body = Suspended)))]
pub(crate) async fn suspend(
    admin: AdminUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let note = note_of(&body)?;
    if id == admin.user_id {
        return Err(ApiError::invalid("id", "you cannot suspend yourself"));
    }
    exists(&state, id).await?;
    let ended = state
        .write(AdminSuspend {
            admin_id: admin.user_id,
            user_id: id,
            note,
        })
        .await?;
    let was = ended.is_none();
    end_sessions(&state.engine, id, ended.unwrap_or_default());
    Ok(HttpResponse::Ok().json(Suspended {
        success: true,
        user_id: id,
        suspended: true,
        already_suspended: was,
    }))
}

/// Lifts a user's suspension (only system admins; anyone else gets 404). The body is optional.
#[utoipa::path(post, path = "/api/admin/users/{id}/unsuspend", tag = "admin",
    params(("id" = i64, Path, description = "user id")), request_body = Option<NoteRequest>,
    responses((status = 200, body = Unsuspended)))]
pub(crate) async fn unsuspend(
    admin: AdminUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let note = note_of(&body)?;
    exists(&state, id).await?;
    let was = state
        .write(AdminUnsuspend {
            admin_id: admin.user_id,
            user_id: id,
            note,
        })
        .await?;
    Ok(HttpResponse::Ok().json(Unsuspended {
        success: true,
        user_id: id,
        suspended: false,
        was_suspended: was,
    }))
}

async fn exists(state: &AppState, id: i64) -> ApiResult<()> {
    let mut conn = state.engine.db.get().await?;
    users::find(&mut conn.conn(), id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("user"))
}

/// Deletes a message for everyone, as its sender would (only system admins; anyone else gets 404). The body is optional.
#[utoipa::path(post, path = "/api/admin/messages/{id}/delete", tag = "admin",
    params(("id" = i64, Path, description = "message id")), request_body = Option<NoteRequest>,
    responses((status = 200, body = MessageDeletedByAdmin)))]
pub(crate) async fn delete_message(
    admin: AdminUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let note = note_of(&body)?;
    let done = state
        .write(AdminDeleteMessage {
            admin_id: admin.user_id,
            message_id: path.into_inner(),
            note,
        })
        .await?;
    let (m, files) = match done {
        Ok(out) => out,
        Err(Refusal::Deleted) => {
            return Err(ApiError::conflict(
                "message_deleted",
                "the message was deleted already",
            ))
        }
        Err(Refusal::System) => {
            return Err(ApiError::forbidden(
                "system_message",
                "system messages cannot be changed",
            ))
        }
        Err(_) => return Err(ApiError::not_found("message")),
    };
    state.engine.storage.delete_quietly(&files).await;
    let members = current_members(&state, m.chat_id).await?;
    announce_deleted(&state.engine, members, &m);
    Ok(HttpResponse::Ok().json(MessageDeletedByAdmin {
        success: true,
        message_id: m.id,
        chat_id: m.chat_id,
        deleted_at: m.deleted_at.map(|t| t.and_utc()),
    }))
}

async fn current_members(state: &AppState, chat_id: i64) -> ApiResult<Vec<i64>> {
    let mut conn = state.engine.db.get().await?;
    Ok(chats::participants(&mut conn.conn(), chat_id)
        .await?
        .into_iter()
        .filter(|(p, _)| p.is_current())
        .map(|(p, _)| p.user_id)
        .collect())
}

/// Deletes a group for everyone (only system admins; anyone else gets 404). The body is optional.
#[utoipa::path(post, path = "/api/admin/groups/{id}/delete", tag = "admin",
    params(("id" = i64, Path, description = "group (chat) id")), request_body = Option<NoteRequest>,
    responses((status = 200, body = GroupDeletedByAdmin)))]
pub(crate) async fn delete_group(
    admin: AdminUser,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let note = note_of(&body)?;
    let deleted = state
        .write(AdminDeleteGroup {
            admin_id: admin.user_id,
            chat_id: id,
            note,
        })
        .await?;
    if !deleted {
        return Err(ApiError::not_found("group"));
    }
    let members = current_members(&state, id).await?;
    announce_group_deleted(&state.engine, id, members);
    Ok(HttpResponse::Ok().json(GroupDeletedByAdmin {
        success: true,
        chat_id: id,
    }))
}

/// The audit log, newest first (only system admins; anyone else gets 404).
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin",
    params(
        ("page" = Option<i64>, Query, minimum = 1, maximum = 1000000, description = "from 1"),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 100, description = "default 20"),
    ),
    responses((status = 200, body = AuditPage)))]
pub(crate) async fn audit_log(
    _admin: AdminUser,
    state: web::Data<AppState>,
    q: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let (limit, offset, page) = paging(&q)?;
    let mut conn = state.engine.db.get().await?;
    let (rows, total) = audit::page(&mut conn.conn(), limit, offset).await?;
    Ok(HttpResponse::Ok().json(AuditPage {
        entries: rows.iter().map(AuditItem::of).collect(),
        pagination: AdminPagination::new(page, limit, total),
    }))
}
