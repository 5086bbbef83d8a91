//! Hostile and broken registry answers: each gives a clear error and nothing unverified is
//! written (checked here with layouts; the mirror tests check the store).

use sigmirror_tests::fake_registry::{FakeRegistry, Lie};
use sigmirror_tests::{TestDir, run};

use crate::sigmirror;

fn blob_files(dir: &std::path::Path) -> Vec<String> {
    match std::fs::read_dir(dir.join("blobs/sha256")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    }
}

#[test]
fn every_lie_is_refused_and_nothing_unverified_is_written() {
    let cases = [
        (Lie::BlobMismatch, "digest"),
        (Lie::TruncatedBlob, "digest"),
        (Lie::HugeManifest, "4 MiB"),
        (Lie::MalformedJson, "not JSON"),
        (Lie::ServerError, "500"),
        (Lie::ManifestMismatch, "digest"),
    ];
    for (lie, needle) in cases {
        let fake = FakeRegistry::start(lie);
        let dir = TestDir::new();
        let out = run(
            sigmirror(&dir).args(["save", "--dir", "layout", &fake.image()]),
            None,
        )
        .fails_with(needle);
        assert_eq!(
            out.stderr
                .trim()
                .lines()
                .filter(|l| l.starts_with("Error"))
                .count(),
            1,
            "{lie:?}: {}",
            out.stderr
        );
        // Every blob that did land in the layout is intact.
        for name in blob_files(&dir.join("layout")) {
            let bytes = std::fs::read(dir.join("layout/blobs/sha256").join(&name)).unwrap();
            assert_eq!(
                sigmirror_oci::digest::Sha256Digest::of(&bytes).hex(),
                name,
                "{lie:?}: corrupt blob written"
            );
        }
        let index = std::fs::read_to_string(dir.join("layout/index.json")).unwrap_or_default();
        assert!(
            !index.contains("lie/app:v1"),
            "{lie:?}: the image was named although it failed"
        );
    }
}

#[test]
fn self_referencing_attachments_terminate() {
    let fake = FakeRegistry::start(Lie::SelfReference);
    let dir = TestDir::new();
    run(
        sigmirror(&dir).args(["save", "--dir", "layout", &fake.image()]),
        None,
    )
    .ok();
    // The walk did reach the cycle: the SBOM and its own `.sbom` tag are in the layout.
    let index = std::fs::read_to_string(dir.join("layout/index.json")).unwrap();
    assert_eq!(index.matches(".sbom\"").count(), 2, "{index}");
    // The same through the store (images walked concurrently).
    run(
        sigmirror(&dir).args(["pull", "--store", "store", &fake.image()]),
        None,
    )
    .ok();
    run(
        sigmirror(&dir).args(["store", "fsck", "--store", "store"]),
        None,
    )
    .ok();
    let honest = FakeRegistry::start(Lie::None);
    run(
        sigmirror(&dir).args(["save", "--dir", "layout2", &honest.image()]),
        None,
    )
    .ok();
    assert!(
        blob_files(&dir.join("layout2"))
            .iter()
            .any(|n| format!("sha256:{n}") == honest.image_digest)
    );
}
