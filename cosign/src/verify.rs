//! Checking image signatures (FORMATS.md §2.6, §3.2) over bytes the caller has fetched: each
//! layer's signature over its payload bytes with the key, then the payload's claims. Fetching
//! is someone else's job (the registry crate for registries and the store, the FUSE view for
//! its snapshot), so every caller shares these checks.

use std::collections::BTreeMap;

use serde_json::Value;
use sigmirror_oci::digest::Sha256Digest;
use sigmirror_oci::manifest::Descriptor;
use sigmirror_oci::{Digest, ImageRef, gojson};

use crate::b64;
use crate::bundle_image::{BundleCandidate, check_bundle, printed_signature};
use crate::conventions::{BUNDLE_ANNOTATION, SIGNATURE_ANNOTATION, TIMESTAMP_ANNOTATION};
use crate::error::{Error, Result};
use crate::payload::{self, ParsedPayload};
use crate::sigstore::Verified;
use crate::sigstore::classic::Evidence;
use crate::verifier::Verifier;

/// One layer of a signature image, with its payload as fetched.
#[derive(Debug, Clone)]
pub struct SignatureCandidate {
    /// The layer's descriptor (its annotations carry the signature).
    pub layer: Descriptor,
    /// The payload bytes, or why they could not be fetched.
    pub payload: std::result::Result<Vec<u8>, String>,
}

/// A signature that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    /// The payload bytes exactly as signed.
    pub payload: Vec<u8>,
    /// The parsed payload.
    pub parsed: ParsedPayload,
    /// The signature layer (its digest, and the annotations that carried the evidence).
    pub layer: Descriptor,
    /// What the Sigstore verification established (certificate, signing times, log entries);
    /// `None` for a key-only verification.
    pub sigstore: Option<Verified>,
}

/// The outcome of verifying one image.
#[derive(Debug, Clone)]
pub struct Verification {
    /// `repo@digest` that was verified.
    pub image: ImageRef,
    /// Every signature that verified (at least one).
    pub signatures: Vec<VerifiedSignature>,
}

/// Checks one signature layer: its signature annotation verifies over `payload` (with the key,
/// or with the certificate and evidence beside it under a Sigstore policy), and the payload
/// names `digest` and carries every `required` annotation.
pub fn check_signature(
    verifier: &Verifier,
    layer: &Descriptor,
    payload: &[u8],
    digest: &Digest,
    required: &BTreeMap<String, Value>,
) -> Result<(ParsedPayload, Option<Verified>)> {
    let sig_b64 = layer
        .annotation(SIGNATURE_ANNOTATION)
        .filter(|s| !s.is_empty())
        .ok_or(Error::NoSignatureAnnotation)?;
    let signature =
        b64::decode_go_std(sig_b64.as_bytes()).map_err(|e| Error::SignatureAnnotation {
            reason: e.to_string(),
        })?;
    let payload_digest = Sha256Digest::of(payload);
    let verified = match verifier {
        Verifier::Key(key) => {
            key.verify_message(payload, &signature)?;
            None
        }
        Verifier::Sigstore(sigstore) => Some(sigstore.check_classic_signature(
            *payload_digest.as_bytes(),
            signature,
            &Evidence::from_layer(layer),
        )?),
    };
    let parsed = payload::parse(payload)?;
    parsed.check_claims(digest, required)?;
    Ok((parsed, verified))
}

/// Checks one cosign 3 bundle signature of `image` (pinned); bundles carry no annotations, so
/// any `required` annotation fails them.
fn check_bundle_signature(
    verifier: &Verifier,
    image: &ImageRef,
    candidate: &BundleCandidate,
    required: &BTreeMap<String, Value>,
) -> std::result::Result<VerifiedSignature, String> {
    let digest = image.digest().expect("pinned");
    let bundle = candidate
        .bundle
        .as_ref()
        .map_err(|why| format!("cannot fetch bundle: {why}"))?;
    if !required.is_empty() {
        return Err("a cosign 3 bundle signature carries no annotations to match".into());
    }
    check_bundle(verifier, bundle, digest, true).map_err(|e| e.to_string())?;
    let printed = printed_signature(&image.repo_name(), digest);
    let payload = gojson::to_vec(&printed);
    let parsed = payload::parse(&payload).map_err(|e| e.to_string())?;
    Ok(VerifiedSignature {
        payload,
        parsed,
        layer: candidate.layer.clone(),
        sigstore: None,
    })
}

impl VerifiedSignature {
    /// The payload as cosign's `verify` prints it, for the image the user named `reference`:
    /// for a keyless signature, its `optional` map also holds the certificate's subject and
    /// issuer, its v1 Fulcio extensions by OID, and the Rekor bundle and timestamp it carried; a
    /// cosign 3 bundle signature is shown in the simple-signing shape with `reference`, as cosign
    /// 3 shows it.
    pub fn printed_payload(&self, reference: &str) -> Value {
        if self.layer.media_type == crate::bundle_image::BUNDLE_ARTIFACT_TYPE
            && let Ok(digest) = Digest::parse(&self.parsed.digest)
        {
            return printed_signature(reference, &digest);
        }
        let mut json = self.parsed.printed();
        let Some(cert) = self.sigstore.as_ref().and_then(|v| v.certificate.as_ref()) else {
            return json;
        };
        let Some(object) = json.as_object_mut() else {
            return json;
        };
        let optional = object
            .entry("optional")
            .or_insert_with(|| Value::Object(Default::default()));
        if !optional.is_object() {
            *optional = Value::Object(Default::default());
        }
        let optional = optional.as_object_mut().expect("made an object above");
        for n in 1..=6 {
            let oid = format!("1.3.6.1.4.1.57264.1.{n}");
            if let Some(value) = const_oid::ObjectIdentifier::new(&oid)
                .ok()
                .and_then(|o| cert.v1_claim(&o))
            {
                optional.insert(oid, Value::String(value));
            }
        }
        if let Some(issuer) = cert.oidc_issuer_v1().or_else(|| cert.oidc_issuer()) {
            optional.insert("Issuer".into(), Value::String(issuer));
        }
        if let Some(subject) = cert.identity() {
            optional.insert("Subject".into(), Value::String(subject));
        }
        for (annotation, key) in [
            (BUNDLE_ANNOTATION, "Bundle"),
            (TIMESTAMP_ANNOTATION, "RFC3161Timestamp"),
        ] {
            if let Some(value) = self
                .layer
                .annotation(annotation)
                .and_then(|a| serde_json::from_str::<Value>(a).ok())
            {
                optional.insert(key.into(), value);
            }
        }
        json
    }
}

/// Verifies the signatures of `image` (pinned to the digest they must name): succeeds if at
/// least one candidate passes every check, and otherwise lists why each one failed.
pub fn verify_signatures(
    verifier: &Verifier,
    image: &ImageRef,
    candidates: Vec<SignatureCandidate>,
    bundles: Vec<BundleCandidate>,
    required: &BTreeMap<String, Value>,
) -> Result<Verification> {
    let digest = image
        .digest()
        .expect("verify_signatures is given a reference pinned to a digest");
    if candidates.is_empty() && bundles.is_empty() {
        return Err(Error::NoSignatures {
            reference: image.to_string(),
        });
    }
    let mut verified = vec![];
    let mut reasons = vec![];
    for (index, candidate) in candidates.into_iter().enumerate() {
        let outcome = match candidate.payload {
            Ok(payload) => {
                check_signature(verifier, &candidate.layer, &payload, digest, required).map(
                    |(parsed, sigstore)| VerifiedSignature {
                        payload,
                        parsed,
                        layer: candidate.layer.clone(),
                        sigstore,
                    },
                )
            }
            .map_err(|e| e.to_string()),
            Err(why) => Err(format!("cannot fetch payload: {why}")),
        };
        match outcome {
            Ok(v) => verified.push(v),
            Err(reason) => reasons.push(format!("signature {}: {reason}", index + 1)),
        }
    }
    for (index, candidate) in bundles.into_iter().enumerate() {
        match check_bundle_signature(verifier, image, &candidate, required) {
            Ok(v) => verified.push(v),
            Err(reason) => reasons.push(format!("bundle signature {}: {reason}", index + 1)),
        }
    }
    if verified.is_empty() {
        return Err(Error::NoValidSignatures {
            reference: image.to_string(),
            reasons,
        });
    }
    Ok(Verification {
        image: image.clone(),
        signatures: verified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;
    use crate::payload::simple_signing;
    use sigmirror_oci::media_types;

    fn signed_layer(key: &PrivateKey, payload: &[u8]) -> Descriptor {
        let sig = key.sign_digest(&Sha256Digest::of(payload)).unwrap();
        let mut layer = Descriptor::for_bytes(media_types::SIMPLE_SIGNING, payload);
        layer.set_annotation(SIGNATURE_ANNOTATION, &b64::encode(&sig));
        layer
    }

    #[test]
    fn one_good_signature_is_enough_and_every_bad_one_is_explained() {
        let key = PrivateKey::generate();
        let image = ImageRef::parse("localhost:5000/app").unwrap();
        let digest = Digest::sha256_of(b"image");
        let pinned = image.with_digest(&digest);
        let payload = simple_signing(&image.repo_name(), &digest, &BTreeMap::new());
        let good = SignatureCandidate {
            layer: signed_layer(&key, &payload),
            payload: Ok(payload.clone()),
        };
        let other_key = SignatureCandidate {
            layer: signed_layer(&PrivateKey::generate(), &payload),
            payload: Ok(payload.clone()),
        };
        let other_digest_payload = simple_signing(
            &image.repo_name(),
            &Digest::sha256_of(b"x"),
            &BTreeMap::new(),
        );
        let other_digest = SignatureCandidate {
            layer: signed_layer(&key, &other_digest_payload),
            payload: Ok(other_digest_payload),
        };
        let unfetched = SignatureCandidate {
            layer: signed_layer(&key, &payload),
            payload: Err("gone".into()),
        };
        let public = Verifier::from(key.public_key());
        let none = BTreeMap::new();
        let v = verify_signatures(
            &public,
            &pinned,
            vec![other_key.clone(), good],
            vec![],
            &none,
        )
        .unwrap();
        assert_eq!(v.signatures.len(), 1);
        let err = verify_signatures(
            &public,
            &pinned,
            vec![other_key, other_digest, unfetched],
            vec![],
            &none,
        )
        .unwrap_err();
        let Error::NoValidSignatures { reasons, .. } = &err else {
            panic!("{err}");
        };
        assert!(reasons[0].contains("invalid signature"), "{reasons:?}");
        assert!(reasons[1].contains("payload is for digest"), "{reasons:?}");
        assert!(
            reasons[2].contains("cannot fetch payload: gone"),
            "{reasons:?}"
        );
        assert!(matches!(
            verify_signatures(&public, &pinned, vec![], vec![], &none),
            Err(Error::NoSignatures { .. })
        ));
    }

    #[test]
    fn a_changed_payload_byte_or_a_missing_annotation_fails() {
        let key = PrivateKey::generate();
        let digest = Digest::sha256_of(b"image");
        let payload = simple_signing("r/x", &digest, &BTreeMap::new());
        let layer = signed_layer(&key, &payload);
        let mut changed = payload.clone();
        changed[5] ^= 1;
        let none = BTreeMap::new();
        assert!(
            check_signature(
                &Verifier::from(key.public_key()),
                &layer,
                &payload,
                &digest,
                &none
            )
            .is_ok()
        );
        assert!(matches!(
            check_signature(
                &Verifier::from(key.public_key()),
                &layer,
                &changed,
                &digest,
                &none
            ),
            Err(Error::InvalidSignature)
        ));
        let mut bare = layer.clone();
        bare.annotations = None;
        assert!(matches!(
            check_signature(
                &Verifier::from(key.public_key()),
                &bare,
                &payload,
                &digest,
                &none
            ),
            Err(Error::NoSignatureAnnotation)
        ));
    }
}
