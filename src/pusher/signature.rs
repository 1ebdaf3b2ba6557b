//! Pusher's HTTP API request signature: `auth_key`, `auth_timestamp` (within 600 s of the
//! server's clock), `auth_version=1.0`, `body_md5` for a body, and `auth_signature`, the hex
//! HMAC-SHA256 (keyed with the app secret) of `METHOD\npath\nquery`, where the query is every
//! other parameter, keys lowercased, sorted, as `key=value` joined by `&`.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

/// How far `auth_timestamp` may be from the server's clock, in seconds.
pub const MAX_SKEW_SECS: i64 = 600;

/// Why a request's signature was refused (the message a caller sees).
#[derive(Debug, PartialEq, Eq)]
pub struct BadSignature(pub &'static str);

/// Checks a request: its method, path, raw query string and body, against the app's key and
/// secret at `now` (Unix seconds).
pub fn check(
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
    key: &str,
    secret: &[u8],
    now: i64,
) -> Result<(), BadSignature> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|_| BadSignature("malformed query string"))?;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if get("auth_key") != Some(key) {
        return Err(BadSignature("unknown auth_key"));
    }
    if get("auth_version") != Some("1.0") {
        return Err(BadSignature("auth_version must be 1.0"));
    }
    let ts: i64 = get("auth_timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or(BadSignature("auth_timestamp is required"))?;
    if (now - ts).abs() > MAX_SKEW_SECS {
        return Err(BadSignature(
            "auth_timestamp is more than 600 seconds from the server's time",
        ));
    }
    match get("body_md5") {
        Some(md5) if md5 == hex::encode(Md5::digest(body)) => {}
        Some(_) => return Err(BadSignature("body_md5 does not match the body")),
        None if !body.is_empty() => return Err(BadSignature("body_md5 is required")),
        None => {}
    }
    let signature = get("auth_signature").ok_or(BadSignature("auth_signature is required"))?;
    let signature = hex::decode(signature).map_err(|_| BadSignature("invalid auth_signature"))?;
    let mut signed: Vec<(String, &str)> = pairs
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("auth_signature"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str()))
        .collect();
    signed.sort();
    let query = signed
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    // unwrap: HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{method}\n{path}\n{query}").as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| BadSignature("invalid auth_signature"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(method: &str, path: &str, query: &str, secret: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{method}\n{path}\n{query}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn accepts_a_signed_request_and_refuses_changes() {
        let body = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
        let md5 = hex::encode(Md5::digest(body));
        let q = format!("auth_key=k&auth_timestamp=1000&auth_version=1.0&body_md5={md5}");
        let sig = sign("POST", "/apps/3/events", &q, b"s");
        let query = format!("{q}&auth_signature={sig}");
        assert_eq!(
            check("POST", "/apps/3/events", &query, body, "k", b"s", 1100),
            Ok(())
        );
        assert!(check("POST", "/apps/3/events", &query, b"{}", "k", b"s", 1100).is_err());
        assert!(check("POST", "/apps/4/events", &query, body, "k", b"s", 1100).is_err());
        assert!(check("POST", "/apps/3/events", &query, body, "k", b"other", 1100).is_err());
        assert!(check("POST", "/apps/3/events", &query, body, "k", b"s", 1700).is_err());
        assert!(check("POST", "/apps/3/events", &query, body, "x", b"s", 1100).is_err());
    }
}
