//! Manifests as sources hand them out ([`Manifest`]: the exact bytes, their digest and media
//! type), and typed views of them: [`ManifestView`] for walking any manifest or index (the
//! transfer engine, the store's closure, the FUSE view and the layout code all walk through
//! it), and [`ImageManifest`] and [`ImageIndex`] with [`Descriptor`] for writing them byte for
//! byte as go-containerregistry does.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::{gojson, media_types};

/// The largest manifest accepted anywhere (the limit registries and cosign use).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// A manifest as a source stored it.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The exact bytes.
    pub bytes: Bytes,
    /// The digest of the bytes (checked against what was asked for).
    pub digest: Digest,
    /// Its media type: the `mediaType` field, else what the source said, else inferred from
    /// the shape of the JSON (see [`media_type_of`]).
    pub media_type: String,
}

impl Manifest {
    /// A manifest of `bytes` (hashed here), with `media_type` if known (else inferred).
    pub fn from_bytes(bytes: impl Into<Bytes>, media_type: Option<&str>) -> Self {
        let bytes = bytes.into();
        Manifest {
            digest: Digest::sha256_of(&bytes),
            media_type: match media_type {
                Some(m) if !m.is_empty() => m.to_owned(),
                _ => media_type_of(&bytes),
            },
            bytes,
        }
    }

    /// The typed view of its content. `what` names it in errors.
    pub fn view(&self, what: &str) -> Result<ManifestView> {
        ManifestView::parse(&self.bytes, Some(&self.media_type), what)
    }

    /// Whether it is an index (multi-platform image), by media type or shape.
    pub fn is_index(&self) -> bool {
        is_index_bytes(&self.media_type, &self.bytes)
    }
}

/// Whether the `manifests` key appears at the top of a JSON object: the shape of an index.
fn has_manifests_key(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        manifests: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Probe>(bytes).is_ok_and(|p| p.manifests.is_some())
}

/// The one rule for "is it an index": an index media type, or none and a `manifests` list.
fn is_index_bytes(media_type: &str, bytes: &[u8]) -> bool {
    media_types::is_index(media_type) || (media_type.is_empty() && has_manifests_key(bytes))
}

/// The media type of manifest bytes: their `mediaType`, else inferred from the shape (an
/// index if they list `manifests`, else an image manifest).
pub fn media_type_of(bytes: &[u8]) -> String {
    match probe(bytes) {
        Some(p) if !p.media_type.is_empty() => p.media_type,
        Some(p) if p.manifests.is_some() => media_types::OCI_INDEX.to_owned(),
        _ => media_types::OCI_MANIFEST.to_owned(),
    }
}

/// The `mediaType` manifest bytes declare, if they do.
pub fn declared_media_type(bytes: &[u8]) -> Option<String> {
    probe(bytes)
        .map(|p| p.media_type)
        .filter(|media_type| !media_type.is_empty())
}

/// What the media type of manifest bytes is read from.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    manifests: Option<serde::de::IgnoredAny>,
}

fn probe(bytes: &[u8]) -> Option<Probe> {
    serde_json::from_slice(bytes).ok()
}

/// An OCI platform (index entries), fields in the image spec's order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture, e.g. `amd64`.
    #[serde(default)]
    pub architecture: String,
    /// Operating system, e.g. `linux`.
    #[serde(default)]
    pub os: String,
    /// OS version (Windows).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OS features (Windows).
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    /// CPU variant, e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// CPU features (reserved by the spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
}

/// `os/arch[/variant]`, the `--platform` syntax.
impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(variant) => write!(f, "/{variant}"),
            None => Ok(()),
        }
    }
}

impl Platform {
    /// Whether this platform is `os[/arch[/variant]]` (the `--platform` syntax).
    pub fn matches(&self, wanted: &str) -> bool {
        let mut parts = wanted.split('/');
        let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
        os.is_some_and(|os| os == self.os)
            && arch.is_none_or(|a| a == self.architecture)
            && variant.is_none_or(|v| Some(v) == self.variant.as_deref())
    }
}

/// An OCI descriptor, fields in go-containerregistry's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type of the content.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// The content's digest.
    pub digest: Digest,
    /// Inline data (never written by sigmirror; kept when re-serialising).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Alternate URLs (kept when re-serialising).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Annotations, keys sorted.
    #[serde(default, skip_serializing_if = "annotations_empty")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform (index entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Artifact type.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
}

fn annotations_empty(a: &Option<BTreeMap<String, String>>) -> bool {
    a.as_ref().is_none_or(BTreeMap::is_empty)
}

impl Descriptor {
    /// A descriptor for `bytes`.
    pub fn for_bytes(media_type: &str, bytes: &[u8]) -> Self {
        Descriptor {
            media_type: media_type.to_owned(),
            size: bytes.len() as u64,
            digest: Digest::sha256_of(bytes),
            data: None,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// The value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// Sets annotation `key`.
    pub fn set_annotation(&mut self, key: &str, value: &str) {
        self.annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(key.to_owned(), value.to_owned());
    }
}

/// Any manifest or index, read for walking: what it names and how. Unknown fields are
/// ignored; every descriptor's digest is validated, so a walk never follows a name that is not
/// a digest.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ManifestView {
    /// Its media type: the field, else what the source said, else inferred from the shape.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// An image manifest's config.
    #[serde(default)]
    pub config: Option<Descriptor>,
    /// An image manifest's layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// An index's entries.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// An artifact manifest's blobs (image-spec 1.1 release candidates).
    #[serde(default)]
    pub blobs: Vec<Descriptor>,
    /// OCI 1.1 subject: the manifest this one refers to.
    #[serde(default)]
    pub subject: Option<Descriptor>,
    /// OCI 1.1 artifact type.
    #[serde(rename = "artifactType", default)]
    pub artifact_type: Option<String>,
    /// Manifest annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl ManifestView {
    /// Parses manifest bytes; `media_type` is what the source said, used when the JSON has
    /// none. `what` names the manifest in errors.
    pub fn parse(bytes: &[u8], media_type: Option<&str>, what: &str) -> Result<Self> {
        let mut view: ManifestView =
            serde_json::from_slice(bytes).map_err(|e| Error::Malformed {
                what: what.to_owned(),
                reason: match e.classify() {
                    serde_json::error::Category::Data => format!("not a manifest: {e}"),
                    _ => format!("not JSON: {e}"),
                },
            })?;
        if view.media_type.is_empty() {
            view.media_type = match media_type {
                Some(m) if !m.is_empty() => m.to_owned(),
                _ if has_manifests_key(bytes) => media_types::OCI_INDEX.to_owned(),
                _ => media_types::OCI_MANIFEST.to_owned(),
            };
        }
        Ok(view)
    }

    /// Whether it is an index.
    pub fn is_index(&self) -> bool {
        media_types::is_index(&self.media_type)
    }

    /// The digests of an index's entries, in order.
    pub fn children(&self) -> impl Iterator<Item = &Digest> {
        self.manifests.iter().map(|d| &d.digest)
    }

    /// The blobs its content needs: the config and artifact blobs, and the layers when
    /// `layers` is set.
    pub fn content_blobs(&self, layers: bool) -> impl Iterator<Item = &Descriptor> {
        self.config
            .iter()
            .chain(&self.blobs)
            .chain(self.layers.iter().filter(move |_| layers))
    }

    /// The index entry for `platform` (`os[/arch[/variant]]`), if any.
    pub fn platform_entry(&self, platform: &str) -> Option<&Descriptor> {
        self.manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(platform)))
    }
}

/// An image manifest, fields in go-containerregistry's order (the spec's `artifactType`, which
/// ggcr does not write, after `mediaType`): what cosign's signature and
/// attestation images are built from, byte for byte.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageManifest {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The manifest's media type.
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub media_type: String,
    /// OCI 1.1 artifact type.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers.
    pub layers: Vec<Descriptor>,
    /// Manifest annotations.
    #[serde(default, skip_serializing_if = "annotations_empty")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// OCI 1.1 subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
}

impl ImageManifest {
    /// Parses an image manifest; the media type must be an image manifest type.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Self> {
        let malformed = |reason: String| Error::Malformed {
            what: what.to_owned(),
            reason,
        };
        // The media type first: an index where an image manifest belongs is named as such,
        // not as a missing field.
        let media_type = media_type_of(bytes);
        if !media_types::is_image_manifest(&media_type) {
            return Err(malformed(format!(
                "unexpected manifest media type {media_type:?}"
            )));
        }
        serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))
    }

    /// The bytes go-containerregistry writes.
    pub fn to_bytes(&self) -> Vec<u8> {
        gojson::to_vec(self)
    }
}

/// An image index, fields in go-containerregistry's order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageIndex {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The index's media type.
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub media_type: String,
    /// OCI 1.1 artifact type.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    /// The entries.
    pub manifests: Vec<Descriptor>,
    /// Index annotations.
    #[serde(default, skip_serializing_if = "annotations_empty")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// OCI 1.1 subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
}

impl ImageIndex {
    /// An empty OCI index.
    pub fn new() -> Self {
        ImageIndex {
            schema_version: 2,
            media_type: media_types::OCI_INDEX.to_owned(),
            artifact_type: None,
            manifests: vec![],
            subject: None,
            annotations: None,
        }
    }

    /// Parses an index; the media type must be an index type (or absent).
    pub fn parse(bytes: &[u8], what: &str) -> Result<Self> {
        let index: ImageIndex = serde_json::from_slice(bytes).map_err(|e| Error::Malformed {
            what: what.to_owned(),
            reason: e.to_string(),
        })?;
        if !index.media_type.is_empty() && !media_types::is_index(&index.media_type) {
            return Err(Error::Malformed {
                what: what.to_owned(),
                reason: format!("unexpected index media type {:?}", index.media_type),
            });
        }
        Ok(index)
    }

    /// The bytes go-containerregistry writes.
    pub fn to_bytes(&self) -> Vec<u8> {
        gojson::to_vec(self)
    }
}

impl Default for ImageIndex {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_indexes() {
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        let image = br#"{"schemaVersion":2,"config":{"mediaType":"x","size":1,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"},"layers":[]}"#;
        assert_eq!(media_type_of(index), media_types::OCI_INDEX);
        assert_eq!(media_type_of(image), media_types::OCI_MANIFEST);
        assert!(Manifest::from_bytes(&index[..], None).is_index());
        assert!(!Manifest::from_bytes(&image[..], None).is_index());
        assert!(
            Manifest::from_bytes(&image[..], Some(media_types::DOCKER_MANIFEST_LIST)).is_index()
        );
        let view = ManifestView::parse(index, None, "t").unwrap();
        assert!(view.is_index());
        let view = ManifestView::parse(image, Some(""), "t").unwrap();
        assert!(!view.is_index());
        assert_eq!(view.content_blobs(false).count(), 1);
    }

    #[test]
    fn walks_refuse_invalid_descriptor_digests() {
        let bad = br#"{"manifests":[{"mediaType":"x","size":1,"digest":"sha256:../../etc"}]}"#;
        assert!(ManifestView::parse(bad, None, "t").is_err());
        let no_size = br#"{"manifests":[{"mediaType":"x","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}]}"#;
        assert!(ManifestView::parse(no_size, None, "t").is_err());
    }

    #[test]
    fn image_manifests_must_say_they_are_one() {
        let d = Digest::sha256_of(b"x");
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"x","size":1,"digest":"{d}"}},"layers":[]}}"#,
            media_types::OCI_INDEX
        );
        assert!(ImageManifest::parse(index.as_bytes(), "sig").is_err());
        let image = index.replace(media_types::OCI_INDEX, media_types::OCI_MANIFEST);
        let parsed = ImageManifest::parse(image.as_bytes(), "sig").unwrap();
        assert_eq!(parsed.to_bytes(), image.as_bytes());
    }

    #[test]
    fn platforms_match_like_the_flag() {
        let p = Platform {
            architecture: "arm64".into(),
            os: "linux".into(),
            variant: Some("v8".into()),
            ..Platform::default()
        };
        for yes in ["linux", "linux/arm64", "linux/arm64/v8"] {
            assert!(p.matches(yes), "{yes}");
        }
        for no in ["windows", "linux/amd64", "linux/arm64/v7", ""] {
            assert!(!p.matches(no), "{no}");
        }
    }
}
