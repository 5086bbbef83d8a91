//! Small OCI images written as image-layout folders, pushed to a registry with the real
//! `skopeo`: a single-platform image, or an index of two platform images.

use std::path::Path;
use std::process::Command;

use sha2::{Digest as _, Sha256};

use crate::{TestDir, run, tool};

fn sha256(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn put_blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let digest = sha256(bytes);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).expect("blobs dir");
    std::fs::write(dir.join(&digest[7..]), bytes).expect("write blob");
    (digest, bytes.len())
}

/// Writes a one-layer image (distinct per `seed`) into `layout`; returns the manifest bytes.
fn write_image(layout: &Path, seed: &str, arch: &str) -> Vec<u8> {
    let layer = format!("layer content {seed} {arch}").into_bytes();
    let (layer_digest, layer_size) = put_blob(layout, &layer);
    let config = format!(
        r#"{{"architecture":{},"os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#,
        serde_json_string(arch)
    );
    let (config_digest, config_size) = put_blob(layout, config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{layer_size}}}]}}"#
    );
    put_blob(layout, manifest.as_bytes());
    manifest.into_bytes()
}

fn write_index_json(layout: &Path, media_type: &str, manifest: &[u8], tag: &str) {
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{media_type}","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}]}}"#,
        sha256(manifest),
        manifest.len()
    );
    std::fs::write(layout.join("index.json"), index).expect("index.json");
}

fn skopeo_push(layout: &Path, tag: &str, dest: &str) {
    run(
        Command::new(tool("skopeo")).args([
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &format!("oci:{}:{tag}", layout.display()),
            &format!("docker://{dest}"),
        ]),
        None,
    )
    .ok();
}

/// Pushes a single-platform image (content distinct per `seed`) to `dest` (`host/repo:tag`);
/// returns its manifest digest.
pub fn push_image(dest: &str, seed: &str) -> String {
    let dir = TestDir::new();
    let manifest = write_image(dir.path(), seed, "amd64");
    write_index_json(
        dir.path(),
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
        "t",
    );
    skopeo_push(dir.path(), "t", dest);
    sha256(&manifest)
}

/// Pushes an index of two platform images (linux/amd64, linux/arm64) to `dest`; returns the
/// index digest and the two child digests.
pub fn push_index(dest: &str, seed: &str) -> (String, Vec<String>) {
    push_index_platforms(dest, seed, &[("linux", "amd64"), ("linux", "arm64")])
}

/// Pushes an index of one image whose platform says `os`/`arch` (any text, to test hostile
/// values); returns the index digest.
pub fn push_index_with_platform(dest: &str, seed: &str, os: &str, arch: &str) -> String {
    push_index_platforms(dest, seed, &[(os, arch)]).0
}

fn push_index_platforms(
    dest: &str,
    seed: &str,
    platforms: &[(&str, &str)],
) -> (String, Vec<String>) {
    let dir = TestDir::new();
    let children: Vec<Vec<u8>> = platforms
        .iter()
        .map(|(os, arch)| write_image(dir.path(), &format!("{seed}{os}"), arch))
        .collect();
    let entries: Vec<String> = children
        .iter()
        .zip(platforms)
        .map(|(m, (os, arch))| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"architecture":{},"os":{}}}}}"#,
                sha256(m),
                m.len(),
                serde_json_string(arch),
                serde_json_string(os)
            )
        })
        .collect();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        entries.join(",")
    );
    put_blob(dir.path(), index.as_bytes());
    write_index_json(
        dir.path(),
        "application/vnd.oci.image.index.v1+json",
        index.as_bytes(),
        "t",
    );
    skopeo_push(dir.path(), "t", dest);
    (
        sha256(index.as_bytes()),
        children.iter().map(|m| sha256(m)).collect(),
    )
}

/// A JSON string literal for `s` (quotes and backslashes escaped).
fn serde_json_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Pushes an image with `layers` layers of `layer_size` pseudo-random bytes each (distinct per
/// `seed`), for transfers that take a while; returns its manifest digest.
pub fn push_big_image(dest: &str, seed: &str, layers: usize, layer_size: usize) -> String {
    let dir = TestDir::new();
    let layout = dir.path();
    let mut state = Sha256::digest(seed.as_bytes()).to_vec();
    let mut descriptors = vec![];
    let mut diff_ids = vec![];
    for _ in 0..layers {
        let mut layer = Vec::with_capacity(layer_size);
        while layer.len() < layer_size {
            state = Sha256::digest(&state).to_vec();
            layer.extend_from_slice(&state);
        }
        layer.truncate(layer_size);
        let (d, size) = put_blob(layout, &layer);
        diff_ids.push(format!("\"{d}\""));
        descriptors.push(format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{d}","size":{size}}}"#));
    }
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        diff_ids.join(",")
    );
    let (config_digest, config_size) = put_blob(layout, config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{config_size}}},"layers":[{}]}}"#,
        descriptors.join(",")
    );
    put_blob(layout, manifest.as_bytes());
    write_index_json(
        layout,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.as_bytes(),
        "t",
    );
    skopeo_push(layout, "t", dest);
    sha256(manifest.as_bytes())
}
