//! Writing attestations and SBOMs to an image's `.att` and `.sbom` tags (FORMATS.md §4, §6.6).
//! The envelopes and their checks are `sigmirror_cosign::attest`; verification fetches through
//! [`crate::verify`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use sigmirror_cosign::attest::{PREDICATE_TYPE_ANNOTATION, attestation_layer, check_attachable};
use sigmirror_cosign::bundle_image;
use sigmirror_cosign::conventions::{attachment_ref, docker_media_types};
use sigmirror_cosign::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use sigmirror_cosign::signature_image::{Layer, SignatureImage};
use sigmirror_cosign::signer::Signer;
use sigmirror_cosign::statement;
use sigmirror_oci::ImageRef;
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::manifest::{Descriptor, ImageManifest};

use crate::client::Registry;
use crate::error::Result;
use crate::sign::{append_layer, push_bundle, run_blocking, write_image};

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
    /// Write cosign 3's format (a Sigstore bundle as an OCI 1.1 referrer) instead of `.att`.
    pub new_bundle_format: bool,
    /// Store the attestation (cosign's `attest` without `--no-upload`); otherwise it is only
    /// made and returned.
    pub upload: bool,
}

/// An attestation made: where it was stored (`None` when not uploaded), and its DSSE envelope.
#[derive(Debug, Clone)]
pub struct Attested {
    /// The `.att` or referrer reference written.
    pub target: Option<ImageRef>,
    /// The envelope JSON, as stored.
    pub envelope_json: Vec<u8>,
}

/// Attests the digest `request.image` resolves to; returns what was made and where it went.
///
/// A digest reference is attested as it is, without asking the registry for the image (as
/// cosign does: the statement names only the digest, so the image need not be there yet); a
/// cosign 3 bundle needs the image's descriptor for its subject, so that asks.
pub async fn attest_image(
    registry: &Registry,
    signer: Arc<dyn Signer>,
    request: &AttestRequest,
) -> Result<Attested> {
    let (digest, manifest) = match request.image.digest() {
        Some(digest) if !request.new_bundle_format || !request.upload => (digest.clone(), None),
        _ => {
            let manifest = registry.resolve(&request.image).await?;
            (manifest.digest.clone(), Some(manifest))
        }
    };
    let statement = statement::statement(
        &request.image.repo_name(),
        &digest,
        &request.predicate_type,
        &request.predicate,
    );
    let envelope = {
        let signer = signer.clone();
        run_blocking(move || Envelope::sign(signer.as_ref(), IN_TOTO_PAYLOAD_TYPE, statement))
            .await?
    };
    let envelope_json = envelope.to_json();
    if !request.upload {
        return Ok(Attested {
            target: None,
            envelope_json,
        });
    }
    if let Some(manifest) = manifest.filter(|_| request.new_bundle_format) {
        let public = run_blocking(move || signer.public_key()).await?;
        let bundle = bundle_image::dsse_bundle(&envelope, &public);
        let subject = Descriptor::for_bytes(&manifest.media_type, &manifest.bytes);
        let target = push_bundle(
            registry,
            &request.image.with_digest(&digest),
            subject,
            bundle,
            &request.predicate_type,
        )
        .await?;
        return Ok(Attested {
            target: Some(target),
            envelope_json,
        });
    }
    let layer = attestation_layer(envelope_json.clone(), &request.predicate_type);
    let target = attachment_ref(&request.image, &digest, AttachmentKind::Attestation)?;
    if request.replace {
        replace_layer(registry, &target, layer, &request.predicate_type).await?;
    } else {
        append_layer(registry, &target, layer, &|_| false).await?;
    }
    Ok(Attested {
        target: Some(target),
        envelope_json,
    })
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
    evidence: &crate::upload::SignatureEvidence,
) -> Result<ImageRef> {
    let digest = registry.resolve(image).await?.digest;
    let target = attachment_ref(image, &digest, AttachmentKind::Attestation)?;
    for bytes in envelopes {
        let envelope = Envelope::from_json(bytes)?;
        let predicate_type = check_attachable(&envelope)?;
        let mut layer = attestation_layer(bytes.clone(), &predicate_type);
        evidence.annotate(
            layer
                .descriptor
                .annotations
                .get_or_insert_with(BTreeMap::new),
        );
        append_layer(registry, &target, layer, &|_| false).await?;
    }
    Ok(target)
}

/// Attaches an SBOM at the image's `.sbom` tag (a single-layer image; replaces any previous).
pub async fn attach_sbom(
    registry: &Registry,
    image: &ImageRef,
    sbom: Vec<u8>,
    media_type: &str,
) -> Result<ImageRef> {
    let digest = registry.resolve(image).await?.digest;
    let target = attachment_ref(image, &digest, AttachmentKind::Sbom)?;
    let mut sbom_image = SignatureImage::empty(docker_media_types());
    sbom_image.append(Layer::new(media_type, sbom, BTreeMap::new()));
    write_image(registry, &target, &sbom_image).await?;
    Ok(target)
}
