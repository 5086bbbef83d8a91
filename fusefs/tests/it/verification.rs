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

/// A current ledger entry (made by `store verify` against the store's own trust, at this
/// digest, with the attachments the image has now) stands: the view shows it and verifies
/// nothing itself. An entry made against other trust, or before the attachments or the trust
/// changed, is not current, and the view verifies as before.
#[test]
fn a_current_ledger_entry_stands_and_a_stale_one_is_ignored() {
    use sigmirror_store::{ImageRecord, Store, VerificationRecord};
    let f = build();
    f.trust("ops", &f.key);
    let name = format!("{}:v1", crate::fixture::REPO);
    let record = |policy: String, attachments| VerificationRecord {
        digest: f.image.clone(),
        attachments,
        policy,
        checked_at: "2026-12-01T00:00:00Z".into(),
        verified: true,
        verified_by: vec!["ops".into()],
        reasons: vec![],
    };
    let report = |f: &crate::fixture::Fixture| -> serde_json::Value {
        let vfs = f.vfs();
        let file = path(&vfs, &format!("{}/verification.json", f.image_dir())).unwrap();
        serde_json::from_slice(&read_all(&vfs, file)).unwrap()
    };
    {
        let store = Store::open(f.root()).unwrap();
        store
            .record_image(&name, ImageRecord::new(&f.image, true, false, "test"))
            .unwrap();
        let current = record(
            sigmirror_store::trust_policy_digest(f.root()),
            store.ledger_attachments(&f.image).unwrap(),
        );
        store.record_verification(&name, &current).unwrap();
    }
    let seen = report(&f);
    assert_eq!(
        seen["ledger"]["checkedAt"], "2026-12-01T00:00:00Z",
        "{seen}"
    );
    assert_eq!(seen["verifiedBy"], serde_json::json!(["ops"]));
    assert_eq!(
        seen["signatures"][0]["keys"], "see ledger",
        "not verified again"
    );

    // Stale: made against other trust, or with other attachments.
    for stale in ["policy", "attachments"] {
        {
            let store = Store::open(f.root()).unwrap();
            let (policy, attachments) = match stale {
                "policy" => (
                    "sha256:another-policy".to_owned(),
                    store.ledger_attachments(&f.image).unwrap(),
                ),
                _ => (sigmirror_store::trust_policy_digest(f.root()), vec![]),
            };
            let entry = record(policy, attachments);
            store.record_verification(&name, &entry).unwrap();
        }
        let seen = report(&f);
        assert!(seen["ledger"].is_null(), "{stale}: {seen}");
        assert_eq!(
            seen["signatures"][0]["keys"]["ops"]["verified"], true,
            "{stale}: {seen}"
        );
    }
    // The trust changes after a current entry: the entry is no longer current.
    {
        let store = Store::open(f.root()).unwrap();
        let current = record(
            sigmirror_store::trust_policy_digest(f.root()),
            store.ledger_attachments(&f.image).unwrap(),
        );
        store.record_verification(&name, &current).unwrap();
    }
    assert!(!report(&f)["ledger"].is_null());
    f.trust("other", &PrivateKey::generate());
    let seen = report(&f);
    assert!(seen["ledger"].is_null(), "{seen}");
    assert_eq!(seen["signatures"][0]["keys"]["other"]["verified"], false);
}
