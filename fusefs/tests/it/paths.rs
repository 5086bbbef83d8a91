//! The tree: registries, repositories, tags as links, digest folders, stable inodes, exact reads.

use std::collections::BTreeMap;

use sigmirror_cosign::payload::simple_signing;
use sigmirror_fusefs::vfs::{NodeType, ROOT};

use crate::fixture::{REPO, build, names, path, read_all};

#[test]
fn tags_are_links_to_digest_folders() {
    let f = build();
    let vfs = f.vfs();
    assert_eq!(names(&vfs, ROOT), ["_blobs", "registry.test:5000"]);
    let tag = path(&vfs, &format!("{REPO}/_tags/v1")).unwrap();
    assert_eq!(vfs.getattr(tag).unwrap().kind, NodeType::Link);
    assert_eq!(
        vfs.readlink(tag).unwrap(),
        format!("../_digests/{}", f.image)
    );
    // Attachment tags are not listed as tags.
    let tags = path(&vfs, &format!("{REPO}/_tags")).unwrap();
    assert_eq!(names(&vfs, tags), ["multi", "v1"]);
}

#[test]
fn files_read_whole_and_at_offsets_with_stable_inodes() {
    let f = build();
    let vfs = f.vfs();
    let d = f.image_dir();
    let payload = path(&vfs, &format!("{d}/signatures/1/payload.json")).unwrap();
    assert_eq!(
        read_all(&vfs, payload),
        simple_signing(REPO, &f.image, &BTreeMap::new())
    );
    assert_eq!(
        vfs.read(payload, 2, 5).unwrap(),
        read_all(&vfs, payload)[2..7].to_vec()
    );
    assert_eq!(
        path(&vfs, &format!("{d}/manifest.json")).unwrap(),
        path(&vfs, &format!("{d}/manifest.json")).unwrap()
    );
    let blobs = path(&vfs, &format!("_blobs/sha256/{}", f.image.hex())).unwrap();
    assert_eq!(
        read_all(&vfs, blobs),
        read_all(&vfs, path(&vfs, &format!("{d}/manifest.json")).unwrap())
    );
}
