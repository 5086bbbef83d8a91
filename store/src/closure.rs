//! The closure of a manifest: everything an image needs, found by walking the stored manifests
//! (index → platform manifests → configs and layers) and the attachments of every manifest
//! reached (signatures, attestations, SBOMs, referrers, and theirs, recursively). `info` uses
//! it to say whether an image is complete, `gc` to decide what to keep.

use std::collections::{BTreeSet, HashSet, VecDeque};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::index::{Attachment, ImageRecord, image_key};
use crate::{Store, parse_digest};

/// Manifests larger than this are not walked (the registry client refuses manifests over
/// 4 MiB; a digest listed as a manifest but pointing at a big layer must not be loaded).
const MAX_WALKED_MANIFEST: u64 = 16 << 20;

/// What a walk found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closure {
    /// The manifests present, the starting ones included.
    pub manifests: BTreeSet<String>,
    /// The configs, layers and attachment payloads present.
    pub blobs: BTreeSet<String>,
    /// Every attachment found on a manifest of the closure.
    pub attachments: BTreeSet<Attachment>,
    /// Manifests named but absent.
    pub missing_manifests: BTreeSet<String>,
    /// Configs and attachment payloads named but absent: verification needs them.
    pub missing_blobs: BTreeSet<String>,
    /// Image layers named but absent (expected after a `--no-layers` pull).
    pub missing_layers: BTreeSet<String>,
    /// Manifests present but unreadable: corrupt on disk, or not JSON.
    pub damaged: BTreeSet<String>,
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
    pub fn present(&self) -> impl Iterator<Item = &String> {
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
    /// layers when it was pulled without them).
    pub complete: bool,
}

/// A digest listed in a manifest, when it is one.
fn digest_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

impl Store {
    /// The closure of manifest `digest`.
    pub fn closure(&self, digest: &str) -> Result<Closure> {
        parse_digest(digest)?;
        self.walk([digest.to_owned()])
    }

    /// What is known about the image `name` and whether all of it is here.
    pub fn info(&self, name: &str) -> Result<ImageInfo> {
        let key = image_key(name)?;
        let record = self.image(&key)?.ok_or_else(|| Error::NotFound {
            what: format!("image {key}"),
        })?;
        let closure = self.closure(&record.digest)?;
        let complete = record.complete && closure.is_complete(record.no_layers);
        Ok(ImageInfo {
            name: key,
            record,
            closure,
            complete,
        })
    }

    /// Whether manifest `digest` and everything its content names (an index's children, each
    /// manifest's config and `blobs`, and its layers when `layers`) are in the store, intact.
    /// Attachments are not part of it. A transfer asks this before walking a manifest again.
    pub fn content_complete(&self, digest: &str, layers: bool) -> Result<bool> {
        let mut queue = vec![digest.to_owned()];
        let mut seen = HashSet::new();
        while let Some(digest) = queue.pop() {
            if !seen.insert(digest.clone()) {
                continue;
            }
            if parse_digest(&digest).is_err() || !self.has_blob(&digest) {
                return Ok(false);
            }
            let bytes = match self.read_blob(&digest, MAX_WALKED_MANIFEST) {
                Ok(bytes) => bytes,
                Err(Error::Corrupt { .. } | Error::TooLarge { .. } | Error::NotFound { .. }) => {
                    return Ok(false);
                }
                Err(e) => return Err(e),
            };
            let Ok(json) = serde_json::from_slice::<Value>(&bytes) else {
                return Ok(false);
            };
            let listed = |key: &str| {
                json.get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|d| digest_at(d, "/digest"))
            };
            queue.extend(listed("manifests").map(str::to_owned));
            let mut blobs: Vec<&str> = listed("blobs").collect();
            blobs.extend(digest_at(&json, "/config/digest"));
            if layers {
                blobs.extend(listed("layers"));
            }
            if !blobs.into_iter().all(|d| self.has_blob(d)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// One walk from many roots, each manifest visited once (cycles and self-references end
    /// there). A manifest reached through an attachment has its layers counted as payloads.
    pub(crate) fn walk(&self, roots: impl IntoIterator<Item = String>) -> Result<Closure> {
        let mut out = Closure::default();
        let mut visited: HashSet<String> = HashSet::new();
        let mut blobs_seen: HashSet<String> = HashSet::new();
        let mut queue: VecDeque<(String, bool)> = roots.into_iter().map(|d| (d, false)).collect();
        while let Some((digest, attached)) = queue.pop_front() {
            if !visited.insert(digest.clone()) {
                continue;
            }
            if parse_digest(&digest).is_err() || !self.has_blob(&digest) {
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
            let Ok(json) = serde_json::from_slice::<Value>(&bytes) else {
                out.damaged.insert(digest);
                continue;
            };
            out.bytes += bytes.len() as u64;
            let mut blob = |d: &str, required: bool, out: &mut Closure| {
                if !blobs_seen.insert(d.to_owned()) {
                    return;
                }
                if self.has_blob(d) {
                    out.blobs.insert(d.to_owned());
                    out.bytes += self.index.size(d).ok().flatten().unwrap_or(0);
                } else if required {
                    out.missing_blobs.insert(d.to_owned());
                } else {
                    out.missing_layers.insert(d.to_owned());
                }
            };
            for child in json
                .get("manifests")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(d) = digest_at(child, "/digest") {
                    queue.push_back((d.to_owned(), attached));
                }
            }
            if let Some(d) = digest_at(&json, "/config/digest") {
                blob(d, true, &mut out);
            }
            for layer in json
                .get("layers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(d) = digest_at(layer, "/digest") {
                    blob(d, attached, &mut out);
                }
            }
            // OCI artifact manifests (image-spec 1.1-rc) list `blobs`: their payloads.
            for b in json
                .get("blobs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(d) = digest_at(b, "/digest") {
                    blob(d, true, &mut out);
                }
            }
            for att in self.attachments_of(&digest)? {
                queue.push_back((att.digest.clone(), true));
                out.attachments.insert(att);
            }
            out.manifests.insert(digest);
        }
        Ok(out)
    }
}
