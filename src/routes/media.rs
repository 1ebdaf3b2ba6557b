//! `GET /media/{key}?expires&sig`: serves a stored object to whoever holds a valid signed link
//! (a tampered or expired one answers 403), or, for S3 with `media.s3_presign`, redirects to a
//! short-lived URL presigned for the store, so the bytes come straight from there. Answers sign
//! their links where they are built (`api::links`).

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use courier_actors::storage::{content_type, disposition, Denied};
use futures_util::StreamExt;
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How long a redirect to the store works at most (and may be cached), in seconds: long
/// enough to follow it and for a player to read a video in ranges, short enough that a leaked
/// one soon stops working.
const STORE_URL_SECS: i64 = 600;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/media/{key:.+}", web::get().to(serve));
}

#[derive(Deserialize)]
pub(crate) struct Signed {
    /// Read as text: a link with anything else than a number there is a bad link (403), not a
    /// bad request.
    expires: Option<String>,
    sig: Option<String>,
}

/// A stored file, for whoever holds a valid signed link (as answers hand them out).
#[utoipa::path(get, path = "/media/{key}", tag = "media",
    params(
        ("key" = String, Path, description = "the stored object's key"),
        ("expires" = Option<String>, Query, description = "Unix seconds the link works until"),
        ("sig" = Option<String>, Query, description = "the link's signature"),
        ("Range" = Option<String>, Header, description = "one byte range, e.g. `bytes=0-99`"),
    ),
    responses(
        (status = 200, description = "the file, with its content type"),
        (status = 302, description = "S3 with presigned links: the file is at `Location`, \
            a URL presigned for the store that works for at most ten minutes"),
        (status = 206, description = "the range asked for"),
        (status = 416, description = "the range lies outside the file"),
    ))]
pub(crate) async fn serve(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<Signed>,
) -> ApiResult<HttpResponse> {
    let key = path.into_inner();
    let expires = q.expires.as_deref().and_then(|e| e.parse::<i64>().ok());
    let (Some(expires), Some(sig)) = (expires, q.sig.as_deref()) else {
        return Err(ApiError::forbidden(
            "bad_signature",
            "this link is not signed",
        ));
    };
    let storage = &state.engine.storage;
    match storage.verify(&key, expires, sig) {
        Ok(()) => {}
        Err(Denied::BadSignature) => {
            return Err(ApiError::forbidden(
                "bad_signature",
                "this link's signature is not valid",
            ))
        }
        Err(Denied::Expired) => {
            return Err(ApiError::forbidden(
                "link_expired",
                "this link has expired; ask for a new one",
            ))
        }
    }
    let now = state.engine.clock.now().and_utc().timestamp();
    // Not longer than the link itself works (a valid link has at least a second left).
    let valid_for = (expires - now).clamp(1, STORE_URL_SECS);
    let at_store = storage
        .store_url(&key, std::time::Duration::from_secs(valid_for as u64))
        .await
        .map_err(ApiError::internal)?;
    if let Some(url) = at_store {
        // The store answers for the object from here on (404 when it is gone, ranges).
        return Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .insert_header((
                header::CACHE_CONTROL,
                format!("private, max-age={valid_for}"),
            ))
            .finish());
    }
    let wanted = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    // Players ask for parts of a video or a song (a seek, or to read its index first).
    let part = match wanted {
        None => None,
        Some(wanted) => {
            let size = storage
                .size(&key)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::not_found("file"))?;
            match byte_range(wanted, size) {
                Some(Ok(range)) => Some((size, range)),
                Some(Err(())) => {
                    return Ok(HttpResponse::RangeNotSatisfiable()
                        .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                        .finish())
                }
                // Not one range we understand: the whole file, as HTTP allows.
                None => None,
            }
        }
    };
    let (status, size, range, body) = match part {
        Some((size, range)) => {
            let body = storage
                .get_range(&key, range.clone())
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::not_found("file"))?;
            (StatusCode::PARTIAL_CONTENT, size, Some(range), body)
        }
        None => {
            let (size, body) = storage
                .get(&key)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::not_found("file"))?;
            (StatusCode::OK, size, None, body)
        }
    };
    let body = body.map(|chunk| chunk.map_err(|e| std::io::Error::other(e.to_string())));
    let mime = content_type(&key);
    let mut res = HttpResponse::build(status);
    res.content_type(mime)
        .insert_header((header::CONTENT_DISPOSITION, disposition(mime)))
        .insert_header((header::CONTENT_SECURITY_POLICY, "sandbox"))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        // Cached no longer than the link works.
        .insert_header((
            header::CACHE_CONTROL,
            format!("private, max-age={}", (expires - now).max(0)),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"));
    match range {
        Some(r) => res
            .insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", r.start, r.end - 1),
            ))
            .insert_header((header::CONTENT_LENGTH, r.end - r.start)),
        None => res.insert_header((header::CONTENT_LENGTH, size)),
    };
    Ok(res.streaming(body))
}

/// The one byte range a `Range` header asks for, within an object of `size` bytes: None when
/// the header is not a single range in bytes (the whole object is sent), `Err` when the range
/// lies outside the object (416).
fn byte_range(header: &str, size: u64) -> Option<Result<std::ops::Range<u64>, ()>> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // The last n bytes.
        let n: u64 = last.parse().ok()?;
        return Some(if n == 0 || size == 0 {
            Err(())
        } else {
            Ok(size.saturating_sub(n)..size)
        });
    }
    let start: u64 = first.parse().ok()?;
    let end = match last {
        "" => size,
        last => {
            let last: u64 = last.parse().ok()?;
            if last < start {
                return None;
            }
            last.saturating_add(1).min(size)
        }
    };
    Some(if start >= size {
        Err(())
    } else {
        Ok(start..end)
    })
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges_are_read_as_http_means_them() {
        assert_eq!(byte_range("bytes=0-99", 1000), Some(Ok(0..100)));
        assert_eq!(byte_range("bytes=900-", 1000), Some(Ok(900..1000)));
        assert_eq!(byte_range("bytes=-100", 1000), Some(Ok(900..1000)));
        assert_eq!(byte_range("bytes=-5000", 1000), Some(Ok(0..1000)));
        assert_eq!(byte_range("bytes=990-5000", 1000), Some(Ok(990..1000)));
        assert_eq!(byte_range("bytes=1000-", 1000), Some(Err(())));
        assert_eq!(byte_range("bytes=-0", 1000), Some(Err(())));
        assert_eq!(byte_range("bytes=5-1", 1000), None, "malformed: ignored");
        assert_eq!(
            byte_range("bytes=0-1,5-9", 1000),
            None,
            "several: the whole file"
        );
        assert_eq!(byte_range("items=0-1", 1000), None);
        assert_eq!(byte_range("bytes=x-", 1000), None);
    }
}
