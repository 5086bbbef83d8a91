//! Garbage collection keeps what tags and image records reach.

use crate::fixture::*;

#[test]
fn gc_keeps_what_tags_reach_and_removes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let kept = signed_index(&store, REPO, "v1");
    // Reached only through an image record (pulled by digest).
    let (by_digest, c, l) = image(&store, "reg.test/pinned", "pinned", true);
    store
        .record_image(
            &format!("reg.test/pinned@{by_digest}"),
            ImageRecord::new(&by_digest, true, false, "r"),
        )
        .unwrap();
    // Garbage: a loose blob, an untagged image, and the signature of an untagged image.
    let loose = put_blob(&store, b"loose blob");
    let (untagged, uc, ul) = image(&store, REPO, "untagged", true);
    let (usig, upayload) = sign(&store, REPO, &untagged);
    // A tag moved away from an old image leaves the old one (and its signature) unreachable.
    let (old, oc, ol) = image(&store, REPO, "old", true);
    let (osig, opayload) = sign(&store, REPO, &old);
    store.set_tag(REPO, "moving", &old).unwrap();
    store.set_tag(REPO, "moving", &kept[3]).unwrap();
    std::fs::write(dir.path().join("tmp/x.tmp"), b"junk").unwrap();

    let before = store.du().unwrap();
    let report = store.gc().unwrap();
    let garbage = [
        loose,
        untagged.clone(),
        uc,
        ul,
        usig,
        upayload,
        old,
        oc,
        ol,
        osig,
        opayload,
    ];
    assert_eq!(report.removed_blobs, garbage.len() as u64, "{report:?}");
    assert_eq!(report.removed_tmp, 1);
    for d in &garbage {
        assert!(!store.has_blob(d), "{d} should be gone");
        assert!(store.manifest_info(d).unwrap().is_none());
    }
    for d in kept.iter().chain([&by_digest, &c, &l]) {
        assert!(store.has_blob(d), "{d} should be kept");
    }
    let after = store.du().unwrap();
    assert_eq!(before.bytes - after.bytes, report.freed_bytes);
    assert_eq!(after.tags, 4); // v1, moving, the two signatures of v1
    assert!(store.attachments_of(&untagged).unwrap().is_empty());
    assert!(store.fsck().unwrap().is_clean());
    assert!(store.closure(&kept[6]).unwrap().is_complete(false));
    // Nothing left to collect.
    assert_eq!(store.gc().unwrap().removed_blobs, 0);
}
