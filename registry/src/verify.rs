//! Fetching for verification: resolve the image once, read its `.sig` or `.att` image and each
//! layer's payload, and its cosign 3 bundle referrers, from any [`Source`] (a registry, or the
//! store with `--offline`), and hand the bytes to `sigmirror-cosign`'s checks. Nothing is
//! checked here.

use std::collections::BTreeMap;

use serde_json::Value;
use sigmirror_cosign::attest::{AttestationCandidate, VerifiedAttestation, verify_attestations};
use sigmirror_cosign::bundle_image::BundleCandidate;
use sigmirror_cosign::conventions::{
    OCI11_SIGNATURE_ARTIFACT_TYPE, SIGNATURE_ANNOTATION, attachment_ref, max_attachment_size,
};
use sigmirror_cosign::signature_image::Layer;
use sigmirror_cosign::verifier::Verifier;
use sigmirror_cosign::verify::{SignatureCandidate, Verification, verify_signatures};
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::manifest::{Descriptor, ImageManifest};
use sigmirror_oci::source::{Source, resolve};
use sigmirror_oci::{ImageRef, media_types};

use crate::error::Result;

/// Layers of an attachment image, each with its payload or why it could not be fetched.
pub type FetchedLayers = Vec<(Descriptor, std::result::Result<Vec<u8>, String>)>;
use crate::referrers::{BundleReferrer, bundle_referrers, bundle_referrers_among};

/// The layers of the `kind` image attached to the digest `image` resolves to, each with its
/// payload (or why it could not be fetched), and `image` pinned to that digest. No attachment
/// image means no layers.
pub async fn fetch_attached<S: Source>(
    source: &S,
    image: &ImageRef,
    kind: AttachmentKind,
) -> Result<(ImageRef, FetchedLayers)> {
    let digest = resolve(source, image).await?.digest;
    let pinned = image.with_digest(&digest);
    let reference = attachment_ref(image, &digest, kind)?;
    let layers = fetch_attachment_layers(source, &reference).await?;
    Ok((pinned, layers))
}

/// The layers of the attachment image `reference` names (by tag, or by digest once located),
/// each with its payload; none if there is no such image.
async fn fetch_attachment_layers<S: Source>(
    source: &S,
    reference: &ImageRef,
) -> Result<FetchedLayers> {
    let Some(manifest) = source.get_manifest(reference).await? else {
        return Ok(vec![]);
    };
    let manifest = ImageManifest::parse(&manifest.bytes, &reference.to_string())?;
    Ok(fetch_layers(source, reference, manifest).await)
}

/// Each layer of `manifest` (read from `reference`) with its payload, or why it could not be
/// fetched (too large for an attachment, or missing).
async fn fetch_layers<S: Source>(
    source: &S,
    reference: &ImageRef,
    manifest: ImageManifest,
) -> FetchedLayers {
    let limit = max_attachment_size();
    let mut layers = vec![];
    for layer in manifest.layers {
        let payload = if layer.size > limit {
            Err(format!(
                "payload of {} bytes exceeds the attachment limit",
                layer.size
            ))
        } else {
            source
                .get_blob(reference, &layer.digest, limit)
                .await
                .map_err(|e| e.to_string())
        };
        layers.push((layer, payload));
    }
    layers
}

/// The layers of cosign 2's OCI 1.1 signatures of `pinned` (a digest reference): its referrers
/// whose config media type is [`OCI11_SIGNATURE_ARTIFACT_TYPE`] (`sign
/// --registry-referrers-mode=oci-1-1`), each layer with its payload, as for the `.sig` image.
pub async fn fetch_oci11_signatures<S: Source>(
    source: &S,
    pinned: &ImageRef,
) -> Result<FetchedLayers> {
    let mut layers = vec![];
    // A referrer that cannot be read counts as no signature: the `.sig` tag may still hold one.
    let Ok(referrers) = source.referrers(pinned).await else {
        return Ok(layers);
    };
    for digest in referrers {
        let reference = pinned.with_digest(&digest);
        let Ok(Some(manifest)) = source.get_manifest(&reference).await else {
            continue;
        };
        let Ok(manifest) = ImageManifest::parse(&manifest.bytes, &reference.to_string()) else {
            continue;
        };
        if manifest.config.media_type == OCI11_SIGNATURE_ARTIFACT_TYPE {
            layers.extend(fetch_layers(source, &reference, manifest).await);
        }
    }
    Ok(layers)
}

/// The cosign 3 bundle referrers of `pinned` (a digest reference) of one kind (signatures, or
/// attestations), each with its bundle (or why it could not be fetched). Referrers that are not
/// Sigstore bundles are skipped.
pub async fn fetch_bundles<S: Source>(
    source: &S,
    pinned: &ImageRef,
    signatures: bool,
) -> Result<Vec<BundleCandidate>> {
    let referrers = bundle_referrers(source, pinned).await?;
    Ok(bundles_of(source, pinned, referrers, signatures).await)
}

/// The bundles of one kind among `referrers` of `pinned`, each read from `source`.
async fn bundles_of<S: Source>(
    source: &S,
    pinned: &ImageRef,
    referrers: Vec<BundleReferrer>,
    signatures: bool,
) -> Vec<BundleCandidate> {
    let limit = max_attachment_size();
    let mut bundles = vec![];
    for referrer in referrers {
        if referrer.signature != signatures {
            continue;
        }
        let layer = referrer.layer;
        let bundle = if layer.size > limit {
            Err(format!(
                "bundle of {} bytes exceeds the attachment limit",
                layer.size
            ))
        } else {
            source
                .get_blob(&pinned.with_digest(&referrer.digest), &layer.digest, limit)
                .await
                .map_err(|e| e.to_string())
        };
        bundles.push(BundleCandidate { layer, bundle });
    }
    bundles
}

/// Verifies the signatures of `image` (a tag is resolved once) with `verifier`; `annotations` must
/// all appear in a payload's optional map for it to count.
pub async fn verify_image<S: Source>(
    source: &S,
    verifier: &Verifier,
    image: &ImageRef,
    annotations: &BTreeMap<String, Value>,
) -> Result<Verification> {
    verify_image_with(source, verifier, image, annotations, false).await
}

/// [`verify_image`], and with `oci11` also cosign 2's OCI 1.1 signatures of the image
/// (`verify --experimental-oci11`): a signature found either way counts.
pub async fn verify_image_with<S: Source>(
    source: &S,
    verifier: &Verifier,
    image: &ImageRef,
    annotations: &BTreeMap<String, Value>,
    oci11: bool,
) -> Result<Verification> {
    let (pinned, mut layers) = fetch_attached(source, image, AttachmentKind::Signature).await?;
    if oci11 {
        layers.extend(fetch_oci11_signatures(source, &pinned).await?);
    }
    let bundles = fetch_bundles(source, &pinned, true).await?;
    check_signatures(verifier, &pinned, layers, bundles, annotations)
}

/// The signature checks of every `verify`: each `.sig` (or OCI 1.1) layer and each bundle.
fn check_signatures(
    verifier: &Verifier,
    pinned: &ImageRef,
    layers: FetchedLayers,
    bundles: Vec<BundleCandidate>,
    annotations: &BTreeMap<String, Value>,
) -> Result<Verification> {
    let candidates = layers
        .into_iter()
        .map(|(layer, payload)| SignatureCandidate { layer, payload })
        .collect();
    Ok(verify_signatures(
        verifier,
        pinned,
        candidates,
        bundles,
        annotations,
    )?)
}

/// Where an image's attachments are, as a source that indexes them (the store's attachment
/// index) already knows: [`verify_located`] then reads them by digest instead of resolving
/// the image, its `.sig`/`.att` tags and its referrers again, and checks them as
/// [`verify_image`] does. The caller must find exactly what those lookups would: the manifest
/// each attachment tag ([`attachment_ref`] of `pinned`) points at, and the referrers' list.
#[derive(Debug, Clone)]
pub struct Located {
    /// The image, by digest.
    pub pinned: ImageRef,
    /// The `.sig` image's reference by digest, if the image has one.
    pub signatures: Option<ImageRef>,
    /// The `.att` image's reference by digest, if the image has one.
    pub attestations: Option<ImageRef>,
    /// The OCI 1.1 referrers of the image, by digest.
    pub referrers: Vec<sigmirror_oci::Digest>,
}

/// [`verify_image`] of an image whose attachments are [`Located`].
pub async fn verify_located<S: Source>(
    source: &S,
    verifier: &Verifier,
    located: &Located,
    annotations: &BTreeMap<String, Value>,
) -> Result<Verification> {
    let (layers, bundles) = fetch_located(source, located, true).await?;
    check_signatures(verifier, &located.pinned, layers, bundles, annotations)
}

/// [`verify_image_attestations`] of an image whose attachments are [`Located`].
pub async fn verify_located_attestations<S: Source>(
    source: &S,
    verifier: &Verifier,
    located: &Located,
    predicate_type: Option<&str>,
) -> Result<Vec<VerifiedAttestation>> {
    let (layers, bundles) = fetch_located(source, located, false).await?;
    check_attestations(verifier, &located.pinned, layers, bundles, predicate_type)
}

/// The layers of the located `.sig` image (or with `signatures` false, the `.att` image) and
/// the bundles of that kind among the referrers.
async fn fetch_located<S: Source>(
    source: &S,
    located: &Located,
    signatures: bool,
) -> Result<(FetchedLayers, Vec<BundleCandidate>)> {
    let attached = match signatures {
        true => &located.signatures,
        false => &located.attestations,
    };
    let layers = match attached {
        Some(reference) => fetch_attachment_layers(source, reference).await?,
        None => vec![],
    };
    let referrers = bundle_referrers_among(source, &located.pinned, &located.referrers).await?;
    let bundles = bundles_of(source, &located.pinned, referrers, signatures).await;
    Ok((layers, bundles))
}

/// Verifies a signature given apart from the registry (cosign's `verify --signature`) over
/// `payload`, or when none is given over the simple-signing payload cosign makes for the digest
/// `image` resolves to; the payload must name that digest and carry `annotations`, as for
/// [`verify_image`]. `signature_b64` is the base64 signature.
pub async fn verify_detached<S: Source>(
    source: &S,
    verifier: &Verifier,
    image: &ImageRef,
    payload: Option<Vec<u8>>,
    signature_b64: &str,
    annotations: &BTreeMap<String, Value>,
) -> Result<Verification> {
    let digest = resolve(source, image).await?.digest;
    let pinned = image.with_digest(&digest);
    let payload = payload.unwrap_or_else(|| {
        sigmirror_cosign::payload::simple_signing(&image.repo_name(), &digest, &BTreeMap::new())
    });
    let mut signature = BTreeMap::new();
    signature.insert(SIGNATURE_ANNOTATION.to_owned(), signature_b64.to_owned());
    let layer = Layer::new(media_types::SIMPLE_SIGNING, payload.clone(), signature);
    let candidate = SignatureCandidate {
        layer: layer.descriptor,
        payload: Ok(payload),
    };
    Ok(verify_signatures(
        verifier,
        &pinned,
        vec![candidate],
        vec![],
        annotations,
    )?)
}

/// Verifies the attestations of `image` with `verifier`, keeping those of `predicate_type` if given.
pub async fn verify_image_attestations<S: Source>(
    source: &S,
    verifier: &Verifier,
    image: &ImageRef,
    predicate_type: Option<&str>,
) -> Result<(ImageRef, Vec<VerifiedAttestation>)> {
    let (pinned, layers) = fetch_attached(source, image, AttachmentKind::Attestation).await?;
    let bundles = fetch_bundles(source, &pinned, false).await?;
    let verified = check_attestations(verifier, &pinned, layers, bundles, predicate_type)?;
    Ok((pinned, verified))
}

/// The attestation checks of every `verify-attestation`: each `.att` layer and each bundle.
fn check_attestations(
    verifier: &Verifier,
    pinned: &ImageRef,
    layers: FetchedLayers,
    bundles: Vec<BundleCandidate>,
    predicate_type: Option<&str>,
) -> Result<Vec<VerifiedAttestation>> {
    let candidates = layers
        .into_iter()
        .map(|(layer, envelope)| AttestationCandidate { layer, envelope })
        .collect();
    Ok(verify_attestations(
        verifier,
        pinned,
        candidates,
        bundles,
        predicate_type,
    )?)
}
