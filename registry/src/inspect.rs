//! Reading what is attached to an image: for `tree`, `download signature` and `triangulate`.

use sigmirror_cosign::bundle_image::PREDICATE_TYPE_ANNOTATION;
use sigmirror_cosign::conventions::{attachment_ref, max_attachment_size};
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::manifest::{Descriptor, ImageManifest};
use sigmirror_oci::source::{Source, resolve};
use sigmirror_oci::{Digest, ImageRef};

use crate::error::{Error, Result};

/// One attachment image that exists (a `.sig`, `.att` or `.sbom` tag, or an OCI 1.1 referrer).
#[derive(Debug, Clone)]
pub struct AttachedImage {
    /// Which kind.
    pub kind: AttachmentKind,
    /// Its tag reference (a digest reference for a referrer).
    pub reference: ImageRef,
    /// Its layers.
    pub layers: Vec<Descriptor>,
    /// For a referrer, what it is as cosign 3 names it: a Sigstore bundle's predicate type,
    /// else the artifact type.
    pub artifact: Option<String>,
}

/// The digest `image` resolves to.
pub async fn resolve_digest<S: Source>(source: &S, image: &ImageRef) -> Result<Digest> {
    Ok(resolve(source, image).await?.digest)
}

/// The image of `platform` (`os/arch[/variant]`) in the index `image` names, by digest.
pub async fn platform_image<S: Source>(
    source: &S,
    image: &ImageRef,
    platform: &str,
) -> Result<ImageRef> {
    let manifest = resolve(source, image).await?;
    if !manifest.is_index() {
        return Err(Error::NotAnIndex {
            image: image.to_string(),
            platform: platform.to_owned(),
        });
    }
    let view = manifest.view(&image.to_string())?;
    match view.platform_entry(platform) {
        Some(entry) => Ok(image.with_digest(&entry.digest)),
        None => Err(Error::NoSuchPlatform {
            image: image.to_string(),
            platform: platform.to_owned(),
            known: view
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
                .collect(),
        }),
    }
}

/// Every attachment image of the digest `image` resolves to, in the order signatures,
/// attestations, SBOMs, then its OCI 1.1 referrers (cosign 3's bundles among them); kinds with
/// no tag are left out.
pub async fn attachments<S: Source>(source: &S, image: &ImageRef) -> Result<Vec<AttachedImage>> {
    let digest = resolve_digest(source, image).await?;
    let mut found = vec![];
    for kind in AttachmentKind::TAGGED {
        let reference = attachment_ref(image, &digest, kind)?;
        if let Some(manifest) = source.get_manifest(&reference).await? {
            let parsed = ImageManifest::parse(&manifest.bytes, &reference.to_string())?;
            found.push(AttachedImage {
                kind,
                reference,
                layers: parsed.layers,
                artifact: None,
            });
        }
    }
    let pinned = image.with_digest(&digest);
    for referrer in source.referrers(&pinned).await? {
        let reference = pinned.with_digest(&referrer);
        let Some(manifest) = source.get_manifest(&reference).await? else {
            continue;
        };
        let Ok(parsed) = ImageManifest::parse(&manifest.bytes, &reference.to_string()) else {
            continue;
        };
        let artifact = parsed
            .annotations
            .as_ref()
            .and_then(|a| a.get(PREDICATE_TYPE_ANNOTATION).cloned())
            .or_else(|| parsed.artifact_type.clone())
            .or_else(|| parsed.config.artifact_type.clone());
        found.push(AttachedImage {
            kind: AttachmentKind::Referrer,
            reference,
            layers: parsed.layers,
            artifact,
        });
    }
    Ok(found)
}

/// The layers of one kind of attachment with their payload bytes (at most `limit` layers).
pub async fn attached_payloads<S: Source>(
    source: &S,
    image: &ImageRef,
    kind: AttachmentKind,
    limit: usize,
) -> Result<Vec<(Descriptor, Vec<u8>)>> {
    let digest = resolve_digest(source, image).await?;
    let reference = attachment_ref(image, &digest, kind)?;
    let Some(manifest) = source.get_manifest(&reference).await? else {
        return Ok(vec![]);
    };
    let parsed = ImageManifest::parse(&manifest.bytes, &reference.to_string())?;
    let mut out = vec![];
    for layer in parsed.layers.into_iter().take(limit) {
        let bytes = source
            .get_blob(&reference, &layer.digest, max_attachment_size())
            .await?;
        out.push((layer, bytes));
    }
    Ok(out)
}
