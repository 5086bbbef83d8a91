//! Stores of many signed images made directly (no registry): what `store verify`'s benchmark
//! measures and its tests check, each image signed as cosign signs it or spoilt in one way.

use std::collections::BTreeMap;
use std::io::Write as _;

use serde_json::json;
use sigmirror_cosign::conventions::SIGNATURE_ANNOTATION;
use sigmirror_cosign::keys::PrivateKey;
use sigmirror_cosign::{b64, payload};
use sigmirror_oci::Digest;
use sigmirror_oci::digest::Sha256Digest;
use sigmirror_store::{ImageRecord, Store};

pub const REPO: &str = "bench.example/team/app";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn put_blob(store: &Store, bytes: &[u8]) -> Digest {
    let digest = Digest::sha256_of(bytes);
    if !store.has_blob(&digest) {
        let mut writer = store.writer(&digest, bytes.len() as u64).expect("writer");
        writer.write_all(bytes).expect("write");
        writer.commit().expect("commit");
    }
    digest
}

fn put_manifest(store: &Store, value: &serde_json::Value) -> Digest {
    let bytes = serde_json::to_vec(value).expect("json");
    let digest = Digest::sha256_of(&bytes);
    store
        .put_manifest(REPO, &digest, OCI_MANIFEST, &bytes, "bench")
        .expect("manifest");
    digest
}

fn descriptor(media_type: &str, digest: &Digest, size: usize) -> serde_json::Value {
    json!({"mediaType": media_type, "digest": digest, "size": size})
}

/// How an image of [`signed_image`] is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // the benchmark signs every image well
pub enum Signing {
    /// As cosign signs it, with the key.
    Good,
    /// With another key.
    OtherKey,
    /// With the key, over a payload that names another image's digest.
    OtherDigest,
    /// With the key, and the payload changed after signing.
    TamperedPayload,
    /// Not at all: no `.sig` image.
    Unsigned,
}

/// Image `i` (named `REPO:v<i>`), signed by `key` as cosign signs (a simple-signing payload,
/// its signature in the layer's annotation, the manifest at the `.sig` tag) or spoilt as `how`
/// says, recorded as pulled. Returns its name.
pub fn signed_image(store: &Store, key: &PrivateKey, i: usize, how: Signing) -> String {
    let config = put_blob(store, b"{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    let layer_bytes = format!("layer {i}");
    let layer = put_blob(store, layer_bytes.as_bytes());
    let image = put_manifest(
        store,
        &json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", &config, 38),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &layer, layer_bytes.len())],
        }),
    );
    let tag = format!("v{i}");
    let name = format!("{REPO}:{tag}");
    store.set_tag(REPO, &tag, &image).expect("tag");
    store
        .record_image(&name, ImageRecord::new(&image, true, false, "bench"))
        .expect("record");
    if how == Signing::Unsigned {
        return name;
    }
    let named = match how {
        Signing::OtherDigest => Digest::sha256_of(format!("another image {i}").as_bytes()),
        _ => image.clone(),
    };
    let mut payload = payload::simple_signing(REPO, &named, &BTreeMap::new());
    let signature = match how {
        Signing::OtherKey => PrivateKey::generate().sign_digest(&Sha256Digest::of(&payload)),
        _ => key.sign_digest(&Sha256Digest::of(&payload)),
    }
    .expect("sign");
    if how == Signing::TamperedPayload {
        // Still names the image: only the signature can tell.
        let text = String::from_utf8(payload).expect("utf-8");
        assert!(text.contains("\"optional\":null"), "{text}");
        payload = text
            .replacen("\"optional\":null", "\"optional\":{\"x\":\"y\"}", 1)
            .into_bytes();
    }
    let payload_digest = put_blob(store, &payload);
    let empty = put_blob(store, b"{}");
    let mut layer = descriptor(
        "application/vnd.dev.cosign.simplesigning.v1+json",
        &payload_digest,
        payload.len(),
    );
    layer["annotations"] = json!({ SIGNATURE_ANNOTATION: b64::encode(&signature) });
    let sig = put_manifest(
        store,
        &json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", &empty, 2),
            "layers": [layer],
        }),
    );
    store
        .set_tag(REPO, &format!("{}.sig", image.tag_form()), &sig)
        .expect("sig tag");
    name
}
