//! `store verify` of a store large enough that the policy's key is prepared for many
//! verifications (its table of multiples) and the index is read in one pass: each image's
//! outcome must be what `verify --offline` (the registry crate's `verify_image` over the
//! store) says of it, for good signatures and for every way of spoiling one, whether the whole
//! store is checked, many images by name, or a few.

use std::collections::BTreeMap;

use futures_util::FutureExt as _;
use sigmirror_cosign::keys::PrivateKey;
use sigmirror_cosign::verifier::Verifier;
use sigmirror_mirror::audit::verify_store;
use sigmirror_mirror::policy::Policy;
use sigmirror_oci::ImageRef;
use sigmirror_registry::verify::verify_image;
use sigmirror_store::Store;
use sigmirror_tests::TestDir;

use crate::signed_store::{Signing, signed_image};

const KINDS: [Signing; 5] = [
    Signing::Good,
    Signing::OtherKey,
    Signing::OtherDigest,
    Signing::TamperedPayload,
    Signing::Unsigned,
];

#[test]
fn a_large_store_verify_agrees_with_verify_offline_on_every_image() {
    let dir = TestDir::new();
    let store = Store::open(dir.join("store")).unwrap();
    let key = PrivateKey::generate();
    // More images than the point from which the key is prepared (256).
    let count = 300;
    let mut expected = BTreeMap::new();
    {
        let batch = store.batch();
        for i in 0..count {
            let how = KINDS[i % KINDS.len()];
            expected.insert(signed_image(&store, &key, i, how), how);
        }
        batch.finish().unwrap();
    }
    // Two well-signed images whose manifest the store no longer holds intact: one removed, one
    // overwritten. `verify --offline` refuses both (it reads the manifest first), and so must
    // `store verify`.
    let damaged: Vec<String> = (count..count + 2)
        .map(|i| signed_image(&store, &key, i, Signing::Good))
        .collect();
    for (i, name) in damaged.iter().enumerate() {
        let digest = store.image(name).unwrap().unwrap().digest;
        let path = store.blob_path(&digest).unwrap();
        match i {
            0 => std::fs::remove_file(&path).unwrap(),
            _ => std::fs::write(&path, b"{\"schemaVersion\":2}").unwrap(),
        }
        expected.insert(name.clone(), Signing::Unsigned);
    }
    let count = count + damaged.len();
    let verifier = Verifier::Key(key.public_key());
    let pem = key.public_key().to_pem().into_bytes();
    let policy = Policy::new(
        vec![("release".into(), verifier.clone())],
        &[("key release".into(), pem)],
    );

    // What verify --offline says of each image, through the general path.
    let offline: BTreeMap<String, bool> = expected
        .keys()
        .map(|name| {
            let image = ImageRef::parse(name).unwrap();
            let verified = verify_image(&store, &verifier, &image, &BTreeMap::new())
                .now_or_never()
                .expect("the store answers at once")
                .is_ok();
            (name.clone(), verified)
        })
        .collect();
    for (name, how) in &expected {
        assert_eq!(offline[name], *how == Signing::Good, "{name} ({how:?})");
    }

    // The whole store, on two threads.
    let whole = verify_store(&store, &policy, &[], 2).unwrap();
    assert_eq!(whole.len(), count);
    for outcome in &whole {
        assert!(outcome.checked, "{}: first run checks", outcome.name);
        assert_eq!(
            outcome.record.verified, offline[&outcome.name],
            "{}: {:?}",
            outcome.name, outcome.record.reasons
        );
        if outcome.record.verified {
            assert_eq!(outcome.record.verified_by, ["release"]);
            assert!(outcome.record.reasons.is_empty());
        } else {
            assert!(outcome.record.verified_by.is_empty());
            let why = if damaged.contains(&outcome.name) {
                "the image's manifest"
            } else {
                "no signature verified"
            };
            assert!(
                outcome.record.reasons[0].starts_with(why),
                "{}: {:?}",
                outcome.name,
                outcome.record.reasons
            );
        }
    }

    // Nothing changed: every outcome comes from the ledger, and is the same.
    let again = verify_store(&store, &policy, &[], 2).unwrap();
    for (first, second) in whole.iter().zip(&again) {
        assert!(!second.checked, "{}: unchanged", second.name);
        assert_eq!(first.record.verified, second.record.verified);
    }

    // By name, many (the key prepared, the index read per image) and a few (neither), under
    // another policy so that each is checked again.
    for names in [
        expected.keys().cloned().collect::<Vec<_>>(),
        expected.keys().take(10).cloned().collect(),
    ] {
        let other = Policy::new(
            vec![("release".into(), verifier.clone())],
            &[(
                format!("key release, {} names", names.len()),
                b"pem".to_vec(),
            )],
        );
        let named = verify_store(&store, &other, &names, 2).unwrap();
        assert_eq!(named.len(), names.len());
        for outcome in &named {
            assert!(outcome.checked);
            assert_eq!(
                outcome.record.verified, offline[&outcome.name],
                "{}",
                outcome.name
            );
        }
    }
}
