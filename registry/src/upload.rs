//! `attach signature`, `upload blob`, `upload wasm` and `clean`: writing and removing things
//! attached to images.

use std::collections::BTreeMap;

use sigmirror_cosign::conventions::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, SIGNATURE_ANNOTATION,
    TIMESTAMP_ANNOTATION, attachment_ref, docker_media_types,
};
use sigmirror_cosign::payload::simple_signing;
use sigmirror_cosign::signature_image::{Layer, SignatureImage};
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::manifest::{Descriptor, ImageIndex, Platform};
use sigmirror_oci::{Digest, ImageRef, media_types};

use crate::client::Registry;
use crate::error::{Error, Result};
use crate::sign::{append_layer, write_image};

/// What is attached beside a signature made elsewhere (keyless evidence), each used verbatim
/// as its annotation.
#[derive(Debug, Clone, Default)]
pub struct SignatureEvidence {
    /// The signing certificate, PEM.
    pub certificate: Option<String>,
    /// Its chain, PEM (cosign writes the annotation, maybe empty, whenever a certificate is).
    pub chain: Option<String>,
    /// The Rekor bundle JSON.
    pub rekor_bundle: Option<String>,
    /// The RFC 3161 timestamp JSON.
    pub timestamp: Option<String>,
}

impl SignatureEvidence {
    /// Adds the evidence given to a layer's annotations.
    pub fn annotate(&self, annotations: &mut BTreeMap<String, String>) {
        if let Some(cert) = &self.certificate {
            annotations.insert(CERTIFICATE_ANNOTATION.to_owned(), cert.clone());
            annotations.insert(
                CHAIN_ANNOTATION.to_owned(),
                self.chain.clone().unwrap_or_default(),
            );
        }
        if let Some(bundle) = &self.rekor_bundle {
            annotations.insert(BUNDLE_ANNOTATION.to_owned(), bundle.clone());
        }
        if let Some(timestamp) = &self.timestamp {
            annotations.insert(TIMESTAMP_ANNOTATION.to_owned(), timestamp.clone());
        }
    }
}

/// Appends a signature made elsewhere to the image's `.sig` (no de-duplication, as cosign).
/// `signature` is used verbatim as the annotation value. Returns the `.sig` reference.
pub async fn attach_signature(
    registry: &Registry,
    image: &ImageRef,
    payload: Option<Vec<u8>>,
    signature: &str,
    evidence: &SignatureEvidence,
) -> Result<ImageRef> {
    let digest = registry.resolve(image).await?.digest;
    let payload =
        payload.unwrap_or_else(|| simple_signing(&image.repo_name(), &digest, &BTreeMap::new()));
    let mut annotations = BTreeMap::new();
    annotations.insert(SIGNATURE_ANNOTATION.to_owned(), signature.to_owned());
    evidence.annotate(&mut annotations);
    let layer = Layer::new(media_types::SIMPLE_SIGNING, payload, annotations);
    let target = attachment_ref(image, &digest, AttachmentKind::Signature)?;
    append_layer(registry, &target, layer, &|_| false).await?;
    Ok(target)
}

/// A file for `upload blob`: its bytes, media type and optional `os/arch` platform.
#[derive(Debug, Clone)]
pub struct UploadFile {
    /// File contents.
    pub bytes: Vec<u8>,
    /// Layer media type.
    pub media_type: String,
    /// `os/arch[/variant]`, for multi-platform uploads.
    pub platform: Option<String>,
}

/// Uploads files as an image (one file) or an index of single-file images (files with
/// platforms), tagged at `target`. Returns the digest of what was tagged.
pub async fn upload_blob(
    registry: &Registry,
    target: &ImageRef,
    files: &[UploadFile],
    annotations: &BTreeMap<String, String>,
) -> Result<Digest> {
    let single = |file: &UploadFile| {
        let mut image = SignatureImage::empty(docker_media_types());
        image.manifest_annotations = annotations.clone();
        image.append(Layer::new(
            &file.media_type,
            file.bytes.clone(),
            BTreeMap::new(),
        ));
        image
    };
    match files {
        [] => Err(Error::InvalidUpload {
            reason: "no files".into(),
        }),
        [file] if file.platform.is_none() => {
            let image = single(file);
            write_image(registry, target, &image).await?;
            Ok(Digest::sha256_of(&image.render().manifest))
        }
        files => {
            let mut entries = vec![];
            for file in files {
                let platform = file
                    .platform
                    .as_deref()
                    .ok_or_else(|| Error::InvalidUpload {
                        reason: "with several files, each needs a platform (FILE:os/arch)".into(),
                    })?;
                let image = single(file);
                let rendered = image.render();
                let digest = Digest::sha256_of(&rendered.manifest);
                write_image(registry, &target.with_digest(&digest), &image).await?;
                let mut parts = platform.splitn(3, '/');
                let os = parts.next().unwrap_or_default().to_owned();
                let architecture = parts.next().unwrap_or_default().to_owned();
                let mut descriptor =
                    Descriptor::for_bytes(&rendered.manifest_media_type, &rendered.manifest);
                descriptor.platform = Some(Platform {
                    architecture,
                    os,
                    variant: parts.next().map(str::to_owned),
                    ..Platform::default()
                });
                entries.push(descriptor);
            }
            let mut index = ImageIndex::new();
            index.manifests = entries;
            index.annotations = Some(annotations.clone()).filter(|a| !a.is_empty());
            let bytes = index.to_bytes();
            registry
                .put_manifest(target, bytes.clone().into(), media_types::OCI_INDEX)
                .await?;
            Ok(Digest::sha256_of(&bytes))
        }
    }
}

/// Uploads a WebAssembly module as cosign 2.x's `upload wasm` does: the image config of a
/// one-layer image under the wasm config media type (cosign 3 writes an empty config instead).
/// Returns the manifest digest.
pub async fn upload_wasm(
    registry: &Registry,
    target: &ImageRef,
    module: Vec<u8>,
) -> Result<Digest> {
    let mut image = SignatureImage::empty(false);
    image.set_config_media_type(media_types::WASM_CONFIG);
    image.append(Layer::new(media_types::WASM_LAYER, module, BTreeMap::new()));
    write_image(registry, target, &image).await?;
    Ok(Digest::sha256_of(&image.render().manifest))
}

/// The media type Go's `http.DetectContentType` reports for common files (before any `;`).
pub fn detect_content_type(bytes: &[u8]) -> &'static str {
    let head = &bytes[..bytes.len().min(512)];
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"\x1f\x8b\x08") {
        "application/x-gzip"
    } else if starts(b"PK\x03\x04") {
        "application/zip"
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if starts(b"%PDF-") {
        "application/pdf"
    } else if starts(b"\0asm") {
        "application/wasm"
    } else if starts(b"\xff\xd8\xff") {
        "image/jpeg"
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        "image/gif"
    } else if head.len() > 262 && &head[257..262] == b"ustar" {
        "application/x-tar"
    } else if !head
        .iter()
        .any(|&b| matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F))
    {
        // Go's rule: no "binary" control bytes means text.
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

/// Deletes the attachment images of `kinds` from the digest `image` resolves to, and cosign 3's
/// bundle referrers of those kinds (signatures, attestations) with their fallback index entries,
/// as cosign 3's `clean` does. Returns the references removed (missing ones are skipped).
pub async fn clean(
    registry: &Registry,
    image: &ImageRef,
    kinds: &[AttachmentKind],
) -> Result<Vec<ImageRef>> {
    let digest = registry.resolve(image).await?.digest;
    let mut removed = vec![];
    for kind in kinds {
        let reference = attachment_ref(image, &digest, *kind)?;
        let Some(manifest) = registry.get_manifest(&reference).await? else {
            continue;
        };
        registry
            .delete_manifest(&reference, &manifest.digest)
            .await?;
        removed.push(reference);
    }
    // cosign 3's bundles of the same kinds, from the referrers (and their fallback index).
    let pinned = image.with_digest(&digest);
    let bundles: Vec<Digest> = crate::referrers::bundle_referrers(registry, &pinned)
        .await?
        .into_iter()
        .filter(|b| {
            kinds.contains(if b.signature {
                &AttachmentKind::Signature
            } else {
                &AttachmentKind::Attestation
            })
        })
        .map(|b| b.digest)
        .collect();
    if !bundles.is_empty() {
        crate::referrers::remove_referrers(registry, &pinned, &digest, &bundles).await?;
        removed.extend(bundles.iter().map(|d| pinned.with_digest(d)));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::detect_content_type;

    #[test]
    fn content_types_like_go() {
        assert_eq!(detect_content_type(b"hello world\n"), "text/plain");
        assert_eq!(
            detect_content_type(b"\x1f\x8b\x08\0\0"),
            "application/x-gzip"
        );
        assert_eq!(
            detect_content_type(&[0u8, 1, 2, 3, 200]),
            "application/octet-stream"
        );
    }
}
