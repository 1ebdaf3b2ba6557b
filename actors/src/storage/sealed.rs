//! Encryption at rest for the local media folder: every file AES-256-GCM sealed, in chunks, so
//! a copied folder is unreadable without the key and a Range request decrypts only the chunks
//! it covers.
//!
//! Layout of a sealed file: `CRS1` and a random 12-byte nonce (the file's own), then the
//! plaintext in chunks of [`CHUNK`] bytes (the last one shorter, possibly empty), each sealed
//! with its 16-byte tag. Chunk `i`'s nonce is the file's nonce with `i` XORed into its last
//! 8 bytes, and its associated data says `i` and whether it is the last, so chunks cannot be
//! reordered, dropped or cut off unnoticed. A file without the magic is read as it is (one
//! stored before the key was set).

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

/// Plaintext bytes per chunk.
pub const CHUNK: u64 = 64 * 1024;
/// Tag bytes per chunk.
const TAG: u64 = 16;
/// Magic and nonce.
pub const HEADER: u64 = 16;
const MAGIC: &[u8; 4] = b"CRS1";

/// The key, ready to seal and open.
pub struct Sealer {
    cipher: Aes256Gcm,
}

/// A sealed file that does not open (another key, or damaged).
#[derive(Debug)]
pub struct Unreadable;

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sealed media file does not open with the configured key")
    }
}

impl std::error::Error for Unreadable {}

fn nonce(base: &[u8; 12], index: u64) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut n = *base;
    for (b, x) in n[4..].iter_mut().zip(index.to_be_bytes()) {
        *b ^= x;
    }
    Nonce::from(n)
}

fn aad(index: u64, last: bool) -> [u8; 9] {
    let mut a = [0u8; 9];
    a[..8].copy_from_slice(&index.to_be_bytes());
    a[8] = last as u8;
    a
}

/// Chunks a sealed file of `sealed` bytes holds, and its plaintext size.
pub fn plain_size(sealed: u64) -> Option<(u64, u64)> {
    let body = sealed.checked_sub(HEADER)?;
    let chunks = body.div_ceil(CHUNK + TAG).max(1);
    Some((chunks, body.checked_sub(chunks * TAG)?))
}

/// Whether `head` (a file's first bytes) is a sealed file's header.
pub fn is_sealed(head: &[u8]) -> bool {
    head.len() >= HEADER as usize && &head[..4] == MAGIC
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// A new file's header (with a fresh nonce).
    pub fn header(&self) -> [u8; HEADER as usize] {
        let mut h = [0u8; HEADER as usize];
        h[..4].copy_from_slice(MAGIC);
        h[4..].copy_from_slice(&rand::random::<[u8; 12]>());
        h
    }

    /// Chunk `index` of the file with `header`, sealed.
    pub fn seal_chunk(&self, header: &[u8], index: u64, last: bool, plain: &[u8]) -> Vec<u8> {
        let base: [u8; 12] = header[4..16].try_into().unwrap_or_default();
        // unwrap: AES-GCM seals any input shorter than 64 GiB; chunks are 64 KiB.
        self.cipher
            .encrypt(
                &nonce(&base, index),
                Payload {
                    msg: plain,
                    aad: &aad(index, last),
                },
            )
            .unwrap()
    }

    /// A whole file, sealed.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let header = self.header();
        let mut out = Vec::with_capacity(plain.len() + (plain.len() / CHUNK as usize + 2) * 16);
        out.extend_from_slice(&header);
        let chunks: Vec<&[u8]> = if plain.is_empty() {
            vec![&[]]
        } else {
            plain.chunks(CHUNK as usize).collect()
        };
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            out.extend(self.seal_chunk(&header, i as u64, i + 1 == n, c));
        }
        out
    }

    /// Chunk `index` (sealed bytes with its tag) of the file with `header`, opened.
    pub fn open_chunk(
        &self,
        header: &[u8],
        index: u64,
        last: bool,
        sealed: &[u8],
    ) -> Result<Vec<u8>, Unreadable> {
        let base: [u8; 12] = header[4..16].try_into().map_err(|_| Unreadable)?;
        self.cipher
            .decrypt(
                &nonce(&base, index),
                Payload {
                    msg: sealed,
                    aad: &aad(index, last),
                },
            )
            .map_err(|_| Unreadable)
    }
}

/// Where the chunks covering plaintext `range` lie in a sealed file: (first chunk, byte range
/// of the sealed file, bytes of the first chunk's plaintext to skip).
pub fn covering(range: &std::ops::Range<u64>, sealed: u64) -> (u64, std::ops::Range<u64>, u64) {
    let first = range.start / CHUNK;
    let last = range.end.saturating_sub(1) / CHUNK;
    let start = HEADER + first * (CHUNK + TAG);
    let end = (HEADER + (last + 1) * (CHUNK + TAG)).min(sealed);
    (first, start..end, range.start - first * CHUNK)
}

/// The plaintext of a sealed file's chunks as `inner` (their sealed bytes, from chunk `first`
/// of `chunks`) brings them: `skip` bytes of the first left out, `take` bytes in all.
pub(super) fn open_stream(
    sealer: Arc<Sealer>,
    header: Vec<u8>,
    inner: BoxStream<'static, object_store::Result<Bytes>>,
    first: u64,
    chunks: u64,
    skip: u64,
    take: u64,
) -> BoxStream<'static, object_store::Result<Bytes>> {
    struct State {
        inner: BoxStream<'static, object_store::Result<Bytes>>,
        buf: Vec<u8>,
        index: u64,
        skip: usize,
        left: u64,
        ended: bool,
    }
    let state = State {
        inner,
        buf: Vec::new(),
        index: first,
        skip: skip as usize,
        left: take,
        ended: false,
    };
    let whole = (CHUNK + TAG) as usize;
    futures_util::stream::try_unfold(state, move |mut st| {
        let (sealer, header) = (sealer.clone(), header.clone());
        async move {
            if st.left == 0 {
                return Ok(None);
            }
            while st.buf.len() < whole && !st.ended {
                match st.inner.next().await {
                    Some(bytes) => st.buf.extend_from_slice(&bytes?),
                    None => st.ended = true,
                }
            }
            if st.buf.is_empty() {
                return Ok(None);
            }
            let sealed: Vec<u8> = st.buf.drain(..st.buf.len().min(whole)).collect();
            let last = st.index + 1 == chunks;
            let plain = sealer
                .open_chunk(&header, st.index, last, &sealed)
                .map_err(|e| object_store::Error::Generic {
                    store: "sealed",
                    source: Box::new(e),
                })?;
            let from = st.skip.min(plain.len());
            let to = (from as u64 + st.left).min(plain.len() as u64) as usize;
            st.left -= (to - from) as u64;
            st.index += 1;
            st.skip = 0;
            Ok(Some((Bytes::copy_from_slice(&plain[from..to]), st)))
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_open_in_place_and_refuse_being_moved_or_cut() {
        let s = Sealer::new(&[7; 32]);
        let plain: Vec<u8> = (0..(CHUNK * 2 + 100)).map(|i| i as u8).collect();
        let sealed = s.seal(&plain);
        assert!(is_sealed(&sealed));
        assert_eq!(
            plain_size(sealed.len() as u64),
            Some((3, plain.len() as u64))
        );
        let (h, body) = sealed.split_at(HEADER as usize);
        let c = (CHUNK + TAG) as usize;
        assert_eq!(
            s.open_chunk(h, 1, false, &body[c..2 * c]).unwrap(),
            &plain[CHUNK as usize..2 * CHUNK as usize]
        );
        assert!(s.open_chunk(h, 0, false, &body[c..2 * c]).is_err(), "moved");
        assert!(
            s.open_chunk(h, 1, true, &body[c..2 * c]).is_err(),
            "made the last"
        );
        assert!(
            Sealer::new(&[8; 32])
                .open_chunk(h, 0, false, &body[..c])
                .is_err(),
            "another key"
        );
        let empty = s.seal(&[]);
        assert_eq!(plain_size(empty.len() as u64), Some((1, 0)));
        assert_eq!(
            covering(&(CHUNK - 1..CHUNK + 1), sealed.len() as u64),
            (0, HEADER..HEADER + 2 * (CHUNK + TAG), CHUNK - 1)
        );
    }
}
