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
