//! Media storage: a local folder by default, any S3-compatible store by configuration, behind
//! one interface (`object_store`). The database keeps object keys; clients get signed,
//! expiring links, made when a response or event is rendered for whoever may see it: for a
//! local folder `/media/{key}?expires=…&sig=…` (an HMAC over key and expiry) that Courier
//! checks and serves, for S3 a presigned URL to the store itself.

mod orphans;
mod presign;
pub mod sealed;
mod upload;

use sealed::open_stream;

pub use upload::ObjectWriter;

pub use orphans::{avatar_kept_key, avatar_key, Listed, OrphanSweep, AVATAR_KEPT_SIZE};
pub use presign::S3Signer;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, GetRange, ObjectStore, ObjectStoreExt,
    PutOptions, PutPayload,
};
use serde_json::Value;
use sha2::Sha256;

use crate::clock::Clock;

/// Where stored keys are marked in JSON before they are signed (see [`Storage::sign_links`]).
pub const KEY_PREFIX: &str = "store:";

/// JSON fields that may carry a stored key.
const LINK_FIELDS: [&str; 4] = ["avatar_url", "media_url", "thumbnail_url", "url"];

/// JSON fields whose contents a client wrote (a shared contact card, a call signal's payload):
/// never signed, or a client could name any stored key there and be handed a link to it.
const CLIENT_FIELDS: [&str; 2] = ["contact_data", "payload"];

/// A storage failure (the store is unreachable or refused).
#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StorageError(pub String);

impl From<object_store::Error> for StorageError {
    fn from(e: object_store::Error) -> Self {
        StorageError(e.to_string())
    }
}

/// Which store, and how to reach it.
#[derive(Debug, Clone)]
pub enum Backend {
    Local {
        dir: std::path::PathBuf,
    },
    S3 {
        bucket: String,
        region: String,
        endpoint: String,
        access_key_id: String,
        secret_access_key: String,
        path_style: bool,
        /// Links are presigned URLs to the store (else Courier-signed links it serves).
        presign: bool,
        /// Server-side encryption of every object stored.
        sse: Sse,
    },
}

/// S3 server-side encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sse {
    None,
    /// SSE-S3: keys managed by the store (`AES256`).
    S3,
    /// SSE-KMS with this key id (empty: the account's default key).
    Kms(String),
}

/// The media store and link signer. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    /// The folder of a local store (None for S3).
    local_dir: Option<std::path::PathBuf>,
    orphan_sweep: Option<OrphanSweep>,
    /// For S3 stores whose links are presigned URLs.
    presigner: Option<Arc<S3Signer>>,
    store: Arc<dyn ObjectStore>,
    signing_key: Arc<Vec<u8>>,
    /// Prefix of links, e.g. `https://chat.example.org` (empty: links start with `/media/`).
    public_url: String,
    ttl: Duration,
    clock: Clock,
    /// Bytes written to the store (see [`Storage::count_into`]).
    stored_bytes: prometheus_client::metrics::counter::Counter,
    /// Seals every file stored from now on (the local store with `media.encryption_key`).
    sealer: Option<Arc<sealed::Sealer>>,
}

/// Why a link was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    BadSignature,
    Expired,
}

impl Storage {
    pub fn open(
        backend: &Backend,
        signing_key: Vec<u8>,
        public_url: String,
        ttl: Duration,
        clock: Clock,
    ) -> Result<Storage, StorageError> {
        let store: Arc<dyn ObjectStore> = match backend {
            Backend::Local { dir } => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StorageError(format!("{}: {e}", dir.display())))?;
                Arc::new(LocalFileSystem::new_with_prefix(dir)?.with_automatic_cleanup(true))
            }
            Backend::S3 {
                bucket,
                region,
                endpoint,
                access_key_id,
                secret_access_key,
                path_style,
                sse,
                ..
            } => {
                let mut b = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_access_key_id(access_key_id)
                    .with_secret_access_key(secret_access_key)
                    .with_virtual_hosted_style_request(!path_style);
                b = match sse {
                    Sse::None => b,
                    Sse::S3 => {
                        let key: AmazonS3ConfigKey = "aws_server_side_encryption".parse()?;
                        b.with_config(key, "AES256")
                    }
                    Sse::Kms(key) => b.with_sse_kms_encryption(key.clone()),
                };
                if !endpoint.is_empty() {
                    // Virtual-hosted style: object_store wants the bucket in the endpoint's host.
                    let endpoint = if *path_style {
                        endpoint.clone()
                    } else {
                        match endpoint.split_once("://") {
                            Some((scheme, host)) => format!("{scheme}://{bucket}.{host}"),
                            None => format!("https://{bucket}.{endpoint}"),
                        }
                    };
                    b = b
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_endpoint(endpoint);
                }
                Arc::new(b.build()?)
            }
        };
        let presigner = match backend {
            Backend::S3 {
                bucket,
                region,
                endpoint,
                access_key_id,
                secret_access_key,
                path_style,
                presign: true,
                ..
            } => Some(Arc::new(S3Signer {
                endpoint: if endpoint.is_empty() {
                    format!("https://s3.{region}.amazonaws.com")
                } else {
                    endpoint.clone()
                },
                bucket: bucket.clone(),
                region: region.clone(),
                access_key_id: access_key_id.clone(),
                secret_access_key: secret_access_key.clone(),
                path_style: *path_style,
            })),
            _ => None,
        };
        Ok(Storage {
            local_dir: match backend {
                Backend::Local { dir } => Some(dir.clone()),
                Backend::S3 { .. } => None,
            },
            orphan_sweep: None,
            presigner,
            store,
            signing_key: Arc::new(signing_key),
            public_url: public_url.trim_end_matches('/').to_string(),
            ttl,
            clock,
            stored_bytes: Default::default(),
            sealer: None,
        })
    }

    /// Seals every file stored from now on with `key` (AES-256-GCM; see [`sealed`]); files
    /// stored before stay readable as they are.
    pub fn sealed_with(mut self, key: &[u8; 32]) -> Self {
        self.sealer = Some(Arc::new(sealed::Sealer::new(key)));
        self
    }

    /// Sweeps orphan objects as `sweep` says (without it, they are never swept).
    pub fn with_orphan_sweep(mut self, sweep: OrphanSweep) -> Self {
        self.orphan_sweep = Some(sweep);
        self
    }

    pub fn orphan_sweep(&self) -> Option<OrphanSweep> {
        self.orphan_sweep
    }

    /// Stores an object. On S3 its content type (from the key's extension) is stored with it,
    /// for clients that fetch it there.
    pub async fn put(&self, key: &str, data: Bytes) -> Result<(), StorageError> {
        let path = Path::from(key);
        let data = match &self.sealer {
            Some(s) => Bytes::from(s.seal(&data)),
            None => data,
        };
        let size = data.len() as u64;
        if self.presigner.is_some() {
            let attributes = Attributes::from_iter([(
                Attribute::ContentType,
                AttributeValue::from(content_type(key)),
            )]);
            let options = PutOptions {
                attributes,
                ..Default::default()
            };
            self.store
                .put_opts(&path, PutPayload::from(data), options)
                .await?;
        } else {
            self.store.put(&path, PutPayload::from(data)).await?;
        }
        self.stored_bytes.inc_by(size);
        Ok(())
    }

    /// Counts the bytes of every object stored from now on into `counter`.
    pub fn count_into(&mut self, counter: prometheus_client::metrics::counter::Counter) {
        self.stored_bytes = counter;
    }

    /// Removes an object; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes objects, logging (not failing on) errors: used to clean up after a failure.
    pub async fn delete_quietly(&self, keys: &[String]) {
        for key in keys {
            if let Err(e) = self.delete(key).await {
                tracing::warn!(key, error = %e, "could not remove an object");
            }
        }
    }

    /// An object's size and bytes, or None if there is no such object.
    async fn raw_get(
        &self,
        key: &str,
    ) -> Result<Option<(u64, BoxStream<'static, object_store::Result<Bytes>>)>, StorageError> {
        match self.store.get(&Path::from(key)).await {
            Ok(found) => Ok(Some((found.meta.size, found.into_stream()))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// An object's size, or None if there is no such object.
    async fn raw_size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        match self.store.head(&Path::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The bytes `range` of an object (which must lie inside it), or None if it is gone.
    async fn raw_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<Option<BoxStream<'static, object_store::Result<Bytes>>>, StorageError> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        match self.store.get_opts(&Path::from(key), options).await {
            Ok(found) => Ok(Some(found.into_stream())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a stored object is sealed, with its plaintext size: (sealed, stored size).
    async fn sealed_size(&self, key: &str) -> Result<Option<(bool, u64)>, StorageError> {
        let Some(size) = self.raw_size(key).await? else {
            return Ok(None);
        };
        if self.sealer.is_none() || size < sealed::HEADER {
            return Ok(Some((false, size)));
        }
        Ok(Some((self.header(key).await?.is_some(), size)))
    }

    /// A sealed object's header, or None if the object is not sealed.
    async fn header(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(mut head) = self.raw_range(key, 0..sealed::HEADER).await? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = head.next().await {
            bytes.extend_from_slice(&chunk?);
        }
        Ok(sealed::is_sealed(&bytes).then_some(bytes))
    }

    /// An object's size (of its plaintext, when sealed), or None if there is no such object.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        Ok(match self.sealed_size(key).await? {
            Some((true, stored)) => sealed::plain_size(stored).map(|(_, plain)| plain),
            Some((false, stored)) => Some(stored),
            None => None,
        })
    }

    /// An object's size and bytes (opened, when sealed), or None if there is no such object.
    pub async fn get(
        &self,
        key: &str,
    ) -> Result<Option<(u64, BoxStream<'static, object_store::Result<Bytes>>)>, StorageError> {
        match self.sealed_size(key).await? {
            Some((true, _)) => {
                let Some(size) = self.size(key).await? else {
                    return Ok(None);
                };
                Ok(self.get_range(key, 0..size).await?.map(|s| (size, s)))
            }
            Some((false, _)) => self.raw_get(key).await,
            None => Ok(None),
        }
    }

    /// The bytes `range` of an object (of its plaintext, when sealed; the range must lie
    /// inside it), or None if it is gone. A sealed object's covering chunks are read and
    /// opened as they arrive.
    pub async fn get_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<Option<BoxStream<'static, object_store::Result<Bytes>>>, StorageError> {
        let (Some(sealer), Some((true, stored))) = (&self.sealer, self.sealed_size(key).await?)
        else {
            return self.raw_range(key, range).await;
        };
        let Some(header) = self.header(key).await? else {
            return Ok(None);
        };
        let Some((chunks, _)) = sealed::plain_size(stored) else {
            return Ok(None);
        };
        let (first, span, skip) = sealed::covering(&range, stored);
        let Some(inner) = self.raw_range(key, span).await? else {
            return Ok(None);
        };
        Ok(Some(open_stream(
            sealer.clone(),
            header,
            inner,
            first,
            chunks,
            skip,
            range.end - range.start,
        )))
    }

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
