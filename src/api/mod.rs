//! The REST API's wire types and its OpenAPI 3.1 description: every route's request and
//! answer as typed structs (one module per resource), the document generated from them
//! (`GET /api/openapi.json`) and a page that renders it (`GET /api/docs`), served by the
//! binary itself with nothing fetched from elsewhere.

pub mod admin;
pub mod auth;
pub mod calls;
pub mod chats;
pub mod common;
pub mod contacts;
pub mod devices;
pub mod errors;
pub mod groups;
pub mod health;
pub mod links;
pub mod messages;
pub mod operations;
pub mod pusher;
pub mod reports;
pub mod status;
pub mod sync;
pub mod users;

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;

use crate::routes;
use errors::Errors;

/// The document. Errors and security come from [`errors::OPERATIONS`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Courier",
        description = "A WhatsApp-style messaging server. Every action is also possible over \
            the WebSocket (`GET /ws`, see docs/protocol.md); Pusher clients connect at \
            `GET /app/{key}` (docs/pusher.md). Times are RFC 3339 UTC, ids 64-bit integers. \
            Errors are `{\"success\": false, \"error\": {\"code\", \"message\"}}`; each \
            operation lists the codes it answers.",
    ),
    paths(
        routes::auth::send_otp,
        routes::auth::verify_otp,
        routes::auth::refresh,
        routes::auth::logout,
        routes::users::delete_account,
        routes::user_export::start,
        routes::user_export::show,
        routes::users::get_profile,
        routes::users::update_profile,
        routes::users::update_privacy,
        routes::avatar::upload,
        routes::users::get_user,
        routes::chats::list,
        routes::chats::private,
        routes::chats::get,
        routes::chats::history,
        routes::chats::send,
        routes::chats::read,
        routes::chat_settings::update,
        routes::chat_timer::set,
        routes::messages::edit,
        routes::messages::delete,
        routes::messages::react,
        routes::messages::unreact,
        routes::messages::info,
        routes::devices::register,
        routes::devices::show,
        routes::devices::remove,
        routes::message_stars::star,
        routes::message_stars::unstar,
        routes::message_stars::starred,
        routes::message_forward::forward,
        routes::search::search,
        routes::groups::create,
        routes::group_invites::list,
        routes::group_invites::accept,
        routes::group_invites::decline,
        routes::groups::get,
        routes::groups::update,
        routes::groups::add_members,
        routes::groups::remove_member,
        routes::groups::set_role,
        routes::groups::leave,
        routes::contacts::list,
        routes::contacts::add,
        routes::contacts::sync,
        routes::contacts::remove,
        routes::contacts::block,
        routes::calls::history,
        routes::calls::start,
        routes::calls::ice_servers,
        routes::calls::answer,
        routes::calls::decline,
        routes::calls::end,
        routes::status::list,
        routes::status::create_text,
        routes::status::view,
        routes::status::views,
        routes::status::delete,
        routes::sync::since,
        routes::sync::cursor,
        routes::reports::create,
        routes::admin::list_reports,
        routes::admin::get_report,
        routes::admin::resolve,
        routes::admin::context,
        routes::admin::suspend,
        routes::admin::unsuspend,
        routes::admin::delete_message,
        routes::admin::delete_group,
        routes::admin::audit_log,
        routes::health::health,
        routes::health::healthz,
        routes::health::readyz,
        routes::media::serve,
        crate::pusher::auth::authorize,
        crate::pusher::api::events,
        crate::pusher::api::batch_events,
        crate::pusher::api::channels,
        crate::pusher::api::channel,
        crate::pusher::api::users,
    ),
    components(schemas(crate::error::Body, crate::error::Detail)),
    modifiers(&SecuritySchemes, &Errors),
    tags(
        (name = "auth", description = "Sign-in with a one-time code, tokens"),
        (name = "users", description = "Profiles, privacy, profile photo"),
        (name = "chats", description = "Chats, history, sending"),
        (name = "messages", description = "Editing, deleting, reactions, receipts, forwarding, stars, search"),
        (name = "devices", description = "Push notifications for a device session (FCM, APNs, Web Push, a signed webhook)"),
        (name = "groups", description = "Groups, members, roles, invites"),
        (name = "contacts", description = "Contacts, blocking, address-book matching"),
        (name = "calls", description = "Voice and video calls, ICE servers"),
        (name = "status", description = "24-hour statuses"),
        (name = "sync", description = "Catching up after a disconnect"),
        (name = "moderation", description = "Reporting messages, users and groups"),
        (name = "admin", description = "System admins only: reports, suspensions, deletions, the audit log (anyone else gets 404 `not_found`, as for a route that does not exist)"),
        (name = "health", description = "Probes"),
        (name = "media", description = "Stored files behind signed links"),
        (name = "pusher", description = "Pusher protocol: channel authorization, events API (when `pusher.app_key` is set)"),
    )
)]
pub struct ApiDoc;

/// The two bearer schemes: access tokens for the API, refresh tokens for `/api/auth/refresh`.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let jwt = |what: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(what))
                    .build(),
            )
        };
        components
            .add_security_scheme("bearer", jwt("The access token from verify-otp or refresh"));
        components.add_security_scheme("refresh_token", jwt("The refresh token"));
    }
}

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into()))
}

/// `GET /api/openapi.json` and `GET /api/docs`, mounted under `/api`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(openapi_json))
        .route("/docs", web::get().to(docs_page));
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(document())
}

/// The page that renders the document: plain HTML and script, all of it in the binary.
const DOCS_PAGE: &str = include_str!("docs.html");

async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'",
        ))
        .body(DOCS_PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_errors_listed_and_every_listed_one_exists() {
        let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push(format!("{method} {path}"));
            }
        }
        documented.sort();
        let mut listed: Vec<String> = errors::OPERATIONS
            .iter()
            .map(|o| format!("{} {}", o.method, o.path))
            .collect();
        listed.sort();
        assert_eq!(documented, listed);
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["paths"]["/api/chats"]["get"]["security"][0]["bearer"],
            serde_json::json!([])
        );
        assert!(
            doc["paths"]["/api/chats/{id}"]["get"]["responses"]["404"]["description"]
                .as_str()
                .unwrap()
                .contains("`not_found`")
        );
    }
}
