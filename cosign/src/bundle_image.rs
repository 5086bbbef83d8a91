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

/// The empty config of bundle referrers (`application/vnd.oci.empty.v1+json`).
pub const EMPTY_CONFIG: &[u8] = b"{}";
/// Its media type.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The manifest annotation saying what the bundle holds.
const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";

/// cosign 3's statement for a signature of the image `digest`.
pub fn sign_statement(digest: &Digest) -> Vec<u8> {
    format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"{}":"{}"}},"annotations":{{}}}}],"predicateType":"{SIGN_PREDICATE_TYPE}","predicate":{{}}}}"#,
        digest.algorithm().name(),
        digest.hex()
    )
    .into_bytes()
}

/// A key-signed Sigstore bundle v0.3 (no log entries, as cosign 3 writes with a signing
/// config without services): the key's hint and `content` (`dsseEnvelope` or
/// `messageSignature`).
fn key_bundle(key: &crate::keys::PublicKey, content: (&str, serde_json::Value)) -> Vec<u8> {
    let hint =
        crate::b64::encode(sigmirror_oci::digest::Sha256Digest::of(&key.to_spki_der()).as_bytes());
    let mut bundle = serde_json::json!({
        "mediaType": BUNDLE_ARTIFACT_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint}},
    });
    bundle[content.0] = content.1;
    sigmirror_oci::gojson::to_vec(&bundle)
}

/// A key-signed bundle of a DSSE envelope (image signatures and attestations, `attest-blob`).
pub fn dsse_bundle(envelope: &Envelope, key: &crate::keys::PublicKey) -> Vec<u8> {
    let signatures: Vec<serde_json::Value> = envelope
        .signatures
        .iter()
        .map(|s| serde_json::json!({"sig": crate::b64::encode(&s.sig)}))
        .collect();
    key_bundle(
        key,
        (
            "dsseEnvelope",
            serde_json::json!({
                "payload": crate::b64::encode(&envelope.payload),
                "payloadType": envelope.payload_type,
                "signatures": signatures,
            }),
        ),
    )
}

/// A key-signed bundle of a signature over a blob's SHA-256 (`sign-blob`).
pub fn message_bundle(
    digest: &sigmirror_oci::digest::Sha256Digest,
    signature: &[u8],
    key: &crate::keys::PublicKey,
) -> Vec<u8> {
    key_bundle(
        key,
        (
            "messageSignature",
            serde_json::json!({
                "messageDigest": {"algorithm": "SHA2_256", "digest": crate::b64::encode(digest.as_bytes())},
                "signature": crate::b64::encode(signature),
            }),
        ),
    )
}

/// The referrer manifest cosign 3 pushes for `bundle` about `subject`, made at `created`
/// (RFC 3339).
pub fn referrer_manifest(
    subject: Descriptor,
    bundle: &[u8],
    predicate_type: &str,
    created: &str,
) -> ImageManifest {
    let mut config = Descriptor::for_bytes(EMPTY_MEDIA_TYPE, EMPTY_CONFIG);
    config.artifact_type = Some(BUNDLE_ARTIFACT_TYPE.to_owned());
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(CONTENT_ANNOTATION.to_owned(), "dsse-envelope".to_owned());
    annotations.insert(
        PREDICATE_TYPE_ANNOTATION.to_owned(),
        predicate_type.to_owned(),
    );
    annotations.insert(
        "org.opencontainers.image.created".to_owned(),
        created.to_owned(),
    );
    ImageManifest {
        schema_version: 2,
        media_type: sigmirror_oci::media_types::OCI_MANIFEST.to_owned(),
        artifact_type: Some(BUNDLE_ARTIFACT_TYPE.to_owned()),
        config,
        layers: vec![Descriptor::for_bytes(BUNDLE_ARTIFACT_TYPE, bundle)],
        annotations: Some(annotations),
        subject: Some(subject),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;

    #[test]
    fn what_is_written_verifies_and_routes_back() {
        let key = PrivateKey::generate();
        let digest = Digest::sha256_of(b"image manifest");
        let envelope = Envelope::sign(&key, IN_TOTO_PAYLOAD_TYPE, sign_statement(&digest)).unwrap();
        let bundle = dsse_bundle(&envelope, &key.public_key());
        let verifier = Verifier::Key(key.public_key());
        let (statement, _, _) = check_bundle(&verifier, &bundle, &digest, true).unwrap();
        assert_eq!(statement.predicate_type, SIGN_PREDICATE_TYPE);
        // Another image, another key, or asked as an attestation: refused.
        assert!(check_bundle(&verifier, &bundle, &Digest::sha256_of(b"x"), true).is_err());
        let other = Verifier::Key(PrivateKey::generate().public_key());
        assert!(check_bundle(&other, &bundle, &digest, true).is_err());
        assert!(check_bundle(&verifier, &bundle, &digest, false).is_err());
        let subject =
            Descriptor::for_bytes(sigmirror_oci::media_types::OCI_MANIFEST, b"image manifest");
        let manifest = referrer_manifest(
            subject,
            &bundle,
            SIGN_PREDICATE_TYPE,
            "2026-01-01T00:00:00Z",
        );
        let parsed = ImageManifest::parse(&manifest.to_bytes(), "m").unwrap();
        let (layer, signature) = bundle_layer(&parsed).unwrap();
        assert!(signature);
        assert_eq!(layer.digest, Digest::sha256_of(&bundle));
    }
}
