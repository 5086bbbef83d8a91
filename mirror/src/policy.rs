//! What an image must satisfy to count as verified: who may sign it (named keys, and certificate
//! identities under a Sigstore trusted root), how many of its signatures must verify, and which
//! attestations it must carry. It comes from the store's trust (`sigmirror trust …`) or from a
//! policy file, and has a digest over everything it trusts and requires, so that a ledger entry
//! made against it can tell whether the policy changed since.
//!
//! A policy file is YAML (or JSON, which is YAML too); paths are relative to the file:
//!
//! ```yaml
//! keys:                       # name: public key file (PEM)
//!   release: release.pub
//! identities:                 # name: certificate identity, as `trust identity add` takes it
//!   ci:
//!     certificateIdentity: https://github.com/org/app/.github/workflows/release.yml@refs/heads/main
//!     certificateOidcIssuer: https://token.actions.githubusercontent.com
//! trustedRoot: trusted_root.json   # required with identities
//! minSignatures: 1            # signatures that must verify (default 1)
//! attestations:               # predicate types that must each have a verified attestation
//!   - https://slsa.dev/provenance/v1
//! ```
//!
//! Anything the file names that cannot be read or parsed is an error: a policy must never
//! quietly trust less, or more, than it says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sigmirror_cosign::keys::PublicKey;
use sigmirror_cosign::sigstore::{IdentitySpec, Options, Policy as SigstorePolicy, TrustedRoot};
use sigmirror_cosign::verifier::{SigstoreVerifier, Verifier};
use sigmirror_store::policy_digest;

/// Why a policy could not be made.
#[derive(Debug, thiserror::Error)]
#[error("policy {}: {reason}", path.display())]
pub struct PolicyError {
    /// The policy file (or the store, for its trust).
    pub path: PathBuf,
    /// What is wrong.
    pub reason: String,
}

/// What an image must satisfy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Who may sign, by name.
    pub signers: Vec<(String, Verifier)>,
    /// How many signatures must verify (by any signer).
    pub min_signatures: usize,
    /// Predicate types that must each have an attestation verified by a signer.
    pub attestations: Vec<String>,
    /// `sha256:<hex>` over the trust material and the requirements.
    pub digest: String,
}

/// The file format (see the module's documentation).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    keys: BTreeMap<String, String>,
    #[serde(default)]
    identities: BTreeMap<String, IdentitySpec>,
    #[serde(default)]
    trusted_root: Option<String>,
    #[serde(default = "one")]
    min_signatures: usize,
    #[serde(default)]
    attestations: Vec<String>,
}

fn one() -> usize {
    1
}

impl Policy {
    /// A policy of `signers` (at least one), whose digest covers `material` (each signer's
    /// bytes, labelled), with the default requirements: one signature, no attestation. The
    /// store's own policy is its verifiers with [`sigmirror_store::trust_material`], whose
    /// digest is [`sigmirror_store::trust_policy_digest`].
    pub fn new(signers: Vec<(String, Verifier)>, material: &[(String, Vec<u8>)]) -> Policy {
        let digest = policy_digest(
            material.iter().map(|(l, b)| (l.as_str(), b.as_slice())),
            1,
            &[],
        );
        Policy {
            signers,
            min_signatures: 1,
            attestations: vec![],
            digest,
        }
    }

    /// This policy, its keys prepared for checking many signatures (see
    /// [`Verifier::prepared_for_many`]): worth it from a few hundred images on. Same digest,
    /// same outcomes.
    pub fn prepared_for_many(&self) -> Policy {
        Policy {
            signers: self
                .signers
                .iter()
                .map(|(name, verifier)| (name.clone(), verifier.prepared_for_many()))
                .collect(),
            min_signatures: self.min_signatures,
            attestations: self.attestations.clone(),
            digest: self.digest.clone(),
        }
    }

    /// Reads the policy file at `path`.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let fail = |reason: String| PolicyError {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let value = sigmirror_oci::yaml::parse(&text).map_err(&fail)?;
        Policy::from_value(value, path)
    }

    /// The policy `value` states (the file format, as a JSON value: a policy inline in another
    /// file), with paths relative to the folder of `path`, which errors name.
    pub fn from_value(value: serde_json::Value, path: &Path) -> Result<Policy, PolicyError> {
        let fail = |reason: String| PolicyError {
            path: path.to_path_buf(),
            reason,
        };
        let file: PolicyFile = serde_json::from_value(value).map_err(|e| fail(e.to_string()))?;
        if file.min_signatures == 0 {
            return Err(fail("minSignatures must be at least 1".into()));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let read = |name: &str| {
            let file = base.join(name);
            std::fs::read(&file).map_err(|e| fail(format!("cannot read {}: {e}", file.display())))
        };
        let mut signers = vec![];
        let mut material: Vec<(String, Vec<u8>)> = vec![];
        for (name, key_file) in &file.keys {
            let pem = read(key_file)?;
            let key = PublicKey::from_pem(&pem)
                .map_err(|e| fail(format!("key {name} ({key_file}): {e}")))?;
            signers.push((name.clone(), Verifier::Key(key)));
            material.push((format!("key {name}"), pem));
        }
        if !file.identities.is_empty() {
            let root_file = file.trusted_root.as_deref().ok_or_else(|| {
                fail("identities need a trustedRoot (the Sigstore trusted root they are checked under)".into())
            })?;
            let json = read(root_file)?;
            let root = TrustedRoot::from_json(&json)
                .map_err(|e| fail(format!("trusted root {root_file}: {e}")))?;
            material.push(("trusted root".into(), json));
            for (name, spec) in &file.identities {
                if signers.iter().any(|(n, _)| n == name) {
                    return Err(fail(format!("{name} names both a key and an identity")));
                }
                let identity = spec
                    .policy()
                    .map_err(|e| fail(format!("identity {name}: {e}")))?;
                signers.push((
                    name.clone(),
                    Verifier::Sigstore(Box::new(SigstoreVerifier {
                        trust: root.clone(),
                        policy: SigstorePolicy::Identity(identity),
                        options: Options::default(),
                    })),
                ));
                let spec_json = serde_json::to_vec(spec).map_err(|e| fail(e.to_string()))?;
                material.push((format!("identity {name}"), spec_json));
            }
        } else if file.trusted_root.is_some() {
            return Err(fail(
                "a trustedRoot without identities trusts nobody".into(),
            ));
        }
        if signers.is_empty() {
            return Err(fail("it names no keys and no identities".into()));
        }
        let digest = policy_digest(
            material.iter().map(|(l, b)| (l.as_str(), b.as_slice())),
            file.min_signatures,
            &file.attestations,
        );
        Ok(Policy {
            signers,
            min_signatures: file.min_signatures,
            attestations: file.attestations,
            digest,
        })
    }
}
