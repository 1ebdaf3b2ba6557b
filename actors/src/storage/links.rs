//! Links to stored objects: Courier's own (an HMAC over key and expiry), the URLs of the store
//! they redirect to, and the stored keys (`store:…`) in rendered JSON that become links for
//! whoever may see them.

use std::time::Duration;

use hmac::{Hmac, Mac};
use object_store::path::Path;
use object_store::signer::{Method, SignedUrlOptions, Signer};
use serde_json::Value;
use sha2::Sha256;

use super::{Storage, StorageError};

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
        let expires = (now + ttl).div_euclid(step) * step + step;
        format!(
            "{}/media/{}?expires={expires}&sig={}",
            self.public_url,
            key,
            self.signature(key, expires)
        )
    }

    /// Where to fetch `key` from the store itself, for whoever holds a valid link (checked
    /// first): a GET URL presigned by `object_store` now, with the credentials it holds, valid
    /// for `valid_for`. The store answers it with the content type and disposition Courier
    /// would. None when Courier serves the bytes itself (a local store, or S3 without
    /// `presign`).
    pub async fn store_url(
        &self,
        key: &str,
        valid_for: Duration,
    ) -> Result<Option<String>, StorageError> {
        let Some(s3) = &self.presigner else {
            return Ok(None);
        };
        let mime = content_type(key);
        let options = SignedUrlOptions::default().with_query([
            ("response-content-type", mime),
            ("response-content-disposition", disposition(mime)),
        ]);
        let url = s3
            .signed_url_opts(Method::GET, &Path::from(key), valid_for, &options)
            .await?;
        Ok(Some(url.to_string()))
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

/// How a file of type `mime` is handed out: pictures, sound and video show inline; anything
/// else is a download, never a page of ours.
pub fn disposition(mime: &str) -> &'static str {
    let inline = ["image/", "video/", "audio/"]
        .iter()
        .any(|t| mime.starts_with(t));
    if inline {
        "inline"
    } else {
        "attachment"
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hmac::{Hmac, Mac};
    use object_store::signer::Url;
    use sha2::{Digest, Sha256};

    use super::hex;
    use crate::clock::Clock;
    use crate::storage::{Backend, Sse, Storage};

    const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// RFC 3986 encoding, as SigV4 wants query names and values.
    fn encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// The signature an S3 store expects on a presigned GET `url` (AWS Signature Version 4,
    /// query-string form, `host` the one signed header), worked out from the URL's own
    /// parameters and the secret key: canonical request, string to sign, key derivation.
    fn expected_signature(url: &Url, secret: &str) -> String {
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("no {name} in {url}"))
        };
        assert_eq!(param("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
        assert_eq!(param("X-Amz-SignedHeaders"), "host");
        let mut query: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "X-Amz-Signature")
            .map(|(k, v)| (encode(&k), encode(&v)))
            .collect();
        query.sort();
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let host = match (url.host_str().unwrap(), url.port()) {
            (host, Some(port)) => format!("{host}:{port}"),
            (host, None) => host.to_string(),
        };
        let canonical = format!(
            "GET\n{}\n{}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
            url.path(),
            query.join("&")
        );
        let credential = param("X-Amz-Credential");
        let (_, scope) = credential.split_once('/').unwrap();
        let parts: Vec<&str> = scope.split('/').collect();
        let [date, region, service, "aws4_request"] = parts[..] else {
            panic!("credential scope {scope}");
        };
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
            param("X-Amz-Date"),
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let key = [date, region, service, "aws4_request"]
            .iter()
            .fold(format!("AWS4{secret}").into_bytes(), |k, part| {
                hmac(&k, part)
            });
        hex(&hmac(&key, &to_sign))
    }

    /// The example of AWS's documentation for query-string authentication: the checker
    /// reproduces its signature exactly.
    #[test]
    fn the_checker_agrees_with_the_aws_documentation_example() {
        let url: Url = "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            .parse()
            .unwrap();
        assert_eq!(
            expected_signature(&url, SECRET),
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
        assert_ne!(
            expected_signature(&url, "another secret"),
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    /// Storage for AWS's example bucket and keys, its links redirecting to the store.
    fn example_store(session_token: &str) -> Storage {
        let backend = Backend::S3 {
            bucket: "examplebucket".into(),
            region: "us-east-1".into(),
            endpoint: String::new(),
            access_key_id: KEY_ID.into(),
            secret_access_key: SECRET.into(),
            session_token: session_token.into(),
            path_style: false,
            presign: true,
            sse: Sse::None,
        };
        let ttl = Duration::from_secs(3600);
        Storage::open(&backend, b"k".to_vec(), String::new(), ttl, Clock::system()).unwrap()
    }

    /// A URL to the store for `key`, presigned now for a day, with the days it may be dated.
    async fn presigned(storage: &Storage, key: &str) -> (Url, [String; 2]) {
        let day = || chrono::Utc::now().format("%Y%m%d").to_string();
        let before = day();
        let url = storage
            .store_url(key, Duration::from_secs(86400))
            .await
            .unwrap()
            .expect("links redirect to the store");
        (url.parse().unwrap(), [before, day()])
    }

    #[tokio::test]
    async fn the_store_gets_urls_signed_as_aws_documents() {
        let storage = example_store("");
        let (url, days) = presigned(&storage, "avatars/test.txt").await;
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(
            url.host_str(),
            Some("examplebucket.s3.us-east-1.amazonaws.com")
        );
        assert_eq!(url.path(), "/avatars/test.txt");
        assert_eq!(param("X-Amz-Expires").as_deref(), Some("86400"));
        let credential = param("X-Amz-Credential").unwrap();
        assert!(
            days.iter()
                .any(|d| credential == format!("{KEY_ID}/{d}/us-east-1/s3/aws4_request")),
            "signed today: {credential}"
        );
        assert_eq!(
            param("response-content-type").as_deref(),
            Some("text/plain; charset=utf-8"),
            "the store answers with Courier's content type"
        );
        assert_eq!(
            param("response-content-disposition").as_deref(),
            Some("attachment")
        );
        assert_eq!(param("X-Amz-Security-Token"), None);
        assert_eq!(
            param("X-Amz-Signature"),
            Some(expected_signature(&url, SECRET)),
            "{url}"
        );
    }

    #[tokio::test]
    async fn temporary_keys_send_their_session_token() {
        let token = "FQoGZXIvYXdzEXAMPLE/token+with=symbols";
        let (url, _) = presigned(&example_store(token), "a.jpg").await;
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(param("X-Amz-Security-Token").as_deref(), Some(token));
        assert_eq!(
            param("response-content-type").as_deref(),
            Some("image/jpeg")
        );
        assert_eq!(
            param("X-Amz-Signature"),
            Some(expected_signature(&url, SECRET)),
            "the token is signed too: {url}"
        );
    }

    #[tokio::test]
    async fn local_links_are_served_by_courier() {
        let dir = std::env::temp_dir().join(format!("courier-links-{}", std::process::id()));
        let backend = Backend::Local { dir: dir.clone() };
        let ttl = Duration::from_secs(3600);
        let storage =
            Storage::open(&backend, b"k".to_vec(), String::new(), ttl, Clock::system()).unwrap();
        assert!(storage.link("a.jpg").starts_with("/media/a.jpg?expires="));
        assert_eq!(storage.store_url("a.jpg", ttl).await.unwrap(), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
