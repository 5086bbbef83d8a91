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
