//! cosign's conventions for what it attaches to images: the annotation keys of signature
//! layers, `COSIGN_REPOSITORY` (where attachments live), `COSIGN_DOCKER_MEDIA_TYPES` and
//! `COSIGN_MAX_ATTACHMENT_SIZE`. The tag grammar itself is `sigmirror_oci::attachment`.

use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::{Digest, ImageRef};

use crate::error::{Error, Result};

/// Annotation holding the base64 signature on each signature layer.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Annotation holding a certificate (keyless; read, never written by sigmirror).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Annotation holding a certificate chain.
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// Annotation holding a Rekor bundle.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// Annotation holding an RFC 3161 timestamp (`{"SignedRFC3161Timestamp":…}`).
pub const TIMESTAMP_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// The config media type (and so the artifact type) of a signature image pushed as an OCI 1.1
/// referrer by cosign 2's `sign --registry-referrers-mode=oci-1-1`, which `verify
/// --experimental-oci11` looks for.
pub const OCI11_SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// Environment variable naming another repository for signatures, as cosign reads it.
pub const COSIGN_REPOSITORY_ENV: &str = "COSIGN_REPOSITORY";
/// Environment variable selecting Docker media types for new signature images.
pub const DOCKER_MEDIA_TYPES_ENV: &str = "COSIGN_DOCKER_MEDIA_TYPES";

/// Where attachments of `image` live: `COSIGN_REPOSITORY` if set and non-empty, else the
/// image's own repository.
pub fn attachment_repository(image: &ImageRef) -> Result<ImageRef> {
    match std::env::var(COSIGN_REPOSITORY_ENV) {
        Ok(repo) if !repo.is_empty() => {
            let parsed = ImageRef::parse(&repo).map_err(|source| Error::Environment {
                variable: COSIGN_REPOSITORY_ENV,
                source,
            })?;
            Ok(image.in_repository(&parsed))
        }
        _ => Ok(image.clone()),
    }
}

/// The tag reference of `kind` attached to `digest` of `image` (in `COSIGN_REPOSITORY` if set).
/// Referrers have no tag: asking for one is a programming error.
pub fn attachment_ref(image: &ImageRef, digest: &Digest, kind: AttachmentKind) -> Result<ImageRef> {
    let tag = kind
        .tag_for(digest)
        .expect("attachment_ref is only asked for the tagged kinds");
    Ok(attachment_repository(image)?.with_tag(&tag))
}

/// Whether new signature images use Docker media types (`COSIGN_DOCKER_MEDIA_TYPES`, parsed like
/// Go's `strconv.ParseBool`).
pub fn docker_media_types() -> bool {
    env_flag(DOCKER_MEDIA_TYPES_ENV)
}

/// Whether cosign's experimental features are on (`COSIGN_EXPERIMENTAL`, parsed like Go's
/// `strconv.ParseBool`): cosign refuses `--registry-referrers-mode=oci-1-1` without it.
pub fn experimental() -> bool {
    env_flag("COSIGN_EXPERIMENTAL")
}

/// Whether the variable `name` is true as Go's `strconv.ParseBool` reads it.
fn env_flag(name: &str) -> bool {
    matches!(
        std::env::var(name).as_deref(),
        Ok("1" | "t" | "T" | "TRUE" | "true" | "True")
    )
}

/// The attachment size limit, `COSIGN_MAX_ATTACHMENT_SIZE` (bytes, or with a KiB/MiB/GiB or
/// KB/MB/GB suffix), default 128 MiB.
pub fn max_attachment_size() -> u64 {
    attachment_size(std::env::var("COSIGN_MAX_ATTACHMENT_SIZE").ok().as_deref())
}

/// [`max_attachment_size`] for a given value of the variable.
fn attachment_size(raw: Option<&str>) -> u64 {
    const DEFAULT: u64 = 128 << 20;
    let Some(raw) = raw.map(str::trim) else {
        return DEFAULT;
    };
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
    fn attachment_size_limits_read_like_cosign() {
        for (value, expected) in [
            (None, 128 << 20),
            (Some("1024"), 1024),
            (Some("2KiB"), 2048),
            (Some("3MB"), 3_000_000),
            (Some(" 1gi "), 1 << 30),
            (Some("nonsense"), 128 << 20),
            (Some("12parsecs"), 128 << 20),
        ] {
            assert_eq!(attachment_size(value), expected, "{value:?}");
        }
    }
}
