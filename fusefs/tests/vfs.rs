//! The path-to-node logic without mounting: a store built in the test, viewed through `Vfs`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use sigmirror_core::cosign::SIGNATURE_ANNOTATION;
use sigmirror_core::cosign::image::{Layer, SignatureImage};
use sigmirror_core::cosign::payload::simple_signing;
use sigmirror_core::digest::Sha256Digest;
use sigmirror_core::keys::PrivateKey;
use sigmirror_core::{b64, media_types};
use sigmirror_fusefs::Error;
use sigmirror_fusefs::snapshot::TRUST_DIR;
use sigmirror_fusefs::vfs::{NodeType, ROOT, Vfs};
use sigmirror_store::Store;

const REPO: &str = "registry.test:5000/team/app";

fn put_blob(store: &Store, bytes: &[u8]) -> String {
    let digest = Sha256Digest::of(bytes).to_string();
    let mut w = store.writer(&digest, bytes.len() as u64).unwrap();
    w.write_all(bytes).unwrap();
    w.commit().unwrap();
    digest
}

/// A store with one signed image (good signature by `key`) and an index whose platform
/// names are hostile; returns the image digest and the index digest.
fn build(root: &std::path::Path, key: &PrivateKey) -> (String, String) {
    let store = Store::open(root).unwrap();
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}"#;
    let config_digest = put_blob(&store, config);
    let layer = b"layer";
    let layer_digest = put_blob(&store, layer);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","size":{},"digest":"{config_digest}"}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":5,"digest":"{layer_digest}"}}]}}"#,
        media_types::OCI_MANIFEST,
        media_types::OCI_CONFIG,
        config.len()
    );
    let digest = Sha256Digest::of(manifest.as_bytes()).to_string();
    store
        .put_manifest(
            REPO,
            &digest,
            media_types::OCI_MANIFEST,
            manifest.as_bytes(),
            "test",
        )
        .unwrap();
    store.set_tag(REPO, "v1", &digest).unwrap();

    // Its .sig image: one good signature.
    let payload = simple_signing(REPO, &digest, &BTreeMap::new());
    let sig = key.sign_digest(&Sha256Digest::of(&payload)).unwrap();
    let mut ann = BTreeMap::new();
    ann.insert(SIGNATURE_ANNOTATION.to_owned(), b64::encode(&sig));
    let mut image = SignatureImage::empty(false);
    image.append(Layer::new(
        media_types::SIMPLE_SIGNING,
        payload.clone(),
        ann,
    ));
    let rendered = image.render();
    put_blob(&store, &payload);
    put_blob(&store, &rendered.config);
    let sig_digest = Sha256Digest::of(&rendered.manifest).to_string();
    store
        .put_manifest(
            REPO,
            &sig_digest,
            media_types::OCI_MANIFEST,
            &rendered.manifest,
            "test",
        )
        .unwrap();
    store
        .set_tag(
            REPO,
            &format!("{}.sig", digest.replace(':', "-")),
            &sig_digest,
        )
        .unwrap();

    // An index with a hostile platform.
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","size":{},"digest":"{digest}","platform":{{"os":"../../..","architecture":"x/y"}}}}]}}"#,
        media_types::OCI_INDEX,
        media_types::OCI_MANIFEST,
        manifest.len()
    );
    let index_digest = Sha256Digest::of(index.as_bytes()).to_string();
    store
        .put_manifest(
            REPO,
            &index_digest,
            media_types::OCI_INDEX,
            index.as_bytes(),
            "test",
        )
        .unwrap();
    store.set_tag(REPO, "multi", &index_digest).unwrap();
    (digest, index_digest)
}

fn path(vfs: &Vfs, p: &str) -> sigmirror_fusefs::Result<u64> {
    let mut ino = ROOT;
    for part in p.split('/').filter(|s| !s.is_empty()) {
        ino = vfs.lookup(ino, part)?.ino;
    }
    Ok(ino)
}

fn read_all(vfs: &Vfs, ino: u64) -> Vec<u8> {
    let size = vfs.getattr(ino).unwrap().size;
    vfs.read(ino, 0, size as u32 + 10).unwrap()
}

#[test]
fn paths_nodes_contents_and_verification() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate();
    let (digest, index) = build(dir.path(), &key);
    std::fs::create_dir_all(dir.path().join(TRUST_DIR)).unwrap();
    std::fs::write(
        dir.path().join(TRUST_DIR).join("ops.pub"),
        key.public_key().to_pem(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join(TRUST_DIR).join("other.pub"),
        PrivateKey::generate().public_key().to_pem(),
    )
    .unwrap();
    let vfs = Vfs::new(dir.path(), Duration::from_millis(10)).unwrap();

    let names: Vec<String> = vfs
        .readdir(ROOT)
        .unwrap()
        .into_iter()
        .map(|(_, _, n)| n)
        .collect();
    assert_eq!(names, ["_blobs", "registry.test:5000"]);
    let tag = path(&vfs, "registry.test:5000/team/app/_tags/v1").unwrap();
    assert_eq!(vfs.getattr(tag).unwrap().kind, NodeType::Link);
    assert_eq!(vfs.readlink(tag).unwrap(), format!("../_digests/{digest}"));
    // Attestation-free attachment tags are not listed as tags.
    let tags: Vec<String> = vfs
        .readdir(path(&vfs, "registry.test:5000/team/app/_tags").unwrap())
        .unwrap()
        .into_iter()
        .map(|(_, _, n)| n)
        .collect();
    assert_eq!(tags, ["multi", "v1"]);

    let d = format!("registry.test:5000/team/app/_digests/{digest}");
    let payload = path(&vfs, &format!("{d}/signatures/1/payload.json")).unwrap();
    assert_eq!(
        read_all(&vfs, payload),
        simple_signing(REPO, &digest, &BTreeMap::new())
    );
    // Reads at offsets return exact slices.
    assert_eq!(
        vfs.read(payload, 2, 5).unwrap(),
        read_all(&vfs, payload)[2..7].to_vec()
    );
    assert!(path(&vfs, &format!("{d}/verified/ops")).is_ok());
    assert!(matches!(
        path(&vfs, &format!("{d}/verified/other")),
        Err(Error::NotFound)
    ));
    let report: serde_json::Value = serde_json::from_slice(&read_all(
        &vfs,
        path(&vfs, &format!("{d}/verification.json")).unwrap(),
    ))
    .unwrap();
    assert_eq!(report["verifiedBy"], serde_json::json!(["ops"]));
    // Inode numbers are stable for a path.
    assert_eq!(
        path(&vfs, &format!("{d}/manifest.json")).unwrap(),
        path(&vfs, &format!("{d}/manifest.json")).unwrap()
    );

    // Hostile platform names become a plain name inside the folder.
    let platforms = path(
        &vfs,
        &format!("registry.test:5000/team/app/_digests/{index}/platforms"),
    )
    .unwrap();
    let entries = vfs.readdir(platforms).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].2, "platform");
    assert_eq!(
        vfs.readlink(entries[0].0).unwrap(),
        format!("../../{digest}")
    );

    // A corrupted blob is never served.
    let manifest_ino = path(&vfs, &format!("{d}/manifest.json")).unwrap();
    let config_ino = path(&vfs, &format!("{d}/config.json")).unwrap();
    let config_hex = {
        let m: serde_json::Value = serde_json::from_slice(&read_all(&vfs, manifest_ino)).unwrap();
        m["config"]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned()
    };
    std::fs::write(
        dir.path().join("blobs/sha256").join(&config_hex),
        b"tampered!",
    )
    .unwrap();
    assert!(matches!(
        vfs.read(config_ino, 0, 100),
        Err(Error::Corrupt(_))
    ));
}
