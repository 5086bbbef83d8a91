//! cosign's conventions for what it attaches to images: the `sha256-<hex>.sig/.att/.sbom` tags,
//! `COSIGN_REPOSITORY`, the payload and signature-image formats, and the sign/verify flows.

pub mod image;
pub mod inspect;
pub mod payload;
pub mod sign;
pub mod upload;
pub mod verify;

use crate::error::{Error, Result};
use crate::reference::ImageRef;

/// Annotation holding the base64 signature on each signature layer.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Annotation holding a certificate (keyless; read, never written by sigmirror).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Annotation holding a certificate chain.
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// Annotation holding a Rekor bundle.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// Environment variable naming another repository for signatures, as cosign reads it.
pub const COSIGN_REPOSITORY_ENV: &str = "COSIGN_REPOSITORY";
/// Environment variable selecting Docker media types for new signature images.
pub const DOCKER_MEDIA_TYPES_ENV: &str = "COSIGN_DOCKER_MEDIA_TYPES";

/// What is attached to an image, by tag suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// Signatures: `.sig`.
    Signature,
    /// Attestations: `.att`.
    Attestation,
    /// SBOMs: `.sbom`.
    Sbom,
}

impl Attachment {
    /// The tag suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Attachment::Signature => "sig",
            Attachment::Attestation => "att",
            Attachment::Sbom => "sbom",
        }
    }

    /// All three kinds.
    pub const ALL: [Attachment; 3] = [
        Attachment::Signature,
        Attachment::Attestation,
        Attachment::Sbom,
    ];
}

/// The tag cosign uses for `kind` attached to `digest`: `sha256-<hex>.<suffix>`.
pub fn attachment_tag(digest: &str, kind: Attachment) -> String {
    format!("{}.{}", digest.replacen(':', "-", 1), kind.suffix())
}

/// Where attachments of `image` live: `COSIGN_REPOSITORY` if set and non-empty, else the
/// image's own repository.
pub fn attachment_repository(image: &ImageRef) -> Result<ImageRef> {
    match std::env::var(COSIGN_REPOSITORY_ENV) {
        Ok(repo) if !repo.is_empty() => {
            let parsed = ImageRef::parse(&repo).map_err(|e| Error::InvalidReference {
                reference: repo.clone(),
                reason: format!("{COSIGN_REPOSITORY_ENV}: {e}"),
            })?;
            Ok(image.in_repository(&parsed))
        }
        _ => Ok(image.clone()),
    }
}

/// The reference of `kind` attached to `digest` of `image`.
pub fn attachment_ref(image: &ImageRef, digest: &str, kind: Attachment) -> Result<ImageRef> {
    Ok(attachment_repository(image)?.with_tag(&attachment_tag(digest, kind)))
}

/// Whether new signature images use Docker media types (`COSIGN_DOCKER_MEDIA_TYPES`, parsed like
/// Go's `strconv.ParseBool`).
pub fn docker_media_types() -> bool {
    matches!(
        std::env::var(DOCKER_MEDIA_TYPES_ENV).as_deref(),
        Ok("1" | "t" | "T" | "TRUE" | "true" | "True")
    )
}

/// The attachment size limit, `COSIGN_MAX_ATTACHMENT_SIZE` (bytes, or with a KiB/MiB/GiB or
/// KB/MB/GB suffix), default 128 MiB.
pub fn max_attachment_size() -> u64 {
    const DEFAULT: u64 = 128 << 20;
    let Ok(raw) = std::env::var("COSIGN_MAX_ATTACHMENT_SIZE") else {
        return DEFAULT;
    };
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (num, unit) = raw.split_at(split);
    let Ok(n) = num.parse::<u64>() else {
        return DEFAULT;
    };
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "ki" => 1 << 10,
        "mib" | "mi" => 1 << 20,
        "gib" | "gi" => 1 << 30,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        _ => return DEFAULT,
    };
    n.saturating_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        let d = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            attachment_tag(&d, Attachment::Signature),
            format!("sha256-{}.sig", "ab".repeat(32))
        );
        assert_eq!(
            attachment_tag(&d, Attachment::Sbom),
            format!("sha256-{}.sbom", "ab".repeat(32))
        );
    }
}
