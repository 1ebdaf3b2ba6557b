//! Deadlines on what a client controls: a body must arrive in time (408 `request_timeout`,
//! nothing stored), a body left unread is not read on after the answer, and an API request must
//! be answered in time (503 `unavailable`), so a slow or silent client, or a stalled database,
//! never holds a connection without bound.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;
use actix_web::web::Bytes;
use futures_util::Stream;

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

/// Whether a request carries a body (and is not a protocol upgrade, whose "body" is the
/// connection itself).
fn has_body(req: &ServiceRequest) -> bool {
    let h = req.headers();
    let length = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    !h.contains_key(header::UPGRADE)
        && (length.is_some_and(|n| n > 0) || h.contains_key(header::TRANSFER_ENCODING))
}

/// A request body shared between the handler (which reads it) and [`close_on_unread_body`]
/// (which keeps it until the answer is sent).
struct SharedBody(Rc<RefCell<Payload>>);

impl Stream for SharedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_next(cx)
    }
}

/// An answer's body that also holds the request's body, so that the request body lives until
/// the answer has been sent (actix decides to close or drain when the answer ends).
struct WithRequestBody {
    answer: BoxBody,
    _request: Rc<RefCell<Payload>>,
}

impl MessageBody for WithRequestBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> actix_web::body::BodySize {
        self.answer.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().answer).poll_next(cx)
    }
}

/// Middleware: a body the handler did not read to its end (refused, too slow, not needed) is
/// kept until the answer has been sent. actix then closes the connection after the answer
/// (after a short linger) instead of reading on to the body's end, which for a chunked body
/// trickled in, or never finished, would hold the connection without bound.
pub async fn close_on_unread_body(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !has_body(&req) {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let (_, payload) = req.parts_mut();
    let body = Rc::new(RefCell::new(std::mem::replace(payload, Payload::None)));
    req.set_payload(Payload::Stream {
        payload: Box::pin(SharedBody(body.clone())),
    });
    let res = next.call(req).await?;
    Ok(res.map_body(|_, answer| {
        BoxBody::new(WithRequestBody {
            answer: answer.boxed(),
            _request: body,
        })
    }))
}
