//! The index: tags, repositories, attachments and image records, and writes that change
//! nothing being skipped.

use crate::fixture::*;

#[test]
fn index_records_tags_repos_attachments_and_images() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let d = signed_index(&store, REPO, "v1");
    let (index, child, sig_on_index, referrer) = (&d[6], &d[0], &d[7], &d[12]);
    put_manifest(
        &store,
        "other.test/x",
        &json!({"schemaVersion": 2, "manifests": []}),
    );

    assert_eq!(store.resolve_tag(REPO, "v1").unwrap().as_ref(), Some(index));
    assert_eq!(store.resolve_tag(REPO, "v2").unwrap(), None);
    assert_eq!(
        store.repos().unwrap(),
        vec!["other.test/x".to_owned(), REPO.to_owned()]
    );
    assert_eq!(store.tags().unwrap().len(), 3);

    let atts = store.attachments_of(index).unwrap();
    assert_eq!(atts.len(), 2, "{atts:?}");
    assert_eq!(atts[0].kind, AttachmentKind::Signature);
    assert_eq!(&atts[0].digest, sig_on_index);
    assert_eq!(atts[0].repo, REPO);
    assert_eq!(
        atts[0].tag.as_deref(),
        Some(AttachmentKind::Signature.tag_for(index).unwrap().as_str())
    );
    assert_eq!(atts[1].kind, AttachmentKind::Referrer);
    assert_eq!(&atts[1].digest, referrer);
    assert_eq!(atts[1].tag, None);
    assert_eq!(store.attachments_of(child).unwrap().len(), 1);

    let info = store.manifest_info(referrer).unwrap().unwrap();
    assert_eq!(info.subject.as_ref(), Some(index));
    assert_eq!(info.repos, vec![REPO.to_owned()]);
    assert_eq!(info.source, "test");
    // Storing it again under another repository merges.
    let bytes = store.read_blob(referrer, u64::MAX).unwrap();
    store
        .put_manifest("other.test/x", referrer, "", &bytes, "again")
        .unwrap();
    let info = store.manifest_info(referrer).unwrap().unwrap();
    assert_eq!(info.repos, vec!["other.test/x".to_owned(), REPO.to_owned()]);
    assert_eq!(info.source, "test");
    assert_eq!(store.attachments_of(index).unwrap().len(), 3);

    store
        .record_image(
            "registry.test:5000/team/app:v1",
            ImageRecord::new(index, true, false, "reg"),
        )
        .unwrap();
    store
        .record_image("alpine", ImageRecord::new(child, false, true, "reg"))
        .unwrap();
    let images = store.images().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0].0, "index.docker.io/library/alpine:latest");
    assert!(store.image("alpine:latest").unwrap().is_some());
    let usage = store.du().unwrap();
    assert_eq!((usage.tags, usage.images, usage.manifests), (3, 2, 7));
    assert!(store.fsck().unwrap().is_clean());
}

/// Storing what is already stored writes nothing (a re-pull syncs nothing), but every real
/// change still lands: a manifest stored under a second repository, a referrer's entry, a
/// moved tag and a moved attachment tag.
#[test]
fn repeated_writes_are_skipped_and_real_changes_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let digests = signed_index(&store, "r.example/team/app", "v1");
    let (index, referrer) = (digests[6].clone(), digests[12].clone());
    // The same again: the same entries.
    let before = store.manifest_info(&index).unwrap().unwrap();
    let again = signed_index(&store, "r.example/team/app", "v1");
    assert_eq!(again, digests);
    assert_eq!(
        store.manifest_info(&index).unwrap().unwrap().repos,
        before.repos
    );
    // Another repository: recorded beside the first.
    let bytes = std::fs::read(store.blob_path(&index).unwrap()).unwrap();
    store
        .put_manifest("r.example/other", &index, OCI_INDEX, &bytes, "test")
        .unwrap();
    assert_eq!(
        store.manifest_info(&index).unwrap().unwrap().repos,
        ["r.example/other", "r.example/team/app"]
    );
    // The referrer is indexed under its subject for the new repository too.
    let bytes = std::fs::read(store.blob_path(&referrer).unwrap()).unwrap();
    store
        .put_manifest("r.example/other", &referrer, OCI_MANIFEST, &bytes, "test")
        .unwrap();
    let referrers: Vec<_> = store
        .attachments_of(&index)
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == AttachmentKind::Referrer)
        .map(|a| a.repo)
        .collect();
    assert_eq!(referrers, ["r.example/other", "r.example/team/app"]);
    // A tag set again is unchanged; a tag moved points at its new digest.
    store.set_tag("r.example/team/app", "v1", &index).unwrap();
    assert_eq!(
        store.resolve_tag("r.example/team/app", "v1").unwrap(),
        Some(index.clone())
    );
    let (child, _, _) = image(&store, "r.example/team/app", "moved", true);
    store.set_tag("r.example/team/app", "v1", &child).unwrap();
    assert_eq!(
        store.resolve_tag("r.example/team/app", "v1").unwrap(),
        Some(child.clone())
    );
    // An attachment tag moved to a new signature image moves its attachment entry too.
    let (first_sig, _) = sign(&store, "r.example/team/app", &child);
    let newer = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor("application/vnd.oci.image.config.v1+json", &sha(b"{}"), 2), "layers": [], "annotations": {"n": "2"}});
    let newer = put_manifest(&store, "r.example/team/app", &newer);
    let tag = AttachmentKind::Signature.tag_for(&child).unwrap();
    store.set_tag("r.example/team/app", &tag, &newer).unwrap();
    let sigs: Vec<_> = store
        .attachments_of(&child)
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == AttachmentKind::Signature)
        .map(|a| a.digest)
        .collect();
    assert_eq!(sigs, [newer]);
    assert_ne!(first_sig, sigs[0]);
}
