//! Signing images: the simple-signing payload for each digest, signed through any [`Signer`],
//! appended to the `.sig` image with cosign's de-duplication rule; or, in cosign 3's format, a
//! Sigstore bundle pushed as an OCI 1.1 referrer.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use sigmirror_cosign::b64;
use sigmirror_cosign::bundle_image::{self, SIGN_PREDICATE_TYPE};
use sigmirror_cosign::conventions::{
    OCI11_SIGNATURE_ARTIFACT_TYPE, SIGNATURE_ANNOTATION, attachment_ref, docker_media_types,
};
use sigmirror_cosign::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use sigmirror_cosign::keys::PublicKey;
use sigmirror_cosign::payload;
use sigmirror_cosign::signature_image::{Layer, MAX_CONFIG_SIZE, MAX_LAYERS, SignatureImage};
use sigmirror_cosign::signer::Signer;
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::manifest::{Descriptor, ImageManifest, Manifest};
use sigmirror_oci::{Digest, ImageRef, media_types};

use crate::client::Registry;
use crate::error::{Error, Result};

/// What to sign.
#[derive(Debug, Clone)]
pub struct SignRequest {
    /// The image, by tag or digest; a tag is resolved once and the digest is signed.
    pub image: ImageRef,
    /// `-a key=value` annotations for the payload's optional map.
    pub annotations: BTreeMap<String, Value>,
    /// Also sign every platform manifest of an index.
    pub recursive: bool,
    /// `--sign-container-identity`: put this in `docker-reference` instead of the repository.
    pub identity: Option<String>,
    /// cosign's `--payload`: sign these bytes as they are instead of the simple-signing payload
    /// made for each digest.
    pub payload: Option<Vec<u8>>,
    /// cosign's `--upload`: store the signature at the `.sig` tag. Without it the signature is
    /// only made (for `--output-signature`).
    pub upload: bool,
    /// cosign 2's `--registry-referrers-mode=oci-1-1`: store the signature as an OCI 1.1
    /// referrer of the digest (a signature image whose config media type is
    /// [`OCI11_SIGNATURE_ARTIFACT_TYPE`], with a `subject`) instead of at the `.sig` tag.
    pub oci11: bool,
}

impl SignRequest {
    /// A request to sign `image` as cosign does by default: its own payload, uploaded.
    pub fn new(image: ImageRef) -> SignRequest {
        SignRequest {
            image,
            annotations: BTreeMap::new(),
            recursive: false,
            identity: None,
            payload: None,
            upload: true,
            oci11: false,
        }
    }
}

/// One signed digest.
#[derive(Debug, Clone)]
pub struct Signed {
    /// `repo@digest` that was signed.
    pub image: ImageRef,
    /// Where the signature was stored (the `.sig` tag).
    pub signature_ref: ImageRef,
    /// The signature was already there (cosign's de-duplication), nothing was pushed.
    pub already_present: bool,
    /// The bytes signed: the simple-signing payload, or for a bundle the in-toto statement.
    pub payload: Vec<u8>,
    /// The signature (raw: DER for ECDSA).
    pub signature: Vec<u8>,
}

/// Signs the digest `request.image` resolves to (and, with `recursive`, each platform manifest
/// of an index). Signing happens on a blocking thread: plugin calls may block.
///
/// A digest the registry does not hold (yet) is signed as it is, as cosign 2.1 and later do:
/// the payload names only the digest, so the image need not exist to be signed. A tag must
/// resolve, and `recursive` needs the index.
pub async fn sign_image(
    registry: &Registry,
    signer: Arc<dyn Signer>,
    request: &SignRequest,
) -> Result<Vec<Signed>> {
    // Each digest to sign, with its descriptor when the registry holds it (the subject of an
    // OCI 1.1 signature).
    let digests: Vec<(Digest, Option<Descriptor>)> = match (
        registry.get_manifest(&request.image).await?,
        request.image.digest(),
    ) {
        (Some(manifest), _) => {
            let mut digests = vec![(
                manifest.digest.clone(),
                Some(Descriptor::for_bytes(&manifest.media_type, &manifest.bytes)),
            )];
            if request.recursive && manifest.is_index() {
                let view = manifest.view(&request.image.to_string())?;
                digests.extend(
                    view.manifests
                        .iter()
                        .map(|d| (d.digest.clone(), Some(bare_descriptor(d)))),
                );
            }
            digests
        }
        (None, Some(digest)) if !request.recursive && !request.oci11 => {
            vec![(digest.clone(), None)]
        }
        (None, _) => {
            return Err(Error::NotFound {
                reference: request.image.to_string(),
            });
        }
    };
    let public = {
        let signer = signer.clone();
        run_blocking(move || signer.public_key()).await?
    };
    let mut signed = vec![];
    for (digest, subject) in digests {
        let image = request.image.with_digest(&digest);
        let identity = request
            .identity
            .clone()
            .unwrap_or_else(|| image.repo_name());
        let payload = match &request.payload {
            Some(given) => given.clone(),
            None => payload::simple_signing(&identity, &digest, &request.annotations),
        };
        let signature = {
            let signer = signer.clone();
            let message = payload.clone();
            run_blocking(move || signer.sign_message(&message)).await?
        };
        let mut annotations = BTreeMap::new();
        annotations.insert(SIGNATURE_ANNOTATION.to_owned(), b64::encode(&signature));
        let layer = Layer::new(media_types::SIMPLE_SIGNING, payload.clone(), annotations);
        let signature_ref = attachment_ref(&image, &digest, AttachmentKind::Signature)?;
        let is_duplicate = |old: &Layer| is_duplicate_signature(old, &layer, &payload, &public);
        let (signature_ref, appended) = match subject {
            Some(subject) if request.upload && request.oci11 => (
                push_oci11_signature(registry, &image, subject, layer).await?,
                true,
            ),
            _ => {
                let appended = request.upload
                    && append_layer(registry, &signature_ref, layer.clone(), &is_duplicate).await?;
                (signature_ref, appended)
            }
        };
        signed.push(Signed {
            image,
            signature_ref,
            already_present: request.upload && !appended,
            payload,
            signature,
        });
    }
    Ok(signed)
}

/// cosign's rule (`dedupeAndReplace`): an existing layer duplicates the new one if it has the
/// same digest and media type, carries every non-signature annotation of the new layer with
/// the same value, and its signature verifies over the new payload with the signer's key.
fn is_duplicate_signature(old: &Layer, new: &Layer, payload: &[u8], key: &PublicKey) -> bool {
    let (o, n) = (&old.descriptor, &new.descriptor);
    if o.digest != n.digest || o.media_type != n.media_type {
        return false;
    }
    let same_annotations = n
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != SIGNATURE_ANNOTATION)
        .all(|(k, v)| o.annotation(k) == Some(v.as_str()));
    let old_sig = match o.annotation(SIGNATURE_ANNOTATION) {
        Some(s) if !s.is_empty() => s,
        _ => return false,
    };
    same_annotations
        && b64::decode_lenient(old_sig.as_bytes())
            .is_ok_and(|sig| key.verify_message(payload, &sig).is_ok())
}

/// Read → de-duplicate → append → write the image at `target` (a `.sig` or `.att` tag).
/// Returns false if an existing layer was a duplicate (nothing written). New blobs are uploaded
/// before the manifest, so a failure leaves the previous manifest as it was.
pub async fn append_layer(
    registry: &Registry,
    target: &ImageRef,
    layer: Layer,
    is_duplicate: &(dyn Fn(&Layer) -> bool + Sync),
) -> Result<bool> {
    let mut image = match registry.get_manifest(target).await? {
        Some(existing) => {
            let manifest = ImageManifest::parse(&existing.bytes, &target.to_string())?;
            let config = registry
                .get_blob(target, &manifest.config.digest, MAX_CONFIG_SIZE)
                .await?;
            SignatureImage::from_existing(&manifest, &config)?
        }
        None => SignatureImage::empty(docker_media_types()),
    };
    if image.layers.iter().any(is_duplicate) {
        return Ok(false);
    }
    if image.layers.len() >= MAX_LAYERS {
        return Err(Error::TooManyLayers {
            reference: target.to_string(),
            layers: image.layers.len(),
        });
    }
    image.append(layer);
    write_image(registry, target, &image).await?;
    Ok(true)
}

/// An index entry as a subject: media type, digest and size only, as a `HEAD` gives it.
fn bare_descriptor(entry: &Descriptor) -> Descriptor {
    Descriptor {
        annotations: None,
        platform: None,
        ..entry.clone()
    }
}

/// Pushes one signature layer as cosign 2's OCI 1.1 signature of `image` (a digest reference):
/// the signature image with its config media type set to [`OCI11_SIGNATURE_ARTIFACT_TYPE`] and
/// `subject`, by digest, indexed at the subject's fallback tag where the registry has no
/// referrers API. Returns the referrer's digest reference.
async fn push_oci11_signature(
    registry: &Registry,
    image: &ImageRef,
    subject: Descriptor,
    layer: Layer,
) -> Result<ImageRef> {
    let mut signature = SignatureImage::empty(docker_media_types());
    signature.append(layer);
    let rendered = signature.render();
    let mut manifest = ImageManifest::parse(&rendered.manifest, "signature manifest")?;
    manifest.config.media_type = OCI11_SIGNATURE_ARTIFACT_TYPE.to_owned();
    manifest.subject = Some(subject);
    for layer in &signature.layers {
        if let Some(bytes) = &layer.bytes {
            registry.put_blob(image, Bytes::from(bytes.clone())).await?;
        }
    }
    registry
        .put_blob(image, Bytes::from(rendered.config))
        .await?;
    let manifest = Manifest::from_bytes(manifest.to_bytes(), Some(&rendered.manifest_media_type));
    let target = image.with_digest(&manifest.digest);
    sigmirror_oci::source::Sink::put_manifest(registry, &target, &manifest).await?;
    Ok(target)
}

/// Uploads an image's new layer blobs and config, then its manifest at `target`.
pub async fn write_image(
    registry: &Registry,
    target: &ImageRef,
    image: &SignatureImage,
) -> Result<()> {
    let rendered = image.render();
    for layer in &image.layers {
        if let Some(bytes) = &layer.bytes {
            registry
                .put_blob(target, Bytes::from(bytes.clone()))
                .await?;
        }
    }
    registry
        .put_blob(target, Bytes::from(rendered.config))
        .await?;
    registry
        .put_manifest(
            target,
            Bytes::from(rendered.manifest),
            &rendered.manifest_media_type,
        )
        .await
}

/// Runs blocking work (plugin calls) off the async worker threads.
pub async fn run_blocking<T: Send + 'static, E: Into<Error> + Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, E> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|source| Error::Task {
            what: "signing",
            source,
        })?
        .map_err(Into::into)
}

/// Signs the digest `request.image` resolves to (and, with `recursive`, each platform manifest
/// of an index) in cosign 3's format: a key-signed Sigstore bundle of the `cosign/sign/v1`
/// statement, pushed as an OCI 1.1 referrer of the image (with the fallback tag index where the
/// registry has no referrers API). Annotations and another identity have no place in it.
pub async fn sign_image_bundle(
    registry: &Registry,
    signer: Arc<dyn Signer>,
    request: &SignRequest,
) -> Result<Vec<Signed>> {
    let manifest = registry.resolve(&request.image).await?;
    let mut subjects = vec![Descriptor::for_bytes(&manifest.media_type, &manifest.bytes)];
    if request.recursive && manifest.is_index() {
        let view = manifest.view(&request.image.to_string())?;
        subjects.extend(view.manifests.iter().map(bare_descriptor));
    }
    let public = {
        let signer = signer.clone();
        run_blocking(move || signer.public_key()).await?
    };
    let mut signed = vec![];
    for subject in subjects {
        let image = request.image.with_digest(&subject.digest);
        let statement = bundle_image::sign_statement(&subject.digest);
        let envelope = {
            let signer = signer.clone();
            run_blocking(move || Envelope::sign(&*signer, IN_TOTO_PAYLOAD_TYPE, statement)).await?
        };
        let bundle = bundle_image::dsse_bundle(&envelope, &public);
        let referrer = push_bundle(registry, &image, subject, bundle, SIGN_PREDICATE_TYPE).await?;
        signed.push(Signed {
            image,
            signature_ref: referrer,
            already_present: false,
            signature: envelope
                .signatures
                .first()
                .map(|s| s.sig.clone())
                .unwrap_or_default(),
            payload: envelope.payload,
        });
    }
    Ok(signed)
}

/// Pushes `bundle` as a referrer of `subject` (in `image`'s repository): the empty config, the
/// bundle, then the manifest, which also lands in the fallback tag index where needed.
/// Returns the referrer's digest reference.
pub async fn push_bundle(
    registry: &Registry,
    image: &ImageRef,
    subject: Descriptor,
    bundle: Vec<u8>,
    predicate_type: &str,
) -> Result<ImageRef> {
    let created = sigmirror_oci::timefmt::now_rfc3339();
    let manifest = bundle_image::referrer_manifest(subject, &bundle, predicate_type, &created);
    registry
        .put_blob(image, Bytes::from_static(bundle_image::EMPTY_CONFIG))
        .await?;
    registry.put_blob(image, Bytes::from(bundle)).await?;
    let manifest = Manifest::from_bytes(manifest.to_bytes(), Some(media_types::OCI_MANIFEST));
    let target = image.with_digest(&manifest.digest);
    sigmirror_oci::source::Sink::put_manifest(registry, &target, &manifest).await?;
    Ok(target)
}
