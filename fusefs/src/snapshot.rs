//! A consistent, in-memory picture of the store's index, taken with the store lock held for a
//! moment and then released, so that `pull` and other writers can run while the view is
//! mounted. Blob files are immutable and are read directly afterwards, always verified.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sigmirror_core::keys::PublicKey;
use sigmirror_store::{AttachmentKind, Store};

use crate::error::{Error, Result};

/// Folder (inside the store) of the keys the view verifies against: `<name>.pub` files.
pub const TRUST_DIR: &str = "trusted-keys";

/// What is attached to a digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attached {
    /// `.sig` images.
    pub signatures: Vec<String>,
    /// `.att` images.
    pub attestations: Vec<String>,
    /// `.sbom` images.
    pub sboms: Vec<String>,
    /// OCI 1.1 referrers.
    pub referrers: Vec<String>,
}

/// One repository.
#[derive(Debug, Clone, Default)]
pub struct Repo {
    /// Tags (attachment tags left out) → digest.
    pub tags: BTreeMap<String, String>,
    /// Digests of the images and indexes (not attachments) stored under it.
    pub digests: BTreeSet<String>,
}

/// The picture.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// `registry/repo` → repository.
    pub repos: BTreeMap<String, Repo>,
    /// Digest → what is attached to it.
    pub attached: HashMap<String, Attached>,
    /// Trusted keys by name.
    pub keys: Vec<(String, PublicKey)>,
}

/// What changes when the store changes: the index files and the trusted-keys folder.
pub fn marker(root: &Path) -> Vec<(PathBuf, Option<(SystemTime, u64)>)> {
    let mut watched: Vec<PathBuf> = std::fs::read_dir(root.join("index"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    watched.push(root.join(TRUST_DIR));
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

fn is_attachment_tag(tag: &str) -> bool {
    tag.starts_with("sha256-")
        && (tag.ends_with(".sig") || tag.ends_with(".att") || tag.ends_with(".sbom"))
}

/// Reads the trusted keys; files that are not P-256 public keys are skipped with a warning.
pub fn read_keys(root: &Path) -> Vec<(String, PublicKey)> {
    let mut keys = vec![];
    let Ok(entries) = std::fs::read_dir(root.join(TRUST_DIR)) else {
        return keys;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".pub"))
        else {
            continue;
        };
        if !crate::is_safe_component(name) {
            continue;
        }
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|pem| PublicKey::from_pem(&pem).map_err(|e| e.to_string()))
        {
            Ok(key) => keys.push((name.to_owned(), key)),
            Err(e) => tracing::warn!("ignoring trusted key {}: {e}", path.display()),
        }
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    keys
}

impl Snapshot {
    /// Takes a snapshot, waiting at most `wait` for another process to release the store.
    pub fn take(root: &Path, wait: Duration) -> Result<Snapshot> {
        let store = Store::open_with_wait(root, wait).map_err(|e| Error::Store(e.to_string()))?;
        let mut snap = Snapshot {
            keys: read_keys(root),
            ..Snapshot::default()
        };
        let tags = store.tags().map_err(|e| Error::Store(e.to_string()))?;
        let mut roots: Vec<(String, String)> = vec![];
        for (repo, tag, digest) in tags {
            if is_attachment_tag(&tag) || !repo.split('/').all(crate::is_safe_component) {
                continue;
            }
            if !crate::is_safe_component(&tag) {
                continue;
            }
            snap.repos
                .entry(repo.clone())
                .or_default()
                .tags
                .insert(tag, digest.clone());
            roots.push((repo, digest));
        }
        for (name, record) in store.images().map_err(|e| Error::Store(e.to_string()))? {
            if let Some((repo, _)) = name.split_once('@').or_else(|| name.rsplit_once(':'))
                && repo.split('/').all(crate::is_safe_component)
            {
                roots.push((repo.to_owned(), record.digest));
            }
        }
        let mut seen = BTreeSet::new();
        for (repo, digest) in roots {
            if !seen.insert((repo.clone(), digest.clone())) {
                continue;
            }
            let Ok(closure) = store.closure(&digest) else {
                continue;
            };
            let attachment_digests: BTreeSet<String> = closure
                .attachments
                .iter()
                .map(|a| a.digest.clone())
                .collect();
            let entry = snap.repos.entry(repo.clone()).or_default();
            for manifest in &closure.manifests {
                if !attachment_digests.contains(manifest) {
                    entry.digests.insert(manifest.clone());
                }
            }
            for manifest in &closure.manifests {
                if snap.attached.contains_key(manifest) {
                    continue;
                }
                let mut attached = Attached::default();
                for a in store
                    .attachments_of(manifest)
                    .map_err(|e| Error::Store(e.to_string()))?
                {
                    let list = match a.kind {
                        AttachmentKind::Sig => &mut attached.signatures,
                        AttachmentKind::Att => &mut attached.attestations,
                        AttachmentKind::Sbom => &mut attached.sboms,
                        AttachmentKind::Referrer => &mut attached.referrers,
                    };
                    if !list.contains(&a.digest) {
                        list.push(a.digest);
                    }
                }
                snap.attached.insert(manifest.clone(), attached);
            }
        }
        Ok(snap)
    }
}
