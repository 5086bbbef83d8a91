//! What the verification ledger's entries are made against: a policy's digest. It is defined
//! here, beside the ledger, so that every reader of the ledger (`store verify`, the mounted
//! view) computes the same digest for the same policy, and an entry made against other trust
//! is never taken for a current one.

use std::path::Path;

use sha2::{Digest as _, Sha256};
use sigmirror_oci::Digest;
use sigmirror_oci::attachment::AttachmentKind;

use crate::Store;
use crate::error::Result;
use crate::index::AttachmentRecord;
use crate::trust::{TrustKind, read_trusted};

impl Store {
    /// What a verification of `digest` reads besides the manifest, as a ledger entry lists it:
    /// the signature, attestation and referrer manifests attached to it in any repository
    /// (SBOMs are not verified), sorted. An entry whose list differs is out of date.
    pub fn ledger_attachments(&self, digest: &Digest) -> Result<Vec<Digest>> {
        Ok(ledger_digests(&self.attachments_of(digest)?))
    }
}

/// The ledger's list of `attachments` (an image's, from [`Store::attachments_of`]): all but its
/// SBOMs, sorted, each digest once.
pub fn ledger_digests(attachments: &[AttachmentRecord]) -> Vec<Digest> {
    let mut digests: Vec<Digest> = attachments
        .iter()
        .filter(|a| a.kind != AttachmentKind::Sbom)
        .map(|a| a.digest.clone())
        .collect();
    digests.sort();
    digests.dedup();
    digests
}

/// `sha256:<hex>` over a policy: each labelled piece of trust material (a key's PEM, a trusted
/// root's JSON, an identity) length-prefixed, then the number of signatures required and the
/// attestation types required, so that no two different policies hash alike.
pub fn policy_digest<'m>(
    material: impl IntoIterator<Item = (&'m str, &'m [u8])>,
    min_signatures: usize,
    attestations: &[String],
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"sigmirror policy 1\n");
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    for (label, bytes) in material {
        field(label.as_bytes());
        field(bytes);
    }
    field(min_signatures.to_string().as_bytes());
    for predicate_type in attestations {
        field(predicate_type.as_bytes());
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The store's trust material (`sigmirror trust …`) at `root`, labelled by kind and name: what
/// the store's own policy trusts.
pub fn trust_material(root: &Path) -> Vec<(String, Vec<u8>)> {
    TrustKind::ALL
        .iter()
        .flat_map(|kind| {
            read_trusted(root, *kind)
                .into_iter()
                .map(move |(name, bytes)| (format!("{} {name}", kind.dir()), bytes))
        })
        .collect()
}

/// The digest of the store's own policy: its trust material, one signature required, no
/// attestation.
pub fn trust_policy_digest(root: &Path) -> String {
    let material = trust_material(root);
    policy_digest(
        material.iter().map(|(l, b)| (l.as_str(), b.as_slice())),
        1,
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_change_with_any_material_or_requirement() {
        let a = policy_digest([("key a", &b"pem"[..])], 1, &[]);
        assert_eq!(a, policy_digest([("key a", &b"pem"[..])], 1, &[]));
        for other in [
            policy_digest([("key b", &b"pem"[..])], 1, &[]),
            policy_digest([("key a", &b"pem2"[..])], 1, &[]),
            policy_digest([("key a", &b"pem"[..])], 2, &[]),
            policy_digest([("key a", &b"pem"[..])], 1, &["t".to_owned()]),
            // Length prefixes: moving bytes between label and value changes the digest.
            policy_digest([("key ap", &b"em"[..])], 1, &[]),
        ] {
            assert_ne!(a, other);
        }
    }
}
