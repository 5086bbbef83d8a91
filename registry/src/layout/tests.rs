//! Lookups in a layout with many entries: answers stay right after every change, and asking
//! about every image reads each manifest file a bounded number of times (it was once per
//! question and entry, which made `load` quadratic).

use bytes::Bytes;
use serde_json::json;

use sigmirror_oci::manifest::Manifest;
use sigmirror_oci::source::{Sink, Source};
use sigmirror_oci::{Digest, ImageRef, media_types};

use super::Layout;

fn manifest(value: &serde_json::Value) -> Manifest {
    let bytes = serde_json::to_vec(value).expect("json");
    Manifest {
        digest: Digest::sha256_of(&bytes),
        bytes: Bytes::from(bytes),
        media_type: media_types::OCI_MANIFEST.into(),
    }
}

/// An image manifest told apart by `n` (its content is never fetched here).
fn image(n: usize) -> Manifest {
    manifest(&json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": Digest::sha256_of(b"{}"), "size": 2},
        "layers": [],
        "annotations": {"n": n.to_string()},
    }))
}

/// An OCI 1.1 referrer of `subject`.
fn referrer(subject: &Manifest, n: usize) -> Manifest {
    manifest(&json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_MANIFEST,
        "artifactType": "application/example",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": Digest::sha256_of(b"{}"), "size": 2},
        "layers": [],
        "subject": {"mediaType": media_types::OCI_MANIFEST,
                    "digest": subject.digest, "size": subject.bytes.len()},
        "annotations": {"n": n.to_string()},
    }))
}

fn name(n: usize) -> ImageRef {
    ImageRef::parse(&format!("registry.test/team/app-{n}:v1")).expect("name")
}

#[tokio::test]
async fn asking_about_every_image_reads_each_manifest_a_bounded_number_of_times() {
    const IMAGES: usize = 300;
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = Layout::create(dir.path()).expect("layout");
    let mut expected = vec![];
    for n in 0..IMAGES {
        let img = image(n);
        let by_digest = name(n).with_digest(&img.digest);
        layout.put_manifest(&name(n), &img).await.expect("image");
        let r = referrer(&img, n);
        layout
            .put_manifest(&by_digest.with_digest(&r.digest), &r)
            .await
            .expect("referrer");
        expected.push((img.digest, r.digest));
    }
    let before = layout.files_read();
    for (n, (img, r)) in expected.iter().enumerate() {
        let found = layout
            .get_manifest(&name(n))
            .await
            .expect("get")
            .expect("found");
        assert_eq!(found.digest, *img, "image {n} by name");
        let referrers = layout
            .referrers(&name(n).with_digest(img))
            .await
            .expect("referrers");
        assert_eq!(referrers, vec![r.clone()], "referrers of image {n}");
    }
    let reads = layout.files_read() - before;
    // One read per image fetched, plus one pass over the entries (2 per image) for referrers;
    // asking per entry would be IMAGES × 2 × IMAGES.
    assert!(
        reads <= 3 * IMAGES + 1,
        "{reads} files read to answer {IMAGES} images"
    );
}

#[tokio::test]
async fn lookups_follow_every_change_of_the_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = Layout::create(dir.path()).expect("layout");
    let (first, second) = (image(1), image(2));
    let tag = name(0);
    layout.put_manifest(&tag, &first).await.expect("first");
    let found = layout
        .get_manifest(&tag)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(found.digest, first.digest);
    let subject = tag.with_digest(&first.digest);
    assert!(layout.referrers(&subject).await.expect("none").is_empty());

    // Retagging and a new referrer are seen at once, by this handle and by a fresh one.
    layout.put_manifest(&tag, &second).await.expect("second");
    let r = referrer(&first, 1);
    layout
        .put_manifest(&subject.with_digest(&r.digest), &r)
        .await
        .expect("referrer");
    for handle in [&layout, &Layout::open(dir.path()).expect("reopen")] {
        let found = handle
            .get_manifest(&tag)
            .await
            .expect("get")
            .expect("found");
        assert_eq!(found.digest, second.digest, "the tag follows the retag");
        let referrers = handle.referrers(&subject).await.expect("referrers");
        assert_eq!(referrers, vec![r.digest.clone()]);
    }
}

#[tokio::test]
async fn deferred_index_writes_land_once_with_every_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = Layout::create(dir.path()).expect("layout");
    let index = dir.path().join("index.json");
    let empty = std::fs::read(&index).expect("index");
    layout.defer_index_writes();
    for n in 0..50 {
        layout
            .put_manifest(&name(n), &image(n))
            .await
            .expect("image");
    }
    assert_eq!(
        std::fs::read(&index).expect("index"),
        empty,
        "nothing written before the end"
    );
    layout.write_pending().expect("written");
    let reopened = Layout::open(dir.path()).expect("reopen");
    assert_eq!(reopened.names().len(), 50);
    for n in 0..50 {
        let found = reopened
            .get_manifest(&name(n))
            .await
            .expect("get")
            .expect("found");
        assert_eq!(found.digest, image(n).digest);
    }
}
