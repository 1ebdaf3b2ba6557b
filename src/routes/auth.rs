//! `/api/auth/*`: phone sign-in with one-time codes, token refresh and logout.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::TimeDelta;
use courier_actors::store::auth::{
    CreateOtp, RefreshOutcome, RevokeSession, RotateRefresh, VerifyOtp, VerifyOutcome,
};
use rand::Rng;

use crate::api::auth::{
    OtpSent, SendOtpRequest, SignedIn, SignedInUser, TokenPair, VerifyOtpRequest,
};
use crate::api::common::Done;
use crate::error::{ApiError, ApiResult};
use crate::extract::{bearer, client_ip, ApiJson, AuthUser};
use crate::state::AppState;
use crate::tokens::{new_jti, TokenKind};
use crate::validate;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/auth")
            .route("/send-otp", web::post().to(send_otp))
            .route("/verify-otp", web::post().to(verify_otp))
            .route("/refresh", web::post().to(refresh))
            .route("/logout", web::post().to(logout)),
    );
}

/// Applies the per-address and per-phone limits of one auth endpoint.
async fn limit(
    state: &AppState,
    req: &HttpRequest,
    endpoint: &str,
    phone_hash: &str,
) -> ApiResult<()> {
    let minute = TimeDelta::minutes(1);
    let l = &state.settings.limits;
    let ip = client_ip(req, state);
    state
        .engine
        .limiter
        .hit(
            &format!("{endpoint}:ip:{ip}"),
            l.otp_per_ip_per_minute,
            minute,
        )
        .await
        .map_err(ApiError::too_many)?;
    state
        .engine
        .limiter
        .hit(
            &format!("{endpoint}:phone:{phone_hash}"),
            l.otp_per_phone_per_minute,
            minute,
        )
        .await
        .map_err(ApiError::too_many)
}

/// Sends a one-time code by SMS (with the console provider, to the server's log).
#[utoipa::path(post, path = "/api/auth/send-otp", tag = "auth", request_body = SendOtpRequest,
    responses((status = 200, body = OtpSent)))]
pub(crate) async fn send_otp(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<SendOtpRequest>,
) -> ApiResult<HttpResponse> {
    let mut body = body.0;
    body.phone_number = validate::phone("phone_number", &body.phone_number)?;
    if let Some(cc) = &body.country_code {
        validate::country_code(cc, &body.phone_number)?;
    }
    let phone_hash = state.secrets.phone_hash(&body.phone_number);
    limit(&state, &req, "otp-send", &phone_hash).await?;

    let auth = &state.settings.auth;
    let code = if auth.fixed_otp.is_empty() {
        format!("{:06}", rand::rng().random_range(0..1_000_000u32))
    } else {
        auth.fixed_otp.clone()
    };
    let expires_at = state.engine.clock.now() + TimeDelta::seconds(auth.otp_ttl_secs as i64);
    // Stored before sending, so the code works the moment it arrives; a newer code replaces it.
    state
        .write(CreateOtp {
            code_hash: state.secrets.otp_hash(&phone_hash, &code),
            phone_hash,
            country_code: body.country_code.unwrap_or_default(),
            expires_at,
        })
        .await?;
    let text = format!(
        "Your Courier code is {code}. It expires in {} minutes.",
        auth.otp_ttl_secs.div_ceil(60)
    );
    if let Err(e) = state.sms.send(&body.phone_number, &text).await {
        tracing::warn!(error = %e, "could not send a code");
        return Err(ApiError::new(
            actix_web::http::StatusCode::BAD_GATEWAY,
            "sms_failed",
            "the code could not be sent; try again",
        ));
    }
    Ok(HttpResponse::Ok().json(OtpSent {
        success: true,
        message: "OTP sent successfully".into(),
        expires_at: expires_at.and_utc(),
        delivery: state.sms.delivery().into(),
    }))
}

/// Exchanges a code for tokens; creates the account on first sign-in.
#[utoipa::path(post, path = "/api/auth/verify-otp", tag = "auth", request_body = VerifyOtpRequest,
    responses((status = 200, body = SignedIn)))]
pub(crate) async fn verify_otp(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<VerifyOtpRequest>,
) -> ApiResult<HttpResponse> {
    let mut body = body.0;
    body.phone_number = validate::phone("phone_number", &body.phone_number)?;
    if !(body.otp.len() == 6 && body.otp.bytes().all(|b| b.is_ascii_digit())) {
        return Err(ApiError::invalid("otp", "must be the 6-digit code"));
    }
    let name = body
        .name
        .as_deref()
        .map(|n| validate::name("name", n, 1, 255))
        .transpose()?;
    let phone_hash = state.secrets.phone_hash(&body.phone_number);
    limit(&state, &req, "otp-verify", &phone_hash).await?;

    let now = state.engine.clock.now();
    let jti = new_jti();
    let outcome = state
        .write(VerifyOtp {
            code_hash: state.secrets.otp_hash(&phone_hash, &body.otp),
            phone_hash,
            phone_number: body.phone_number.clone(),
            max_attempts: state.settings.auth.otp_max_attempts as i32,
            name,
            refresh_jti: jti.clone(),
            session_expires_at: now + state.tokens.refresh_ttl,
            user_agent: user_agent(&req),
        })
        .await?;
    let (user, session, created) = match outcome {
        VerifyOutcome::Verified {
            user,
            session,
            created,
        } => (user, session, created),
        VerifyOutcome::NoCode => {
            return Err(ApiError::bad_request(
                "otp_invalid",
                "no code is pending for this number; request a new one",
            ))
        }
        VerifyOutcome::Expired => {
            return Err(ApiError::bad_request(
                "otp_expired",
                "the code expired; request a new one",
            ))
        }
        VerifyOutcome::Wrong { attempts_left: 0 } => {
            return Err(ApiError::bad_request(
                "otp_locked",
                "too many wrong codes; request a new one",
            ))
        }
        VerifyOutcome::Suspended => return Err(suspended()),
        VerifyOutcome::Wrong { attempts_left } => {
            return Err(ApiError::bad_request(
                "otp_invalid",
                format!("wrong code; {attempts_left} tries left"),
            ))
        }
    };
    let tokens = state
        .tokens
        .pair(user.id, &user.phone_number, session.id, &jti, now)?;
    let answer = SignedIn {
        success: true,
        is_new_user: created,
        user: SignedInUser {
            id: user.id,
            phone_number: user.phone_number,
            name: user.name,
            avatar_url: user.avatar_url,
            about: user.about,
            created_at: user.created_at.and_utc(),
        },
        tokens,
    };
    Ok(HttpResponse::Ok().json(state.signed(answer)))
}

/// `POST /api/auth/refresh` with the refresh token as bearer: a new access token and a new
/// refresh token (the presented one stops working).
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth",
    security(("refresh_token" = [])),
    responses((status = 200, body = TokenPair)))]
pub(crate) async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let minute = TimeDelta::minutes(1);
    let l = &state.settings.limits;
    let ip = client_ip(&req, &state);
    state
        .engine
        .limiter
        .hit(
            &format!("refresh:ip:{ip}"),
            l.refresh_per_ip_per_minute,
            minute,
        )
        .await
        .map_err(ApiError::too_many)?;
    let token = bearer(&req).ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    let claims = state
        .tokens
        .verify(token, TokenKind::Refresh, &state.engine.clock)?;
    state
        .engine
        .limiter
        .hit(
            &format!("refresh:session:{}", claims.sid),
            l.refresh_per_minute,
            minute,
        )
        .await
        .map_err(ApiError::too_many)?;
    let now = state.engine.clock.now();
    let jti = new_jti();
    let outcome = state
        .write(RotateRefresh {
            session_id: claims.sid,
            presented_jti: claims.jti,
            new_jti: jti.clone(),
            new_expires_at: now + state.tokens.refresh_ttl,
        })
        .await?;
    let (user, session) = match outcome {
        RefreshOutcome::Rotated { user, session } => (user, session),
        RefreshOutcome::ReuseDetected => {
            tracing::warn!(
                session = claims.sid,
                user = claims.user_id,
                "refresh token reused; session revoked"
            );
            state.engine.end_auth_session(claims.user_id, claims.sid);
            return Err(ApiError::new(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "refresh_reused",
                "this refresh token was already used; the session is signed out",
            ));
        }
        RefreshOutcome::Suspended => return Err(suspended()),
        RefreshOutcome::Inactive => {
            return Err(ApiError::unauthorized("session ended; sign in again"))
        }
    };
    let tokens = state
        .tokens
        .pair(user.id, &user.phone_number, session.id, &jti, now)?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Ends the device session: its tokens stop working at once.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 200, body = Done)))]
pub(crate) async fn logout(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    state
        .write(RevokeSession {
            session_id: user.session_id,
            reason: "logout",
        })
        .await?;
    state.engine.end_auth_session(user.user_id, user.session_id);
    Ok(HttpResponse::Ok().json(Done::new("Logged out successfully")))
}

/// 403 for an account an operator suspended (`courier users suspend`).
fn suspended() -> ApiError {
    ApiError::forbidden(
        "account_suspended",
        "this account is suspended; contact the service's support",
    )
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(255).collect())
}
