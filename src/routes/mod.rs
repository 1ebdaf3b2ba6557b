//! HTTP routes, one module per resource. A URL's handler is in the module named after its
//! first path segment after `/api`.

pub mod admin;
pub mod auth;
pub mod avatar;
pub mod calls;
pub mod chat_media;
pub mod chat_settings;
pub mod chat_timer;
pub mod chats;
pub mod common;
pub mod contacts;
pub mod devices;
pub mod group_invites;
pub mod group_limits;
pub mod group_media;
pub mod group_shapes;
pub mod groups;
pub mod health;
pub mod media;
pub mod message_forward;
pub mod message_stars;
pub mod messages;
pub mod reports;
pub mod search;
pub mod status;
pub mod sync;
pub mod user_export;
pub mod users;

use actix_web::web;

/// Mounts every route under `/api`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .configure(auth::routes)
            .configure(users::routes)
            .configure(chats::routes)
            .configure(messages::routes)
            .configure(groups::routes)
            .configure(contacts::routes)
            .configure(devices::routes)
            .configure(calls::routes)
            .configure(status::routes)
            .configure(sync::routes)
            .configure(search::routes)
            .configure(reports::routes)
            .configure(admin::routes)
            .configure(health::routes)
            .configure(crate::api::routes),
    );
}
