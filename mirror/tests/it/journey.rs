//! The air-gapped journey through library calls: sign in a registry, pull into a store, verify
//! offline, save to a layout, load it into a second store, push and copy to other repositories,
//! and verify every copy.

use std::collections::BTreeMap;
use std::sync::Arc;

use sigmirror_cosign::keys::PrivateKey;
use sigmirror_mirror::{AnySource, CopyOptions};
use sigmirror_oci::{Digest, ImageRef};
use sigmirror_registry::sign::{SignRequest, sign_image};
use sigmirror_registry::verify::verify_image;
use sigmirror_registry::{NoProgress, Registry, RegistryOptions, TransferOptions};
use sigmirror_store::Store;
use sigmirror_tests::TestDir;
use sigmirror_tests::oci::push_image;
use sigmirror_tests::registry::TestRegistry;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Verifies `image` in `source` with `key`; returns the verified digest.
async fn verified(
    source: &impl sigmirror_oci::source::Source,
    key: &PrivateKey,
    image: &ImageRef,
) -> Digest {
    let v = verify_image(source, &key.public_key().into(), image, &BTreeMap::new())
        .await
        .unwrap_or_else(|e| panic!("{image}: {e}"));
    v.image.digest().unwrap().clone()
}

#[test]
fn pull_save_load_push_copy_keep_signatures_verifiable() {
    let reg = TestRegistry::start();
    let dir = TestDir::new();
    let name = format!("{}:v1", reg.image("team/app"));
    let digest = Digest::parse(&push_image(&name, "journey")).unwrap();
    let image = ImageRef::parse(&name).unwrap();
    let key = PrivateKey::generate();
    let registry = Registry::new(RegistryOptions::default());
    let rt = runtime();
    rt.block_on(async {
        let request = SignRequest::new(image.clone());
        sign_image(&registry, Arc::new(key.clone()), &request)
            .await
            .unwrap();

        // pull → store, verified with no registry involved.
        let store = Arc::new(Store::open(dir.join("outside")).unwrap());
        let pulled = sigmirror_mirror::pull(
            &registry,
            store.clone(),
            std::slice::from_ref(&image),
            TransferOptions::default(),
            &NoProgress,
        )
        .await
        .and_then(sigmirror_mirror::Batch::into_result)
        .unwrap();
        assert_eq!(pulled.images, 1);
        assert!(pulled.manifests >= 2, "{pulled:?}"); // the image and its .sig
        assert!(store.info(&name).unwrap().complete);
        let offline = AnySource::Store(Arc::try_unwrap(store).unwrap());
        assert_eq!(verified(&offline, &key, &image).await, digest);

        // save (from the store) → layout → load into a second store.
        let layout = dir.join("layout");
        let saved = sigmirror_mirror::save(
            &offline,
            &layout,
            std::slice::from_ref(&image),
            TransferOptions::default(),
            &NoProgress,
        )
        .await
        .and_then(sigmirror_mirror::Batch::into_result)
        .unwrap();
        assert_eq!(saved.images, 1);
        drop(offline);
        let inside = std::sync::Arc::new(Store::open(dir.join("inside")).unwrap());
        sigmirror_mirror::load(
            &layout,
            inside.clone(),
            None,
            TransferOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap();
        let inside = std::sync::Arc::into_inner(inside).expect("load keeps no store handle");
        let inside = AnySource::Store(inside);
        assert_eq!(verified(&inside, &key, &image).await, digest);

        // push (store → registry) under a prefix; the copy verifies there with the same digest.
        let AnySource::Store(inside) = inside else {
            unreachable!()
        };
        let prefix = format!("{}/mirror", reg.addr());
        sigmirror_mirror::push(
            &inside,
            &registry,
            &prefix,
            &[],
            TransferOptions::default(),
            &NoProgress,
        )
        .await
        .and_then(sigmirror_mirror::Batch::into_result)
        .unwrap();
        let pushed = ImageRef::parse(&format!("{prefix}/team/app:v1")).unwrap();
        assert_eq!(verified(&registry, &key, &pushed).await, digest);

        // copy (registry → registry), and the refusal to move an existing tag without force.
        let copied = ImageRef::parse(&format!("{}:v1", reg.image("other/app"))).unwrap();
        let plain = CopyOptions::default();
        sigmirror_mirror::copy(
            &registry,
            &image,
            &copied,
            &plain,
            TransferOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap();
        assert_eq!(verified(&registry, &key, &copied).await, digest);
        let elsewhere = format!("{}:v1", reg.image("other/else"));
        push_image(&elsewhere, "something else");
        let taken = ImageRef::parse(&elsewhere).unwrap();
        let err = sigmirror_mirror::copy(
            &registry,
            &image,
            &taken,
            &plain,
            TransferOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, sigmirror_mirror::Error::DestinationExists(_)),
            "{err}"
        );
    });
}

#[test]
fn a_failed_pull_names_its_image_and_records_nothing_complete() {
    let reg = TestRegistry::start();
    let dir = TestDir::new();
    let missing = ImageRef::parse(&format!("{}:v1", reg.image("team/missing"))).unwrap();
    let registry = Registry::new(RegistryOptions::default());
    let store = Arc::new(Store::open(dir.join("store")).unwrap());
    let err = runtime()
        .block_on(sigmirror_mirror::pull(
            &registry,
            store.clone(),
            std::slice::from_ref(&missing),
            TransferOptions::default(),
            &NoProgress,
        ))
        .and_then(sigmirror_mirror::Batch::into_result)
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("pulling {missing}")),
        "{err}"
    );
    assert!(store.images().unwrap().is_empty());
}
