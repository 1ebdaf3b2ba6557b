//! Request extractors: JSON bodies with precise errors, and the authenticated user.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use courier_actors::store::auth::active_session;
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::request_log::RequestUser;
use crate::state::AppState;
use crate::tokens::TokenKind;

/// A JSON body. Errors: 415 for a non-JSON content type, 413 over `server.json_limit_bytes`,
/// 408 if it does not arrive within `server.body_timeout_ms`, 400 for malformed JSON, 422
/// naming the field for a wrong type or a missing field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = state(req)
            .map(|s| s.settings.server.json_limit_bytes)
            .unwrap_or(64 * 1024);
        let deadline = std::time::Duration::from_millis(
            state(req)
                .map(|s| s.settings.server.body_timeout_ms)
                .unwrap_or(10_000),
        );
        let content_type_ok = match req.mime_type() {
            Ok(None) => true,
            Ok(Some(m)) => {
                m.subtype() == mime_json() || m.suffix().is_some_and(|s| s == mime_json())
            }
            Err(_) => false,
        };
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the body must be application/json",
                ));
            }
            if declared_len.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            let read = async {
                let mut body = web::BytesMut::new();
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|_| {
                        ApiError::bad_request("bad_body", "the body could not be read")
                    })?;
                    if body.len() + chunk.len() > limit {
                        return Err(too_large(limit));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            };
            let body = crate::deadline::read_within(deadline, read).await?;
            parse(&body).map(ApiJson)
        })
    }
}

fn mime_json() -> &'static str {
    "json"
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the body is larger than {limit} bytes"),
    )
}

/// Parses a JSON object, naming the field at fault when the shape is wrong.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the body is empty; a JSON object is expected",
        ));
    }
    // serde reads a struct from an array too (`[null, null]` would pass for a body of
    // optional fields): every body here is an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => Err(ApiError::invalid("body", "must be a JSON object")),
            Err(e) => Err(malformed(&e)),
        };
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let mut field = e.path().to_string();
                // serde reports a missing field at its parent; name the field itself.
                if let Some(missing) = message
                    .strip_prefix("missing field `")
                    .and_then(|r| r.split('`').next())
                {
                    field = if field == "." {
                        missing.to_string()
                    } else {
                        format!("{field}.{missing}")
                    };
                }
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_string();
                ApiError::invalid(field, message)
            }
            _ => malformed(inner),
        }
    })?;
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::bad_request("invalid_json", format!("malformed JSON: {e}"))
}

/// The user a valid access token names, with the device session it belongs to.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: i64,
    pub session_id: i64,
    pub phone_number: String,
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state(req).cloned();
        let token = bearer(req).map(str::to_string);
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let token = token.ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
            let user = authenticate(&state, &token).await?;
            req.extensions_mut().insert(RequestUser(user.user_id));
            Ok(user)
        })
    }
}

/// Checks an access token and that its device session is still active (not logged out).
pub async fn authenticate(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let claims = state
        .tokens
        .verify(token, TokenKind::Access, &state.engine.clock)?;
    let mut conn = state.engine.db.get().await?;
    let session = active_session(&mut conn.conn(), claims.sid, state.engine.clock.now()).await?;
    match session {
        Some(s) if s.user_id == claims.user_id => Ok(AuthUser {
            user_id: claims.user_id,
            session_id: claims.sid,
            phone_number: claims.phone_number,
        }),
        _ => Err(ApiError::unauthorized("session ended; sign in again")),
    }
}

/// The token from `Authorization: Bearer <token>`.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The client's address: the peer, or `X-Forwarded-For` when configured to trust it.
pub fn client_ip(req: &HttpRequest, state: &AppState) -> String {
    if state.settings.server.trust_forwarded_for {
        if let Some(ip) = req.connection_info().realip_remote_addr() {
            return ip.to_string();
        }
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn state(req: &HttpRequest) -> Option<&web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>()
}
