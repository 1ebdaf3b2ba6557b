//! Media storage: a local folder by default, any S3-compatible store by configuration, behind
//! one interface (`object_store`). The database keeps object keys; clients get signed,
//! expiring links, made when a response or event is rendered for whoever may see it:
//! `/media/{key}?expires=…&sig=…` (an HMAC over key and expiry) that Courier checks, then
//! serves, or for S3 with `presign` answers with a redirect to a URL the store itself serves
//! (presigned by `object_store`, with whatever credentials it holds).
mod links;
mod orphans;
pub mod sealed;
mod upload;

use sealed::open_stream;

pub use upload::ObjectWriter;

pub use links::{content_type, disposition, key_of, stored, Denied, KEY_PREFIX};
pub use orphans::{avatar_kept_key, avatar_key, Listed, OrphanSweep, AVATAR_KEPT_SIZE};

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use crate::clock::Clock;

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
        /// Empty (with the secret): credentials from the environment or an IAM role.
        access_key_id: String,
        secret_access_key: String,
        /// The session token that goes with temporary keys (empty: none).
        session_token: String,
        path_style: bool,
        /// Courier's links redirect to URLs presigned for the store (else Courier serves the
        /// bytes).
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
    /// The S3 store, typed so it can presign URLs, when links redirect there.
    presigner: Option<Arc<AmazonS3>>,
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

impl Storage {
    pub fn open(
        backend: &Backend,
        signing_key: Vec<u8>,
        public_url: String,
        ttl: Duration,
        clock: Clock,
    ) -> Result<Storage, StorageError> {
        let (store, presigner): (Arc<dyn ObjectStore>, _) = match backend {
            Backend::Local { dir } => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StorageError(format!("{}: {e}", dir.display())))?;
                let local = LocalFileSystem::new_with_prefix(dir)?.with_automatic_cleanup(true);
                (Arc::new(local), None)
            }
            Backend::S3 { presign, .. } => {
                let s3 = Arc::new(s3_store(backend)?);
                (s3.clone(), presign.then_some(s3))
            }
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
        let mut out = self.writer(key).await?;
        if let Err(e) = out.write(data).await {
            out.abort().await;
            return Err(e);
        }
        out.finish().await.map(|_| ())
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
}

/// The S3 store `backend` names (which must be `Backend::S3`).
fn s3_store(backend: &Backend) -> Result<AmazonS3, StorageError> {
    let Backend::S3 {
        bucket,
        region,
        endpoint,
        access_key_id,
        secret_access_key,
        session_token,
        path_style,
        sse,
        ..
    } = backend
    else {
        return Err(StorageError("not an S3 store".into()));
    };
    // Without keys, credentials come from where AWS tools find them: the `AWS_*` environment
    // (keys, web identity), then the container's or the instance's role.
    let mut b = if access_key_id.is_empty() {
        AmazonS3Builder::from_env()
    } else {
        AmazonS3Builder::new()
            .with_access_key_id(access_key_id)
            .with_secret_access_key(secret_access_key)
    };
    b = b
        .with_bucket_name(bucket)
        .with_region(region)
        .with_virtual_hosted_style_request(!path_style);
    if !session_token.is_empty() {
        b = b.with_token(session_token);
    }
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
    Ok(b.build()?)
}
