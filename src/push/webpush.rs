//! Web Push (RFC 8030) with VAPID (RFC 8292) and message encryption (RFC 8291, `aes128gcm`).
//!
//! The payload is encrypted for the browser's subscription: an ephemeral P-256 key agrees a
//! secret with the subscription's `p256dh` key, HKDF mixes in its `auth` secret, and one
//! AES-128-GCM record carries the JSON. The push service sees only ciphertext. Requests are
//! authorised by a VAPID JWT (ES256, `aud` the push service's origin) with the server's
//! public key.

use std::time::{SystemTime, UNIX_EPOCH};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use anyhow::Context as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::ecdh::EphemeralSecret;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use p256::{PublicKey, SecretKey};
use serde::Serialize;
use serde_json::json;
use sha2::Sha256;

use super::fcm::cut;
use super::{Device, Note, Outcome};
use crate::config::WebPushSettings;

/// The record size announced in the header (one record holds the whole payload).
const RECORD_SIZE: u32 = 4096;
/// A VAPID token is valid this long (RFC 8292 allows up to 24 hours).
const VAPID_LIFE_SECS: u64 = 12 * 3600;

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    exp: u64,
    sub: &'a str,
}

pub struct WebPush {
    client: reqwest::Client,
    key: EncodingKey,
    public_key: String,
    subject: String,
}

impl WebPush {
    pub fn new(s: &WebPushSettings, client: reqwest::Client) -> anyhow::Result<WebPush> {
        let raw = URL_SAFE_NO_PAD
            .decode(s.vapid_private_key.trim_end_matches('='))
            .context("push.webpush.vapid_private_key is not base64url")?;
        let secret = SecretKey::from_slice(&raw)
            .context("push.webpush.vapid_private_key is not a P-256 private key")?;
        let der = secret
            .to_pkcs8_der()
            .context("push.webpush.vapid_private_key")?;
        let public = secret.public_key().to_encoded_point(false);
        Ok(WebPush {
            client,
            key: EncodingKey::from_ec_der(der.as_bytes()),
            public_key: URL_SAFE_NO_PAD.encode(public.as_bytes()),
            subject: s.subject.clone(),
        })
    }

    /// The application server key browsers subscribe with (base64url, uncompressed point).
    pub fn public_key(&self) -> String {
        self.public_key.clone()
    }

    pub async fn send(&self, device: &Device, note: &Note) -> Outcome {
        let (Some(p256dh), Some(auth)) = (&device.p256dh, &device.auth) else {
            return Outcome::Dead;
        };
        let Some(origin) = origin(&device.token) else {
            return Outcome::Dead;
        };
        let mut payload =
            json!({ "title": note.title, "body": note.body, "tag": note.collapse_key });
        for (k, v) in note.data() {
            payload[k] = v;
        }
        let body = match encrypt(p256dh, auth, payload.to_string().as_bytes()) {
            Ok(b) => b,
            Err(_) => return Outcome::Dead,
        };
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + VAPID_LIFE_SECS;
        let claims = Claims {
            aud: &origin,
            exp,
            sub: &self.subject,
        };
        let jwt = match jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.key) {
            Ok(t) => t,
            Err(e) => return Outcome::Drop(format!("cannot sign the VAPID token: {e}")),
        };
        let res = self
            .client
            .post(&device.token)
            .header(
                "authorization",
                format!("vapid t={jwt}, k={}", self.public_key),
            )
            .header("content-encoding", "aes128gcm")
            .header("content-type", "application/octet-stream")
            .header("ttl", note.ttl_secs.to_string())
            .header(
                "urgency",
                if note.high_priority { "high" } else { "normal" },
            )
            .header("topic", &note.collapse_key)
            .body(body)
            .send()
            .await;
        let res = match res {
            Ok(r) => r,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let status = res.status().as_u16();
        match status {
            200..=299 => Outcome::Sent,
            404 | 410 => Outcome::Dead,
            429 | 500..=599 => Outcome::Retry(format!("push service answered {status}")),
            _ => {
                let text = res.text().await.unwrap_or_default();
                Outcome::Drop(format!("push service answered {status}: {}", cut(&text)))
            }
        }
    }
}

/// `scheme://host[:port]` of an endpoint URL, the VAPID audience; None if it is not one.
pub fn origin(endpoint: &str) -> Option<String> {
    let (scheme, rest) = endpoint.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}

/// Checks a subscription's keys: `p256dh` a P-256 public key, `auth` 16 bytes (base64url).
pub fn valid_keys(p256dh: &str, auth: &str) -> bool {
    let key = URL_SAFE_NO_PAD.decode(p256dh.trim_end_matches('='));
    let auth = URL_SAFE_NO_PAD.decode(auth.trim_end_matches('='));
    matches!((key, auth), (Ok(k), Ok(a)) if PublicKey::from_sec1_bytes(&k).is_ok() && a.len() == 16)
}

/// A subscription whose keys cannot be used (not base64url, not a P-256 point).
#[derive(Debug)]
pub struct BadKeys;

/// RFC 8291: `plaintext` encrypted for the subscription (`aes128gcm`, one record).
pub fn encrypt(p256dh: &str, auth: &str, plaintext: &[u8]) -> Result<Vec<u8>, BadKeys> {
    let ua_public_bytes = URL_SAFE_NO_PAD
        .decode(p256dh.trim_end_matches('='))
        .map_err(|_| BadKeys)?;
    let auth_secret = URL_SAFE_NO_PAD
        .decode(auth.trim_end_matches('='))
        .map_err(|_| BadKeys)?;
    let ua_public = PublicKey::from_sec1_bytes(&ua_public_bytes).map_err(|_| BadKeys)?;
    let ephemeral = EphemeralSecret::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let as_public = ephemeral.public_key().to_encoded_point(false);
    let shared = ephemeral.diffie_hellman(&ua_public);

    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(&ua_public_bytes);
    key_info.extend_from_slice(as_public.as_bytes());
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&auth_secret), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|_| BadKeys)?;

    let salt: [u8; 16] = rand::random();
    let prk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|_| BadKeys)?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|_| BadKeys)?;

    let mut record = plaintext.to_vec();
    // The last (and only) record's delimiter.
    record.push(2);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| BadKeys)?;
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), record.as_slice())
        .map_err(|_| BadKeys)?;

    let mut body = Vec::with_capacity(16 + 4 + 1 + 65 + sealed.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.as_bytes().len() as u8);
    body.extend_from_slice(as_public.as_bytes());
    body.extend_from_slice(&sealed);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn the_audience_is_the_endpoints_origin() {
        assert_eq!(
            origin("https://fcm.googleapis.com/fcm/send/abc").as_deref(),
            Some("https://fcm.googleapis.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:4000/p/1").as_deref(),
            Some("http://127.0.0.1:4000")
        );
        assert_eq!(origin("ftp://x/y"), None);
        assert_eq!(origin("https:///y"), None);
    }
}
