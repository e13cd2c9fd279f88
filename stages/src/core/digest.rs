//! What a load read of a file: the BLAKE3 hash and the number of the bytes that actually passed through
//! the reader, and whether the file changed while it was read.
//!
//! A load records the digest of what it read, never of what it saw before reading: a file rewritten
//! in place between a look and the read would otherwise be recorded as the content it no longer has,
//! and skipped as unchanged for ever after.

use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::SystemTime;

use tokio::io::{AsyncRead, ReadBuf};

/// The size and BLAKE3 hash (hex) of a sequence of bytes. BLAKE3 rather than SHA-256: a run that
/// finds every file unchanged still reads every byte, and BLAKE3 hashes several times faster.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FileDigest {
    /// How many bytes.
    pub bytes: u64,
    /// Their BLAKE3 hash, in lowercase hex.
    pub blake3: String,
}

/// A running digest, shared between a [`DigestingReader`] and whoever reads the result.
#[derive(Clone, Default)]
pub struct DigestHandle(Arc<Mutex<(blake3::Hasher, u64)>>);

impl DigestHandle {
    /// The digest of every byte read so far.
    #[must_use]
    pub fn current(&self) -> FileDigest {
        let state = self.0.lock().expect("the digest lock is never poisoned");
        FileDigest {
            bytes: state.1,
            blake3: state.0.finalize().to_hex().to_string(),
        }
    }
}

/// Passes reads through to `inner`, adding every byte read to a digest.
pub struct DigestingReader<R> {
    inner: R,
    digest: DigestHandle,
}

impl<R> DigestingReader<R> {
    /// Reads `inner`, digesting what is read into `digest`.
    pub fn new(inner: R, digest: DigestHandle) -> Self {
        Self { inner, digest }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for DigestingReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if !read.is_empty() {
            let mut state = self
                .digest
                .0
                .lock()
                .expect("the digest lock is never poisoned");
            state.0.update(read);
            state.1 += read.len() as u64;
        }
        Poll::Ready(Ok(()))
    }
}

/// The digest of a whole file as it is now, read in large blocks off the async threads.
pub async fn digest_file(path: &Path) -> std::io::Result<FileDigest> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file = std::fs::File::open(&path)?;
        let mut hash = blake3::Hasher::new();
        let mut bytes = 0u64;
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hash.update(&buffer[..n]);
            bytes += n as u64;
        }
        Ok(FileDigest {
            bytes,
            blake3: hash.finalize().to_hex().to_string(),
        })
    })
    .await
    .map_err(std::io::Error::other)?
}

/// What identifies a file's content without reading it: its size and modification time. Two equal
/// stamps taken before and after a read do not prove the content stayed the same, but two different
/// ones prove it changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    /// The size in bytes.
    pub len: u64,
    /// The modification time, when the platform has one.
    pub modified: Option<SystemTime>,
}

impl From<&std::fs::Metadata> for FileStamp {
    fn from(metadata: &std::fs::Metadata) -> Self {
        Self {
            len: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn the_reader_digests_exactly_what_was_read_and_matches_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let handle = DigestHandle::default();
        let mut reader =
            DigestingReader::new(tokio::fs::File::open(&path).await.unwrap(), handle.clone());
        let mut first = vec![0u8; 1000];
        reader.read_exact(&mut first).await.unwrap();
        assert_eq!(handle.current().bytes, 1000);
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.unwrap();
        let whole = digest_file(&path).await.unwrap();
        assert_eq!(handle.current(), whole);
        assert_eq!(whole.bytes, 300_000);
        // The known BLAKE3 hash of the empty input.
        std::fs::write(&path, b"").unwrap();
        assert_eq!(
            digest_file(&path).await.unwrap().blake3,
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }
}
