//! `/api/devices`: registering the caller's device session for push notifications.

use actix_web::{web, HttpResponse};
use courier_actors::store::push::{of_session, Register, Target, Unregister};

use crate::api::devices::{DeviceRegistered, DeviceRemoved, DeviceView, PushInfo, RegisterDevice};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, AuthUser};
use crate::push::webpush::{origin, valid_keys};
use crate::state::AppState;

/// Longest token or endpoint accepted.
const MAX_TOKEN: usize = 2048;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/devices")
            .route(web::get().to(show))
            .route(web::post().to(register))
            .route(web::delete().to(remove)),
    );
}

fn view(t: &Target) -> DeviceView {
    DeviceView {
        id: t.id,
        platform: t.platform.clone(),
        created_at: t.created_at.and_utc(),
    }
}

/// A token: 1 to 2048 visible ASCII characters.
fn check_token(field: &'static str, t: &str) -> ApiResult<()> {
    if t.is_empty() || t.len() > MAX_TOKEN || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            field,
            "must be 1 to 2048 visible ASCII characters",
        ));
    }
    Ok(())
}

/// Registers (or replaces) the push target of the caller's device session: with no open
/// socket, this device is then reached through its platform. Signing out removes it.
#[utoipa::path(post, path = "/api/devices", tag = "devices", request_body = RegisterDevice,
    responses((status = 201, body = DeviceRegistered)))]
pub(crate) async fn register(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ApiJson<RegisterDevice>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let platform = b.platform.as_str();
    if !matches!(platform, "fcm" | "apns" | "webpush" | "webhook") {
        return Err(ApiError::invalid(
            "platform",
            "must be fcm, apns, webpush or webhook",
        ));
    }
    if !state.push.supports(platform) {
        return Err(ApiError::invalid(
            "platform",
            format!("{platform} is not configured on this server"),
        ));
    }
    let (token, p256dh, auth) = match (platform, b.token, b.subscription) {
        ("webpush", None, Some(s)) => {
            check_token("subscription.endpoint", &s.endpoint)?;
            let secure = s.endpoint.starts_with("https://");
            let allowed = secure || state.settings.push.webpush.allow_http_endpoints;
            if origin(&s.endpoint).is_none() || !allowed {
                return Err(ApiError::invalid(
                    "subscription.endpoint",
                    "must be the https:// URL of a push service",
                ));
            }
            if !valid_keys(&s.keys.p256dh, &s.keys.auth) {
                return Err(ApiError::invalid(
                    "subscription.keys",
                    "must hold a P-256 public key (p256dh) and a 16-byte secret (auth), base64url",
                ));
            }
            (s.endpoint, Some(s.keys.p256dh), Some(s.keys.auth))
        }
        ("webpush", _, _) => {
            return Err(ApiError::invalid(
                "subscription",
                "webpush takes a subscription (and no token)",
            ))
        }
        (_, Some(token), None) => {
            check_token("token", &token)?;
            if platform == "apns" && !token.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ApiError::invalid("token", "an APNs device token is hex"));
            }
            (token, None, None)
        }
        _ => {
            return Err(ApiError::invalid(
                "token",
                format!("{platform} takes a token (and no subscription)"),
            ))
        }
    };
    let target = state
        .write(Register {
            user_id: user.user_id,
            auth_session_id: user.session_id,
            platform: platform.to_string(),
            token,
            p256dh,
            auth,
        })
        .await?;
    Ok(HttpResponse::Created().json(DeviceRegistered {
        success: true,
        device: view(&target),
    }))
}

/// This device session's push target, the platforms the server pushes to, and its VAPID key.
#[utoipa::path(get, path = "/api/devices", tag = "devices",
    responses((status = 200, body = PushInfo)))]
pub(crate) async fn show(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let mut conn = state.engine.db.get().await?;
    let target = of_session(&mut conn.conn(), user.session_id).await?;
    let platforms = ["fcm", "apns", "webpush", "webhook"]
        .into_iter()
        .filter(|p| state.push.supports(p))
        .collect();
    Ok(HttpResponse::Ok().json(PushInfo {
        device: target.as_ref().map(view),
        platforms,
        vapid_public_key: state.push.vapid_public_key(),
    }))
}

/// Removes this device session's push target, with the pushes still queued for it.
#[utoipa::path(delete, path = "/api/devices", tag = "devices",
    responses((status = 200, body = DeviceRemoved)))]
pub(crate) async fn remove(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let n = state
        .write(Unregister {
            auth_session_ids: vec![user.session_id],
        })
        .await?;
    Ok(HttpResponse::Ok().json(DeviceRemoved {
        success: true,
        removed: n > 0,
    }))
}
