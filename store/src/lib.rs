//! The local mirror of sigmirror: blobs and manifests on disk by digest, with an index of tags,
//! repositories and the signatures, attestations and SBOMs attached to each digest.
//!
//! ```text
//! ROOT/blobs/sha256/<hex>   every manifest and blob, immutable, named by the sha256 of its bytes
//! ROOT/index/               sled: tags, manifests, sizes, images, attachments (never blob bytes)
//! ROOT/tmp/                 in-flight writes, emptied on open
//! ROOT/lock                 the process lock (pid and command line of the holder)
//! ROOT/trusted-keys/        public keys the mounted view verifies against (`<name>.pub`)
//! ROOT/trusted-roots/       Sigstore trusted roots for keyless verification (`<name>.json`)
//! ROOT/trusted-identities/  certificate identities trusted under them (`<name>.json`)
//! ROOT/tuf/<name>/          TUF state of `trust sigstore` (what updates saw; the verified repository)
//! ```
//!
//! Crash safety rests on two rules: a blob is renamed into place only once complete, fsynced
//! and digest-checked, and no index entry names a blob before the blob's file is in place. A
//! kill -9 at any instant therefore leaves only tmp files (removed on the next open) and
//! perhaps unreferenced blobs (removed by [`Store::gc`]); [`Store::fsck`] finds it clean.
//!
//! The store is synchronous and knows nothing of registries, signatures or FUSE: it depends on
//! `sigmirror-oci` only, and the transfer engine reads and writes it through that crate's
//! `Source` and `Sink` traits (see `sigmirror-mirror` for how a pull drives it).
//!
//! ```
//! use sigmirror_oci::Digest;
//! use sigmirror_store::Store;
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path())?;
//! let manifest = br#"{"schemaVersion":2,"manifests":[]}"#;
//! let digest = Digest::sha256_of(manifest);
//! store.put_manifest("localhost:5000/app", &digest, "", manifest, "example")?;
//! store.set_tag("localhost:5000/app", "v1", &digest)?;
//! assert_eq!(store.resolve_tag("localhost:5000/app", "v1")?, Some(digest.clone()));
//! assert!(store.fsck()?.is_clean());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blobs;
mod closure;
mod error;
mod fsck;
mod gc;
mod index;
mod ledger;
mod lock;
mod tree;
pub use lock::{WaitNotice, on_lock_wait};
mod source;
mod trust;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sigmirror_oci::Digest;
use sigmirror_oci::digest::Algorithm;

pub use blobs::{BlobReader, BlobWriter};
pub use closure::{Closure, ImageInfo, PlatformEntry};
pub use error::{Error, Result};
pub use fsck::FsckReport;
pub use gc::{GcReport, Usage};
pub use index::{AttachmentRecord, ImageRecord, ManifestInfo, VerificationRecord};
pub use ledger::{ledger_digests, policy_digest, trust_material, trust_policy_digest};
pub use source::{referrers_among, tagged_among};
pub use trust::{TRUST_DIR, TrustKind, read_trusted, read_trusted_keys};

use index::Index;
use lock::StoreLock;

/// How long [`Store::open`] waits for another process to release the store.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10);

/// The default location of the store: `$SIGMIRROR_STORE`, else `<data dir>/sigmirror/store`.
pub fn default_store_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SIGMIRROR_STORE") {
        return Some(dir.into());
    }
    sigmirror_oci::paths::data_dir().map(|d| d.join("store"))
}

/// An open store. It holds the process lock until dropped; share it behind an `Arc` (it is
/// `Sync`, and every method but [`Store::gc`] takes `&self`).
pub struct Store {
    root: PathBuf,
    blobs_dir: PathBuf,
    tmp_dir: PathBuf,
    index: Index,
    /// Where what is being written comes from (recorded in manifest and image entries);
    /// `None`: the repository it is written to (a pull keeps each image's name).
    provenance: Mutex<Option<String>>,
    /// A private copy of the index, for a store on write-protected media (see
    /// [`Store::open_for_reading`]); removed when the store is dropped, after `index`.
    index_copy: Option<IndexCopy>,
    /// The index is the snapshot a writer left (see [`Store::open_for_reading`]).
    from_snapshot: bool,
    /// Declared last so that it is dropped last: sled is closed before another process may
    /// open the index. `None` for a read-only store, which nobody can write.
    _lock: Option<StoreLock>,
}

/// A folder removed when dropped.
#[derive(Debug)]
struct IndexCopy(PathBuf);

impl Drop for IndexCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies folder `from` into `to` (created), recursively: regular files and folders only.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Whether an error opening a file for writing says the place is not writable.
fn is_unwritable(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. }
        if source.kind() == std::io::ErrorKind::PermissionDenied
            || source.kind() == std::io::ErrorKind::ReadOnlyFilesystem)
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `root`, waiting up to [`DEFAULT_LOCK_WAIT`] for
    /// another process to release it.
    pub fn open(root: impl AsRef<Path>) -> Result<Store> {
        Store::open_with_wait(root, DEFAULT_LOCK_WAIT)
    }

    /// Opens the store at `root`, waiting up to `wait` for the lock.
    pub fn open_with_wait(root: impl AsRef<Path>, wait: Duration) -> Result<Store> {
        let started = Instant::now();
        let root = root.as_ref().to_path_buf();
        let blobs_dir = root.join("blobs").join("sha256");
        let tmp_dir = root.join("tmp");
        for dir in [&root, &blobs_dir, &tmp_dir] {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let lock = StoreLock::acquire(&root, wait)?;
        Store::open_locked(root, lock, wait.saturating_sub(started.elapsed()))
    }

    /// Opens the store at `root` whose lock this process holds.
    fn open_locked(root: PathBuf, lock: StoreLock, remaining: Duration) -> Result<Store> {
        let blobs_dir = root.join("blobs").join("sha256");
        let tmp_dir = root.join("tmp");
        for dir in [&blobs_dir, &tmp_dir] {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        // Whatever is in tmp/ was being written by a process that is gone (we hold the lock).
        blobs::clear_dir(&tmp_dir)?;
        let index = Index::open(&root.join("index"), remaining)?;
        Ok(Store {
            root,
            blobs_dir,
            tmp_dir,
            index,
            provenance: Mutex::new(Some("unknown".to_owned())),
            index_copy: None,
            from_snapshot: false,
            _lock: Some(lock),
        })
    }

    /// Opens an existing store for reading: never creates one (a folder that holds no store is
    /// an error naming it), and works on write-protected media. Where the store is writable it
    /// is opened as [`Store::open_with_wait`] opens it. Where it is not (a read-only file
    /// system, or folders this user cannot write), no lock file is made: nobody can write the
    /// store there, so there is no writer to wait for. sled cannot open a database without
    /// write access, so the index (small: its own folder, not the blobs) is copied to a private
    /// temporary folder and opened there; blobs are read in place. Writes are then refused.
    pub fn open_for_reading(root: impl AsRef<Path>, wait: Duration) -> Result<Store> {
        Store::open_reader(root.as_ref(), wait, true)
    }

    /// [`Store::open_for_reading`] for `fsck`: the index itself whenever the store is free (a
    /// current snapshot is not read instead), so damage in the index's own files is found;
    /// the snapshot only while a writer holds the store.
    pub fn open_for_checking(root: impl AsRef<Path>, wait: Duration) -> Result<Store> {
        Store::open_reader(root.as_ref(), wait, false)
    }

    fn open_reader(root: &Path, wait: Duration, current_snapshot: bool) -> Result<Store> {
        let root = root.to_path_buf();
        // A store is a folder with any of its parts: one whose creation was interrupted (a
        // `pull` killed at once) is completed below where it is writable.
        if !["index", "blobs", "lock"]
            .iter()
            .any(|p| root.join(p).exists())
        {
            return Err(Error::NoStore { root });
        }
        let started = Instant::now();
        // A writer holds the store: read the snapshot it left at its last close, at once,
        // rather than wait for it (readers never wait for a writer; see docs/architecture.md).
        let snapshot = root.join(SNAPSHOT_FILE);
        // No write since the last writer closed: the snapshot is the index; read it without
        // the lock, so that readers never make a writer wait either.
        if current_snapshot && snapshot_is_current(&root) {
            return Store::open_snapshot(root, &snapshot);
        }
        if snapshot.is_file() {
            match StoreLock::acquire(&root, Duration::ZERO) {
                Ok(lock) => return Store::open_locked(root, lock, wait),
                Err(Error::Locked { .. }) => return Store::open_snapshot(root, &snapshot),
                Err(_) => {}
            }
        }
        match StoreLock::acquire(&root, wait) {
            Ok(lock) => Store::open_locked(root, lock, wait.saturating_sub(started.elapsed())),
            Err(e) if is_unwritable(&e) => {
                if !root.join("index").is_dir() {
                    return Err(Error::NoStore { root });
                }
                Store::open_read_only(root)
            }
            Err(e) => Err(e),
        }
    }

    /// See [`Store::open_for_reading`].
    fn open_read_only(root: PathBuf) -> Result<Store> {
        static COPIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let copy = IndexCopy(std::env::temp_dir().join(format!(
            "sigmirror-read-only-index-{}-{n}",
            std::process::id()
        )));
        let _ = std::fs::remove_dir_all(&copy.0);
        copy_tree(&root.join("index"), &copy.0).map_err(|e| Error::io(&copy.0, e))?;
        let index = Index::open(&copy.0, Duration::ZERO)?;
        Ok(Store::reader(root, index, Some(copy), false))
    }

    /// See [`Store::open_for_reading`]: the index as the snapshot `file` holds it, in memory.
    fn open_snapshot(root: PathBuf, file: &Path) -> Result<Store> {
        let index = Index::from_snapshot(file)?;
        Ok(Store::reader(root, index, None, true))
    }

    /// A store that holds no lock and writes nothing, over `index` (a copy of the index, or a
    /// snapshot read into memory).
    fn reader(
        root: PathBuf,
        index: Index,
        index_copy: Option<IndexCopy>,
        from_snapshot: bool,
    ) -> Store {
        Store {
            blobs_dir: root.join("blobs").join("sha256"),
            tmp_dir: root.join("tmp"),
            root,
            index,
            provenance: Mutex::new(Some("unknown".to_owned())),
            index_copy,
            from_snapshot,
            _lock: None,
        }
    }

    /// Whether the store was opened read-only (see [`Store::open_for_reading`]).
    pub fn is_read_only(&self) -> bool {
        self.index_copy.is_some() || self.from_snapshot
    }

    /// Whether this store reads the snapshot a writer left, because a writer holds the store.
    pub fn is_snapshot(&self) -> bool {
        self.from_snapshot
    }

    /// Refuses `what` on a read-only store.
    pub(crate) fn writable(&self, what: &'static str) -> Result<()> {
        if self.is_read_only() {
            return Err(Error::ReadOnly {
                root: self.root.clone(),
                what,
            });
        }
        Ok(())
    }

    /// The store's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Sets where what is written next comes from (e.g. the source registry, or
    /// `load:/path/to/layout`), recorded as `source` in the manifest entries that the `Sink`
    /// implementation writes.
    pub fn set_provenance(&self, source: &str) {
        let mut guard = self.provenance.lock().unwrap_or_else(|e| e.into_inner());
        *guard = Some(source.to_owned());
    }

    /// Records, for everything written next, the repository it is written to as where it
    /// comes from: right for pulls, which keep names, even when several images are pulled at
    /// once.
    pub fn set_provenance_to_repository(&self) {
        let mut guard = self.provenance.lock().unwrap_or_else(|e| e.into_inner());
        *guard = None;
    }

    /// Where content written to `repository` comes from (`unknown` until set).
    pub fn provenance_for(&self, repository: &str) -> String {
        self.provenance
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| repository.to_owned())
    }
}

impl Store {
    /// Opens a batch: until it ends, index changes are not synced one by one but once, when the
    /// batch ends. A load of many images otherwise syncs the index three times per image.
    ///
    /// Crash safety is unchanged: blob files are still synced before any entry names them, and
    /// sled recovers a prefix of its writes, so a crash loses at most the batch's last
    /// entries, never leaves one that names a missing blob. Call [`FlushBatch::finish`] to
    /// learn whether the final sync worked.
    pub fn batch(&self) -> FlushBatch<'_> {
        self.index.defer_flushes();
        FlushBatch {
            store: self,
            open: true,
        }
    }
}

/// An open [`Store::batch`].
#[must_use = "a batch syncs the index when it ends: call finish() to see whether that worked"]
pub struct FlushBatch<'a> {
    store: &'a Store,
    open: bool,
}

impl FlushBatch<'_> {
    /// Ends the batch and makes everything written so far durable.
    pub fn finish(mut self) -> Result<()> {
        self.open = false;
        self.store.index.end_deferral();
        self.store.index.flush()
    }
}

impl Drop for FlushBatch<'_> {
    fn drop(&mut self) {
        if self.open {
            self.store.index.end_deferral();
            let _ = self.store.index.flush();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Best effort: every logical operation already flushed what must be durable.
        let _ = self.index.flush_now();
        // A writer that changed the index leaves a snapshot for the readers of its next run
        // (best effort too: without one, readers wait for the writer as before).
        if self._lock.is_some() && self.index.is_dirty() {
            let tmp = self
                .tmp_dir
                .join(format!("{SNAPSHOT_FILE}.{}", std::process::id()));
            if self
                .index
                .snapshot(&self.root.join(SNAPSHOT_FILE), &tmp)
                .is_ok()
            {
                let _ = std::fs::remove_file(self.root.join(index::WRITING_MARKER));
            }
        }
    }
}

/// Whether the snapshot holds what the index holds: it exists, and no writer has changed the
/// index since (the writing marker, made at a writer's first change and removed once its
/// snapshot is in place, is absent).
fn snapshot_is_current(root: &Path) -> bool {
    root.join(SNAPSHOT_FILE).is_file() && !root.join(index::WRITING_MARKER).exists()
}

/// The snapshot of the index a writer leaves when it closes the store, which readers read while
/// another writer holds it.
pub const SNAPSHOT_FILE: &str = "index.snapshot";

/// The hex of a SHA-256 digest: the store keeps `blobs/sha256/<hex>` only, so a digest of
/// any other algorithm is refused before it can become a path.
pub(crate) fn sha256_hex(digest: &Digest) -> Result<&str> {
    match digest.algorithm() {
        Algorithm::Sha256 => Ok(digest.hex()),
        _ => Err(Error::InvalidDigest {
            digest: digest.to_string(),
        }),
    }
}

/// A digest read back from the index or a file name: `None` unless it is a valid SHA-256
/// digest (the index may have been damaged; nothing unchecked becomes a path).
pub(crate) fn stored_digest(text: &str) -> Option<Digest> {
    Digest::parse(text)
        .ok()
        .filter(|d| d.algorithm() == Algorithm::Sha256)
}

/// The state of files that change whenever the store's index changes (their modification
/// times and sizes), for readers that keep a picture of the index and retake it only when the
/// store changed: the FUSE view and `serve`. `extra` adds paths of their own (trust folders).
pub fn change_marker(
    root: &std::path::Path,
    extra: impl IntoIterator<Item = std::path::PathBuf>,
) -> Vec<(std::path::PathBuf, Option<(std::time::SystemTime, u64)>)> {
    let mut watched: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("index"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    watched.extend(extra);
    watched.sort();
    watched
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            (p, meta)
        })
        .collect()
}
