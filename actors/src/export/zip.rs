//! A ZIP writer that streams: entries are stored (not compressed), each followed by a data
//! descriptor, so an entry's bytes go out as they come and nothing is held back but the
//! central directory. Names are UTF-8. No ZIP64: an archive stays under 4 GiB (the export
//! refuses more).

use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Largest archive without ZIP64.
pub const MAX_BYTES: u64 = u32::MAX as u64;
/// Most entries without ZIP64.
pub const MAX_ENTRIES: usize = u16::MAX as usize;

/// Bit 3: sizes and CRC follow the data. Bit 11: the name is UTF-8.
const FLAGS: u16 = 0x0808;

/// What the central directory keeps of an entry.
struct Entry {
    name: String,
    crc: u32,
    size: u32,
    offset: u32,
}

/// An archive being written to `out`.
pub struct ZipWriter<W> {
    out: W,
    written: u64,
    entries: Vec<Entry>,
    /// The entry being written: its CRC so far and size.
    open: Option<(crc32fast::Hasher, u64)>,
}

/// The archive would outgrow the format.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("the archive would exceed 4 GiB or 65535 files")]
    TooLarge,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl<W: AsyncWrite + Unpin> ZipWriter<W> {
    pub fn new(out: W) -> Self {
        ZipWriter {
            out,
            written: 0,
            entries: Vec::new(),
            open: None,
        }
    }

    async fn put(&mut self, bytes: &[u8]) -> Result<(), ZipError> {
        self.written += bytes.len() as u64;
        if self.written > MAX_BYTES {
            return Err(ZipError::TooLarge);
        }
        self.out.write_all(bytes).await?;
        Ok(())
    }

    /// Starts entry `name` (the previous one ends).
    pub async fn start(&mut self, name: &str) -> Result<(), ZipError> {
        self.finish_entry().await?;
        if self.entries.len() >= MAX_ENTRIES {
            return Err(ZipError::TooLarge);
        }
        let offset = u32::try_from(self.written).map_err(|_| ZipError::TooLarge)?;
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&20u16.to_le_bytes());
        h.extend_from_slice(&FLAGS.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&0u16.to_le_bytes()); // time
        h.extend_from_slice(&0x0021u16.to_le_bytes()); // date: 1980-01-01
        h.extend_from_slice(&[0; 12]); // CRC and sizes: in the descriptor
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        self.put(&h).await?;
        self.entries.push(Entry {
            name: name.to_string(),
            crc: 0,
            size: 0,
            offset,
        });
        self.open = Some((crc32fast::Hasher::new(), 0));
        Ok(())
    }

    /// Appends bytes to the current entry.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), ZipError> {
        if let Some((crc, size)) = &mut self.open {
            crc.update(bytes);
            *size += bytes.len() as u64;
        }
        self.put(bytes).await
    }

    /// An entry holding `bytes`.
    pub async fn file(&mut self, name: &str, bytes: &[u8]) -> Result<(), ZipError> {
        self.start(name).await?;
        self.write(bytes).await
    }

    async fn finish_entry(&mut self) -> Result<(), ZipError> {
        let Some((crc, size)) = self.open.take() else {
            return Ok(());
        };
        let (crc, size) = (
            crc.finalize(),
            u32::try_from(size).map_err(|_| ZipError::TooLarge)?,
        );
        let mut d = Vec::with_capacity(16);
        d.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
        d.extend_from_slice(&crc.to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        self.put(&d).await?;
        if let Some(e) = self.entries.last_mut() {
            e.crc = crc;
            e.size = size;
        }
        Ok(())
    }

    /// Writes the central directory and flushes; answers the archive's size.
    pub async fn finish(mut self) -> Result<u64, ZipError> {
        self.finish_entry().await?;
        let start = u32::try_from(self.written).map_err(|_| ZipError::TooLarge)?;
        let mut dir = Vec::new();
        for e in &self.entries {
            dir.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            dir.extend_from_slice(&20u16.to_le_bytes());
            dir.extend_from_slice(&20u16.to_le_bytes());
            dir.extend_from_slice(&FLAGS.to_le_bytes());
            dir.extend_from_slice(&0u16.to_le_bytes());
            dir.extend_from_slice(&0u16.to_le_bytes());
            dir.extend_from_slice(&0x0021u16.to_le_bytes());
            dir.extend_from_slice(&e.crc.to_le_bytes());
            dir.extend_from_slice(&e.size.to_le_bytes());
            dir.extend_from_slice(&e.size.to_le_bytes());
            dir.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            dir.extend_from_slice(&[0; 12]); // extra, comment, disk, attributes
            dir.extend_from_slice(&e.offset.to_le_bytes());
            dir.extend_from_slice(e.name.as_bytes());
        }
        let size = u32::try_from(dir.len()).map_err(|_| ZipError::TooLarge)?;
        let count = self.entries.len() as u16;
        dir.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        dir.extend_from_slice(&[0; 4]);
        dir.extend_from_slice(&count.to_le_bytes());
        dir.extend_from_slice(&count.to_le_bytes());
        dir.extend_from_slice(&size.to_le_bytes());
        dir.extend_from_slice(&start.to_le_bytes());
        dir.extend_from_slice(&0u16.to_le_bytes());
        self.put(&dir).await?;
        self.out.flush().await?;
        Ok(self.written)
    }
}
