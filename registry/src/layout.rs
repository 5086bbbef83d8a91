//! OCI image-layout folders as a [`Source`] and a [`Sink`], compatible with `cosign save`,
//! `cosign load`, `skopeo` and `umoci`.
//!
//! Writing: blobs go to `blobs/sha256/<hex>` (written to a temporary name, then renamed); every
//! tagged manifest gets an `index.json` entry whose `org.opencontainers.image.ref.name` is the
//! full reference (`registry/repo:tag`), so `sigmirror load` restores names without help, and
//! [`Layout::finish`] adds cosign's `kind` annotations (`dev.cosignproject.cosign/image`,
//! `…/imageIndex`, `…/sigs`, `…/atts`) to each saved image and its signature and attestation
//! images, listed first and in cosign's order, so a one-image layout is exactly what `cosign load`
//! reads. Reading: entries are found by full name, by tag, or, in a layout written by `cosign
//! save` (which carries no names), by the `kind` annotations.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::digest::Algorithm;
use sigmirror_oci::manifest::{
    Descriptor, MAX_MANIFEST_SIZE, Manifest, ManifestView, media_type_of,
};
use sigmirror_oci::source::{BlobStream, Sink, Source};
use sigmirror_oci::{Digest, Error, ImageRef, Result, media_types};

/// The annotation naming an index entry.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// cosign's annotation key for the role of an entry.
pub const KIND: &str = "kind";
/// `kind` of a saved image.
pub const KIND_IMAGE: &str = "dev.cosignproject.cosign/image";
/// `kind` of a saved image index.
pub const KIND_INDEX: &str = "dev.cosignproject.cosign/imageIndex";
/// `kind` of a saved signature image.
pub const KIND_SIGS: &str = "dev.cosignproject.cosign/sigs";
/// `kind` of a saved attestation image.
pub const KIND_ATTS: &str = "dev.cosignproject.cosign/atts";

const LAYOUT_FILE: &str = "{\n    \"imageLayoutVersion\": \"1.0.0\"\n}";

/// The largest `oci-layout` file read (it holds one short JSON object).
const MAX_LAYOUT_FILE: u64 = 4 << 10;
/// The largest `index.json` read: about 300,000 named entries.
pub const MAX_INDEX_FILE: u64 = 64 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Index {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    media_type: String,
    manifests: Vec<Descriptor>,
}

/// An OCI image layout folder.
pub struct Layout {
    root: PathBuf,
    index: Mutex<Index>,
    /// Lookups by name and role, built from `index` on first use after each change. A load asks
    /// for every image by name: searching the entries for each question made it quadratic.
    catalog: Mutex<Option<Catalog>>,
    /// Referrer digests by subject, built on first use after each change of `index` (it reads
    /// every entry's manifest, once, instead of once per question).
    referrers_by_subject: Mutex<Option<HashMap<Digest, Vec<Digest>>>>,
    /// Blob files read so far (see [`Layout::files_read`]).
    files_read: AtomicUsize,
    /// `index.json` is written by [`Layout::write_pending`], not after every change (see
    /// [`Layout::defer_index_writes`]); `dirty` says whether there is something to write.
    deferred: AtomicBool,
    dirty: AtomicBool,
}

/// Where names and cosign roles point in `index.json`, for lookups in constant time.
struct Catalog {
    /// The first entry carrying each `ref.name`, by position (the first match wins, as before).
    names: HashMap<String, (usize, Digest)>,
    /// Digests of the entries marked as cosign's saved image or image index.
    cosign_subjects: HashSet<Digest>,
    /// The first entry of each cosign `kind`.
    first_of_kind: HashMap<String, Digest>,
}

impl Catalog {
    fn of(index: &Index) -> Catalog {
        let mut catalog = Catalog {
            names: HashMap::new(),
            cosign_subjects: HashSet::new(),
            first_of_kind: HashMap::new(),
        };
        for (pos, d) in index.manifests.iter().enumerate() {
            if let Some(name) = d.annotation(REF_NAME) {
                catalog
                    .names
                    .entry(name.to_owned())
                    .or_insert_with(|| (pos, d.digest.clone()));
            }
            if let Some(kind) = d.annotation(KIND) {
                if matches!(kind, KIND_IMAGE | KIND_INDEX) {
                    catalog.cosign_subjects.insert(d.digest.clone());
                }
                catalog
                    .first_of_kind
                    .entry(kind.to_owned())
                    .or_insert_with(|| d.digest.clone());
            }
        }
        catalog
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// The hex of a SHA-256 digest: layouts written here keep `blobs/sha256/` only.
fn hex_of(digest: &Digest) -> Result<&str> {
    match digest.algorithm() {
        Algorithm::Sha256 => Ok(digest.hex()),
        _ => Err(Error::InvalidDigest {
            digest: digest.to_string(),
            reason: "layouts hold sha256 blobs only",
        }),
    }
}

impl Layout {
    /// Opens a layout folder, creating it (and its `oci-layout` and `index.json`) if needed.
    pub fn create(root: &Path) -> Result<Layout> {
        std::fs::create_dir_all(root.join("blobs/sha256")).map_err(io(root))?;
        let layout_file = root.join("oci-layout");
        if !layout_file.exists() {
            write_atomic(&layout_file, LAYOUT_FILE.as_bytes())?;
        }
        let layout = if root.join("index.json").exists() {
            Self::open(root)?
        } else {
            Layout::with_index(
                root,
                Index {
                    schema_version: 2,
                    media_type: media_types::OCI_INDEX.into(),
                    manifests: vec![],
                },
            )
        };
        layout.write_index()?;
        Ok(layout)
    }

    /// Opens an existing layout folder.
    pub fn open(root: &Path) -> Result<Layout> {
        let layout_file = root.join("oci-layout");
        let text = files::read_regular(&layout_file, MAX_LAYOUT_FILE)?.ok_or_else(|| {
            Error::Malformed {
                what: root.display().to_string(),
                reason: "not an OCI image layout (no oci-layout file)".into(),
            }
        })?;
        let version: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
        if version.get("imageLayoutVersion").and_then(Value::as_str) != Some("1.0.0") {
            return Err(Error::Malformed {
                what: layout_file.display().to_string(),
                reason: "unsupported imageLayoutVersion".into(),
            });
        }
        let index_path = root.join("index.json");
        let bytes =
            files::read_regular(&index_path, MAX_INDEX_FILE)?.ok_or_else(|| Error::Malformed {
                what: root.display().to_string(),
                reason: "not an OCI image layout (no index.json)".into(),
            })?;
        let index: Index = serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
            what: index_path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Layout::with_index(root, index))
    }

    fn with_index(root: &Path, index: Index) -> Layout {
        Layout {
            root: root.to_path_buf(),
            index: Mutex::new(index),
            catalog: Mutex::new(None),
            referrers_by_subject: Mutex::new(None),
            files_read: Default::default(),
            deferred: Default::default(),
            dirty: Default::default(),
        }
    }

    fn blob_path(&self, digest: &Digest) -> Result<PathBuf> {
        Ok(self.root.join("blobs/sha256").join(hex_of(digest)?))
    }

    /// From now on, `index.json` is written only by [`Layout::write_pending`]: a save of many
    /// images rewrote the whole file after every manifest, which grew with the square of the
    /// images. Nothing of a save is then named in `index.json` before the save ends.
    pub fn defer_index_writes(&self) {
        self.deferred.store(true, Ordering::SeqCst);
    }

    /// Writes `index.json` if something changed since it was last written.
    pub fn write_pending(&self) -> Result<()> {
        if self.dirty.swap(false, Ordering::SeqCst) {
            self.write_index()?;
        }
        Ok(())
    }

    /// After a change of the entries: writes `index.json` now, or later if writes are deferred.
    fn index_changed(&self) -> Result<()> {
        if self.deferred.load(Ordering::SeqCst) {
            self.dirty.store(true, Ordering::SeqCst);
            return Ok(());
        }
        self.write_index()
    }

    /// Writes `index.json` as go-containerregistry does (`MarshalIndent`, three spaces).
    fn write_index(&self) -> Result<()> {
        let index = self.index.lock().expect("layout index poisoned").clone();
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"   ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        index.serialize(&mut ser).map_err(|e| Error::Malformed {
            what: "index.json".into(),
            reason: e.to_string(),
        })?;
        write_atomic(&self.root.join("index.json"), &out)
    }

    /// Every named entry: `(name, digest)`.
    pub fn names(&self) -> Vec<(String, Digest)> {
        let index = self.index.lock().expect("layout index poisoned");
        index
            .manifests
            .iter()
            .filter_map(|d| Some((d.annotation(REF_NAME)?.to_owned(), d.digest.clone())))
            .collect()
    }

    /// Entries with a cosign `kind`: `(kind, digest)`, in index order.
    pub fn kinds(&self) -> Vec<(String, Digest)> {
        let index = self.index.lock().expect("layout index poisoned");
        index
            .manifests
            .iter()
            .filter_map(|d| Some((d.annotation(KIND)?.to_owned(), d.digest.clone())))
            .collect()
    }

    /// The digest an entry name (full reference or bare tag) or cosign role points at.
    fn lookup(&self, image: &ImageRef) -> Option<Digest> {
        let full = image.to_string();
        let tag = image.tag()?;
        let index = self.index.lock().expect("layout index poisoned");
        let mut catalog = self.catalog.lock().expect("layout catalog poisoned");
        let catalog = catalog.get_or_insert_with(|| Catalog::of(&index));
        let by_name = [full.as_str(), tag]
            .iter()
            .filter_map(|n| catalog.names.get(*n))
            .min_by_key(|(pos, _)| *pos);
        if let Some((_, digest)) = by_name {
            return Some(digest.clone());
        }
        // A cosign layout: `sha256-<hex>.sig` of the saved image is its `sigs` entry.
        let (subject, kind) = match AttachmentKind::parse_tag(tag)? {
            (subject, AttachmentKind::Signature) => (subject, KIND_SIGS),
            (subject, AttachmentKind::Attestation) => (subject, KIND_ATTS),
            _ => return None,
        };
        if !catalog.cosign_subjects.contains(&subject) {
            return None;
        }
        catalog.first_of_kind.get(kind).cloned()
    }

    /// Forgets what was derived from the entries; call with the index locked, after changing it.
    fn entries_changed(&self) {
        *self.catalog.lock().expect("layout catalog poisoned") = None;
        *self
            .referrers_by_subject
            .lock()
            .expect("layout referrers poisoned") = None;
    }

    /// How many blob files this handle has read: lets tests check that questions about many
    /// entries do not re-read the layout for each one.
    pub fn files_read(&self) -> usize {
        self.files_read.load(Ordering::Relaxed)
    }

    fn read_verified(&self, digest: &Digest, max: u64) -> Result<Option<Vec<u8>>> {
        let path = self.blob_path(digest)?;
        self.files_read.fetch_add(1, Ordering::Relaxed);
        let Some(bytes) = files::read_regular(&path, max)? else {
            return Ok(None);
        };
        if !digest.matches(&bytes) {
            return Err(Error::Mismatch {
                what: path.display().to_string(),
                reason: "corrupt: content does not match its digest".into(),
            });
        }
        Ok(Some(bytes))
    }

    fn add_entry(&self, mut descriptor: Descriptor) -> Result<()> {
        {
            let mut index = self.index.lock().expect("layout index poisoned");
            let name = descriptor.annotation(REF_NAME).map(str::to_owned);
            index.manifests.retain(|d| match &name {
                Some(n) => d.annotation(REF_NAME) != Some(n.as_str()),
                None => d.digest != descriptor.digest || d.annotation(REF_NAME).is_some(),
            });
            if descriptor
                .annotations
                .as_ref()
                .is_some_and(BTreeMap::is_empty)
            {
                descriptor.annotations = None;
            }
            index.manifests.push(descriptor);
            self.entries_changed();
        }
        self.index_changed()
    }

    /// Marks `root` (a saved image, named `name`) and its signature and attestation images with
    /// cosign's `kind` annotations and moves them to the front, image first, as `cosign save`
    /// lists them. Call once per saved image, last image last.
    pub fn finish(&self, name: &ImageRef, root: &Digest) -> Result<()> {
        // An image saved by digest has no tagged entry yet: name it by its reference.
        let named = self.names().iter().any(|(n, _)| *n == name.to_string());
        if !named {
            let bytes = self
                .read_verified(root, MAX_MANIFEST_SIZE)?
                .ok_or_else(|| Error::NotFound {
                    what: format!("{}@{root}", self.root.display()),
                })?;
            let mut descriptor = Descriptor::for_bytes(&media_type_of(&bytes), &bytes);
            let mut a = BTreeMap::new();
            a.insert(REF_NAME.to_owned(), name.to_string());
            descriptor.annotations = Some(a);
            self.add_entry(descriptor)?;
        }
        let tag = |kind: AttachmentKind| {
            let tag = kind
                .tag_for(root)
                .expect("signatures and attestations have tags");
            name.with_tag(&tag).to_string()
        };
        let names = [
            name.to_string(),
            tag(AttachmentKind::Signature),
            tag(AttachmentKind::Attestation),
        ];
        {
            let mut index = self.index.lock().expect("layout index poisoned");
            let mut front = vec![];
            for (i, wanted) in names.iter().enumerate() {
                let Some(pos) = index
                    .manifests
                    .iter()
                    .position(|d| d.annotation(REF_NAME) == Some(wanted.as_str()))
                else {
                    continue;
                };
                let mut entry = index.manifests.remove(pos);
                let kind = match i {
                    0 if media_types::is_index(&entry.media_type) => KIND_INDEX,
                    0 => KIND_IMAGE,
                    1 => KIND_SIGS,
                    _ => KIND_ATTS,
                };
                entry
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .insert(KIND.into(), kind.into());
                front.push(entry);
            }
            // Kinds name one image per layout for cosign; an earlier image loses them.
            for entry in index.manifests.iter_mut() {
                if let Some(a) = entry.annotations.as_mut() {
                    a.remove(KIND);
                }
            }
            front.append(&mut index.manifests);
            index.manifests = front;
            self.entries_changed();
        }
        self.index_changed()
    }
}

/// A temporary file that is deleted when dropped (a no-op once it has been renamed away).
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// [`sigmirror_oci::paths::write_atomic`], with this module's error.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    sigmirror_oci::paths::write_atomic(path, bytes).map_err(io(path))
}

impl Source for Layout {
    async fn get_manifest(&self, image: &ImageRef) -> Result<Option<Manifest>> {
        let digest = match image.digest() {
            Some(d) => d.clone(),
            None => match self.lookup(image) {
                Some(d) => d,
                None => return Ok(None),
            },
        };
        let Some(bytes) = self.read_verified(&digest, MAX_MANIFEST_SIZE)? else {
            return Ok(None);
        };
        let media_type = media_type_of(&bytes);
        Ok(Some(Manifest {
            bytes: Bytes::from(bytes),
            digest,
            media_type,
        }))
    }

    async fn get_blob(&self, _repo: &ImageRef, digest: &Digest, max_size: u64) -> Result<Vec<u8>> {
        self.read_verified(digest, max_size)?
            .ok_or_else(|| Error::NotFound {
                what: format!("{}@{digest}", self.root.display()),
            })
    }

    async fn open_blob(&self, _repo: &ImageRef, digest: &Digest) -> Result<BlobStream> {
        let path = self.blob_path(digest)?;
        // Size and digest are checked as the stream is read (`check_stream`); a regular file
        // is required first, so a FIFO or device cannot hang or flood the read.
        let (file, _) = files::open_regular(&path, u64::MAX)?.ok_or_else(|| Error::NotFound {
            what: format!("{}@{digest}", self.root.display()),
        })?;
        Ok(sigmirror_oci::stream::read_stream(file, path))
    }

    async fn referrers(&self, image: &ImageRef) -> Result<Vec<Digest>> {
        let Some(subject) = image.digest() else {
            return Ok(vec![]);
        };
        // Lock order: index, then the derived maps (as `entries_changed` is called).
        let index = self.index.lock().expect("layout index poisoned");
        let mut cache = self
            .referrers_by_subject
            .lock()
            .expect("layout referrers poisoned");
        if cache.is_none() {
            let entries: Vec<Digest> = index.manifests.iter().map(|d| d.digest.clone()).collect();
            let mut by_subject: HashMap<Digest, Vec<Digest>> = HashMap::new();
            for digest in entries {
                if let Some(bytes) = self.read_verified(&digest, MAX_MANIFEST_SIZE)? {
                    let view =
                        ManifestView::parse(&bytes, None, digest.as_str()).unwrap_or_default();
                    if let Some(s) = view.subject {
                        let list = by_subject.entry(s.digest).or_default();
                        if !list.contains(&digest) {
                            list.push(digest);
                        }
                    }
                }
            }
            *cache = Some(by_subject);
        }
        Ok(cache
            .as_ref()
            .and_then(|map| map.get(subject).cloned())
            .unwrap_or_default())
    }
}

impl Sink for Layout {
    /// The image-layout spec lets a layout miss blobs it names (to be fetched elsewhere): an
    /// index saved for one platform keeps its bytes, its other children absent.
    fn holds_partial_indexes(&self) -> bool {
        true
    }

    async fn has_blob(&self, _repo: &ImageRef, digest: &Digest) -> Result<bool> {
        Ok(self.blob_path(digest)?.is_file())
    }

    async fn put_blob(
        &self,
        _repo: &ImageRef,
        digest: &Digest,
        _size: u64,
        mut stream: BlobStream,
    ) -> Result<()> {
        let path = self.blob_path(digest)?;
        // Removed on drop unless renamed into place: also when this future is dropped half-way
        // because another transfer of the same command failed.
        let tmp = TempPath(path.with_extension(format!("tmp-{}", std::process::id())));
        let mut file = std::fs::File::create(&tmp.0).map_err(io(&tmp.0))?;
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk?).map_err(io(&tmp.0))?;
        }
        file.sync_all().map_err(io(&tmp.0))?;
        std::fs::rename(&tmp.0, &path).map_err(io(&path))
    }

    async fn put_manifest(&self, target: &ImageRef, manifest: &Manifest) -> Result<()> {
        let path = self.blob_path(&manifest.digest)?;
        if !manifest.digest.matches(&manifest.bytes) {
            return Err(Error::Mismatch {
                what: target.to_string(),
                reason: "manifest does not match its digest".into(),
            });
        }
        if !path.is_file() {
            write_atomic(&path, &manifest.bytes)?;
        }
        let media_type = if manifest.media_type.is_empty() {
            media_type_of(&manifest.bytes)
        } else {
            manifest.media_type.clone()
        };
        let mut descriptor = Descriptor::for_bytes(&media_type, &manifest.bytes);
        if target.tag().is_some() {
            let mut a = BTreeMap::new();
            a.insert(REF_NAME.to_owned(), target.to_string());
            descriptor.annotations = Some(a);
            return self.add_entry(descriptor);
        }
        // Untagged manifests are reachable from their parents, except OCI 1.1 referrers,
        // which are listed so that a later load can find them by subject.
        let view = ManifestView::parse(&manifest.bytes, None, "manifest").unwrap_or_default();
        if view.subject.is_some() {
            return self.add_entry(descriptor);
        }
        Ok(())
    }
}

mod files;

#[cfg(test)]
mod tests;
