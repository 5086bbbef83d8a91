//! What a damaged disk cannot do: a blob whose bytes changed is never served, stray files
//! and index entries without their blob are reported by fsck.

use crate::fixture::*;

#[test]
fn tampered_blob_is_never_served_and_fsck_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let digests = signed_index(&store, REPO, "v1");
    let report = store.fsck().unwrap();
    assert!(report.is_clean(), "{:?}", report.damaged);
    assert_eq!(report.blobs_checked, digests.len() as u64);

    let layer = &digests[2];
    flip_byte(&store.blob_path(layer).unwrap());
    let err = store.read_blob(layer, u64::MAX).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("corrupt"), "{err}");
    let mut reader = store.open_blob(layer).unwrap();
    let err = reader.read_to_end(&mut vec![]).unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");

    let report = store.fsck().unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.damaged.len(), 1, "{:?}", report.damaged);
    assert_eq!(report.damaged[0].0, layer.as_str());
    assert!(report.damaged[0].1.contains("corrupt"));

    // A tampered manifest: closure reports it damaged, info says incomplete, gc refuses.
    flip_byte(&store.blob_path(&digests[0]).unwrap());
    let closure = store.closure(&digests[6]).unwrap();
    assert!(closure.damaged.contains(&digests[0]));
    assert!(!closure.is_complete(false));
    drop(store);
    let mut store = Store::open(dir.path()).unwrap();
    assert!(matches!(store.gc(), Err(Error::GcRefused { .. })));
}

#[test]
fn stray_files_are_damage_tmp_files_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    signed_index(&store, REPO, "v1");
    drop(store);
    std::fs::write(dir.path().join("tmp/leftover.tmp"), b"half a blob").unwrap();
    std::fs::create_dir(dir.path().join("tmp/sub")).unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
    assert!(store.fsck().unwrap().is_clean());

    std::fs::write(dir.path().join("blobs/sha256/notes.txt"), b"x").unwrap();
    let report = store.fsck().unwrap();
    assert_eq!(report.damaged.len(), 1);
    assert!(report.damaged[0].0.ends_with("notes.txt"));
    let gc = store.gc().unwrap();
    assert_eq!(gc.removed_blobs, 1);
    assert!(store.fsck().unwrap().is_clean());
}

#[test]
fn index_entries_need_their_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let absent = sha(b"never stored");
    assert!(matches!(
        store.set_tag(REPO, "v1", &absent),
        Err(Error::NotFound { .. })
    ));
    let rec = ImageRecord::new(&absent, true, false, "test");
    assert!(
        store
            .record_image("registry.test:5000/team/app:v1", rec)
            .is_err()
    );
    // A manifest whose bytes do not match its digest, or that is not JSON, is refused.
    let err = store
        .put_manifest(REPO, &absent, OCI_MANIFEST, b"{}", "test")
        .unwrap_err();
    assert!(matches!(err, Error::Mismatch { .. }));
    let err = store
        .put_manifest(REPO, &sha(b"not json"), OCI_MANIFEST, b"not json", "test")
        .unwrap_err();
    assert!(matches!(err, Error::MalformedManifest { .. }));
    assert!(store.set_tag("no-slash", "v1", &absent).is_err());
    assert_eq!(store.du().unwrap().blobs, 0);
    assert!(store.fsck().unwrap().is_clean());
}
