//! What can be attached to an image, and the one place that knows cosign's tag grammar for it:
//! `sha256-<hex>.sig`, `.att` and `.sbom` name the signatures, attestations and SBOM of the
//! manifest `sha256:<hex>` (FORMATS.md §2.2); OCI 1.1 referrers are attached by their
//! `subject` field instead, and have no tag.

use crate::digest::Digest;

/// How something is attached to a subject manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttachmentKind {
    /// Signatures: the `.sig` tag.
    Signature,
    /// Attestations: the `.att` tag.
    Attestation,
    /// An SBOM: the `.sbom` tag.
    Sbom,
    /// An OCI 1.1 referrer: a manifest whose `subject` is the digest.
    Referrer,
}

impl AttachmentKind {
    /// The kinds cosign attaches by tag, in the order cosign lists them.
    pub const TAGGED: [AttachmentKind; 3] = [
        AttachmentKind::Signature,
        AttachmentKind::Attestation,
        AttachmentKind::Sbom,
    ];

    /// Its short name: `sig`, `att`, `sbom` (the tag suffixes) or `referrer`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Signature => "sig",
            AttachmentKind::Attestation => "att",
            AttachmentKind::Sbom => "sbom",
            AttachmentKind::Referrer => "referrer",
        }
    }

    /// The kind of a short name (see [`AttachmentKind::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "sig" => AttachmentKind::Signature,
            "att" => AttachmentKind::Attestation,
            "sbom" => AttachmentKind::Sbom,
            "referrer" => AttachmentKind::Referrer,
            _ => return None,
        })
    }

    /// The tag suffix, for the kinds attached by tag.
    pub fn tag_suffix(self) -> Option<&'static str> {
        match self {
            AttachmentKind::Referrer => None,
            other => Some(other.as_str()),
        }
    }

    /// The tag cosign uses for this kind attached to `subject`: `sha256-<hex>.<suffix>`;
    /// `None` for referrers.
    pub fn tag_for(self, subject: &Digest) -> Option<String> {
        Some(format!("{}.{}", subject.tag_form(), self.tag_suffix()?))
    }

    /// The subject and kind an attachment tag names, if `tag` is one: the inverse of
    /// [`AttachmentKind::tag_for`]. A cosign `--attachment-tag-prefix` is not recognised.
    pub fn parse_tag(tag: &str) -> Option<(Digest, AttachmentKind)> {
        let (subject, suffix) = tag.rsplit_once('.')?;
        let kind = AttachmentKind::from_name(suffix).filter(|k| k.tag_suffix().is_some())?;
        let (algorithm, hex) = subject.split_once('-')?;
        let digest = Digest::parse(&format!("{algorithm}:{hex}")).ok()?;
        Some((digest, kind))
    }
}

/// Whether `tag` names something attached rather than an image: a cosign attachment tag
/// (`sha256-<hex>.sig`, `.att`, `.sbom`) or an OCI 1.1 referrers fallback tag (`sha256-<hex>`,
/// the index of a subject's referrers on a registry without the referrers API). A repository's
/// images are its other tags.
pub fn is_attached_tag(tag: &str) -> bool {
    AttachmentKind::parse_tag(tag).is_some()
        || tag
            .split_once('-')
            .is_some_and(|(algorithm, hex)| Digest::parse(&format!("{algorithm}:{hex}")).is_ok())
}

impl std::fmt::Display for AttachmentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attached_tags_are_told_from_image_tags() {
        let digest = Digest::sha256_of(b"x");
        for kind in AttachmentKind::TAGGED {
            assert!(is_attached_tag(&kind.tag_for(&digest).unwrap()));
        }
        assert!(is_attached_tag(&digest.tag_form()));
        for image_tag in [
            "latest",
            "v1.2.3",
            "sha256-short",
            "sha256",
            "sha512-abc.sig",
            "main-2024",
        ] {
            assert!(!is_attached_tag(image_tag), "{image_tag}");
        }
    }

    #[test]
    fn tags_round_trip_and_nothing_else_is_a_tag() {
        let d = Digest::sha256_of(b"image");
        for kind in AttachmentKind::TAGGED {
            let tag = kind.tag_for(&d).unwrap();
            assert_eq!(tag, format!("sha256-{}.{kind}", d.hex()));
            assert_eq!(AttachmentKind::parse_tag(&tag), Some((d.clone(), kind)));
        }
        assert_eq!(AttachmentKind::Referrer.tag_for(&d), None);
        for not_a_tag in [
            format!("sha256-{}.referrer", d.hex()),
            format!("sha256-{}", d.hex()),
            "sha256-abc.sig".to_owned(),
            format!("sha256-{}.sig", d.hex().to_uppercase()),
            format!("sha256:{}.sig", d.hex()),
            "v1.sig".to_owned(),
            "latest".to_owned(),
        ] {
            assert_eq!(AttachmentKind::parse_tag(&not_a_tag), None, "{not_a_tag}");
        }
    }
}
