//! Attestations (FORMATS.md §4): in-toto statements about an image or blob, signed as DSSE
//! envelopes. This module makes them and checks them over bytes the caller has fetched (by
//! envelope signature, payload type, subject digest and, optionally, predicate type); storing
//! them at an image's `.att` tag is the registry crate's job.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;
use sigmirror_oci::digest::Sha256Digest;
use sigmirror_oci::manifest::Descriptor;
use sigmirror_oci::{Digest, ImageRef, media_types};

use crate::bundle_image::{BundleCandidate, check_bundle};
use crate::conventions::SIGNATURE_ANNOTATION;
use crate::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use crate::error::{Error, Result};
use crate::signature_image::Layer;
use crate::signer::Signer;
use crate::sigstore::classic::Evidence;
use crate::sigstore::{Artifact, Verified};
use crate::statement::{self, ParsedStatement};
use crate::verifier::Verifier;

/// Layer annotation naming the predicate type of an attestation.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

/// The `.att` layer for a signed envelope: the envelope JSON exactly as given (a log entry may
/// name its hash), an empty signature annotation (cosign's), and the predicate type.
pub fn attestation_layer(envelope_json: Vec<u8>, predicate_type: &str) -> Layer {
    let mut annotations = BTreeMap::new();
    annotations.insert(SIGNATURE_ANNOTATION.to_owned(), String::new());
    annotations.insert(
        PREDICATE_TYPE_ANNOTATION.to_owned(),
        predicate_type.to_owned(),
    );
    Layer::new(media_types::DSSE_ENVELOPE, envelope_json, annotations)
}

/// Checks an envelope made elsewhere before it is attached (`attach attestation`): in-toto, with
/// at least one signature. Returns its predicate type. The signatures are not verified: any key
/// may have made them.
pub fn check_attachable(envelope: &Envelope) -> Result<String> {
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(Error::Envelope {
            reason: format!("payload type {:?} is not in-toto", envelope.payload_type),
        });
    }
    if envelope.signatures.is_empty() {
        return Err(Error::Envelope {
            reason: "the envelope has no signatures".into(),
        });
    }
    Ok(statement::parse(&envelope.payload)?.predicate_type)
}

/// One layer of an attestation image, with its envelope as fetched.
#[derive(Debug, Clone)]
pub struct AttestationCandidate {
    /// The layer's descriptor.
    pub layer: Descriptor,
    /// The envelope bytes, or why they could not be fetched.
    pub envelope: std::result::Result<Vec<u8>, String>,
}

/// An attestation that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedAttestation {
    /// The envelope JSON exactly as stored.
    pub envelope_json: Vec<u8>,
    /// The decoded statement.
    pub statement: ParsedStatement,
    /// What the Sigstore verification established; `None` for a key-only verification.
    pub sigstore: Option<Verified>,
}

/// Checks one envelope: its signature (with the key, or with the certificate and `evidence`
/// beside it under a Sigstore policy), payload type, subjects (one must have a digest in
/// `digests`), predicate type.
pub fn check_attestation(
    verifier: &Verifier,
    envelope_json: &[u8],
    evidence: &Evidence,
    digests: &[Digest],
    predicate_type: Option<&str>,
) -> Result<(ParsedStatement, Option<Verified>)> {
    let envelope = Envelope::from_json(envelope_json)?;
    let verified = match verifier {
        Verifier::Key(key) => {
            envelope.verify(key)?;
            None
        }
        Verifier::Sigstore(sigstore) => {
            Some(sigstore.check_classic_attestation(envelope_json, evidence)?)
        }
    };
    let statement = statement::parse(&envelope.payload)?;
    if !digests.iter().any(|d| statement.covers(d)) {
        return Err(Error::SubjectMismatch {
            digest: digests.first().map(ToString::to_string).unwrap_or_default(),
        });
    }
    if let Some(wanted) = predicate_type
        && statement.predicate_type != wanted
    {
        return Err(Error::PredicateTypeMismatch {
            found: statement.predicate_type,
            wanted: wanted.to_owned(),
        });
    }
    Ok((statement, verified))
}

/// Verifies the attestations of `image` (pinned to the digest their subject must name),
/// keeping those of `predicate_type` if given: at least one must pass, otherwise every
/// candidate's reason is listed.
pub fn verify_attestations(
    verifier: &Verifier,
    image: &ImageRef,
    candidates: Vec<AttestationCandidate>,
    bundles: Vec<BundleCandidate>,
    predicate_type: Option<&str>,
) -> Result<Vec<VerifiedAttestation>> {
    let digest = image
        .digest()
        .expect("verify_attestations is given a reference pinned to a digest");
    if candidates.is_empty() && bundles.is_empty() {
        return Err(Error::NoAttestations {
            reference: image.to_string(),
        });
    }
    let (mut verified, mut reasons) = (vec![], vec![]);
    for (index, candidate) in candidates.into_iter().enumerate() {
        let outcome = match candidate.envelope {
            Ok(bytes) => check_attestation(
                verifier,
                &bytes,
                &Evidence::from_layer(&candidate.layer),
                std::slice::from_ref(digest),
                predicate_type,
            )
            .map(|(statement, sigstore)| VerifiedAttestation {
                envelope_json: bytes,
                statement,
                sigstore,
            })
            .map_err(|e| e.to_string()),
            Err(why) => Err(format!("cannot fetch envelope: {why}")),
        };
        match outcome {
            Ok(v) => verified.push(v),
            Err(reason) => reasons.push(format!("attestation {}: {reason}", index + 1)),
        }
    }
    for (index, candidate) in bundles.into_iter().enumerate() {
        let outcome = match &candidate.bundle {
            Ok(bundle) => check_bundle(verifier, bundle, digest, false)
                .map_err(|e| e.to_string())
                .and_then(|(statement, envelope, sigstore)| match predicate_type {
                    Some(wanted) if statement.predicate_type != wanted => Err(format!(
                        "predicate type {} is not {wanted}",
                        statement.predicate_type
                    )),
                    _ => Ok(VerifiedAttestation {
                        envelope_json: envelope.to_json(),
                        statement,
                        sigstore: Some(sigstore),
                    }),
                }),
            Err(why) => Err(format!("cannot fetch bundle: {why}")),
        };
        match outcome {
            Ok(v) => verified.push(v),
            Err(reason) => reasons.push(format!("bundle attestation {}: {reason}", index + 1)),
        }
    }
    if verified.is_empty() {
        return Err(Error::NoValidAttestations {
            reference: image.to_string(),
            reasons,
        });
    }
    Ok(verified)
}

/// `attest-blob`: a statement about the blob (subject: `name`, the blob's SHA-256), signed.
pub fn attest_blob(
    signer: &dyn Signer,
    blob: impl Read,
    name: &str,
    predicate_type: &str,
    predicate: &Value,
) -> Result<Envelope> {
    let (digest, _) = Sha256Digest::of_reader(blob).map_err(|e| Error::io(name, e))?;
    let statement = statement::statement(name, &digest.into(), predicate_type, predicate);
    Envelope::sign(signer, IN_TOTO_PAYLOAD_TYPE, statement)
}

/// `verify-blob-attestation`: the envelope verifies (see [`check_attestation`]), its statement
/// names the blob (by SHA-256 or SHA-512), and (if given) has `predicate_type`.
pub fn verify_blob_attestation(
    verifier: &Verifier,
    envelope_json: &[u8],
    evidence: &Evidence,
    blob: impl Read,
    predicate_type: Option<&str>,
) -> Result<(ParsedStatement, Option<Verified>)> {
    let artifact = Artifact::of_reader(blob).map_err(|e| Error::io("<blob>", e))?;
    check_attestation(
        verifier,
        envelope_json,
        evidence,
        &artifact.oci_digests(),
        predicate_type,
    )
    .map_err(|reason| Error::NoValidAttestations {
        reference: "the blob".into(),
        reasons: vec![reason.to_string()],
    })
}

/// The SBOM layer media type for `attach sbom --type` (`spdx`, `cyclonedx`, `syft`) and whether
/// the input is JSON.
pub fn sbom_media_type(kind: &str, json: bool) -> Result<&'static str> {
    Ok(match (kind, json) {
        ("spdx", false) => "text/spdx",
        ("spdx", true) => "text/spdx+json",
        ("cyclonedx", false) => "application/vnd.cyclonedx+xml",
        ("cyclonedx", true) => "application/vnd.cyclonedx+json",
        ("syft", _) => "application/vnd.syft+json",
        (other, _) => {
            return Err(Error::SbomType {
                given: other.to_owned(),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;

    fn candidate(envelope: &Envelope) -> AttestationCandidate {
        let layer = attestation_layer(envelope.to_json(), "https://example.com/p");
        AttestationCandidate {
            envelope: Ok(layer.bytes.clone().unwrap()),
            layer: layer.descriptor,
        }
    }

    #[test]
    fn attestations_check_key_subject_and_predicate_type() {
        let key = PrivateKey::generate();
        let digest = Digest::sha256_of(b"image");
        let image = ImageRef::parse("localhost:5000/app")
            .unwrap()
            .with_digest(&digest);
        let statement = statement::statement("app", &digest, "https://example.com/p", &Value::Null);
        let envelope = Envelope::sign(&key, IN_TOTO_PAYLOAD_TYPE, statement).unwrap();
        let public = Verifier::from(key.public_key());
        let ok =
            verify_attestations(&public, &image, vec![candidate(&envelope)], vec![], None).unwrap();
        assert_eq!(ok[0].statement.predicate_type, "https://example.com/p");
        let other_type = verify_attestations(
            &public,
            &image,
            vec![candidate(&envelope)],
            vec![],
            Some("https://slsa.dev/provenance/v1"),
        );
        assert!(
            other_type
                .unwrap_err()
                .to_string()
                .contains("predicate type is")
        );
        let other_image = image.with_digest(&Digest::sha256_of(b"other"));
        let err = verify_attestations(
            &public,
            &other_image,
            vec![candidate(&envelope)],
            vec![],
            None,
        );
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("no subject with digest")
        );
        let other_key = Verifier::from(PrivateKey::generate().public_key());
        let err = verify_attestations(&other_key, &image, vec![candidate(&envelope)], vec![], None);
        assert!(err.unwrap_err().to_string().contains("invalid signature"));
        assert!(matches!(
            verify_attestations(&public, &image, vec![], vec![], None),
            Err(Error::NoAttestations { .. })
        ));
        assert_eq!(
            check_attachable(&envelope).unwrap(),
            "https://example.com/p"
        );
    }
}
