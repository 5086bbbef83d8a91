//! The images cosign stores signatures and attestations in (FORMATS.md §2.3): an image config
//! with one history entry and diff_id per layer, and a manifest whose layers are the payloads,
//! each with its annotations. Built byte for byte as go-containerregistry serialises them, so a
//! `.sig` manifest written by sigmirror is indistinguishable from one written by cosign.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sigmirror_oci::manifest::{Descriptor, ImageManifest};
use sigmirror_oci::{Digest, gojson, media_types};

use crate::error::{Error, Result};

/// cosign's maximum number of layers in a signature image.
pub const MAX_LAYERS: usize = 1000;

/// The largest config blob read for a signature image.
pub const MAX_CONFIG_SIZE: u64 = 4 << 20;

/// The zero time as Go prints it, used for `created` fields.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Serialize)]
struct History {
    created: String,
}

#[derive(Serialize)]
struct RootFs<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    diff_ids: Option<&'a [&'a Digest]>,
}

#[derive(Serialize)]
struct ConfigFile<'a> {
    architecture: &'a str,
    created: &'a str,
    #[serde(skip_serializing_if = "<[History]>::is_empty")]
    history: &'a [History],
    os: &'a str,
    rootfs: RootFs<'a>,
    config: &'a Value,
}

/// One layer of a signature or attestation image: the payload and its annotations.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The descriptor as it appears in the manifest.
    pub descriptor: Descriptor,
    /// The payload bytes, when sigmirror holds them (new layers); existing layers stay in the
    /// registry and are not re-uploaded.
    pub bytes: Option<Vec<u8>>,
}

impl Layer {
    /// A new layer for `payload`.
    pub fn new(media_type: &str, payload: Vec<u8>, annotations: BTreeMap<String, String>) -> Self {
        let mut descriptor = Descriptor::for_bytes(media_type, &payload);
        descriptor.annotations = Some(annotations);
        Layer {
            descriptor,
            bytes: Some(payload),
        }
    }
}

/// A signature (or attestation) image being built: start empty or from the manifest in the
/// registry, append layers, render.
#[derive(Debug, Clone)]
pub struct SignatureImage {
    manifest_media_type: String,
    config_media_type: String,
    architecture: String,
    os: String,
    created: String,
    config: Value,
    history_len: usize,
    /// The layers, oldest first.
    pub layers: Vec<Layer>,
    /// Manifest-level annotations (`upload blob -a`).
    pub manifest_annotations: BTreeMap<String, String>,
}

/// The rendered image: what to upload.
#[derive(Debug, Clone)]
pub struct RenderedImage {
    /// Manifest bytes.
    pub manifest: Vec<u8>,
    /// Manifest media type.
    pub manifest_media_type: String,
    /// Config bytes.
    pub config: Vec<u8>,
}

impl SignatureImage {
    /// go-containerregistry's `empty.Image`, as cosign starts from: OCI media types, or Docker
    /// ones with `COSIGN_DOCKER_MEDIA_TYPES`.
    pub fn empty(docker_media_types: bool) -> Self {
        let (manifest_media_type, config_media_type) = if docker_media_types {
            (media_types::DOCKER_MANIFEST, media_types::DOCKER_CONFIG)
        } else {
            (media_types::OCI_MANIFEST, media_types::OCI_CONFIG)
        };
        SignatureImage {
            manifest_media_type: manifest_media_type.into(),
            config_media_type: config_media_type.into(),
            architecture: String::new(),
            os: String::new(),
            created: ZERO_TIME.into(),
            config: Value::Object(Default::default()),
            history_len: 0,
            layers: vec![],
            manifest_annotations: BTreeMap::new(),
        }
    }

    /// Sets the config media type (e.g. `application/vnd.wasm.config.v1+json`).
    pub fn set_config_media_type(&mut self, media_type: &str) {
        self.config_media_type = media_type.to_owned();
    }

    /// The image already stored: its manifest and config blob. Existing layers are kept as
    /// descriptors; their bytes stay in the registry.
    pub fn from_existing(manifest: &ImageManifest, config: &[u8]) -> Result<Self> {
        let cfg: Value = serde_json::from_slice(config).map_err(|e| Error::SignatureImage {
            reason: e.to_string(),
        })?;
        let text = |key: &str| {
            cfg.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let history_len = cfg
            .get("history")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        Ok(SignatureImage {
            manifest_media_type: manifest.media_type.clone(),
            config_media_type: manifest.config.media_type.clone(),
            architecture: text("architecture"),
            os: text("os"),
            created: Some(text("created"))
                .filter(|c| !c.is_empty())
                .unwrap_or(ZERO_TIME.into()),
            config: cfg
                .get("config")
                .cloned()
                .unwrap_or(Value::Object(Default::default())),
            history_len,
            layers: manifest
                .layers
                .iter()
                .map(|d| Layer {
                    descriptor: d.clone(),
                    bytes: None,
                })
                .collect(),
            manifest_annotations: manifest.annotations.clone().unwrap_or_default(),
        })
    }

    /// Appends a layer last, as `mutate.Append` does (one history entry per appended layer).
    pub fn append(&mut self, layer: Layer) {
        self.layers.push(layer);
        self.history_len += 1;
    }

    /// Manifest media type.
    pub fn manifest_media_type(&self) -> &str {
        &self.manifest_media_type
    }

    /// Renders config and manifest bytes.
    pub fn render(&self) -> RenderedImage {
        // Signature layers are uncompressed, so each diff_id is the layer digest.
        let diff_ids: Vec<&Digest> = self.layers.iter().map(|l| &l.descriptor.digest).collect();
        let history: Vec<History> = (0..self.history_len.max(self.layers.len()))
            .map(|_| History {
                created: ZERO_TIME.into(),
            })
            .collect();
        let config = gojson::to_vec(&ConfigFile {
            architecture: &self.architecture,
            created: &self.created,
            history: &history,
            os: &self.os,
            rootfs: RootFs {
                kind: "layers",
                diff_ids: Some(&diff_ids),
            },
            config: &self.config,
        });
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: self.manifest_media_type.clone(),
            config: Descriptor::for_bytes(&self.config_media_type, &config),
            layers: self.layers.iter().map(|l| l.descriptor.clone()).collect(),
            annotations: Some(self.manifest_annotations.clone()),
            subject: None,
            artifact_type: None,
        };
        RenderedImage {
            manifest: manifest.to_bytes(),
            manifest_media_type: self.manifest_media_type.clone(),
            config,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_layer_image_matches_cosign_bytes() {
        let mut image = SignatureImage::empty(false);
        let payload = br#"{"critical":{}}"#.to_vec();
        let digest = Digest::sha256_of(&payload);
        let mut ann = BTreeMap::new();
        ann.insert(
            "dev.cosignproject.cosign/signature".to_owned(),
            "MEUC".to_owned(),
        );
        image.append(Layer::new(media_types::SIMPLE_SIGNING, payload, ann));
        let r = image.render();
        let config = String::from_utf8(r.config.clone()).unwrap();
        assert_eq!(
            config,
            format!(
                r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{{"created":"0001-01-01T00:00:00Z"}}],"os":"","rootfs":{{"type":"layers","diff_ids":["{digest}"]}},"config":{{}}}}"#
            )
        );
        assert_eq!(r.config.len(), 233);
        let manifest = String::from_utf8(r.manifest).unwrap();
        assert_eq!(
            manifest,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","size":233,"digest":"{}"}},"layers":[{{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":15,"digest":"{digest}","annotations":{{"dev.cosignproject.cosign/signature":"MEUC"}}}}]}}"#,
                Digest::sha256_of(&r.config)
            )
        );
    }

    #[test]
    fn append_to_existing_keeps_layers_in_order() {
        let mut image = SignatureImage::empty(true);
        image.append(Layer::new(
            media_types::SIMPLE_SIGNING,
            b"one".to_vec(),
            BTreeMap::new(),
        ));
        let first = image.render();
        let manifest = ImageManifest::parse(&first.manifest, "test").unwrap();
        assert_eq!(manifest.media_type, media_types::DOCKER_MANIFEST);
        let mut again = SignatureImage::from_existing(&manifest, &first.config).unwrap();
        again.append(Layer::new(
            media_types::SIMPLE_SIGNING,
            b"two".to_vec(),
            BTreeMap::new(),
        ));
        let second = again.render();
        let parsed = ImageManifest::parse(&second.manifest, "test").unwrap();
        assert_eq!(parsed.layers.len(), 2);
        assert_eq!(parsed.layers[0].digest, Digest::sha256_of(b"one"));
        assert_eq!(parsed.layers[1].digest, Digest::sha256_of(b"two"));
        let cfg: Value = serde_json::from_slice(&second.config).unwrap();
        assert_eq!(cfg["history"].as_array().unwrap().len(), 2);
        assert_eq!(
            cfg["rootfs"]["diff_ids"][1],
            Digest::sha256_of(b"two").as_str()
        );
        // Empty annotations are omitted, like Go's omitempty.
        assert!(
            !String::from_utf8(second.manifest)
                .unwrap()
                .contains("annotations")
        );
    }
}
