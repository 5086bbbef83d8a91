//! Blob files: written to `tmp/`, checked, fsynced and renamed into `blobs/sha256/<hex>`; read
//! back through a hash check so that a blob damaged on disk is never served.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest as _, Sha256};
use sigmirror_oci::Digest;
use sigmirror_oci::digest::Sha256Digest;

use crate::error::{Error, Result};
use crate::index::Index;
use crate::{Store, sha256_hex};

/// Buffer of a [`BlobWriter`]: network chunks are often small, and one write call per chunk
/// would dominate the cost of a large layer.
const WRITE_BUFFER: usize = 256 << 10;

/// Makes tmp file names unique between the writers of one process (the pid makes them unique
/// between processes, although the lock means there is only ever one).
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes every entry of `dir` (files and folders), keeping `dir`.
pub(crate) fn clear_dir(dir: &Path) -> Result<u64> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let res = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match res {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Ok(removed)
}

/// fsyncs a folder, so that a rename into it survives a power cut.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// The digest of a finished hasher.
fn digest_of(hasher: Sha256) -> Digest {
    Sha256Digest::from_bytes(hasher.finalize().into()).into()
}

impl Store {
    /// Where the blob `digest` lives (whether or not it is there).
    pub fn blob_path(&self, digest: &Digest) -> Result<PathBuf> {
        Ok(self.blobs_dir.join(sha256_hex(digest)?))
    }

    /// Whether the blob `digest` is in the store with its recorded size. A file that is present
    /// but not yet indexed (a crash came between its rename and its index entry) is re-hashed
    /// once and indexed if good, so an interrupted transfer never fetches it again.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        let Ok(path) = self.blob_path(digest) else {
            return false;
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            return false;
        };
        match self.index.size(digest) {
            Ok(Some(size)) => meta.is_file() && meta.len() == size,
            Ok(None) => {
                let hashed = File::open(&path).and_then(Sha256Digest::of_reader);
                match hashed {
                    Ok((d, n)) if Digest::from(d) == *digest => {
                        self.index.record_size(digest, n).is_ok()
                    }
                    _ => false,
                }
            }
            Err(_) => false,
        }
    }

    /// The blob `digest`, at most `max` bytes, re-hashed: [`Error::Corrupt`] if its bytes no
    /// longer match, [`Error::NotFound`] if it is absent.
    pub fn read_blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        let path = self.blob_path(digest)?;
        let mut file = open_existing(&path, digest)?;
        let size = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        if size > max {
            return Err(Error::TooLarge {
                digest: digest.clone(),
                size,
                max,
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        Read::by_ref(&mut file)
            .take(max.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&path, e))?;
        let actual = Digest::sha256_of(&bytes);
        if actual != *digest {
            return Err(Error::Corrupt {
                digest: digest.clone(),
                path,
                reason: format!("{} bytes with digest {actual}", bytes.len()),
            });
        }
        Ok(bytes)
    }

    /// A reader of the blob `digest` of any size that hashes what it reads and fails with an
    /// `InvalidData` error at the end if the bytes do not match: consumers that stream must
    /// read to the end before trusting what they got.
    pub fn open_blob(&self, digest: &Digest) -> Result<BlobReader> {
        let path = self.blob_path(digest)?;
        let file = open_existing(&path, digest)?;
        Ok(BlobReader {
            file,
            hasher: Some(Sha256::new()),
            seen: 0,
            digest: digest.clone(),
            failure: None,
        })
    }

    /// A writer for the blob `digest` of `size` bytes; nothing is visible until
    /// [`BlobWriter::commit`] has checked it.
    pub fn writer(&self, digest: &Digest, size: u64) -> Result<BlobWriter> {
        self.writable("writing a blob")?;
        let hex = sha256_hex(digest)?;
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp_path = self
            .tmp_dir
            .join(format!("{hex}.{}.{n}.tmp", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
            .map_err(|e| Error::io(&tmp_path, e))?;
        Ok(BlobWriter {
            file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
            final_path: self.blobs_dir.join(hex),
            blobs_dir: self.blobs_dir.clone(),
            tmp_path,
            index: self.index.clone(),
            digest: digest.clone(),
            size,
            written: 0,
            hasher: Sha256::new(),
        })
    }

    /// Stores `bytes` as the blob `digest`, unless it is already there.
    pub(crate) fn put_bytes(&self, digest: &Digest, bytes: &[u8]) -> Result<()> {
        if self.has_blob(digest) {
            return Ok(());
        }
        let mut w = self.writer(digest, bytes.len() as u64)?;
        w.write_chunk(bytes)?;
        w.commit()
    }
}

/// Opens a blob file, mapping its absence to [`Error::NotFound`].
fn open_existing(path: &Path, digest: &Digest) -> Result<File> {
    open_for_reading(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound {
            what: format!("blob {digest}"),
        },
        _ => Error::io(path, e),
    })
}

/// Opens `path` to read without updating its access time where the kernel allows it (the
/// store's owner, or root): blobs are read far more often than written, and each first read
/// after a write would otherwise dirty the inode, a journal write per blob (`store verify`
/// reads three files per image). Anyone else opens it the ordinary way.
fn open_for_reading(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOATIME)
        .open(path)
    {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => File::open(path),
        opened => opened,
    }
}

/// A blob being written. Dropping it without [`commit`](BlobWriter::commit) removes its tmp
/// file, so a failed transfer leaves nothing behind.
#[derive(Debug)]
pub struct BlobWriter {
    file: Option<BufWriter<File>>,
    tmp_path: PathBuf,
    final_path: PathBuf,
    blobs_dir: PathBuf,
    index: Index,
    digest: Digest,
    size: u64,
    written: u64,
    hasher: Sha256,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Fail as soon as a source sends more than announced: a liar cannot fill the disk.
        if self.written + buf.len() as u64 > self.size {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "more than the {} bytes announced for {}",
                    self.size, self.digest
                ),
            ));
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("blob writer already finished"))?;
        let n = file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes `chunk`, refusing it ([`Error::Mismatch`]) if it would exceed the announced size.
    pub fn write_chunk(&mut self, chunk: &[u8]) -> Result<()> {
        self.write_all(chunk).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData {
                Error::Mismatch {
                    digest: self.digest.clone(),
                    reason: e.to_string(),
                }
            } else {
                Error::io(&self.tmp_path, e)
            }
        })
    }

    /// Checks size and digest, fsyncs the file, renames it into place, fsyncs the folder and
    /// records the size in the index, in that order: the index never names a blob whose file
    /// could still be lost.
    pub fn commit(mut self) -> Result<()> {
        let Some(buffered) = self.file.take() else {
            return Err(Error::io(
                &self.tmp_path,
                std::io::Error::other("blob writer already finished"),
            ));
        };
        let file = buffered
            .into_inner()
            .map_err(|e| Error::io(&self.tmp_path, e.into_error()))?;
        if self.written != self.size {
            return Err(Error::Mismatch {
                digest: self.digest.clone(),
                reason: format!("{} bytes, expected {}", self.written, self.size),
            });
        }
        let actual = digest_of(std::mem::take(&mut self.hasher));
        if actual != self.digest {
            return Err(Error::Mismatch {
                digest: self.digest.clone(),
                reason: format!("content has digest {actual}"),
            });
        }
        file.sync_all().map_err(|e| Error::io(&self.tmp_path, e))?;
        drop(file);
        std::fs::rename(&self.tmp_path, &self.final_path)
            .map_err(|e| Error::io(&self.final_path, e))?;
        sync_dir(&self.blobs_dir)?;
        self.index.record_size(&self.digest, self.size)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // After a commit the tmp file has been renamed away; removing it then is a no-op.
        drop(self.file.take());
        let _ = std::fs::remove_file(&self.tmp_path);
    }
}

/// A reader of a stored blob that checks its digest at the end (see [`Store::open_blob`]).
#[derive(Debug)]
pub struct BlobReader {
    file: File,
    hasher: Option<Sha256>,
    seen: u64,
    digest: Digest,
    /// Set once a mismatch is found, so every later read fails too.
    failure: Option<String>,
}

impl BlobReader {
    fn corrupt(&self, reason: &str) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "blob {} is corrupt ({reason}); run `sigmirror store fsck`",
                self.digest
            ),
        )
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(reason) = &self.failure {
            return Err(self.corrupt(reason));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.file.read(buf)?;
        if n > 0 {
            if let Some(h) = self.hasher.as_mut() {
                h.update(&buf[..n]);
            }
            self.seen += n as u64;
            return Ok(n);
        }
        if let Some(h) = self.hasher.take() {
            let actual = digest_of(h);
            if actual != self.digest {
                let reason = format!("{} bytes with digest {actual}", self.seen);
                let err = self.corrupt(&reason);
                self.failure = Some(reason);
                return Err(err);
            }
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp_entries(store: &Store) -> usize {
        std::fs::read_dir(&store.tmp_dir).unwrap().count()
    }

    #[test]
    fn write_commit_verify() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let digest = Digest::sha256_of(&data);
        assert!(!store.has_blob(&digest));
        let mut w = store.writer(&digest, data.len() as u64).unwrap();
        for chunk in data.chunks(70_000) {
            w.write_all(chunk).unwrap();
        }
        assert_eq!(tmp_entries(&store), 1);
        w.commit().unwrap();
        assert_eq!(tmp_entries(&store), 0);
        assert!(store.has_blob(&digest));
        assert_eq!(store.index.size(&digest).unwrap(), Some(data.len() as u64));
        assert_eq!(store.read_blob(&digest, u64::MAX).unwrap(), data);
        let mut back = vec![];
        store
            .open_blob(&digest)
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert!(matches!(
            store.read_blob(&digest, 10),
            Err(Error::TooLarge {
                size: 3_000_000,
                ..
            })
        ));
    }

    #[test]
    fn bad_content_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let digest = Digest::sha256_of(b"hello");
        // Wrong bytes, right size.
        let mut w = store.writer(&digest, 5).unwrap();
        w.write_all(b"jello").unwrap();
        let err = w.commit().unwrap_err();
        assert!(matches!(err, Error::Mismatch { .. }), "{err}");
        // Short.
        let mut w = store.writer(&digest, 5).unwrap();
        w.write_all(b"hell").unwrap();
        assert!(
            w.commit()
                .unwrap_err()
                .to_string()
                .contains("4 bytes, expected 5")
        );
        // Long: refused at the write, before it reaches the disk.
        let mut w = store.writer(&digest, 5).unwrap();
        assert!(w.write_all(b"hello!").is_err());
        drop(w);
        // Abandoned.
        let mut w = store.writer(&digest, 5).unwrap();
        w.write_all(b"he").unwrap();
        drop(w);
        assert_eq!(tmp_entries(&store), 0);
        assert!(!store.has_blob(&digest));
        assert!(matches!(
            store.read_blob(&digest, 100),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn only_sha256_digests_become_paths() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let sha512 = Digest::parse(&format!("sha512:{}", "ab".repeat(64))).unwrap();
        assert!(matches!(
            store.blob_path(&sha512),
            Err(Error::InvalidDigest { .. })
        ));
        assert!(store.writer(&sha512, 1).is_err());
        assert!(!store.has_blob(&sha512));
        assert!(store.read_blob(&sha512, 1).is_err());
        let sha256 = Digest::sha256_of(b"z");
        assert_eq!(
            store.blob_path(&sha256).unwrap(),
            store.blobs_dir.join(sha256.hex())
        );
    }

    #[test]
    fn unindexed_blob_is_rehashed_and_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let digest = Digest::sha256_of(b"x");
        // As if a crash came between the rename and the size entry.
        std::fs::write(store.blob_path(&digest).unwrap(), b"x").unwrap();
        assert_eq!(store.index.size(&digest).unwrap(), None);
        assert!(store.has_blob(&digest));
        assert_eq!(store.index.size(&digest).unwrap(), Some(1));
        // A file with the wrong content under that name is not taken.
        let other = Digest::sha256_of(b"y");
        std::fs::write(store.blob_path(&other).unwrap(), b"z").unwrap();
        assert!(!store.has_blob(&other));
    }
}
