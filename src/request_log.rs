//! One log line per HTTP request (method, route pattern, status, duration, user, request id),
//! and the request id echoed in `X-Request-Id`: a client's own id is kept when it is a short
//! token, otherwise the server makes one, so a client's report can be matched to the line.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use rand::Rng;

/// The header a request id travels in, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The signed-in user of a request, recorded by the `AuthUser` extractor for the log line.
#[derive(Clone, Copy)]
pub struct RequestUser(pub i64);

/// A client's request id is kept if it is 1 to 64 letters, digits, `-`, `_` or `.`.
fn client_id(req: &ServiceRequest) -> Option<String> {
    let id = req.headers().get(&REQUEST_ID)?.to_str().ok()?;
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    ok.then(|| id.to_string())
}

fn new_id() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

/// Logs the request once it is answered, and sets `X-Request-Id` on the answer.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = client_id(&req).unwrap_or_else(new_id);
    let method = req.method().clone();
    let res = next.call(req).await;
    let ms = (started.elapsed().as_secs_f64() * 1e5).round() / 100.0;
    let (route, user, status) = match &res {
        Ok(r) => (
            // The route pattern, not the path: paths hold ids, and media links signatures.
            r.request().match_pattern(),
            r.request().extensions().get::<RequestUser>().map(|u| u.0),
            r.status().as_u16(),
        ),
        Err(e) => (None, None, e.as_response_error().status_code().as_u16()),
    };
    tracing::info!(
        target: "courier::request",
        request_id = %id,
        method = %method,
        route = route.as_deref().unwrap_or("unmatched"),
        status,
        ms,
        user,
        "request"
    );
    let mut res = res?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn keeps_short_token_ids_and_replaces_the_rest() {
        let with = |v: &str| {
            TestRequest::default()
                .insert_header((REQUEST_ID, v))
                .to_srv_request()
        };
        assert_eq!(
            client_id(&with("abc-123_x.y")).as_deref(),
            Some("abc-123_x.y")
        );
        assert_eq!(client_id(&with("has space")), None);
        assert_eq!(client_id(&with(&"a".repeat(65))), None);
        assert_eq!(client_id(&TestRequest::default().to_srv_request()), None);
        assert_eq!(new_id().len(), 16);
    }
}
