//! What the orphan sweep needs of the store: a listing of every object with its time, the
//! partial files a local store leaves when an upload is cut off, and how the sizes of an
//! avatar relate to the one key rows keep.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::ObjectStore;

use super::{Storage, StorageError};

/// When stored objects that no row refers to are removed (see `Engine::sweep_orphans`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrphanSweep {
    /// How often the sweep runs.
    pub every: Duration,
    /// How old an object must be before it may go: longer than any upload takes from storing
    /// its files to writing the row that refers to them.
    pub grace: Duration,
}

/// An object as a listing of the store shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub key: String,
    /// When it was stored, by the store's clock.
    pub last_modified: DateTime<Utc>,
}

/// The avatar size whose key rows keep (users' and groups' photos); the other sizes are
/// found from it.
pub const AVATAR_KEPT_SIZE: u32 = 300;

/// The key of one size of an avatar stored under `base`.
pub fn avatar_key(base: &str, size: u32) -> String {
    format!("{base}_{size}.jpg")
}

/// For the key of any size of an avatar, the key of the size rows keep.
pub fn avatar_kept_key(key: &str) -> Option<String> {
    let stem = key.strip_prefix("avatars/")?.strip_suffix(".jpg")?;
    let (base, size) = stem.rsplit_once('_')?;
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(avatar_key(&format!("avatars/{base}"), AVATAR_KEPT_SIZE))
}

impl Storage {
    /// Every object in the store, pages of the listing fetched as the stream is read.
    pub fn list(&self) -> BoxStream<'static, Result<Listed, StorageError>> {
        self.store
            .list(None)
            .map(|found| {
                found
                    .map(|meta| Listed {
                        key: meta.location.to_string(),
                        last_modified: meta.last_modified,
                    })
                    .map_err(StorageError::from)
            })
            .boxed()
    }

    /// On a local store: removes the partial files of uploads cut off while they were being
    /// written (a crash; a listing never shows them), last written before `before`. Answers how
    /// many went. An S3 store keeps no partial objects: a PUT stores all or nothing.
    pub async fn remove_partial_files(&self, before: DateTime<Utc>) -> Result<usize, StorageError> {
        let Some(dir) = self.local_dir.clone() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || remove_partial_files(&dir, before.into()))
            .await
            .map_err(|e| StorageError(e.to_string()))?
            .map_err(|e| StorageError(e.to_string()))
    }
}

/// Removes, under `dir`, the files a local store writes an object into before renaming it
/// into place (`<key>#<n>`), last written before `before`.
fn remove_partial_files(
    dir: &std::path::Path,
    before: std::time::SystemTime,
) -> std::io::Result<usize> {
    let mut removed = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            removed += remove_partial_files(&entry.path(), before)?;
            continue;
        }
        let name = entry.file_name();
        let partial = name
            .to_str()
            .and_then(|n| n.rsplit_once('#'))
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if partial && meta.modified()? < before {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}
