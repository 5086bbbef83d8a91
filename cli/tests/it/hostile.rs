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

#[test]
fn a_full_disk_gives_clear_errors_and_a_consistent_store() {
    let reg = sigmirror_tests::registry::TestRegistry::start();
    let dir = TestDir::new();
    let images: Vec<String> = (1..=3)
        .map(|i| {
            let file = dir.join(format!("layer{i}.bin"));
            // Incompressible and distinct: three of them do not fit in 2 MiB.
            let bytes: Vec<u8> = (0..1_500_000u32)
                .map(|n| (n.wrapping_mul(2_654_435_761).wrapping_add(i) >> 13) as u8)
                .collect();
            std::fs::write(&file, bytes).unwrap();
            let image = format!("{}:v1", reg.image(&format!("full/app{i}")));
            run(
                sigmirror(&dir)
                    .args(["upload", "blob", "-f"])
                    .arg(&file)
                    .arg(&image),
                None,
            )
            .ok();
            image
        })
        .collect();
    let disk = sigmirror_tests::mounts::Mount::tmpfs(&dir.join("small"), "2m");
    // Writes run on the blocking pool while others download: before, a failed write left the
    // others running past the runtime's shutdown, and most runs ended in Tokio panics.
    for attempt in 0..6 {
        let store = disk.point().join(format!("store{attempt}"));
        let out = run(
            sigmirror(&dir)
                .args(["pull", "--store"])
                .arg(&store)
                .args(&images),
            None,
        )
        .fails_with("No space left on device");
        assert!(
            !out.stderr.contains("panicked") && !out.stderr.contains("Tokio"),
            "attempt {attempt}: {}",
            out.stderr
        );
        // One error line per image that failed (a batch keeps what succeeded), each naming
        // the full disk: no other error, no panic.
        let errors: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("Error"))
            .collect();
        assert!(
            !errors.is_empty() && errors.iter().all(|l| l.contains("No space left on device")),
            "attempt {attempt}: {}",
            out.stderr
        );
        let fsck = run(
            sigmirror(&dir)
                .args(["store", "fsck", "--store"])
                .arg(&store),
            None,
        )
        .ok();
        let said = format!("{}{}", fsck.stdout_text(), fsck.stderr);
        assert!(said.contains(" 0 damaged"), "attempt {attempt}: {said}");
        std::fs::remove_dir_all(&store).unwrap();
    }
}

#[test]
fn busy_and_unavailable_answers_are_retried_until_the_registry_answers() {
    for lie in [Lie::Busy, Lie::Unavailable] {
        let fake = FakeRegistry::start(lie);
        let dir = TestDir::new();
        run(
            sigmirror(&dir).args(["save", "--dir", "layout", &fake.image()]),
            None,
        )
        .ok();
        // Two refusals, then the answer: three requests for each object, no more.
        let manifest = fake.hits("/v2/lie/app/manifests/v1");
        assert_eq!(manifest, 3, "{lie:?}: requests for the manifest");
        let index = std::fs::read_to_string(dir.join("layout/index.json")).unwrap();
        assert!(index.contains("lie/app:v1"), "{lie:?}: {index}");
        assert_eq!(blob_files(&dir.join("layout")).len(), 3, "{lie:?}");
    }
}

#[test]
fn a_registry_that_keeps_failing_is_given_up_on_with_the_attempts_counted() {
    let fake = FakeRegistry::start(Lie::ServerError);
    let dir = TestDir::new();
    run(
        sigmirror(&dir).args(["pull", "--store", "store", &fake.image()]),
        None,
    )
    .fails_with("after 4 attempts");
    // The blob that failed first was asked for exactly four times.
    assert_eq!(fake.most_hits("/v2/lie/app/blobs/"), 4);
}

#[test]
fn a_registry_asking_for_an_hour_is_not_waited_for() {
    let fake = FakeRegistry::start(Lie::ComeBackInAnHour);
    let dir = TestDir::new();
    run(
        sigmirror(&dir).args(["save", "--dir", "layout", &fake.image()]),
        None,
    )
    .fails_with("after 3600 s");
    assert_eq!(fake.hits("/v2/lie/app/manifests/v1"), 1, "asked once");
}

#[test]
fn a_trickling_registry_is_stopped_as_stalled_naming_the_object() {
    let fake = FakeRegistry::start(Lie::Trickle);
    let dir = TestDir::new();
    // The manifest (several hundred bytes at about 10 bytes/s) would take a minute; a window
    // of 2 s that wants 1 KiB/s (the default rate) stops it after the first window.
    let out = run(
        sigmirror(&dir)
            .args(["pull", "--store", "store", "--stall-timeout", "2"])
            .arg(fake.image()),
        None,
    )
    .fails_with("transfer stalled");
    assert!(out.stderr.contains("lie/app:v1"), "{}", out.stderr);
    assert!(out.stderr.contains("1024 bytes/s"), "{}", out.stderr);
    // The same rule from the environment, with a rate given with a suffix.
    let out = run(
        sigmirror(&dir)
            .args(["save", "--dir", "layout", "--min-transfer-rate", "2K"])
            .env("SIGMIRROR_STALL_TIMEOUT", "1")
            .arg(fake.image()),
        None,
    )
    .fails_with("transfer stalled");
    assert!(out.stderr.contains("2048 bytes/s"), "{}", out.stderr);
    run(
        sigmirror(&dir).args(["pull", "--min-transfer-rate", "fast", "x/y:z"]),
        None,
    )
    .fails_with("not a rate in bytes per second");
}

/// A repository's tags are listed page by page through the `Link` headers; a listing whose
/// links never end, or lead to another host, is refused by name and nothing is pulled.
#[test]
fn tag_lists_are_followed_by_their_links_and_endless_or_foreign_links_refused() {
    let fake = FakeRegistry::start(Lie::None);
    let dir = TestDir::new();
    let repo = fake.image().trim_end_matches(":v1").to_owned();
    run(
        sigmirror(&dir).args(["pull", "--store", "store", "--progress", "none", &repo]),
        None,
    )
    .ok();
    assert_eq!(fake.hits("/v2/lie/app/tags/list"), 1);
    assert_eq!(fake.hits("/v2/lie/app/tags/list?n=1&last=v1"), 1);
    let listed = run(
        sigmirror(&dir).args(["store", "ls", "--store", "store"]),
        None,
    )
    .ok()
    .stdout_text();
    assert!(listed.contains(&format!("{repo}:v1\t")), "{listed}");
    assert!(listed.contains(&format!("{repo}:v2\t")), "{listed}");

    for (lie, needle) in [
        (Lie::EndlessTagPages, "more than 1000 pages"),
        (Lie::ForeignTagLink, "not a path of this registry"),
    ] {
        let fake = FakeRegistry::start(lie);
        let dir = TestDir::new();
        let repo = fake.image().trim_end_matches(":v1").to_owned();
        let out = run(
            sigmirror(&dir).args(["pull", "--store", "store", "--progress", "none", &repo]),
            None,
        )
        .fails_with(needle);
        assert!(out.stderr.contains("lie/app"), "{}", out.stderr);
        let listed = run(
            sigmirror(&dir).args(["store", "ls", "--store", "store"]),
            None,
        )
        .ok()
        .stdout_text();
        assert!(!listed.contains("lie/app"), "{lie:?}: {listed}");
    }
}
