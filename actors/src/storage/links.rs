//! Links to stored objects: Courier's own (an HMAC over key and expiry) and the stored keys
//! (`store:…`) in rendered JSON that become links for whoever may see them.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::Storage;

/// Where stored keys are marked in JSON before they are signed (see [`Storage::sign_links`]).
pub const KEY_PREFIX: &str = "store:";

/// JSON fields that may carry a stored key.
const LINK_FIELDS: [&str; 4] = ["avatar_url", "media_url", "thumbnail_url", "url"];

/// JSON fields whose contents a client wrote (a shared contact card, a call signal's payload):
/// never signed, or a client could name any stored key there and be handed a link to it.
const CLIENT_FIELDS: [&str; 2] = ["contact_data", "payload"];

/// Why a link was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    BadSignature,
    Expired,
}

impl Storage {
    fn signature(&self, key: &str, expires: i64) -> String {
        // unwrap: HMAC accepts keys of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.signing_key).unwrap();
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// A link to `key` valid for the configured lifetime. The expiry is rounded up to the
    /// next whole lifetime/4 so links stay the same for a while (clients can cache them).
    pub fn link(&self, key: &str) -> String {
        let ttl = self.ttl.as_secs().max(4) as i64;
        let step = ttl / 4;
        let now = self.clock.now().and_utc().timestamp();
        if let Some(signer) = &self.presigner {
            // Signed at the start of the current step, valid a full lifetime past its end.
            let signed = now.div_euclid(step) * step;
            let at = chrono::DateTime::from_timestamp(signed, 0)
                .map(|d| d.naive_utc())
                .unwrap_or_default();
            return signer.presign(key, at, (ttl + step) as u64);
        }
        let expires = (now + ttl).div_euclid(step) * step + step;
        format!(
            "{}/media/{}?expires={expires}&sig={}",
            self.public_url,
            key,
            self.signature(key, expires)
        )
    }

    /// Checks a link's signature and expiry.
    pub fn verify(&self, key: &str, expires: i64, sig: &str) -> Result<(), Denied> {
        let expected = self.signature(key, expires);
        let same = expected.len() == sig.len()
            && expected
                .bytes()
                .zip(sig.bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0;
        if !same {
            return Err(Denied::BadSignature);
        }
        if expires <= self.clock.now().and_utc().timestamp() {
            return Err(Denied::Expired);
        }
        Ok(())
    }

    /// Replaces every stored key (`store:…`) in link fields of `value` with a signed link,
    /// except inside what clients wrote themselves (see [`CLIENT_FIELDS`]).
    pub fn sign_links(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if CLIENT_FIELDS.contains(&k.as_str()) {
                        continue;
                    }
                    match v {
                        Value::String(s) if LINK_FIELDS.contains(&k.as_str()) => {
                            if let Some(key) = s.strip_prefix(KEY_PREFIX) {
                                *s = self.link(key);
                            }
                        }
                        other => self.sign_links(other),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.sign_links(v)),
            _ => {}
        }
    }
}

/// The content type of a stored object, from its key's extension (keys are made by Courier,
/// with the extension of the type found in the file's bytes).
pub fn content_type(key: &str) -> &'static str {
    match key.rsplit('.').next().unwrap_or("") {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "mp4" => "video/mp4",
        "m4a" => "audio/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "3gp" => "video/3gpp",
        "mkv" => "video/x-matroska",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "aac" => "audio/aac",
        "amr" => "audio/amr",
        "flac" => "audio/flac",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a stored key is kept in the database: marked, so renderers know to sign it.
pub fn stored(key: &str) -> String {
    format!("{KEY_PREFIX}{key}")
}

/// The key inside a stored value (`store:…`), if it is one.
pub fn key_of(value: &str) -> Option<&str> {
    value.strip_prefix(KEY_PREFIX)
}
