//! The closure of a manifest: everything an image needs, found by walking the stored manifests
//! (index → platform manifests → configs and layers) and the attachments of every manifest
//! reached (signatures, attestations, SBOMs, referrers, and theirs, recursively). `info` uses
//! it to say whether an image is complete, `gc` to decide what to keep.

use std::collections::{BTreeSet, HashSet, VecDeque};

use sigmirror_oci::Digest;
use sigmirror_oci::manifest::ManifestView;

use crate::error::{Error, Result};
use crate::index::{AttachmentRecord, ImageRecord, image_key};
use crate::{Store, sha256_hex};

/// Manifests larger than this are not walked (the registry client refuses manifests over
/// 4 MiB; a digest listed as a manifest but pointing at a big layer must not be loaded).
const MAX_WALKED_MANIFEST: u64 = 16 << 20;

/// What a walk found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closure {
    /// The manifests present, the starting ones included.
    pub manifests: BTreeSet<Digest>,
    /// The configs, layers and attachment payloads present.
    pub blobs: BTreeSet<Digest>,
    /// Every attachment found on a manifest of the closure.
    pub attachments: BTreeSet<AttachmentRecord>,
    /// Manifests named but absent.
    pub missing_manifests: BTreeSet<Digest>,
    /// Configs and attachment payloads named but absent: verification needs them.
    pub missing_blobs: BTreeSet<Digest>,
    /// Image layers named but absent (expected after a `--no-layers` pull).
    pub missing_layers: BTreeSet<Digest>,
    /// Manifests present but unreadable: corrupt on disk, or not JSON.
    pub damaged: BTreeSet<Digest>,
    /// Total size of the manifests and blobs present.
    pub bytes: u64,
}

impl Closure {
    /// Whether nothing is missing or damaged; missing image layers are allowed when `no_layers`.
    pub fn is_complete(&self, no_layers: bool) -> bool {
        self.missing_manifests.is_empty()
            && self.missing_blobs.is_empty()
            && self.damaged.is_empty()
            && (no_layers || self.missing_layers.is_empty())
    }

    /// Every present digest of the closure (what `gc` keeps), damaged manifests included: `gc`
    /// removes what is unreachable, not what is broken.
    pub fn present(&self) -> impl Iterator<Item = &Digest> {
        self.manifests
            .iter()
            .chain(&self.blobs)
            .chain(&self.damaged)
    }
}

/// What `sigmirror store info IMAGE` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The normalised image name.
    pub name: String,
    /// Its record.
    pub record: ImageRecord,
    /// The closure of its digest.
    pub closure: Closure,
    /// The record says the transfer finished and the closure has nothing missing (but image
    /// layers when it was pulled without them, and the other platforms of an image pulled for
    /// one platform).
    pub complete: bool,
    /// For an index: each platform it lists, with its manifest and whether the store holds it.
    pub platforms: Vec<PlatformEntry>,
}

/// One platform of an index, and whether the store holds its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformEntry {
    /// `os/arch[/variant]` (`unknown` where the index does not say).
    pub platform: String,
    /// Its manifest.
    pub digest: Digest,
    /// Whether the store holds that manifest.
    pub present: bool,
}

impl Store {
    /// The closure of manifest `digest`.
    pub fn closure(&self, digest: &Digest) -> Result<Closure> {
        sha256_hex(digest)?;
        self.walk([digest.clone()], None)
    }

    /// The closure of manifest `digest` as an image of `repo` sees it: only attachments stored
    /// under `repo` are followed, as `verify` looks for them there. Another repository's tags
    /// (a hostile registry's `.sig` or `.sbom` tag for an honest image's digest) cannot add to
    /// it or take from it.
    pub fn closure_in(&self, repo: &str, digest: &Digest) -> Result<Closure> {
        sha256_hex(digest)?;
        self.walk([digest.clone()], Some(repo))
    }

    /// What is known about the image `name` and whether all of it is here.
    pub fn info(&self, name: &str) -> Result<ImageInfo> {
        let key = image_key(name)?;
        let record = self.image(&key)?.ok_or_else(|| Error::NotFound {
            what: format!("image {key}"),
        })?;
        let mut closure = self.closure(&record.digest)?;
        let platforms = self.platforms_of(&record.digest)?;
        if record.platform.is_some() {
            // Left out by choice: not missing.
            for absent in platforms.iter().filter(|p| !p.present) {
                closure.missing_manifests.remove(&absent.digest);
            }
        }
        let complete = record.complete && closure.is_complete(record.no_layers);
        Ok(ImageInfo {
            name: key,
            record,
            closure,
            complete,
            platforms,
        })
    }

    /// The platforms an index lists, each with whether its manifest is here; none for anything
    /// that is not a stored index.
    fn platforms_of(&self, digest: &Digest) -> Result<Vec<PlatformEntry>> {
        let Some(view) = self.stored_view(digest)? else {
            return Ok(vec![]);
        };
        if !view.is_index() {
            return Ok(vec![]);
        }
        Ok(view
            .manifests
            .iter()
            .map(|d| PlatformEntry {
                platform: d
                    .platform
                    .as_ref()
                    .map_or_else(|| "unknown".to_owned(), ToString::to_string),
                digest: d.digest.clone(),
                present: self.has_blob(&d.digest),
            })
            .collect())
    }

    /// The stored manifest `digest` as a walkable view: `Ok(None)` if it is absent, damaged
    /// (its bytes no longer match), too large to be a manifest, or not a manifest at all.
    fn stored_view(&self, digest: &Digest) -> Result<Option<ManifestView>> {
        if sha256_hex(digest).is_err() || !self.has_blob(digest) {
            return Ok(None);
        }
        let bytes = match self.read_blob(digest, MAX_WALKED_MANIFEST) {
            Ok(bytes) => bytes,
            Err(Error::Corrupt { .. } | Error::TooLarge { .. } | Error::NotFound { .. }) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let media_type = self.manifest_info(digest)?.map(|i| i.media_type);
        Ok(ManifestView::parse(&bytes, media_type.as_deref(), digest.as_str()).ok())
    }

    /// Whether manifest `digest` and everything its content names (an index's children, each
    /// manifest's config and `blobs`, and its layers when `layers`) are in the store, intact.
    /// Attachments are not part of it. A transfer asks this before walking a manifest again.
    pub fn content_complete(&self, digest: &Digest, layers: bool) -> Result<bool> {
        let mut queue = vec![digest.clone()];
        let mut seen = HashSet::new();
        while let Some(digest) = queue.pop() {
            if !seen.insert(digest.clone()) {
                continue;
            }
            let Some(view) = self.stored_view(&digest)? else {
                return Ok(false);
            };
            queue.extend(view.children().cloned());
            if !view.content_blobs(layers).all(|d| self.has_blob(&d.digest)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// One walk from many roots, each manifest visited once (cycles and self-references end
    /// there). A manifest reached through an attachment has its layers counted as payloads.
    /// With `repo`, only the attachments stored under it are followed.
    pub(crate) fn walk(
        &self,
        roots: impl IntoIterator<Item = Digest>,
        repo: Option<&str>,
    ) -> Result<Closure> {
        let mut out = Closure::default();
        let mut visited: HashSet<Digest> = HashSet::new();
        let mut blobs_seen: HashSet<Digest> = HashSet::new();
        let mut queue: VecDeque<(Digest, bool)> = roots.into_iter().map(|d| (d, false)).collect();
        while let Some((digest, attached)) = queue.pop_front() {
            if !visited.insert(digest.clone()) {
                continue;
            }
            if sha256_hex(&digest).is_err() || !self.has_blob(&digest) {
                out.missing_manifests.insert(digest);
                continue;
            }
            let bytes = match self.read_blob(&digest, MAX_WALKED_MANIFEST) {
                Ok(b) => b,
                Err(Error::Corrupt { .. } | Error::TooLarge { .. }) => {
                    out.damaged.insert(digest);
                    continue;
                }
                Err(Error::NotFound { .. }) => {
                    out.missing_manifests.insert(digest);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Ok(view) = ManifestView::parse(&bytes, None, digest.as_str()) else {
                out.damaged.insert(digest);
                continue;
            };
            out.bytes += bytes.len() as u64;
            let mut blob = |d: &Digest, required: bool, out: &mut Closure| {
                if !blobs_seen.insert(d.clone()) {
                    return;
                }
                if self.has_blob(d) {
                    out.blobs.insert(d.clone());
                    out.bytes += self.index.size(d).ok().flatten().unwrap_or(0);
                } else if required {
                    out.missing_blobs.insert(d.clone());
                } else {
                    out.missing_layers.insert(d.clone());
                }
            };
            for child in view.children() {
                queue.push_back((child.clone(), attached));
            }
            // Configs and OCI artifact `blobs` (image-spec 1.1-rc) are always needed; layers
            // are payloads when the manifest is attached, image layers otherwise.
            for d in view.content_blobs(false) {
                blob(&d.digest, true, &mut out);
            }
            for layer in &view.layers {
                blob(&layer.digest, attached, &mut out);
            }
            for att in self.attachments_of(&digest)? {
                if repo.is_some_and(|r| r != att.repo) {
                    continue;
                }
                queue.push_back((att.digest.clone(), true));
                out.attachments.insert(att);
            }
            out.manifests.insert(digest);
        }
        Ok(out)
    }
}
