//! Objects written as their bytes arrive: an upload is streamed into the store (a multipart
//! upload on S3, a staging file in the local folder) so that a large file is never held in
//! memory whole. Nothing is visible under the key before [`ObjectWriter::finish`];
//! [`ObjectWriter::abort`] leaves nothing behind.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{Attribute, AttributeValue, Attributes};
use tokio::io::AsyncWriteExt;

use super::sealed::{Sealer, CHUNK};
use super::{content_type, Storage, StorageError};

/// Bytes a writer gathers before it sends them on as one part. S3 wants parts of at least
/// 5 MiB (all but the last); a local file takes any size, so it is written in small steps.
const S3_PART: usize = 5 * 1024 * 1024;
const LOCAL_PART: usize = 256 * 1024;
/// Parts in flight at once, per writer.
const PARTS_IN_FLIGHT: usize = 2;

/// An object being written. Memory held: one part being gathered and at most
/// [`PARTS_IN_FLIGHT`] parts being sent, whatever the object's size.
pub struct ObjectWriter {
    key: String,
    out: BufWriter,
    /// Seals the bytes on their way (the local store with an encryption key).
    sealing: Option<Sealing>,
    /// Bytes taken from the caller (the object's plaintext size).
    taken: u64,
    /// Bytes sent to the store (sealed ones included).
    sent: u64,
    stored_bytes: prometheus_client::metrics::counter::Counter,
}

/// The file being sealed chunk by chunk: a chunk is sealed once the next byte arrives (it is
/// not the last) or at the end (it is).
struct Sealing {
    sealer: Arc<Sealer>,
    header: [u8; 16],
    index: u64,
    pending: BytesMut,
}

impl Sealing {
    fn seal_pending(&mut self, last: bool) -> Bytes {
        let sealed = self
            .sealer
            .seal_chunk(&self.header, self.index, last, &self.pending);
        self.index += 1;
        self.pending.clear();
        Bytes::from(sealed)
    }

    /// Takes `data`, answering the chunks that are now complete and known not to be last.
    fn take(&mut self, mut data: &[u8]) -> Vec<Bytes> {
        let mut done = Vec::new();
        while !data.is_empty() {
            if self.pending.len() == CHUNK as usize {
                done.push(self.seal_pending(false));
            }
            let n = (CHUNK as usize - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        done
    }
}

impl Storage {
    /// Starts writing the object `key`.
    pub async fn writer(&self, key: &str) -> Result<ObjectWriter, StorageError> {
        let part = if self.local_dir.is_some() {
            LOCAL_PART
        } else {
            S3_PART
        };
        let mut out = BufWriter::with_capacity(self.store.clone(), Path::from(key), part)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        if self.local_dir.is_none() {
            // Stored with the object, for clients that fetch it from the store.
            out = out.with_attributes(Attributes::from_iter([(
                Attribute::ContentType,
                AttributeValue::from(content_type(key)),
            )]));
        }
        let mut writer = ObjectWriter {
            key: key.to_string(),
            out,
            sealing: self.sealer.as_ref().map(|sealer| Sealing {
                sealer: sealer.clone(),
                header: sealer.header(),
                index: 0,
                pending: BytesMut::with_capacity(CHUNK as usize),
            }),
            taken: 0,
            sent: 0,
            stored_bytes: self.stored_bytes.clone(),
        };
        if let Some(s) = &writer.sealing {
            let header = Bytes::copy_from_slice(&s.header);
            writer.send(header).await?;
        }
        Ok(writer)
    }

    /// Stores the file at `file` as an object, streamed, so that a large object is never held
    /// in memory whole. Answers the file's size.
    pub async fn put_file(&self, key: &str, file: &std::path::Path) -> Result<u64, StorageError> {
        use tokio::io::AsyncReadExt;
        let io = |e: std::io::Error| StorageError(format!("{}: {e}", file.display()));
        let mut from = tokio::fs::File::open(file).await.map_err(io)?;
        let mut to = self.writer(key).await?;
        let mut buf = BytesMut::with_capacity(CHUNK as usize);
        loop {
            buf.reserve(CHUNK as usize);
            match from.read_buf(&mut buf).await {
                Ok(0) => break,
                Ok(_) => {
                    if let Err(e) = to.write(buf.split().freeze()).await {
                        to.abort().await;
                        return Err(e);
                    }
                }
                Err(e) => {
                    to.abort().await;
                    return Err(io(e));
                }
            }
        }
        to.finish().await
    }
}

impl ObjectWriter {
    /// The object's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.taken
    }

    pub fn is_empty(&self) -> bool {
        self.taken == 0
    }

    async fn send(&mut self, bytes: Bytes) -> Result<(), StorageError> {
        self.sent += bytes.len() as u64;
        self.out.put(bytes).await.map_err(StorageError::from)
    }

    /// Writes the next bytes of the object.
    pub async fn write(&mut self, data: Bytes) -> Result<(), StorageError> {
        self.taken += data.len() as u64;
        match &mut self.sealing {
            None => self.send(data).await,
            Some(s) => {
                for chunk in s.take(&data) {
                    self.send(chunk).await?;
                }
                Ok(())
            }
        }
    }

    /// Completes the object, which becomes visible under its key. Answers its size (the bytes
    /// written, before any sealing).
    pub async fn finish(mut self) -> Result<u64, StorageError> {
        if let Some(s) = &mut self.sealing {
            let last = s.seal_pending(true);
            if let Err(e) = self.send(last).await {
                self.abort().await;
                return Err(e);
            }
        }
        // A failed completion cleans up after itself (object_store aborts the upload).
        self.out
            .shutdown()
            .await
            .map_err(|e| StorageError(e.to_string()))?;
        self.stored_bytes.inc_by(self.sent);
        Ok(self.taken)
    }

    /// Gives the object up: the parts sent so far are removed, nothing appears under the key.
    pub async fn abort(mut self) {
        if let Err(e) = self.out.abort().await {
            tracing::warn!(key = self.key, error = %e, "could not abort an upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::super::{sealed, Backend};
    use super::*;
    use crate::clock::Clock;

    fn local(dir: &std::path::Path, key: Option<&[u8; 32]>) -> Storage {
        let backend = Backend::Local {
            dir: dir.to_path_buf(),
        };
        let s = Storage::open(
            &backend,
            b"k".to_vec(),
            String::new(),
            std::time::Duration::from_secs(60),
            Clock::system(),
        )
        .unwrap();
        match key {
            Some(k) => s.sealed_with(k),
            None => s,
        }
    }

    async fn read(s: &Storage, key: &str) -> Vec<u8> {
        let (_, mut body) = s.get(key).await.unwrap().expect("stored");
        let mut out = Vec::new();
        while let Some(b) = body.next().await {
            out.extend_from_slice(&b.unwrap());
        }
        out
    }

    fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                found.extend(files(&p));
            } else {
                found.push(p);
            }
        }
        found
    }

    /// Pieces of every size around the seal's chunk size come back as they went in, sealed
    /// or not, and a sealed object is laid out as one sealed whole.
    #[actix::test]
    async fn pieces_written_come_back_whole() {
        for key in [None, Some(&[9u8; 32])] {
            let dir = tempfile::tempdir().unwrap();
            let s = local(dir.path(), key);
            for total in [0, 1, CHUNK as usize, 2 * CHUNK as usize, 700_001] {
                let plain: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
                let name = format!("f/{total}.bin");
                let mut w = s.writer(&name).await.unwrap();
                for piece in plain.chunks(CHUNK as usize - 7) {
                    w.write(Bytes::copy_from_slice(piece)).await.unwrap();
                }
                assert_eq!(w.finish().await.unwrap(), total as u64);
                assert_eq!(
                    read(&s, &name).await,
                    plain,
                    "{total} bytes, sealed: {key:?}"
                );
                let raw = std::fs::read(dir.path().join(&name)).unwrap();
                if key.is_some() {
                    assert!(sealed::is_sealed(&raw));
                    let sealer = sealed::Sealer::new(&[9; 32]);
                    assert_eq!(raw.len(), sealer.seal(&plain).len(), "{total} bytes");
                } else {
                    assert_eq!(raw, plain);
                }
            }
        }
    }

    /// An aborted object leaves no file, staging files included.
    #[actix::test]
    async fn an_aborted_object_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = local(dir.path(), None);
        let mut w = s.writer("a/b.bin").await.unwrap();
        for _ in 0..8 {
            w.write(Bytes::from(vec![1u8; LOCAL_PART])).await.unwrap();
        }
        w.abort().await;
        assert_eq!(s.size("a/b.bin").await.unwrap(), None);
        assert_eq!(files(dir.path()), Vec::<std::path::PathBuf>::new());
    }
}
