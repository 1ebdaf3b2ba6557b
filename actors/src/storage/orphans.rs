//! What the orphan sweep needs of the store: a listing of every object with its time, the
//! partial files a local store leaves when an upload is cut off, and how the sizes of an
//! avatar relate to the one key rows keep.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::path::Path;
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

/// The top folders of every key Courier writes (avatars, message files, thumbnails, statuses,
/// the start-up probe). Listings look nowhere else, so a bucket or folder shared with something
/// else keeps its other files.
pub const KEY_FOLDERS: [&str; 5] = ["avatars", "messages", "thumbnails", "status", ".probe"];

impl Storage {
    /// Every object under [`KEY_FOLDERS`], pages of the listing fetched as the stream is read.
    pub fn list(&self) -> BoxStream<'static, Result<Listed, StorageError>> {
        let store = self.store.clone();
        futures_util::stream::iter(KEY_FOLDERS)
            .flat_map(move |folder| store.list(Some(&Path::from(folder))))
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
        tokio::task::spawn_blocking(move || {
            KEY_FOLDERS.iter().try_fold(0, |n, folder| {
                Ok(n + remove_partial_files(&dir.join(folder), before.into())?)
            })
        })
        .await
        .map_err(|e| StorageError(e.to_string()))?
        .map_err(|e: std::io::Error| StorageError(e.to_string()))
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
        // An entry may go while this runs (an upload renaming its file into place).
        let (meta, entry) = match entry.and_then(|e| Ok((e.metadata()?, e))) {
            Ok(found) => found,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
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
