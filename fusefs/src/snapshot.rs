//! A consistent, in-memory picture of the store's index, taken with the store lock held for a
//! moment and then released, so that `pull` and other writers can run while the view is
//! mounted. Blob files are immutable and are read directly afterwards, always verified.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sigmirror_cosign::verifier::Verifier;
use sigmirror_oci::Digest;
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_store::{Store, TrustKind, VerificationRecord};

use crate::error::Result;

/// What is attached to a digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attached {
    /// `.sig` images.
    pub signatures: Vec<Digest>,
    /// `.att` images.
    pub attestations: Vec<Digest>,
    /// `.sbom` images.
    pub sboms: Vec<Digest>,
    /// OCI 1.1 referrers.
    pub referrers: Vec<Digest>,
}

/// One repository.
#[derive(Debug, Clone, Default)]
pub struct Repo {
    /// Tags (attachment tags left out) → digest.
    pub tags: BTreeMap<String, Digest>,
    /// Digests of the images and indexes (not attachments) stored under it.
    pub digests: BTreeSet<Digest>,
}

/// The picture.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// `registry/repo` → repository.
    pub repos: BTreeMap<String, Repo>,
    /// `(registry/repo, digest)` → what is attached to the digest in that repository. Per
    /// repository, as `verify` looks for attachments: one repository's tags cannot add to,
    /// or hide, what another holds for the same digest.
    pub attached: HashMap<(String, Digest), Attached>,
    /// Who is trusted, by name: the store's keys (and, with a trusted root, its identities).
    pub verifiers: Vec<(String, Verifier)>,
    /// `(registry/repo, digest)` → the ledger's entry for an image there (`store verify`) that
    /// is current: made against the store's own trust as it is now, at this digest, with the
    /// attachments it has now. The view shows that outcome instead of verifying again.
    pub ledger: HashMap<(String, Digest), VerificationRecord>,
}

/// What changes when the store changes: the index files and the trust folders.
pub fn marker(root: &Path) -> Vec<(PathBuf, Option<(SystemTime, u64)>)> {
    sigmirror_store::change_marker(root, TrustKind::ALL.iter().map(|k| root.join(k.dir())))
}

impl Snapshot {
    /// Takes a snapshot, waiting at most `wait` for another process to release the store.
    pub fn take(root: &Path, wait: Duration) -> Result<Snapshot> {
        let store = Store::open_for_reading(root, wait)?;
        let mut snap = Snapshot {
            verifiers: crate::trust::verifiers(root),
            ..Snapshot::default()
        };
        let mut roots: Vec<(String, Digest)> = vec![];
        for (repo, tag, digest) in store.tags()? {
            let attachment = AttachmentKind::parse_tag(&tag).is_some();
            if attachment
                || !repo.split('/').all(crate::is_safe_component)
                || !crate::is_safe_component(&tag)
            {
                continue;
            }
            snap.repos
                .entry(repo.clone())
                .or_default()
                .tags
                .insert(tag, digest.clone());
            roots.push((repo, digest));
        }
        let trust_digest = sigmirror_store::trust_policy_digest(root);
        for (name, record) in store.images()? {
            if let Some((repo, _)) = name.split_once('@').or_else(|| name.rsplit_once(':'))
                && repo.split('/').all(crate::is_safe_component)
            {
                if let Some(entry) = store.verification(&name)?
                    && entry.digest == record.digest
                    && entry.policy == trust_digest
                    && entry.attachments == store.ledger_attachments(&record.digest)?
                {
                    snap.ledger
                        .insert((repo.to_owned(), record.digest.clone()), entry);
                }
                roots.push((repo.to_owned(), record.digest));
            }
        }
        let mut seen = BTreeSet::new();
        for (repo, digest) in roots {
            if !seen.insert((repo.clone(), digest.clone())) {
                continue;
            }
            let Ok(closure) = store.closure_in(&repo, &digest) else {
                continue;
            };
            let attachment_digests: BTreeSet<&Digest> =
                closure.attachments.iter().map(|a| &a.digest).collect();
            let entry = snap.repos.entry(repo.clone()).or_default();
            for manifest in &closure.manifests {
                if !attachment_digests.contains(manifest) {
                    entry.digests.insert(manifest.clone());
                }
            }
            for manifest in &closure.manifests {
                let key = (repo.clone(), manifest.clone());
                if snap.attached.contains_key(&key) {
                    continue;
                }
                let mut attached = Attached::default();
                for a in store.attachments_of(manifest)? {
                    if a.repo != repo {
                        continue;
                    }
                    let list = match a.kind {
                        AttachmentKind::Signature => &mut attached.signatures,
                        AttachmentKind::Attestation => &mut attached.attestations,
                        AttachmentKind::Sbom => &mut attached.sboms,
                        AttachmentKind::Referrer => &mut attached.referrers,
                    };
                    if !list.contains(&a.digest) {
                        list.push(a.digest);
                    }
                }
                snap.attached.insert(key, attached);
            }
        }
        Ok(snap)
    }
}
