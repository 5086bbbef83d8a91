//! `verified/<key>` and `verification.json` against the store's trusted keys.

use sigmirror_cosign::keys::PrivateKey;
use sigmirror_fusefs::Error;

use crate::fixture::{build, names, path, read_all};

#[test]
fn only_the_signing_key_verifies() {
    let f = build();
    f.trust("ops", &f.key);
    f.trust("other", &PrivateKey::generate());
    let vfs = f.vfs();
    let d = f.image_dir();
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
    assert_eq!(report["signatures"][0]["keys"]["ops"]["verified"], true);
    let reason = report["signatures"][0]["keys"]["other"]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("invalid signature"), "{reason}");
}

#[test]
fn without_trusted_keys_nothing_is_verified() {
    let f = build();
    let vfs = f.vfs();
    let verified = path(&vfs, &format!("{}/verified", f.image_dir())).unwrap();
    assert!(names(&vfs, verified).is_empty());
}

#[test]
fn signatures_count_in_the_repository_that_holds_them_only() {
    // The same image stored under a second repository, without any signature there: `verify`
    // of that name fails, so the view must not call it verified.
    let f = build();
    f.trust("ops", &f.key);
    let copy = "registry.test:5000/copies/app";
    {
        let store = sigmirror_store::Store::open(f.root()).unwrap();
        let bytes = store.read_blob(&f.image, 1 << 20).unwrap();
        store
            .put_manifest(
                copy,
                &f.image,
                sigmirror_oci::media_types::OCI_MANIFEST,
                &bytes,
                "test",
            )
            .unwrap();
        store.set_tag(copy, "v1", &f.image).unwrap();
    }
    let vfs = f.vfs();
    let here = format!("{copy}/_digests/{}", f.image);
    let verified = path(&vfs, &format!("{here}/verified")).unwrap();
    assert!(
        names(&vfs, verified).is_empty(),
        "verified by another repository's .sig"
    );
    let signatures = path(&vfs, &format!("{here}/signatures")).unwrap();
    assert!(names(&vfs, signatures).is_empty());
    // In the repository that holds the signature, it counts.
    assert!(path(&vfs, &format!("{}/verified/ops", f.image_dir())).is_ok());
}
