//! The OCI 1.1 referrers fallback: a registry without the referrers API cannot list what refers
//! to a manifest, so whoever pushes a manifest with a `subject` also keeps an index of those
//! referrers at the subject's `sha256-<hex>` tag (image-spec 1.1, "referrers tag schema"). cosign
//! 3 reads it to find its bundles; so do `verify`, `tree` and the transfer engine here.

use sigmirror_cosign::bundle_image::bundle_layer;
use sigmirror_oci::manifest::{Descriptor, ImageIndex, ImageManifest, Manifest, ManifestView};
use sigmirror_oci::source::Source;
use sigmirror_oci::{Digest, ImageRef, media_types};

use crate::client::Registry;
use crate::error::Result;

/// The index entry for a referrer manifest: media type, digest and size, its artifact type (or
/// else its config's media type) and its annotations, as the spec asks.
fn entry(manifest: &Manifest, view: &ManifestView) -> Descriptor {
    let mut descriptor = Descriptor::for_bytes(&manifest.media_type, &manifest.bytes);
    descriptor.digest = manifest.digest.clone();
    descriptor.artifact_type = view
        .artifact_type
        .clone()
        .or_else(|| view.config.as_ref().map(|c| c.media_type.clone()));
    descriptor.annotations = (!view.annotations.is_empty()).then(|| view.annotations.clone());
    descriptor
}

/// After `manifest` was pushed to `target`'s repository: if it has a subject and the registry
/// does not list it as a referrer (no referrers API), adds it to the subject's fallback tag
/// index. Read, modify, write, like every client of the tag schema: within this process the
/// updates take turns; another process writing the same index at the same moment can still
/// lose an entry, which a later push of that referrer restores.
pub async fn index_referrer(
    registry: &Registry,
    target: &ImageRef,
    manifest: &Manifest,
) -> Result<()> {
    let Ok(view) = ManifestView::parse(&manifest.bytes, Some(&manifest.media_type), "referrer")
    else {
        return Ok(());
    };
    let Some(subject) = &view.subject else {
        return Ok(());
    };
    let subject_ref = target.with_digest(&subject.digest);
    let _turn = registry.referrer_index.lock().await;
    if registry
        .referrers(&subject_ref)
        .await?
        .contains(&manifest.digest)
    {
        return Ok(());
    }
    let tag = target.with_tag(&subject.digest.tag_form());
    let mut index = match registry.get_manifest(&tag).await? {
        Some(found) => ImageIndex::parse(&found.bytes, &tag.to_string()).unwrap_or_default(),
        None => ImageIndex::new(),
    };
    index.media_type = media_types::OCI_INDEX.to_owned();
    index.manifests.retain(|d| d.digest != manifest.digest);
    index.manifests.push(entry(manifest, &view));
    registry
        .put_manifest(&tag, index.to_bytes().into(), media_types::OCI_INDEX)
        .await
}

/// A cosign 3 bundle referrer of an image.
#[derive(Debug, Clone)]
pub struct BundleReferrer {
    /// The referrer manifest's digest.
    pub digest: Digest,
    /// Its bundle layer.
    pub layer: Descriptor,
    /// Whether it claims to be a signature (else an attestation); checked when verified.
    pub signature: bool,
}

/// The Sigstore bundle referrers of `pinned` (a digest reference) in any source; referrers that
/// are not bundles are left out.
pub async fn bundle_referrers<S: Source>(
    source: &S,
    pinned: &ImageRef,
) -> Result<Vec<BundleReferrer>> {
    let listed = source.referrers(pinned).await?;
    bundle_referrers_among(source, pinned, &listed).await
}

/// The Sigstore bundles among the referrers `listed` of `pinned`, read from `source`: what
/// [`bundle_referrers`] does once the referrers are known.
pub async fn bundle_referrers_among<S: Source>(
    source: &S,
    pinned: &ImageRef,
    listed: &[Digest],
) -> Result<Vec<BundleReferrer>> {
    let mut found = vec![];
    for digest in listed.iter().cloned() {
        let reference = pinned.with_digest(&digest);
        let Some(manifest) = source.get_manifest(&reference).await? else {
            continue;
        };
        let Ok(manifest) = ImageManifest::parse(&manifest.bytes, &reference.to_string()) else {
            continue;
        };
        if let Some((layer, signature)) = bundle_layer(&manifest) {
            found.push(BundleReferrer {
                digest,
                layer: layer.clone(),
                signature,
            });
        }
    }
    Ok(found)
}

/// Deletes the referrers `removed` of `subject` (in `repo`) and takes them out of its fallback
/// tag index, deleting the index once it lists nothing.
pub async fn remove_referrers(
    registry: &Registry,
    repo: &ImageRef,
    subject: &Digest,
    removed: &[Digest],
) -> Result<()> {
    for digest in removed {
        registry.delete_manifest(repo, digest).await?;
    }
    let _turn = registry.referrer_index.lock().await;
    let tag = repo.with_tag(&subject.tag_form());
    let Some(found) = registry.get_manifest(&tag).await? else {
        return Ok(());
    };
    let Ok(mut index) = ImageIndex::parse(&found.bytes, &tag.to_string()) else {
        return Ok(());
    };
    let before = index.manifests.len();
    index.manifests.retain(|d| !removed.contains(&d.digest));
    if index.manifests.len() == before {
        return Ok(());
    }
    if index.manifests.is_empty() {
        registry.delete_manifest(repo, &found.digest).await
    } else {
        registry
            .put_manifest(&tag, index.to_bytes().into(), media_types::OCI_INDEX)
            .await
    }
}
