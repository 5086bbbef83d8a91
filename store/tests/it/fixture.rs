//! Builders of store content shared by the tests: images, cosign signatures, a signed index
//! with a referrer.

pub use std::io::{BufRead, BufReader, Read, Write};
pub use std::path::Path;
pub use std::process::{Command, Stdio};
pub use std::time::{Duration, Instant};

pub use futures_util::StreamExt;
pub use serde_json::{Value, json};
pub use sigmirror_oci::attachment::AttachmentKind;
pub use sigmirror_oci::manifest::Manifest;
pub use sigmirror_oci::source::{Sink, Source};
pub use sigmirror_oci::{Digest, ImageRef};
pub use sigmirror_store::{Error, ImageRecord, Store};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const REPO: &str = "registry.test:5000/team/app";

/// Env var that turns the `child_process` test into a helper for the multi-process tests.
pub const CHILD_ENV: &str = "SIGMIRROR_STORE_TEST_CHILD";

pub fn sha(bytes: &[u8]) -> Digest {
    Digest::sha256_of(bytes)
}

pub fn put_blob(store: &Store, bytes: &[u8]) -> Digest {
    let digest = sha(bytes);
    let mut w = store.writer(&digest, bytes.len() as u64).unwrap();
    w.write_all(bytes).unwrap();
    w.commit().unwrap();
    digest
}

pub fn put_manifest(store: &Store, repo: &str, value: &Value) -> Digest {
    let bytes = serde_json::to_vec(value).unwrap();
    let digest = sha(&bytes);
    let mt = value["mediaType"].as_str().unwrap_or_default();
    store
        .put_manifest(repo, &digest, mt, &bytes, "test")
        .unwrap();
    digest
}

pub fn descriptor(mt: &str, digest: &Digest, size: usize) -> Value {
    json!({"mediaType": mt, "digest": digest, "size": size})
}

/// An image manifest with a stored config and one stored layer; returns its digest, config and
/// layer digests. `store_layer: false` leaves the layer out (like `--no-layers`).
pub fn image(store: &Store, repo: &str, seed: &str, store_layer: bool) -> (Digest, Digest, Digest) {
    let config = format!("{{\"architecture\":\"{seed}\"}}");
    let layer = format!("layer of {seed}").repeat(100);
    let c = put_blob(store, config.as_bytes());
    let l = if store_layer {
        put_blob(store, layer.as_bytes())
    } else {
        sha(layer.as_bytes())
    };
    let m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &c, config.len()),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", &l, layer.len())],
    });
    (put_manifest(store, repo, &m), c, l)
}

/// A cosign signature manifest for `subject`, tagged `sha256-<hex>.sig`; returns its digest
/// and its payload's.
pub fn sign(store: &Store, repo: &str, subject: &Digest) -> (Digest, Digest) {
    let payload =
        format!("{{\"critical\":{{\"image\":{{\"docker-manifest-digest\":\"{subject}\"}}}}}}");
    let p = put_blob(store, payload.as_bytes());
    let c = put_blob(store, b"{}");
    let m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &c, 2),
        "layers": [descriptor("application/vnd.dev.cosign.simplesigning.v1+json", &p, payload.len())],
    });
    let d = put_manifest(store, repo, &m);
    let tag = AttachmentKind::Signature.tag_for(subject).unwrap();
    store.set_tag(repo, &tag, &d).unwrap();
    (d, p)
}

/// A multi-platform image: an index of two images, the index and one child signed, and an
/// OCI 1.1 referrer of the index. Returns every digest it stored.
pub fn signed_index(store: &Store, repo: &str, seed: &str) -> Vec<Digest> {
    let (a, ac, al) = image(store, repo, &format!("{seed}-amd64"), true);
    let (b, bc, bl) = image(store, repo, &format!("{seed}-arm64"), true);
    let idx = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [descriptor(OCI_MANIFEST, &a, 0), descriptor(OCI_MANIFEST, &b, 0)],
    });
    let i = put_manifest(store, repo, &idx);
    store.set_tag(repo, seed, &i).unwrap();
    let (s1, p1) = sign(store, repo, &i);
    let (s2, p2) = sign(store, repo, &a);
    let sbom = put_blob(store, format!("sbom of {seed}").as_bytes());
    let r = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": descriptor("application/vnd.oci.empty.v1+json", &sha(b"{}"), 2),
        "layers": [descriptor("application/spdx+json", &sbom, 0)],
        "subject": descriptor(OCI_INDEX, &i, 0),
    });
    let r = put_manifest(store, repo, &r);
    vec![a, ac, al, b, bc, bl, i, s1, p1, s2, p2, sbom, r, sha(b"{}")]
}

pub fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}
