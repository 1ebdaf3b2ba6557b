//! Deadlines on what a client controls: a body must arrive in time (408 `request_timeout`,
//! nothing stored), and an API request must be answered in time (503 `unavailable`), so a slow
//! or silent client, or a stalled database, never holds a connection without bound.

use std::future::Future;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// 408: the body did not arrive within its deadline. The connection is closed after it.
pub fn body_too_slow(limit: Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the request body did not arrive within {} ms",
            limit.as_millis()
        ),
    )
}

/// Reads a body (or a whole form) within `limit`, or answers 408. Whatever `read` gathered is
/// dropped with it: nothing is stored from a body that did not arrive whole.
pub async fn read_within<T>(
    limit: Duration,
    read: impl Future<Output = ApiResult<T>>,
) -> ApiResult<T> {
    tokio::time::timeout(limit, read)
        .await
        .unwrap_or_else(|_| Err(body_too_slow(limit)))
}

/// Whether a request is an upload (multipart), which has its own, longer body deadline and no
/// request deadline (large files on slow links take what they take, up to that deadline).
fn is_upload(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"multipart/"))
}

/// Middleware: an API request that is not an upload is answered within
/// `server.request_timeout_ms`, even if the database stalls in the middle of its queries. The
/// WebSocket upgrade and served files (outside `/api`) are not limited.
pub async fn request_deadline(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map(|s| Duration::from_millis(s.settings.server.request_timeout_ms));
    let limit = match limit {
        Some(l) if req.path().starts_with("/api/") && !is_upload(&req) => l,
        _ => return next.call(req).await.map(|r| r.map_into_boxed_body()),
    };
    let path = req.path().to_string();
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(res) => res.map(|r| r.map_into_boxed_body()),
        Err(_) => {
            tracing::warn!(path, "request deadline passed");
            // The request itself went with the handler; the error becomes the answer.
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server could not answer in time; try again",
            )
            .into())
        }
    }
}
