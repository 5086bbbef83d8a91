//! cosign 3's signatures and attestations on images: a Sigstore bundle v0.3 (a DSSE envelope
//! whose in-toto statement names the image) stored as an OCI 1.1 artifact that refers to the
//! image — found through the referrers API or its `sha256-<hex>` fallback tag. A signature's
//! statement has predicate type `https://sigstore.dev/cosign/sign/v1`; an attestation's is the
//! attestation's own. The bundle is checked by the one Sigstore pipeline; with a key, as cosign's
//! key-only verification (the signature alone, no log).

use sigmirror_oci::Digest;
use sigmirror_oci::manifest::{Descriptor, ImageManifest};

use crate::dsse::{Envelope, EnvelopeSignature, IN_TOTO_PAYLOAD_TYPE};
use crate::error::{Error, Result};
use crate::sigstore::bundle::Content;
use crate::sigstore::{self, Artifact, Bundle, Options, Policy, TrustedRoot, Verified};
use crate::statement::ParsedStatement;
use crate::verifier::{SigstoreVerifier, Verifier};

/// The artifact type (and layer media type) of a bundle referrer.
pub const BUNDLE_ARTIFACT_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The predicate type of cosign 3's image signatures.
pub const SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";
/// The manifest annotation naming the statement's predicate type (unauthenticated: used to
/// route a referrer to signatures or attestations, then checked against the verified statement).
pub const PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";

/// A bundle referrer as fetched.
#[derive(Debug, Clone)]
pub struct BundleCandidate {
    /// The referrer manifest's bundle layer.
    pub layer: Descriptor,
    /// The bundle JSON, or why it could not be fetched.
    pub bundle: std::result::Result<Vec<u8>, String>,
}

/// The bundle layer of a referrer manifest, if the manifest is a Sigstore bundle artifact, and
/// whether it claims to be a signature (rather than an attestation).
pub fn bundle_layer(manifest: &ImageManifest) -> Option<(&Descriptor, bool)> {
    let artifact = manifest.artifact_type.as_deref() == Some(BUNDLE_ARTIFACT_TYPE);
    let layer = manifest
        .layers
        .iter()
        .find(|l| l.media_type == BUNDLE_ARTIFACT_TYPE)?;
    if !artifact && manifest.layers.len() != 1 {
        return None;
    }
    let signature = manifest
        .annotations
        .as_ref()
        .and_then(|a| a.get(PREDICATE_TYPE_ANNOTATION))
        .is_none_or(|t| t == SIGN_PREDICATE_TYPE);
    Some((layer, signature))
}

/// Verifies a bundle referrer of the image `digest`: the bundle verifies (with the key alone, or
/// under the Sigstore policy), its statement names `digest`, and it is a signature when
/// `signature` is asked, an attestation otherwise. Returns the statement and the envelope.
pub fn check_bundle(
    verifier: &Verifier,
    bundle_json: &[u8],
    digest: &Digest,
    signature: bool,
) -> Result<(ParsedStatement, Envelope, Verified)> {
    let bundle = Bundle::from_json(bundle_json)?;
    let sha256 = digest.sha256().ok_or_else(|| Error::SubjectMismatch {
        digest: digest.to_string(),
    })?;
    let artifact = Artifact::Sha256(*sha256.as_bytes());
    let verified = match verifier {
        Verifier::Key(key) => SigstoreVerifier {
            trust: TrustedRoot::default(),
            policy: Policy::Key(sigstore::keys::PublicKey::from(key)),
            options: Options {
                tlog: false,
                sct: false,
                ..Options::default()
            },
        }
        .check_bundle(&bundle, Some(&artifact))?,
        Verifier::Sigstore(sigstore) => sigstore.check_bundle(&bundle, Some(&artifact))?,
    };
    let statement = verified.statement.clone().ok_or_else(|| Error::Envelope {
        reason: "the bundle signs a digest, not a statement about the image".into(),
    })?;
    if (statement.predicate_type == SIGN_PREDICATE_TYPE) != signature {
        return Err(Error::PredicateTypeMismatch {
            found: statement.predicate_type,
            wanted: if signature {
                SIGN_PREDICATE_TYPE.into()
            } else {
                "an attestation's".into()
            },
        });
    }
    let Content::Dsse {
        payload_type,
        payload,
        signatures,
    } = bundle.content
    else {
        unreachable!("a verified statement comes from a DSSE envelope");
    };
    debug_assert_eq!(payload_type, IN_TOTO_PAYLOAD_TYPE);
    let envelope = Envelope {
        payload_type,
        payload,
        signatures: signatures
            .into_iter()
            .map(|sig| EnvelopeSignature {
                keyid: String::new(),
                sig,
            })
            .collect(),
    };
    Ok((statement, envelope, verified))
}

/// What cosign 3's `verify` prints for a bundle signature of `digest`, given as `reference`: the
/// simple-signing shape with the statement's predicate type as its type.
pub fn printed_signature(reference: &str, digest: &Digest) -> serde_json::Value {
    serde_json::json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest.as_str()},
            "type": SIGN_PREDICATE_TYPE,
        },
        "optional": {},
    })
}
