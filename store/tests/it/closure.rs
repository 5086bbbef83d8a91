//! Closures: what an image needs, what is missing, cycles, and the content check a transfer
//! makes before walking a stored manifest again.

use crate::fixture::*;

#[test]
fn closure_and_info_report_missing_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let d = signed_index(&store, REPO, "v1");
    let index = &d[6];
    let closure = store.closure(index).unwrap();
    assert!(closure.is_complete(false), "{closure:?}");
    assert_eq!(closure.manifests.len(), 6); // index, 2 images, 2 signatures, 1 referrer
    assert_eq!(closure.attachments.len(), 3);
    assert_eq!(closure.present().count(), d.len());

    // Pulled without layers: only image layers may be missing.
    let (thin, _, layer) = image(&store, REPO, "thin", false);
    let (sig, _) = sign(&store, REPO, &thin);
    store
        .record_image(
            &format!("{REPO}:thin"),
            ImageRecord::new(&thin, true, true, "r"),
        )
        .unwrap();
    let info = store.info(&format!("{REPO}:thin")).unwrap();
    assert!(info.complete, "{info:?}");
    assert!(info.closure.missing_layers.contains(&layer));
    assert!(info.closure.manifests.contains(&sig));
    store
        .record_image(
            &format!("{REPO}:thin"),
            ImageRecord::new(&thin, true, false, "r"),
        )
        .unwrap();
    assert!(!store.info(&format!("{REPO}:thin")).unwrap().complete);

    // A missing child manifest, a missing signature payload, and a record not complete.
    let ghost = sha(b"ghost manifest");
    let idx = put_manifest(
        &store,
        REPO,
        &json!({"schemaVersion": 2, "manifests": [descriptor(OCI_MANIFEST, &ghost, 1)]}),
    );
    let closure = store.closure(&idx).unwrap();
    assert_eq!(
        closure.missing_manifests.iter().collect::<Vec<_>>(),
        vec![&ghost]
    );
    let payload = sha(b"payload never fetched");
    let sig = put_manifest(
        &store,
        REPO,
        &json!({"schemaVersion": 2, "config": descriptor("x", &sha(b"{}"), 2),
                "layers": [descriptor("application/vnd.dev.cosign.simplesigning.v1+json", &payload, 1)]}),
    );
    store
        .set_tag(
            REPO,
            &AttachmentKind::Signature.tag_for(&d[3]).unwrap(),
            &sig,
        )
        .unwrap();
    let closure = store.closure(index).unwrap();
    assert!(closure.missing_blobs.contains(&payload), "{closure:?}");
    assert!(!closure.is_complete(true));
    store
        .record_image(
            &format!("{REPO}:v1"),
            ImageRecord::new(index, true, true, "r"),
        )
        .unwrap();
    assert!(!store.info(&format!("{REPO}:v1")).unwrap().complete);
    assert!(matches!(
        store.info("nothing:here"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn closure_survives_cycles_and_self_references() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // A signature whose own signature tag points back at the image: a cycle via attachments.
    let (img, _, _) = image(&store, REPO, "cyc", true);
    let (sig, _) = sign(&store, REPO, &img);
    store
        .set_tag(
            REPO,
            &AttachmentKind::Signature.tag_for(&sig).unwrap(),
            &img,
        )
        .unwrap();
    let closure = store.closure(&img).unwrap();
    assert!(closure.is_complete(false));
    assert_eq!(closure.manifests.len(), 2);
    // An index that lists a digest that is not a manifest but a layer.
    let (_, _, layer) = image(&store, REPO, "big", true);
    let idx = put_manifest(
        &store,
        REPO,
        &json!({"manifests": [descriptor(OCI_MANIFEST, &layer, 1)]}),
    );
    let closure = store.closure(&idx).unwrap();
    assert!(closure.damaged.contains(&layer));
    // A manifest naming something that is not a digest is refused before it is stored.
    let bad = serde_json::to_vec(
        &json!({"manifests": [{"mediaType": OCI_MANIFEST, "digest": "sha256:../x", "size": 1}]}),
    )
    .unwrap();
    let err = store
        .put_manifest(REPO, &sha(&bad), OCI_INDEX, &bad, "test")
        .unwrap_err();
    assert!(matches!(err, Error::MalformedManifest { .. }), "{err}");
    assert!(!store.has_blob(&sha(&bad)));
}

/// What a transfer asks before walking a stored manifest again: its content, not its
/// attachments, with or without layers.
#[test]
fn content_complete_follows_children_configs_and_layers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (full, _, _) = image(&store, "r.example/team/app", "full", true);
    let (thin, _, _) = image(&store, "r.example/team/app", "thin", false);
    assert!(store.content_complete(&full, true).unwrap());
    assert!(store.content_complete(&thin, false).unwrap());
    assert!(
        !store.content_complete(&thin, true).unwrap(),
        "a manifest without its layer is not complete when layers are wanted"
    );
    let idx = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [descriptor(OCI_MANIFEST, &full, 0), descriptor(OCI_MANIFEST, &thin, 0)],
    });
    let idx = put_manifest(&store, "r.example/team/app", &idx);
    assert!(store.content_complete(&idx, false).unwrap());
    assert!(
        !store.content_complete(&idx, true).unwrap(),
        "a child lacks its layer"
    );
    let absent = sha(b"never stored");
    assert!(!store.content_complete(&absent, false).unwrap());
}
