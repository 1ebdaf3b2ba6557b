//! The embedded web client: `web/` at the repository root, compiled into the binary, served at
//! `/` (the page) and `/web/{file}` (its modules and style sheet) when `web.enabled` is on.
//!
//! Each answer carries its Content-Type, `Cache-Control: no-cache` with an `ETag` (a browser
//! revalidates and gets 304 while the binary is the same), and a strict Content-Security-Policy:
//! the page loads nothing from elsewhere and talks only to this server (REST and `/ws`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::config::Settings;
use crate::error::ApiError;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_str!(concat!("../web/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Everything under `/web/`; anything else there is 404.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("ws.js", JS),
    asset!("ui.js", JS),
    asset!("state.js", JS),
    asset!("chats.js", JS),
    asset!("conversation.js", JS),
    asset!("people.js", JS),
    asset!("groups.js", JS),
    asset!("status.js", JS),
    asset!("call.js", JS),
];

/// The policy every answer of the web client carries. Media links are same-origin
/// (`/media/…`) unless `media.public_url` points elsewhere, whose origin is then allowed for
/// pictures and sound.
#[derive(Clone)]
struct Policy(HeaderValue);

impl Policy {
    fn new(settings: &Settings) -> Policy {
        let media: String = media_origins(settings)
            .iter()
            .map(|o| format!(" {o}"))
            .collect();
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; \
             connect-src 'self' ws: wss:; img-src 'self' blob: data:{media}; \
             media-src 'self' blob:{media}; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'"
        );
        // A URL's origin holds no control characters, so the header value is always valid;
        // should it not be, the policy falls back to the strictest one.
        Policy(
            HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'none'")),
        )
    }
}

/// Where media comes from when not from this server: `media.public_url`, and with presigned
/// S3 links the store itself, where media links redirect (`media.s3_endpoint`, with the bucket
/// in the host name unless path-style, or AWS). A redirect is checked against the policy too.
fn media_origins(settings: &Settings) -> Vec<String> {
    let m = &settings.media;
    let mut origins: Vec<String> = origin(&m.public_url).into_iter().collect();
    if m.store == crate::config::MediaStore::S3 && m.s3_presign {
        match m.s3_endpoint.split_once("://") {
            _ if m.s3_endpoint.is_empty() => origins.push("https://*.amazonaws.com".into()),
            Some((scheme, host)) if !m.s3_path_style => {
                origins.extend(origin(&format!("{scheme}://{}.{host}", m.s3_bucket)))
            }
            _ => origins.extend(origin(&m.s3_endpoint)),
        }
    }
    origins
}

/// `scheme://host[:port]` of an absolute URL, if it is one.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    let ok = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    (matches!(scheme, "http" | "https") && host.chars().all(ok))
        .then(|| format!("{scheme}://{host}"))
}

/// Mounts the client (after `/api`, `/ws` and the media routes, so it shadows none of them).
/// With `web.enabled = false` nothing is mounted and `/` answers 404 like any unknown path.
pub fn routes(settings: &Settings) -> impl FnOnce(&mut web::ServiceConfig) {
    let policy = settings.web.enabled.then(|| Policy::new(settings));
    move |cfg| {
        if let Some(policy) = policy {
            cfg.app_data(web::Data::new(policy))
                .route("/", web::get().to(index))
                .route("/web/{file}", web::get().to(file));
        }
    }
}

async fn index(req: HttpRequest, policy: web::Data<Policy>) -> HttpResponse {
    serve(&req, &ASSETS[0], &policy)
}

async fn file(
    req: HttpRequest,
    path: web::Path<String>,
    policy: web::Data<Policy>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| ApiError::not_found("file"))?;
    Ok(serve(&req, asset, &policy))
}

fn serve(req: &HttpRequest, asset: &Asset, policy: &Policy) -> HttpResponse {
    let etag = format!("\"{:016x}\"", fnv1a(asset.body.as_bytes()));
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CONTENT_SECURITY_POLICY, policy.0.clone()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if fresh {
        return res.finish();
    }
    res.content_type(asset.content_type).body(asset.body)
}

/// FNV-1a, 64 bits: enough to tell one build's file from another's.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_of_public_url() {
        assert_eq!(
            origin("https://cdn.example.org/media").as_deref(),
            Some("https://cdn.example.org")
        );
        assert_eq!(origin("/media"), None);
        assert_eq!(origin("javascript://x'y"), None);
    }

    #[test]
    fn presigned_links_open_the_store_to_pictures() {
        let mut s = Settings::default();
        assert!(media_origins(&s).is_empty());
        s.media.store = crate::config::MediaStore::S3;
        s.media.s3_endpoint = "http://127.0.0.1:9000".into();
        assert_eq!(media_origins(&s), ["http://127.0.0.1:9000"]);
        s.media.s3_endpoint = "https://s3.example.org".into();
        s.media.s3_bucket = "media".into();
        s.media.s3_path_style = false;
        assert_eq!(media_origins(&s), ["https://media.s3.example.org"]);
        s.media.s3_presign = false;
        assert!(media_origins(&s).is_empty());
        s.media.public_url = "https://cdn.example.org/m".into();
        let csp = Policy::new(&s).0;
        let csp = csp.to_str().unwrap();
        assert!(
            csp.contains("img-src 'self' blob: data: https://cdn.example.org;"),
            "{csp}"
        );
    }

    #[test]
    fn every_module_the_page_imports_is_served() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            for line in asset.body.lines().filter(|l| l.starts_with("import ")) {
                let Some(spec) = line.split(['\'', '"']).nth(1) else {
                    continue;
                };
                let name = spec.trim_start_matches("./");
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{} imports {spec}, which is not embedded",
                    asset.name
                );
            }
        }
    }
}
