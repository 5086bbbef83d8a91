//! Attestations (FORMATS.md §4): in-toto statements about an image or blob, signed as DSSE
//! envelopes, stored as layers of the `.att` image, and verified by envelope signature, payload
//! type, subject digest and (optionally) predicate type.

pub mod dsse;
pub mod statement;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use serde_json::Value;

use crate::cosign::image::{ImageManifest, Layer, SignatureImage};
use crate::cosign::sign::{append_layer, run_blocking, write_image};
use crate::cosign::{
    Attachment, SIGNATURE_ANNOTATION, attachment_ref, docker_media_types, max_attachment_size,
};
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::media_types;
use crate::reference::ImageRef;
use crate::registry::Registry;
use crate::signer::Signer;
use crate::source::{Source, resolve};
use dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use statement::ParsedStatement;

/// Layer annotation naming the predicate type of an attestation.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

/// What to attest.
#[derive(Debug, Clone)]
pub struct AttestRequest {
    /// The image (a tag is resolved once; the digest is the subject).
    pub image: ImageRef,
    /// The predicate type URI.
    pub predicate_type: String,
    /// The predicate.
    pub predicate: Value,
    /// Replace existing attestations of the same predicate type (the new one goes first).
    pub replace: bool,
}

/// Attests the digest `request.image` resolves to; returns the `.att` reference written.
pub async fn attest_image(
    registry: &Registry,
    signer: Arc<dyn Signer>,
    request: &AttestRequest,
) -> Result<ImageRef> {
    let digest = registry.resolve(&request.image).await?.digest;
    let hex = digest.strip_prefix("sha256:").unwrap_or(&digest).to_owned();
    let statement = statement::statement(
        &request.image.repo_name(),
        &hex,
        &request.predicate_type,
        &request.predicate,
    );
    let envelope =
        run_blocking(move || Envelope::sign(signer.as_ref(), IN_TOTO_PAYLOAD_TYPE, statement))
            .await?;
    let mut annotations = BTreeMap::new();
    annotations.insert(SIGNATURE_ANNOTATION.to_owned(), String::new());
    annotations.insert(
        PREDICATE_TYPE_ANNOTATION.to_owned(),
        request.predicate_type.clone(),
    );
    let layer = Layer::new(media_types::DSSE_ENVELOPE, envelope.to_json(), annotations);
    let target = attachment_ref(&request.image, &digest, Attachment::Attestation)?;
    if request.replace {
        replace_layer(registry, &target, layer, &request.predicate_type).await?;
    } else {
        append_layer(registry, &target, layer, &|_| false).await?;
    }
    Ok(target)
}

/// cosign's `--replace`: drop layers of the same predicate type, put the new one first, and
/// rebuild the image from the empty image.
async fn replace_layer(
    registry: &Registry,
    target: &ImageRef,
    layer: Layer,
    predicate_type: &str,
) -> Result<()> {
    let mut image = SignatureImage::empty(docker_media_types());
    image.append(layer);
    if let Some(existing) = registry.get_manifest(target).await? {
        let manifest = ImageManifest::parse(&existing.bytes, &target.to_string())?;
        for old in manifest.layers {
            if old.annotation(PREDICATE_TYPE_ANNOTATION) != Some(predicate_type) {
                image.append(Layer {
                    descriptor: old,
                    bytes: None,
                });
            }
        }
    }
    write_image(registry, target, &image).await
}

/// `attach attestation`: appends envelopes made elsewhere to the image's `.att`. Each must be an
/// in-toto DSSE envelope with at least one signature (they are not verified: any key may have
/// made them). Returns the `.att` reference.
pub async fn attach_attestations(
    registry: &Registry,
    image: &ImageRef,
    envelopes: &[Vec<u8>],
) -> Result<ImageRef> {
    let digest = registry.resolve(image).await?.digest;
    let target = attachment_ref(image, &digest, Attachment::Attestation)?;
    for bytes in envelopes {
        let envelope = Envelope::from_json(bytes)?;
        if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(Error::Malformed {
                what: "attestation".into(),
                reason: format!("payload type {:?} is not in-toto", envelope.payload_type),
            });
        }
        if envelope.signatures.is_empty() {
            return Err(Error::Malformed {
                what: "attestation".into(),
                reason: "the envelope has no signatures".into(),
            });
        }
        let predicate_type = statement::parse(&envelope.payload)?.predicate_type;
        let mut annotations = BTreeMap::new();
        annotations.insert(SIGNATURE_ANNOTATION.to_owned(), String::new());
        annotations.insert(PREDICATE_TYPE_ANNOTATION.to_owned(), predicate_type);
        let layer = Layer::new(media_types::DSSE_ENVELOPE, envelope.to_json(), annotations);
        append_layer(registry, &target, layer, &|_| false).await?;
    }
    Ok(target)
}

/// An attestation that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedAttestation {
    /// The envelope JSON exactly as stored.
    pub envelope_json: Vec<u8>,
    /// The decoded statement.
    pub statement: ParsedStatement,
}

/// Checks one envelope: signature, payload type, subject digest, predicate type.
fn check_envelope(
    bytes: &[u8],
    key: &PublicKey,
    sha256_hex: &str,
    predicate_type: Option<&str>,
) -> std::result::Result<ParsedStatement, String> {
    let envelope = Envelope::from_json(bytes).map_err(|e| e.to_string())?;
    envelope.verify(key).map_err(|e| e.to_string())?;
    let statement = statement::parse(&envelope.payload).map_err(|e| e.to_string())?;
    if !statement.covers(sha256_hex) {
        return Err(format!(
            "statement has no subject with digest sha256:{sha256_hex}"
        ));
    }
    if let Some(want) = predicate_type
        && statement.predicate_type != want
    {
        return Err(format!(
            "predicate type is {:?}, not {want:?}",
            statement.predicate_type
        ));
    }
    Ok(statement)
}

/// Verifies the attestations of `image` with `key`, keeping those of `predicate_type` if given.
pub async fn verify_image_attestations<S: Source>(
    source: &S,
    key: &PublicKey,
    image: &ImageRef,
    predicate_type: Option<&str>,
) -> Result<(ImageRef, Vec<VerifiedAttestation>)> {
    let digest = resolve(source, image).await?.digest;
    let pinned = image.with_digest(&digest);
    let hex = digest.strip_prefix("sha256:").unwrap_or(&digest).to_owned();
    let att_ref = attachment_ref(image, &digest, Attachment::Attestation)?;
    let manifest = source
        .get_manifest(&att_ref)
        .await?
        .ok_or_else(|| Error::NoAttestations {
            reference: pinned.to_string(),
        })?;
    let manifest = ImageManifest::parse(&manifest.bytes, &att_ref.to_string())?;
    if manifest.layers.is_empty() {
        return Err(Error::NoAttestations {
            reference: pinned.to_string(),
        });
    }
    let (mut verified, mut reasons) = (vec![], vec![]);
    for (index, layer) in manifest.layers.iter().enumerate() {
        let outcome = match source
            .get_blob(&att_ref, &layer.digest, max_attachment_size())
            .await
        {
            Ok(bytes) => check_envelope(&bytes, key, &hex, predicate_type).map(|statement| {
                VerifiedAttestation {
                    envelope_json: bytes,
                    statement,
                }
            }),
            Err(e) => Err(format!("cannot fetch envelope: {e}")),
        };
        match outcome {
            Ok(v) => verified.push(v),
            Err(reason) => reasons.push(format!("attestation {}: {reason}", index + 1)),
        }
    }
    if verified.is_empty() {
        return Err(Error::NoValidAttestations {
            reference: pinned.to_string(),
            reasons,
        });
    }
    Ok((pinned, verified))
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
    let statement = statement::statement(name, &digest.hex(), predicate_type, predicate);
    Envelope::sign(signer, IN_TOTO_PAYLOAD_TYPE, statement)
}

/// `verify-blob-attestation`: the envelope verifies with `key`, its statement names the blob's
/// SHA-256, and (if given) has `predicate_type`.
pub fn verify_blob_attestation(
    key: &PublicKey,
    envelope_json: &[u8],
    blob: impl Read,
    predicate_type: Option<&str>,
) -> Result<ParsedStatement> {
    let (digest, _) = Sha256Digest::of_reader(blob).map_err(|e| Error::io("<blob>", e))?;
    check_envelope(envelope_json, key, &digest.hex(), predicate_type).map_err(|reason| {
        Error::NoValidAttestations {
            reference: "the blob".into(),
            reasons: vec![reason],
        }
    })
}

/// Attaches an SBOM at the image's `.sbom` tag (a single-layer image; replaces any previous).
pub async fn attach_sbom(
    registry: &Registry,
    image: &ImageRef,
    sbom: Vec<u8>,
    media_type: &str,
) -> Result<ImageRef> {
    let digest = registry.resolve(image).await?.digest;
    let target = attachment_ref(image, &digest, Attachment::Sbom)?;
    let mut sbom_image = SignatureImage::empty(docker_media_types());
    sbom_image.append(Layer::new(media_type, sbom, BTreeMap::new()));
    write_image(registry, &target, &sbom_image).await?;
    Ok(target)
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
            return Err(Error::Malformed {
                what: format!("--type {other:?}"),
                reason: "expected spdx, cyclonedx or syft".into(),
            });
        }
    })
}
