//! The sled index: tags, manifests (media type, size, repositories, subject, provenance), blob
//! sizes, image records and the attachments of each subject digest. It never holds blob bytes,
//! and every entry that names a blob is written after the blob's file is in place.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::manifest::ManifestView;
use sigmirror_oci::{Digest, ImageRef};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::error::{Error, Result};
use crate::tree::Tree;
use crate::{Store, sha256_hex, stored_digest};

/// Separates the parts of an `attachments` key; it cannot occur in a digest, repository or tag.
const SEP: char = '\0';

/// What the index records about a manifest (JSON in the `manifests` tree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestInfo {
    /// Its media type as received (may be empty; readers then infer it from the JSON).
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Every `registry/repo` it was stored under, sorted.
    pub repos: Vec<String>,
    /// The digest in its `subject` field: it is an OCI 1.1 referrer of that manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Digest>,
    /// Where it was first stored from.
    pub source: String,
    /// When it was first stored (RFC 3339, UTC).
    pub pulled_at: String,
}

/// What the index records about an image that a command asked for by name (JSON in `images`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    /// The digest the name resolved to.
    pub digest: Digest,
    /// Whether everything pulled with it was stored (the transfer finished).
    pub complete: bool,
    /// Pulled without image layers (enough to verify, not to run).
    pub no_layers: bool,
    /// Where it came from.
    pub source: String,
    /// When (RFC 3339, UTC).
    pub pulled_at: String,
    /// Pulled for this platform only (`--platform`): the digest is an index kept whole, and
    /// its other platforms' manifests are absent by choice, not missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

impl ImageRecord {
    /// A record stamped now.
    pub fn new(digest: &Digest, complete: bool, no_layers: bool, source: &str) -> ImageRecord {
        ImageRecord {
            digest: digest.clone(),
            complete,
            no_layers,
            source: source.to_owned(),
            pulled_at: sigmirror_oci::timefmt::now_rfc3339(),
            platform: None,
        }
    }

    /// The record of an image pulled for `platform` only (see [`ImageRecord::platform`]).
    pub fn for_platform(mut self, platform: Option<String>) -> ImageRecord {
        self.platform = platform;
        self
    }
}

/// The last verification of an image by `store verify`, kept in the index's ledger: what was
/// verified (the image's digest and the digests of everything attached to it that was
/// considered), against what (the policy's digest), when, and with what outcome. A later run
/// whose image, attachments and policy are the same has nothing new to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationRecord {
    /// The image's digest when it was verified.
    pub digest: Digest,
    /// The digests of the signature, attestation and referrer manifests attached to it then,
    /// sorted.
    pub attachments: Vec<Digest>,
    /// The digest of the policy (trust material and requirements) it was verified against.
    pub policy: String,
    /// When (RFC 3339, UTC).
    pub checked_at: String,
    /// Whether it satisfied the policy.
    pub verified: bool,
    /// The names of the keys and identities whose signatures verified.
    pub verified_by: Vec<String>,
    /// Why it did not satisfy the policy (empty when it did).
    pub reasons: Vec<String>,
}

/// What the index records about something attached to a subject digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttachmentRecord {
    /// How it is attached.
    pub kind: AttachmentKind,
    /// The `registry/repo` it is stored under.
    pub repo: String,
    /// Its tag (`sha256-<hex>.sig` …); `None` for referrers.
    pub tag: Option<String>,
    /// The attached manifest's digest.
    pub digest: Digest,
}

/// `registry/repo` must be a plain name: it is part of index keys.
fn validate_repo(repo: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::InvalidName {
            name: repo.to_owned(),
            reason: reason.to_owned(),
        })
    };
    let last = repo.rsplit('/').next().unwrap_or_default();
    if !repo.contains('/') || repo.starts_with('/') || repo.ends_with('/') {
        bad("expected registry/repository")
    } else if repo.contains(['@', SEP]) || repo.chars().any(char::is_whitespace) {
        bad("a repository name has no '@', whitespace or NUL")
    } else if last.contains(':') {
        bad("a repository name has no tag")
    } else {
        Ok(())
    }
}

/// A tag in the docker grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn validate_tag(tag: &str) -> Result<()> {
    let b = tag.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            name: tag.to_owned(),
            reason: "not a valid tag".to_owned(),
        })
    }
}

/// The key of an image record: the reference normalised like cosign names it, `:latest` when
/// it names neither tag nor digest, so that `ubuntu` and `index.docker.io/library/ubuntu:latest`
/// are one record.
pub(crate) fn image_key(name: &str) -> Result<String> {
    let r = ImageRef::parse(name).map_err(|e| Error::InvalidName {
        name: name.to_owned(),
        reason: e.to_string(),
    })?;
    let r = if r.tag().is_none() && r.digest().is_none() {
        r.with_tag("latest")
    } else {
        r
    };
    Ok(r.to_string())
}

fn attachment_key(subject: &Digest, kind: AttachmentKind, repo: &str, name: &str) -> String {
    format!("{subject}{SEP}{kind}{SEP}{repo}{SEP}{name}")
}

/// The parts of an `attachments` key: subject, kind, repo, name (tag or referrer digest).
pub(crate) fn split_attachment_key(key: &str) -> Option<(&str, AttachmentKind, &str, &str)> {
    let mut parts = key.split(SEP);
    let subject = parts.next()?;
    let kind = AttachmentKind::from_name(parts.next()?)?;
    let repo = parts.next()?;
    let name = parts.next()?;
    parts
        .next()
        .is_none()
        .then_some((subject, kind, repo, name))
}

/// A digest stored as an index value: a valid SHA-256 digest, else a [`Error::BadEntry`].
fn digest_value(tree: &'static str, key: &str, value: &[u8]) -> Result<Digest> {
    std::str::from_utf8(value)
        .ok()
        .and_then(stored_digest)
        .ok_or_else(|| Error::BadEntry {
            tree,
            key: key.to_owned(),
            reason: format!("not a digest: {:?}", String::from_utf8_lossy(value)),
        })
}

fn utf8(tree: &'static str, bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::BadEntry {
        tree,
        key: String::from_utf8_lossy(bytes).into_owned(),
        reason: "not UTF-8".to_owned(),
    })
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(
    tree: &'static str,
    key: &[u8],
    value: &[u8],
) -> Result<T> {
    serde_json::from_slice(value).map_err(|e| Error::BadEntry {
        tree,
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

fn encode<T: Serialize>(tree: &'static str, key: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::BadEntry {
        tree,
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

pub(crate) fn decode_size(key: &[u8], value: &[u8]) -> Result<u64> {
    let bytes: [u8; 8] = value.try_into().map_err(|_| Error::BadEntry {
        tree: "sizes",
        key: String::from_utf8_lossy(key).into_owned(),
        reason: format!("{} bytes, expected 8", value.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

/// The trees of the index. Cloning is cheap (sled handles are shared).
#[derive(Debug, Clone)]
pub(crate) struct Index {
    path: PathBuf,
    /// The sled database; `None` for a snapshot read into memory.
    db: Option<sled::Db>,
    /// `registry/repo:tag` → digest.
    pub(crate) tags: Tree,
    /// digest → [`ManifestInfo`] JSON.
    pub(crate) manifests: Tree,
    /// digest → size (u64 big-endian), for every blob.
    pub(crate) sizes: Tree,
    /// image reference → [`ImageRecord`] JSON.
    pub(crate) images: Tree,
    /// `subject \0 kind \0 repo \0 tag-or-digest` → attached digest: finds a digest's
    /// signatures, attestations, SBOMs and referrers without scanning every tag.
    pub(crate) attachments: Tree,
    /// image reference → [`VerificationRecord`] JSON: the verification ledger.
    pub(crate) ledger: Tree,
    /// Open [`crate::FlushBatch`]es: while any is open, [`Index::flush`] leaves the syncing to
    /// the batch's end.
    deferred: std::sync::Arc<AtomicUsize>,
    /// Something was written since the index was opened: the snapshot readers use while a
    /// writer holds the store is rewritten when the writer closes it (see [`Index::snapshot`]).
    dirty: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The trees of the index, in the order a snapshot lists them.
const TREES: [&str; 6] = [
    "tags",
    "manifests",
    "sizes",
    "images",
    "attachments",
    "ledger",
];

/// The trees a snapshot must have; the ones after them were added later, and a snapshot that
/// ends before them (written by an older sigmirror) has them empty.
const REQUIRED_TREES: usize = 5;

/// A file beside the index while a writer has changed it and not yet left a new snapshot.
pub(crate) const WRITING_MARKER: &str = "index.writing";

/// The first line of a snapshot file.
const SNAPSHOT_MAGIC: &[u8] = b"sigmirror-index-snapshot 1\n";

impl Index {
    /// Opens the index at `path`. sled takes its own file lock, which a store dropped an
    /// instant ago in this process may still hold while its threads wind down: retry briefly.
    pub(crate) fn open(path: &Path, wait: Duration) -> Result<Index> {
        let deadline = Instant::now() + wait.max(Duration::from_secs(2));
        let db = loop {
            // No background flusher: every logical write is flushed when it completes (or at
            // the end of a batch), so the flusher's periodic sync only costs a thread and an
            // fsync per process, also for commands that only read.
            match sled::Config::new().path(path).flush_every_ms(None).open() {
                Ok(db) => break db,
                Err(sled::Error::Io(e))
                    if e.to_string().contains("lock") && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(source) => {
                    return Err(Error::Index {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        };
        Index::from_db(db, path)
    }

    fn from_db(db: sled::Db, path: &Path) -> Result<Index> {
        let tree = |name: &str| {
            db.open_tree(name)
                .map(Tree::Sled)
                .map_err(|source| Error::Index {
                    path: path.to_path_buf(),
                    source,
                })
        };
        Ok(Index {
            tags: tree("tags")?,
            manifests: tree("manifests")?,
            sizes: tree("sizes")?,
            images: tree("images")?,
            attachments: tree("attachments")?,
            ledger: tree("ledger")?,
            path: path.to_path_buf(),
            db: Some(db),
            deferred: Default::default(),
            dirty: Default::default(),
        })
    }

    fn tree(&self, name: &str) -> &Tree {
        match name {
            "tags" => &self.tags,
            "manifests" => &self.manifests,
            "sizes" => &self.sizes,
            "images" => &self.images,
            "ledger" => &self.ledger,
            _ => &self.attachments,
        }
    }

    /// Whether anything was written since the index was opened.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::SeqCst)
    }

    /// Writes every entry of every tree to `file` (through `tmp`, then renamed, so a reader
    /// sees the old snapshot or the new one, never a part). Readers that find the store held by
    /// a writer read this instead of waiting: the state as of the writer's last close, in which
    /// every image is whole (an image is recorded only once its content is in place).
    ///
    /// Format: the magic line, then per tree its name, entry count, and each key and value,
    /// every field prefixed by its length (u32 or u64, big-endian).
    pub(crate) fn snapshot(&self, file: &Path, tmp: &Path) -> Result<()> {
        use std::io::Write;
        let io = |e| Error::io(tmp, e);
        let mut out = std::io::BufWriter::new(std::fs::File::create(tmp).map_err(io)?);
        out.write_all(SNAPSHOT_MAGIC).map_err(io)?;
        for name in TREES {
            let tree = self.tree(name);
            out.write_all(&(name.len() as u32).to_be_bytes())
                .map_err(io)?;
            out.write_all(name.as_bytes()).map_err(io)?;
            out.write_all(&(tree.len() as u64).to_be_bytes())
                .map_err(io)?;
            for entry in tree.iter() {
                let (k, v) = entry.map_err(|e| self.err(e))?;
                for field in [&k[..], &v[..]] {
                    out.write_all(&(field.len() as u32).to_be_bytes())
                        .map_err(io)?;
                    out.write_all(field).map_err(io)?;
                }
            }
        }
        let file_handle = out.into_inner().map_err(|e| io(e.into_error()))?;
        file_handle.sync_all().map_err(io)?;
        std::fs::rename(tmp, file).map_err(|e| Error::io(file, e))
    }

    /// An index in memory (sorted maps) holding what the snapshot `file` holds.
    pub(crate) fn from_snapshot(file: &Path) -> Result<Index> {
        use std::io::Read;
        let bad = |reason: &str| Error::BadEntry {
            tree: "snapshot",
            key: file.display().to_string(),
            reason: reason.to_owned(),
        };
        let mut input =
            std::io::BufReader::new(std::fs::File::open(file).map_err(|e| Error::io(file, e))?);
        let mut read_exact = |n: usize| -> Result<Vec<u8>> {
            let mut buf = vec![0u8; n];
            input.read_exact(&mut buf).map_err(|_| bad("truncated"))?;
            Ok(buf)
        };
        if read_exact(SNAPSHOT_MAGIC.len())? != SNAPSHOT_MAGIC {
            return Err(bad("not an index snapshot"));
        }
        /// Fields are at most this long: no index entry is near it, a damaged file could be.
        const MAX_FIELD: usize = 64 << 20;
        let mut trees: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = vec![];
        for (n, expected) in TREES.into_iter().enumerate() {
            let len = match read_exact(4) {
                Ok(len) => u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize,
                Err(_) if n >= REQUIRED_TREES => {
                    trees.push(BTreeMap::new());
                    continue;
                }
                Err(e) => return Err(e),
            };
            if read_exact(len.min(64))? != expected.as_bytes() {
                return Err(bad("trees out of order"));
            }
            let count = u64::from_be_bytes(read_exact(8)?.try_into().expect("8 bytes"));
            let mut tree = BTreeMap::new();
            for _ in 0..count {
                let mut field = || -> Result<Vec<u8>> {
                    let n = u32::from_be_bytes(read_exact(4)?.try_into().expect("4 bytes"));
                    if n as usize > MAX_FIELD {
                        return Err(bad("field too long"));
                    }
                    read_exact(n as usize)
                };
                let (k, v) = (field()?, field()?);
                tree.insert(k, v);
            }
            trees.push(tree);
        }
        let mut trees = trees
            .into_iter()
            .map(|t| Tree::Memory(std::sync::Arc::new(t)));
        let mut next = || trees.next().expect("one map per tree");
        let index = Index {
            tags: next(),
            manifests: next(),
            sizes: next(),
            images: next(),
            attachments: next(),
            ledger: next(),
            path: file.to_path_buf(),
            db: None,
            deferred: Default::default(),
            dirty: Default::default(),
        };
        Ok(index)
    }

    /// An [`Error::Index`] for this index.
    pub(crate) fn err(&self, source: sled::Error) -> Error {
        Error::Index {
            path: self.path.clone(),
            source,
        }
    }

    fn tx_err(&self, e: TransactionError<Error>) -> Error {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(source) => self.err(source),
        }
    }

    /// Makes everything written so far durable, unless a batch is open (its end will).
    pub(crate) fn flush(&self) -> Result<()> {
        // Every logical write ends here: the snapshot is to be rewritten at close, and until
        // then it is not current (a writer killed before its close leaves the marker, and
        // readers then read the index itself).
        if !self.dirty.swap(true, Ordering::SeqCst)
            && let Some(root) = self.path.parent()
        {
            let _ = std::fs::File::create(root.join(WRITING_MARKER));
        }
        if self.deferred.load(Ordering::SeqCst) > 0 {
            return Ok(());
        }
        self.flush_now()
    }

    /// Makes everything written so far durable, batch or not.
    pub(crate) fn flush_now(&self) -> Result<()> {
        match &self.db {
            Some(db) => db.flush().map(|_| ()).map_err(|e| self.err(e)),
            None => Ok(()),
        }
    }

    pub(crate) fn defer_flushes(&self) {
        self.deferred.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn end_deferral(&self) {
        self.deferred.fetch_sub(1, Ordering::SeqCst);
    }

    /// The recorded size of blob `digest`.
    pub(crate) fn size(&self, digest: &Digest) -> Result<Option<u64>> {
        match self.sizes.get(digest.as_str()).map_err(|e| self.err(e))? {
            Some(v) => decode_size(digest.as_str().as_bytes(), &v).map(Some),
            None => Ok(None),
        }
    }

    /// Records the size of blob `digest`, whose file is in place. Not flushed: a lost size
    /// entry is rebuilt by [`Store::has_blob`], and sled persists entries in order, so any later
    /// entry that survives a crash implies this one did.
    pub(crate) fn record_size(&self, digest: &Digest, size: u64) -> Result<()> {
        self.sizes
            .insert(digest.as_str(), &size.to_be_bytes())
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

impl Store {
    /// Whether the blob file of `digest` is in place with its recorded size; what every index
    /// entry that names `digest` requires first.
    fn require_blob(&self, digest: &Digest) -> Result<()> {
        sha256_hex(digest)?;
        if self.has_blob(digest) {
            Ok(())
        } else {
            Err(Error::NotFound {
                what: format!("blob {digest}"),
            })
        }
    }

    /// Stores the manifest `bytes` as `digest` under `repo` (`registry/repo`): checks the
    /// digest and that it is JSON, writes the blob, then records (or merges into) its entry,
    /// and indexes it as a referrer if it has a `subject`.
    pub fn put_manifest(
        &self,
        repo: &str,
        digest: &Digest,
        media_type: &str,
        bytes: &[u8],
        source: &str,
    ) -> Result<()> {
        self.writable("storing a manifest")?;
        validate_repo(repo)?;
        sha256_hex(digest)?;
        let actual = Digest::sha256_of(bytes);
        if actual != *digest {
            return Err(Error::Mismatch {
                digest: digest.clone(),
                reason: format!("content has digest {actual}"),
            });
        }
        let view = ManifestView::parse(bytes, Some(media_type), digest.as_str()).map_err(|e| {
            Error::MalformedManifest {
                digest: digest.clone(),
                reason: e.to_string(),
            }
        })?;
        let subject = view
            .subject
            .map(|s| s.digest)
            .filter(|d| sha256_hex(d).is_ok() && d != digest);
        if self.manifest_recorded(repo, digest, subject.as_ref())? {
            // A re-pull meets mostly content it already holds: nothing to write or sync.
            return Ok(());
        }
        self.put_bytes(digest, bytes)?;
        let fresh = ManifestInfo {
            media_type: media_type.to_owned(),
            size: bytes.len() as u64,
            repos: vec![],
            subject,
            source: source.to_owned(),
            pulled_at: sigmirror_oci::timefmt::now_rfc3339(),
        };
        let ix = &self.index;
        (
            ix.manifests.sled().map_err(|e| ix.err(e))?,
            ix.attachments.sled().map_err(|e| ix.err(e))?,
        )
            .transaction(|(m, a)| {
                let abort = ConflictableTransactionError::Abort;
                let mut rec = match m.get(digest.as_str())? {
                    Some(v) => decode::<ManifestInfo>("manifests", digest.as_str().as_bytes(), &v)
                        .map_err(abort)?,
                    None => fresh.clone(),
                };
                if !rec.repos.iter().any(|r| r == repo) {
                    rec.repos.push(repo.to_owned());
                    rec.repos.sort();
                }
                if rec.media_type.is_empty() {
                    rec.media_type = media_type.to_owned();
                }
                if rec.subject.is_none() {
                    rec.subject = fresh.subject.clone();
                }
                let value = encode("manifests", digest.as_str(), &rec).map_err(abort)?;
                m.insert(digest.as_str(), value)?;
                if let Some(subject) = &rec.subject {
                    let key =
                        attachment_key(subject, AttachmentKind::Referrer, repo, digest.as_str());
                    a.insert(key.as_str(), digest.as_str())?;
                }
                Ok(())
            })
            .map_err(|e| ix.tx_err(e))?;
        ix.flush()
    }

    /// Whether `digest` is already recorded in full under `repo` (blob in place, entry naming
    /// the repository, and its referrer entry if it has a subject), so that storing it again
    /// would change nothing.
    fn manifest_recorded(
        &self,
        repo: &str,
        digest: &Digest,
        subject: Option<&Digest>,
    ) -> Result<bool> {
        let Some(rec) = self.manifest_info(digest)? else {
            return Ok(false);
        };
        if !self.has_blob(digest)
            || rec.media_type.is_empty()
            || !rec.repos.iter().any(|r| r == repo)
            || (rec.subject.is_none() && subject.is_some())
        {
            return Ok(false);
        }
        match &rec.subject {
            Some(subject) => {
                let key = attachment_key(subject, AttachmentKind::Referrer, repo, digest.as_str());
                self.index
                    .attachments
                    .contains_key(key.as_str())
                    .map_err(|e| self.index.err(e))
            }
            None => Ok(true),
        }
    }

    /// Points `repo:tag` at `digest`, whose blob must be in the store. A cosign attachment tag
    /// is also indexed under its subject.
    pub fn set_tag(&self, repo: &str, tag: &str, digest: &Digest) -> Result<()> {
        self.writable("tagging")?;
        validate_repo(repo)?;
        validate_tag(tag)?;
        self.require_blob(digest)?;
        let key = format!("{repo}:{tag}");
        let attached =
            AttachmentKind::parse_tag(tag).map(|(s, k)| attachment_key(&s, k, repo, tag));
        if self.tag_recorded(&key, attached.as_deref(), digest)? {
            // Unchanged (a re-pull): nothing to write or sync.
            return Ok(());
        }
        let ix = &self.index;
        (
            ix.tags.sled().map_err(|e| ix.err(e))?,
            ix.attachments.sled().map_err(|e| ix.err(e))?,
        )
            .transaction(|(t, a)| {
                t.insert(key.as_str(), digest.as_str())?;
                if let Some(akey) = &attached {
                    a.insert(akey.as_str(), digest.as_str())?;
                }
                Ok(())
            })
            .map_err(|e: TransactionError<Error>| ix.tx_err(e))?;
        ix.flush()
    }

    /// Whether the tag `key` and its attachment entry (if any) already point at `digest`.
    fn tag_recorded(&self, key: &str, attached: Option<&str>, digest: &Digest) -> Result<bool> {
        let ix = &self.index;
        let points = |tree: &Tree, key: &str| -> Result<bool> {
            Ok(tree
                .get(key)
                .map_err(|e| ix.err(e))?
                .is_some_and(|v| v.as_ref() == digest.as_str().as_bytes()))
        };
        Ok(points(&ix.tags, key)? && attached.map_or(Ok(true), |a| points(&ix.attachments, a))?)
    }

    /// The digest `repo:tag` points at.
    pub fn resolve_tag(&self, repo: &str, tag: &str) -> Result<Option<Digest>> {
        let key = format!("{repo}:{tag}");
        match self.index.tags.get(&key).map_err(|e| self.index.err(e))? {
            Some(v) => digest_value("tags", &key, &v).map(Some),
            None => Ok(None),
        }
    }

    /// Every tag as `(registry/repo, tag, digest)`, sorted.
    pub fn tags(&self) -> Result<Vec<(String, String, Digest)>> {
        let mut out = vec![];
        for entry in self.index.tags.iter() {
            let (k, v) = entry.map_err(|e| self.index.err(e))?;
            let key = utf8("tags", &k)?;
            let Some((repo, tag)) = key.rsplit_once(':') else {
                return Err(Error::BadEntry {
                    tree: "tags",
                    key,
                    reason: "no ':' before the tag".to_owned(),
                });
            };
            let digest = digest_value("tags", &key, &v)?;
            out.push((repo.to_owned(), tag.to_owned(), digest));
        }
        Ok(out)
    }

    /// Every `registry/repo` that has a tag or a manifest, sorted.
    pub fn repos(&self) -> Result<Vec<String>> {
        let mut repos: BTreeSet<String> = self.tags()?.into_iter().map(|(r, _, _)| r).collect();
        for entry in self.index.manifests.iter() {
            let (k, v) = entry.map_err(|e| self.index.err(e))?;
            let rec: ManifestInfo = decode("manifests", &k, &v)?;
            repos.extend(rec.repos);
        }
        Ok(repos.into_iter().collect())
    }

    /// Every manifest the index records, with what it records about it, sorted by digest.
    pub fn manifests(&self) -> Result<Vec<(Digest, ManifestInfo)>> {
        let mut out = vec![];
        for entry in self.index.manifests.iter() {
            let (k, v) = entry.map_err(|e| self.index.err(e))?;
            let key = utf8("manifests", &k)?;
            let digest = Digest::parse(&key).map_err(|e| Error::BadEntry {
                tree: "manifests",
                key: key.clone(),
                reason: e.to_string(),
            })?;
            out.push((digest, decode("manifests", &k, &v)?));
        }
        Ok(out)
    }

    /// What the index records about manifest `digest`.
    pub fn manifest_info(&self, digest: &Digest) -> Result<Option<ManifestInfo>> {
        match self
            .index
            .manifests
            .get(digest.as_str())
            .map_err(|e| self.index.err(e))?
        {
            Some(v) => decode("manifests", digest.as_str().as_bytes(), &v).map(Some),
            None => Ok(None),
        }
    }

    /// Records (or replaces) what a command stored for the image `name`; its manifest must be
    /// in the store. The name is normalised (`ubuntu` → `index.docker.io/library/ubuntu:latest`).
    pub fn record_image(&self, name: &str, record: ImageRecord) -> Result<()> {
        self.writable("recording an image")?;
        let key = image_key(name)?;
        self.require_blob(&record.digest)?;
        let value = encode("images", &key, &record)?;
        self.index
            .images
            .insert(key.as_str(), value)
            .map_err(|e| self.index.err(e))?;
        self.index.flush()
    }

    /// Every image record, sorted by name.
    pub fn images(&self) -> Result<Vec<(String, ImageRecord)>> {
        let mut out = vec![];
        for entry in self.index.images.iter() {
            let (k, v) = entry.map_err(|e| self.index.err(e))?;
            out.push((utf8("images", &k)?, decode("images", &k, &v)?));
        }
        Ok(out)
    }

    /// The record of image `name` (normalised as in [`Store::record_image`]).
    pub fn image(&self, name: &str) -> Result<Option<ImageRecord>> {
        let key = image_key(name)?;
        match self.index.images.get(&key).map_err(|e| self.index.err(e))? {
            Some(v) => decode("images", key.as_bytes(), &v).map(Some),
            None => Ok(None),
        }
    }

    /// Records the outcome of verifying the image `name` in the ledger (replacing the last).
    pub fn record_verification(&self, name: &str, record: &VerificationRecord) -> Result<()> {
        self.writable("recording a verification")?;
        let key = image_key(name)?;
        let value = encode("ledger", &key, record)?;
        self.index
            .ledger
            .insert(key.as_str(), value)
            .map_err(|e| self.index.err(e))?;
        self.index.flush()
    }

    /// The last recorded verification of the image `name`, if any.
    pub fn verification(&self, name: &str) -> Result<Option<VerificationRecord>> {
        let key = image_key(name)?;
        match self.index.ledger.get(&key).map_err(|e| self.index.err(e))? {
            Some(v) => decode("ledger", key.as_bytes(), &v).map(Some),
            None => Ok(None),
        }
    }

    /// Every ledger entry, by image name as [`Store::images`] gives it: one pass over the
    /// ledger, cheaper than [`Store::verification`] per image when all are wanted.
    pub fn verifications(&self) -> Result<HashMap<String, VerificationRecord>> {
        let mut out = HashMap::new();
        for entry in self.index.ledger.iter() {
            let (k, v) = entry.map_err(|e| self.index.err(e))?;
            out.insert(utf8("ledger", &k)?, decode("ledger", &k, &v)?);
        }
        Ok(out)
    }

    /// The signatures, attestations, SBOMs (by cosign tag) and OCI 1.1 referrers (by
    /// `subject`) of `subject`, in any repository, sorted.
    pub fn attachments_of(&self, subject: &Digest) -> Result<Vec<AttachmentRecord>> {
        sha256_hex(subject)?;
        let prefix = format!("{subject}{SEP}");
        let mut out = vec![];
        for entry in self.index.attachments.scan_prefix(&prefix) {
            let (k, v) = entry.map_err(|e| self.index.err(e))?;
            out.push(attachment_record(&k, &v)?.1);
        }
        out.sort();
        Ok(out)
    }

    /// The attachments of every subject ([`Store::attachments_of`] of each), in one pass over
    /// the index: cheaper than a lookup per image when all are wanted.
    pub fn all_attachments(&self) -> Result<HashMap<Digest, Vec<AttachmentRecord>>> {
        let mut out: HashMap<Digest, Vec<AttachmentRecord>> = HashMap::new();
        for entry in self.index.attachments.iter() {
            let (k, v) = entry.map_err(|e| self.index.err(e))?;
            let (subject, record) = attachment_record(&k, &v)?;
            out.entry(subject).or_default().push(record);
        }
        for records in out.values_mut() {
            records.sort();
        }
        Ok(out)
    }
}

/// One entry of the attachments index: its subject, and what is attached.
fn attachment_record(k: &[u8], v: &[u8]) -> Result<(Digest, AttachmentRecord)> {
    let key = utf8("attachments", k)?;
    let malformed = |reason: &str| Error::BadEntry {
        tree: "attachments",
        key: key.clone(),
        reason: reason.to_owned(),
    };
    let Some((subject, kind, repo, name)) = split_attachment_key(&key) else {
        return Err(malformed("malformed key"));
    };
    let subject = stored_digest(subject).ok_or_else(|| malformed("malformed subject"))?;
    let record = AttachmentRecord {
        kind,
        repo: repo.to_owned(),
        tag: (kind != AttachmentKind::Referrer).then(|| name.to_owned()),
        digest: digest_value("attachments", &key, v)?,
    };
    Ok((subject, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_attachment_keys() {
        assert!(validate_repo("localhost:5000/a/b").is_ok());
        assert!(validate_repo("localhost:5000/a:v1").is_err());
        assert!(validate_repo("noslash").is_err());
        assert!(validate_tag("v1.0-rc_1").is_ok());
        assert!(validate_tag("../x").is_err());
        assert_eq!(
            image_key("ubuntu").unwrap(),
            "index.docker.io/library/ubuntu:latest"
        );
        let subject = Digest::sha256_of(b"x");
        let key = attachment_key(&subject, AttachmentKind::Attestation, "r/e", "t");
        assert_eq!(
            split_attachment_key(&key),
            Some((subject.as_str(), AttachmentKind::Attestation, "r/e", "t"))
        );
    }
}
