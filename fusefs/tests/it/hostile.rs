//! What a hostile registry or a damaged disk cannot do to the view.

use sigmirror_fusefs::Error;

use crate::fixture::{REPO, build, path, read_all};

#[test]
fn hostile_platform_names_become_a_plain_name() {
    let f = build();
    let vfs = f.vfs();
    let platforms = path(&vfs, &format!("{REPO}/_digests/{}/platforms", f.index)).unwrap();
    let entries = vfs.readdir(platforms).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].2, "platform");
    assert_eq!(
        vfs.readlink(entries[0].0).unwrap(),
        format!("../../{}", f.image)
    );
}

#[test]
fn a_corrupted_blob_is_never_served() {
    let f = build();
    let vfs = f.vfs();
    let d = f.image_dir();
    let manifest_ino = path(&vfs, &format!("{d}/manifest.json")).unwrap();
    let config_ino = path(&vfs, &format!("{d}/config.json")).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&read_all(&vfs, manifest_ino)).unwrap();
    let config_hex = manifest["config"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    std::fs::write(
        f.root().join("blobs/sha256").join(&config_hex),
        b"tampered!",
    )
    .unwrap();
    assert!(matches!(
        vfs.read(config_ino, 0, 100),
        Err(Error::Corrupt(_))
    ));
}

/// Stores `bytes` as a manifest of `repo` (its blobs are not needed for the view).
fn put_manifest_in(
    store: &sigmirror_store::Store,
    repo: &str,
    bytes: &[u8],
) -> sigmirror_oci::Digest {
    let digest = sigmirror_oci::Digest::sha256_of(bytes);
    store
        .put_manifest(
            repo,
            &digest,
            sigmirror_oci::media_types::OCI_MANIFEST,
            bytes,
            "test",
        )
        .unwrap();
    digest
}

/// A manifest of `repo` told apart by `n` (its config is never read by the view).
fn other_manifest(store: &sigmirror_store::Store, repo: &str, n: &str) -> sigmirror_oci::Digest {
    let bytes = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:{}"}},"layers":[],"annotations":{{"n":"{n}"}}}}"#,
        "4".repeat(64)
    );
    put_manifest_in(store, repo, bytes.as_bytes())
}

#[test]
fn another_repositorys_tags_on_an_honest_digest_hide_nothing() {
    use sigmirror_oci::attachment::AttachmentKind::Sbom;
    let f = build();
    let evil = "evil.test/bad/app";
    {
        let store = sigmirror_store::Store::open(f.root()).unwrap();
        let first = other_manifest(&store, evil, "sbom 1");
        let second = other_manifest(&store, evil, "sbom 2");
        store.set_tag(evil, "v1", &first).unwrap();
        // Hung on the honest image's digest, in the hostile repository: honest.sbom → first,
        // first.sbom → second, second.sbom → first (a cycle), and second.sbom → the honest
        // image again, which made the honest image look like an attachment of itself.
        for (from, to) in [(&f.image, &first), (&first, &second), (&second, &f.image)] {
            store
                .set_tag(evil, &Sbom.tag_for(from).unwrap(), to)
                .unwrap();
        }
    }
    let vfs = f.vfs();
    // The honest repository is whole: its tag resolves to a digest folder that is listed.
    let digests = path(&vfs, &format!("{REPO}/_digests")).unwrap();
    let listed = crate::fixture::names(&vfs, digests);
    assert!(listed.contains(&f.image.to_string()), "{listed:?}");
    let tag = path(&vfs, &format!("{REPO}/_tags/v1")).unwrap();
    assert_eq!(
        vfs.readlink(tag).unwrap(),
        format!("../_digests/{}", f.image)
    );
    // Nothing of the hostile repository is listed in the honest image's folder.
    let sboms = path(&vfs, &format!("{}/sboms", f.image_dir())).unwrap();
    assert!(crate::fixture::names(&vfs, sboms).is_empty());
    // The hostile repository is shown on its own.
    path(&vfs, &format!("{evil}/_tags/v1")).unwrap();
}
