//! The local mirror end to end: pull, offline verification with the registry stopped, push and
//! copy checked by the real cosign, save/load with cosign and skopeo, crash safety under
//! `kill -9`, hostile registries, the store lock and gc.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sigmirror_tests::fake_registry::{FakeRegistry, Lie};
use sigmirror_tests::oci::{push_image, push_index};
use sigmirror_tests::registry::TestRegistry;
use sigmirror_tests::{Run, TestDir, cosign, run, tool};

use crate::{generate_key_pair, generate_other_key_pair, sigmirror};

/// A key pair, a store and a registry with a signed, attested multi-platform image (signatures on
/// the index and on one child).
struct Mirror {
    reg: TestRegistry,
    dir: TestDir,
    image: String,
    index: String,
    children: Vec<String>,
}

fn mirror(repo: &str) -> Mirror {
    let reg = TestRegistry::start();
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    let image = format!("{}:v1", reg.image(repo));
    let (index, children) = push_index(&image, repo);
    let m = Mirror {
        reg,
        dir,
        image,
        index,
        children,
    };
    m.sm(&["sign", "--key", "cosign.key", &m.image]).ok();
    m.sm(&["sign", "--key", "cosign.key", &m.child(0)]).ok();
    m.dir.write("pred.json", r#"{"buildType":"test"}"#);
    m.sm(&crate::attest_args(&m.image)).ok();
    m
}

impl Mirror {
    fn sm(&self, args: &[&str]) -> Run {
        run(
            sigmirror(&self.dir)
                .args(args)
                .env("COSIGN_PASSWORD", "pw")
                .env("SIGMIRROR_STORE", self.dir.join("store")),
            None,
        )
    }
    fn child(&self, i: usize) -> String {
        format!(
            "{}@{}",
            self.image.rsplit_once(':').unwrap().0,
            self.children[i]
        )
    }
    fn cosign(&self, args: &[&str]) -> Run {
        run(cosign(&self.dir).args(args), None)
    }
}

fn summary(out: &Run) -> Value {
    serde_json::from_str(out.stdout_text().trim())
        .unwrap_or_else(|e| panic!("{e}: {}", out.stdout_text()))
}

fn count_files(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

#[test]
fn pull_then_verify_offline_with_the_registry_stopped() {
    let mut m = mirror("team/offline");
    let out = m.sm(&["pull", "--json", &m.image]).ok();
    let s = summary(&out);
    assert_eq!(s["images"], 1);
    assert!(
        s["manifests"].as_u64().unwrap() >= 6,
        "index, 2 children, .sig x2, .att: {s}"
    );
    m.sm(&["store", "info", &m.image]).ok();
    // A no-op re-pull fetches nothing.
    let again = summary(&m.sm(&["pull", "--json", &m.image]).ok());
    assert_eq!(
        (again["blobs"].as_u64(), again["manifests"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );

    let image = m.image.clone();
    let child = m.child(0);
    m.reg.stop();
    // Offline: everything answers from the store.
    let out = m
        .sm(&["verify", "--offline", "--key", "cosign.pub", &image])
        .ok();
    assert!(
        out.stdout_text().contains(&m.index),
        "{}",
        out.stdout_text()
    );
    m.sm(&["verify", "--offline", "--key", "cosign.pub", &child])
        .ok();
    m.sm(&[
        "verify-attestation",
        "--offline",
        "--key",
        "cosign.pub",
        "--type",
        "https://example.com/t/v1",
        &image,
    ])
    .ok();
    let tree = m.sm(&["tree", "--offline", &image]).ok();
    assert!(tree.stdout_text().contains("Signatures for an image tag"));
    let dl = m.sm(&["download", "signature", "--offline", &image]).ok();
    assert_eq!(dl.stdout_text().lines().count(), 1);
    // ...and the registry is really gone.
    let out = m.sm(&["verify", "--key", "cosign.pub", &image]);
    assert!(
        out.stderr.contains("cannot reach the registry"),
        "{}",
        out.stderr
    );
    // Negative cases hold offline too.
    crate::generate_other_key_pair(&m.dir);
    let out = m.sm(&["verify", "--offline", "--key", "other.pub", &image]);
    assert_eq!(out.code, 12, "{}", out.stderr);
    let out = m.sm(&["verify", "--offline", "--key", "cosign.pub", &m.child(1)]);
    assert_eq!(out.code, 10, "unsigned child: {}", out.stderr);
}

#[test]
fn no_layers_mirrors_enough_to_verify() {
    let mut m = mirror("team/nolayers");
    let full = TestDir::new();
    m.sm(&["pull", "--no-layers", &m.image]).ok();
    run(
        sigmirror(&m.dir)
            .args(["pull", &m.image])
            .env("SIGMIRROR_STORE", full.path()),
        None,
    )
    .ok();
    let files = |p: &std::path::Path| count_files(&p.join("blobs/sha256"));
    assert!(
        files(&m.dir.join("store")) < files(full.path()),
        "layers were skipped"
    );
    let image = m.image.clone();
    m.reg.stop();
    m.sm(&["verify", "--offline", "--key", "cosign.pub", &image])
        .ok();
    m.sm(&[
        "verify-attestation",
        "--offline",
        "--key",
        "cosign.pub",
        "--type",
        "https://example.com/t/v1",
        &image,
    ])
    .ok();
    let info = m.sm(&["store", "info", &image]).ok();
    assert!(
        info.stdout_text().contains("noLayers") || info.stdout_text().contains("no_layers"),
        "{}",
        info.stdout_text()
    );
}

#[test]
fn push_and_copy_keep_digests_and_cosign_verifies_the_destination() {
    let m = mirror("team/moved");
    let second = TestRegistry::start();
    m.sm(&["pull", &m.image]).ok();
    m.sm(&["push", "--to", &second.image("mirror"), &m.image])
        .ok();
    let pushed = format!("{}:v1", second.image("mirror/team/moved"));
    m.cosign(&[
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        &pushed,
    ])
    .ok();
    m.cosign(&[
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        &format!("{}@{}", second.image("mirror/team/moved"), m.children[0]),
    ])
    .ok();
    m.cosign(&[
        "verify-attestation",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--type",
        "https://example.com/t/v1",
        &pushed,
    ])
    .ok();
    let digest = |image: &str| {
        m.sm(&["triangulate", "--type", "digest", image])
            .ok()
            .stdout_text()
            .trim()
            .rsplit_once('@')
            .unwrap()
            .1
            .to_owned()
    };
    assert_eq!(digest(&pushed), m.index);

    let copied = format!("{}:v2", second.image("copied/app"));
    m.sm(&["copy", &m.image, &copied]).ok();
    assert_eq!(digest(&copied), m.index);
    m.cosign(&[
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        &copied,
    ])
    .ok();
    m.cosign(&[
        "verify-attestation",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--type",
        "https://example.com/t/v1",
        &copied,
    ])
    .ok();
    // The signature images themselves are byte-identical at both ends.
    for image in [&pushed, &copied] {
        let ours = m.sm(&["triangulate", image]).ok().stdout_text();
        let tag = ours.trim().rsplit_once(':').unwrap().1.to_owned();
        assert_eq!(tag, format!("{}.sig", m.index.replace(':', "-")));
    }
    // --platform to a registry: refused, for the registry would refuse the partial index and
    // tagging the platform's manifest instead would change what the tag names.
    let arm = format!("{}:arm", second.image("copied/app"));
    m.sm(&["copy", "--platform", "linux/arm64", &m.image, &arm])
        .fails_with("refuses an index whose other platforms' manifests it does not hold");
    m.sm(&["verify", "--key", "cosign.pub", &arm])
        .fails_with("not found");
    // Copying onto a tag that holds another image needs --force.
    let other = format!("{}:v3", second.image("copied/app"));
    push_image(&other, "unrelated");
    m.sm(&["copy", &m.image, &other])
        .fails_with("already exists");
    m.sm(&["copy", "--force", &m.image, &other]).ok();
    assert_eq!(digest(&other), m.index);
}

#[test]
fn save_load_interoperate_with_cosign_and_skopeo() {
    let m = mirror("team/layout");
    m.sm(&["pull", &m.image]).ok();
    // sigmirror save (offline, from the store) -> cosign load -> cosign verify.
    m.sm(&["save", "--offline", "--dir", "out", &m.image]).ok();
    let loaded = format!("{}:loaded", m.reg.image("team/fromlayout"));
    m.cosign(&["load", "--dir", "out", &loaded]).ok();
    m.cosign(&[
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        &loaded,
    ])
    .ok();
    // skopeo reads our layout by the full name.
    let out = run(
        Command::new(tool("skopeo")).args([
            "inspect",
            "--raw",
            &format!("oci:{}:{}", m.dir.join("out").display(), m.image),
        ]),
        None,
    )
    .ok();
    assert_eq!(
        format!(
            "sha256:{}",
            sigmirror_oci::digest::Sha256Digest::of(&out.stdout).hex()
        ),
        m.index
    );
    // cosign save -> sigmirror load (no names: IMAGE names it) -> verify --offline.
    m.cosign(&["save", "--dir", "cosign-out", &m.image]).ok();
    let fresh = TestDir::new();
    let name = "registry.example/imported/app:v1";
    run(
        sigmirror(&m.dir)
            .args(["store", "load", "--dir", "cosign-out", name])
            .env("SIGMIRROR_STORE", fresh.path()),
        None,
    )
    .ok();
    run(
        sigmirror(&m.dir)
            .args(["verify", "--offline", "--key", "cosign.pub", name])
            .env("SIGMIRROR_STORE", fresh.path()),
        None,
    )
    .ok();
    // Several images in one layout keep their names through save and load.
    let second = format!("{}:v1", m.reg.image("team/second"));
    push_image(&second, "second");
    m.sm(&["sign", "--key", "cosign.key", &second]).ok();
    m.sm(&["save", "--dir", "multi", &m.image, &second]).ok();
    let restored = TestDir::new();
    run(
        sigmirror(&m.dir)
            .args(["store", "load", "--dir", "multi"])
            .env("SIGMIRROR_STORE", restored.path()),
        None,
    )
    .ok();
    for image in [&m.image, &second] {
        run(
            sigmirror(&m.dir)
                .args(["verify", "--offline", "--key", "cosign.pub", image])
                .env("SIGMIRROR_STORE", restored.path()),
            None,
        )
        .ok();
    }
}

#[test]
fn kill_9_at_random_moments_leaves_a_clean_store_and_reruns_complete() {
    let reg = TestRegistry::start();
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    // Enough content that a pull takes a while: several images with several 1 MiB layers.
    let mut images = vec![];
    for i in 0..4 {
        let image = format!("{}:v1", reg.image(&format!("crash/app{i}")));
        sigmirror_tests::oci::push_big_image(&image, &format!("crash{i}"), 6, 1 << 20);
        run(
            sigmirror(&dir)
                .args(["sign", "--key", "cosign.key", &image])
                .env("COSIGN_PASSWORD", "pw"),
            None,
        )
        .ok();
        images.push(image);
    }
    let store = dir.join("store");
    // Kill times are drawn within the time a whole pull takes on this machine, measured
    // first (into a scratch store), so that most kills land mid-pull however fast it is.
    let started = std::time::Instant::now();
    run(
        sigmirror(&dir)
            .args(["pull", "--concurrency", "4"])
            .args(&images)
            .env("SIGMIRROR_STORE", dir.join("scratch")),
        None,
    )
    .ok();
    let full_pull = started.elapsed().as_millis().max(20) as u64;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut interrupted = 0;
    for round in 0..30 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(2 + seed % (full_pull / 2));
        let mut child = sigmirror(&dir)
            .args(["pull", "--concurrency", "4"])
            .args(&images)
            .env("SIGMIRROR_STORE", &store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let fsck = run(
            sigmirror(&dir)
                .args(["store", "fsck"])
                .env("SIGMIRROR_STORE", &store),
            None,
        );
        if !["index", "blobs", "lock"]
            .iter()
            .any(|p| store.join(p).exists())
        {
            // Killed before it made any part of the store: nothing written, and fsck (which
            // only reads) does not make a store either.
            assert!(fsck.stderr.contains("no store here"), "{}", fsck.stderr);
            continue;
        }
        assert_eq!(
            fsck.code,
            0,
            "round {round} (killed after {delay:?}): {}{}",
            fsck.stderr,
            fsck.stdout_text()
        );
        // Start over now and then, so kills also land early in a pull (a re-run into a
        // fuller store has less left to do).
        if round % 3 == 2 {
            std::fs::remove_dir_all(&store).unwrap();
        }
    }
    eprintln!("{interrupted} of 30 pulls killed mid-way (a whole pull took {full_pull} ms)");
    assert!(
        interrupted >= 20,
        "only {interrupted} pulls were interrupted; the test did not kill often enough"
    );
    // A re-run completes and fetches only what was missing: every write makes a new file.
    let before = count_files(&store.join("blobs/sha256"));
    let out = run(
        sigmirror(&dir)
            .args(["pull", "--json"])
            .args(&images)
            .env("SIGMIRROR_STORE", &store),
        None,
    )
    .ok();
    let s = summary(&out);
    let after = count_files(&store.join("blobs/sha256"));
    assert_eq!(
        before + s["blobs"].as_u64().unwrap() + s["manifests"].as_u64().unwrap(),
        after,
        "nothing fetched twice: {s}"
    );
    for image in &images {
        run(
            sigmirror(&dir)
                .args(["store", "info", image])
                .env("SIGMIRROR_STORE", &store),
            None,
        )
        .ok();
        run(
            sigmirror(&dir)
                .args(["verify", "--offline", "--key", "cosign.pub", image])
                .env("SIGMIRROR_STORE", &store),
            None,
        )
        .ok();
    }
    run(
        sigmirror(&dir)
            .args(["store", "fsck"])
            .env("SIGMIRROR_STORE", &store),
        None,
    )
    .ok();
}

#[test]
fn hostile_registries_never_put_unverified_content_in_the_store() {
    for lie in [
        Lie::BlobMismatch,
        Lie::TruncatedBlob,
        Lie::HugeManifest,
        Lie::MalformedJson,
        Lie::ServerError,
        Lie::ManifestMismatch,
    ] {
        let fake = FakeRegistry::start(lie);
        let dir = TestDir::new();
        let store = dir.join("store");
        run(
            sigmirror(&dir)
                .args(["pull", &fake.image()])
                .env("SIGMIRROR_STORE", &store),
            None,
        )
        .fails_with("");
        let fsck = run(
            sigmirror(&dir)
                .args(["store", "fsck"])
                .env("SIGMIRROR_STORE", &store),
            None,
        );
        assert_eq!(fsck.code, 0, "{lie:?}: {}", fsck.stderr);
        let info = run(
            sigmirror(&dir)
                .args(["store", "info", &fake.image()])
                .env("SIGMIRROR_STORE", &store),
            None,
        );
        assert_ne!(
            info.code, 0,
            "{lie:?}: a failed pull must not count as complete"
        );
    }
    // The self-referencing attachment terminates and the image is complete.
    let fake = FakeRegistry::start(Lie::SelfReference);
    let dir = TestDir::new();
    run(
        sigmirror(&dir)
            .args(["pull", &fake.image()])
            .env("SIGMIRROR_STORE", dir.join("store")),
        None,
    )
    .ok();
    run(
        sigmirror(&dir)
            .args(["store", "info", &fake.image()])
            .env("SIGMIRROR_STORE", dir.join("store")),
        None,
    )
    .ok();
}

#[test]
fn second_writer_gets_the_lock_message_and_gc_keeps_what_tags_reach() {
    let m = mirror("team/gc");
    m.sm(&["pull", &m.image]).ok();
    // Hold the store in this process, then a second sigmirror must give up with a clear message.
    let held = sigmirror_store::Store::open(m.dir.join("store")).unwrap();
    let out = run(
        sigmirror(&m.dir)
            .args(["store", "gc"])
            .env("SIGMIRROR_STORE", m.dir.join("store"))
            .env("SIGMIRROR_LOCK_WAIT", "1"),
        None,
    );
    assert_ne!(out.code, 0);
    // Said at once (the first line, before the wait), then the error after the wait.
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("in use by another sigmirror process")
            && first.contains("waiting up to 1 s"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Error: cannot open the store"),
        "{}",
        out.stderr
    );
    drop(held);
    // An orphan blob (valid, unreferenced) goes; everything reachable stays.
    let orphan = b"nobody references me";
    let hex = sigmirror_oci::digest::Sha256Digest::of(orphan).hex();
    std::fs::write(m.dir.join("store/blobs/sha256").join(&hex), orphan).unwrap();
    m.sm(&["store", "gc"]).ok();
    assert!(!m.dir.join("store/blobs/sha256").join(&hex).exists());
    m.sm(&["store", "fsck"]).ok();
    m.sm(&["store", "info", &m.image]).ok();
    m.sm(&["verify", "--offline", "--key", "cosign.pub", &m.image])
        .ok();
    m.sm(&["verify", "--offline", "--key", "cosign.pub", &m.child(0)])
        .ok();
    // A damaged blob is found by fsck and never served.
    let sig_manifest = m.sm(&["triangulate", "--offline", &m.image]).ok();
    let _ = sig_manifest;
    let blobs: Vec<_> = std::fs::read_dir(m.dir.join("store/blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let victim = blobs
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(victim).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(victim, bytes).unwrap();
    let out = m.sm(&["store", "fsck"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stdout_text()
            .contains(&victim.file_name().unwrap().to_string_lossy().to_string()),
        "{}",
        out.stdout_text()
    );
    let ls = m.sm(&["store", "ls"]).ok();
    assert!(ls.stdout_text().contains(&m.image));
    let du = m.sm(&["store", "du"]).ok();
    assert!(du.stdout_text().contains("blobs"));
}

#[test]
fn pull_from_file() {
    let m = mirror("team/list");
    m.dir.write(
        "images.txt",
        format!("# images to mirror\n{}\n\n{}\n", m.image, m.child(0)),
    );
    let s = summary(&m.sm(&["pull", "--json", "--from-file", "images.txt"]).ok());
    assert_eq!(s["images"], 2);
    m.sm(&["store", "info", &m.image]).ok();
}

/// Images are pulled concurrently; here they share manifests (an index, its children named on
/// their own, the index twice), so walks meet content another walk is copying and must wait
/// for it. Every run leaves a complete store, and the summary counts each manifest once.
#[test]
fn concurrent_pulls_of_shared_content_leave_a_complete_store() {
    let m = mirror("team/shared");
    let images = [
        m.child(1),
        m.image.clone(),
        m.child(0),
        m.image.clone(),
        m.child(1),
    ];
    for round in 0..5 {
        let store = m.dir.join(format!("store-{round}"));
        let store = store.to_str().unwrap();
        let mut args = vec!["pull", "--json", "--concurrency", "4", "--store", store];
        args.extend(images.iter().map(String::as_str));
        let report = summary(&m.sm(&args).ok());
        // index, 2 children, 2 signatures, 1 attestation: each written exactly once.
        assert_eq!(report["manifests"], 6, "round {round}: {report}");
        m.sm(&["store", "fsck", "--store", store]).ok();
        for image in &images {
            m.sm(&["store", "info", "--store", store, image]).ok();
        }
        for signed in [m.child(0), m.image.clone()] {
            let args = [
                "verify",
                "--offline",
                "--store",
                store,
                "--key",
                "cosign.pub",
            ];
            m.sm(&[&args[..], &[signed.as_str()]].concat()).ok();
        }
    }
    // Pushing all of them at once (every image record of the store) to another repository
    // prefix: the registry accepts each manifest only once its content is there, and cosign
    // verifies the results.
    let report = summary(
        &m.sm(&[
            "push",
            "--json",
            "--store",
            m.dir.join("store-0").to_str().unwrap(),
            "--to",
            &m.reg.image("pushed"),
        ])
        .ok(),
    );
    assert_eq!(report["manifests"], 6, "{report}");
    let pushed = format!("{}/team/shared", m.reg.image("pushed"));
    let child = m.children[0].clone();
    for image in [format!("{pushed}:v1"), format!("{pushed}@{child}")] {
        m.cosign(&[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            &image,
        ])
        .ok();
    }
}

/// One missing image and one malformed reference in a batch (arguments and --from-file): the
/// good images are pulled, kept and verify offline; each failure is named with its reason; the
/// summary line counts them; the exit code is not zero. `push`, `sign` and `verify` of several
/// references behave the same (issue: "The mirror tells the truth", item 2).
#[test]
fn batch_commands_keep_what_succeeded_and_name_each_failure() {
    let m = mirror("team/batch");
    let missing = format!("{}:v1", m.reg.image("team/absent"));
    m.dir
        .write("images.txt", format!("{}\nNot A Reference\n", m.child(0)));
    let out = m.sm(&[
        "pull",
        "--json",
        "--from-file",
        "images.txt",
        &m.image,
        &missing,
    ]);
    assert_ne!(out.code, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["images"], 2, "{report}");
    let failed: Vec<&str> = report["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["image"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["Not A Reference", missing.as_str()], "{report}");
    assert!(
        out.stderr.contains(&format!(
            "2 of 4 pulled; 2 failed: Not A Reference, {missing}"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("Error: pulling {missing}: {missing}: not found")),
        "{}",
        out.stderr
    );
    for good in [&m.image, &m.child(0)] {
        let info = m.sm(&["store", "info", good]).ok();
        assert!(
            info.stdout_text().contains("complete"),
            "{}",
            info.stdout_text()
        );
        m.sm(&["verify", "--offline", "--key", "cosign.pub", good])
            .ok();
    }

    // push: an image the store does not hold fails alone.
    let to = format!("{}/copy", m.reg.addr());
    let out = m.sm(&["push", "--to", &to, &m.image, &missing]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("1 of 2 pushed; 1 failed"),
        "{}",
        out.stderr
    );
    let pushed = m.image.replacen(m.reg.addr(), &to, 1);
    m.sm(&["verify", "--key", "cosign.pub", &pushed]).ok();

    // sign and verify: a malformed reference does not stop the others.
    let other = m.child(1);
    let out = m.sm(&["sign", "--key", "cosign.key", "bad ref", &other]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("1 of 2 signed; 1 failed: bad ref"),
        "{}",
        out.stderr
    );
    let out = m.sm(&["verify", "--key", "cosign.pub", &other, &missing, "bad ref"]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("1 of 3 verified; 2 failed: bad ref, {missing}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout_text().contains("critical"),
        "the good one's payload is printed"
    );
}

/// `--platform` never changes what a tag names (issue: "The mirror tells the truth", item 1):
/// `pull` keeps the index (bytes and digest) with only the chosen platform's image, records the
/// other platforms as absent, and signatures and attestations made on the index verify
/// offline; `save` writes the same partial index into a layout that skopeo reads for that
/// platform and `load --platform` reads back; `push` of such an image is refused with why.
#[test]
fn platform_pulls_keep_the_index_digest_and_its_signatures() {
    let m = mirror("team/platform");
    let (amd64, arm64) = (&m.children[0], &m.children[1]);
    m.sm(&["pull", "--platform", "linux/arm64", &m.image]).ok();
    let info = m.sm(&["store", "info", &m.image]).ok();
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["digest"], m.index.as_str(), "{info}");
    assert_eq!(info["complete"], true, "{info}");
    assert_eq!(info["pulledForPlatform"], "linux/arm64", "{info}");
    let platforms = info["platforms"].as_array().unwrap();
    let present = |digest: &str| {
        platforms
            .iter()
            .find(|p| p["digest"] == digest)
            .map(|p| p["present"].as_bool().unwrap())
    };
    assert_eq!(present(arm64), Some(true), "{info}");
    assert_eq!(present(amd64), Some(false), "{info}");
    assert_eq!(info["missingManifests"], Value::Array(vec![]), "{info}");
    let ls = m.sm(&["store", "ls"]).ok().stdout_text();
    assert!(
        ls.contains(&format!(
            "{}\t{}\tcomplete platform=linux/arm64",
            m.image, m.index
        )),
        "{ls}"
    );
    // The signature and attestation made on the index verify offline.
    m.sm(&["verify", "--offline", "--key", "cosign.pub", &m.image])
        .ok();
    m.sm(&[
        "verify-attestation",
        "--offline",
        "--key",
        "cosign.pub",
        "--type",
        "https://example.com/t/v1",
        &m.image,
    ])
    .ok();
    // The absent platform is absent, not silently there.
    m.sm(&["verify", "--offline", "--key", "cosign.pub", &m.child(0)])
        .fails_with("not");

    // save: the same partial index in a layout; skopeo reads it for arm64.
    m.sm(&[
        "save",
        "--offline",
        "--platform",
        "linux/arm64",
        "--dir",
        "partial",
        &m.image,
    ])
    .ok();
    let layout = m.dir.join("partial");
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert!(
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["digest"] == m.index.as_str()),
        "{index}"
    );
    assert!(!layout.join("blobs/sha256").join(&amd64[7..]).exists());
    let copied = m.dir.join("skopeo-arm64");
    run(
        Command::new(tool("skopeo")).args([
            "copy",
            "--override-os",
            "linux",
            "--override-arch",
            "arm64",
            &format!("oci:{}:{}", layout.display(), m.image),
            &format!("dir:{}", copied.display()),
        ]),
        None,
    )
    .ok();
    let manifest = std::fs::read(copied.join("manifest.json")).unwrap();
    assert_eq!(sigmirror_oci::Digest::sha256_of(&manifest).as_str(), arm64);
    // load --platform reads it into another store, whole index and signatures.
    let other = m.dir.join("other");
    let other = other.to_str().unwrap();
    m.sm(&[
        "store",
        "load",
        "--platform",
        "linux/arm64",
        "--store",
        other,
        "--dir",
        "partial",
    ])
    .ok();
    m.sm(&[
        "verify",
        "--offline",
        "--store",
        other,
        "--key",
        "cosign.pub",
        &m.image,
    ])
    .ok();

    // push: a registry cannot hold it; said per image, the others still go.
    let to = format!("{}/copy", m.reg.addr());
    m.sm(&["push", "--to", &to, &m.image])
        .fails_with("holds only linux/arm64 of this multi-platform image");
}

/// `pull REPOSITORY` pulls every image tag of it, and asks the registry only what the protocol
/// needs, counted from the Debian registry's access log: on a first pull the manifest, config
/// and layer of each image and of each `.sig` and `.att` (9 for a signed and attested image), no
/// probe of an attachment tag that does not exist (one `tags/list` says which do); on a no-op
/// re-pull one HEAD per image tag and per attachment tag; after a new signature, only it.
#[test]
fn whole_repositories_pull_every_tag_and_ask_only_what_is_needed() {
    let reg = TestRegistry::start_logging_requests();
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    let sm = |args: &[&str]| {
        run(
            sigmirror(&dir)
                .args(args)
                .env("COSIGN_PASSWORD", "pw")
                .env("SIGMIRROR_STORE", dir.join("store")),
            None,
        )
    };
    let repo = reg.image("whole/app");
    dir.write("pred.json", r#"{"buildType":"test"}"#);
    let signed = ["v1", "v2", "v3"];
    for tag in signed {
        let image = format!("{repo}:{tag}");
        push_image(&image, &format!("whole-{tag}"));
        sm(&["sign", "--key", "cosign.key", &image]).ok();
        sm(&crate::attest_args(&image)).ok();
    }
    push_image(&format!("{repo}:unsigned"), "whole-unsigned");
    push_image(&reg.image("whole/other:v1"), "whole-other");
    // What the registry was asked, without the `/v2/` version checks.
    let asked = || -> Vec<String> {
        reg.requests()
            .into_iter()
            .filter(|r| !r.ends_with(" /v2/"))
            .collect()
    };
    let count =
        |requests: &[String], what: &str| requests.iter().filter(|r| r.contains(what)).count();

    reg.clear_requests();
    let first = summary(&sm(&["pull", "--progress", "none", "--json", &repo]).ok());
    assert_eq!(first["images"], 4, "{first}");
    let requests = asked();
    assert_eq!(count(&requests, "/tags/list"), 1, "{requests:#?}");
    // The registry has no referrers API: asked once (images walked at once wait for that
    // answer), and no referrers fallback tag is asked for, none being listed.
    assert_eq!(count(&requests, "/referrers/"), 1, "{requests:#?}");
    assert!(
        !requests
            .iter()
            .any(|r| r.contains("/manifests/sha256-") && !r.contains('.')),
        "{requests:#?}"
    );
    assert_eq!(
        count(&requests, ".sbom"),
        0,
        "no probe of absent tags: {requests:#?}"
    );
    assert!(
        !requests.iter().any(|r| r.starts_with("HEAD")),
        "a first pull fetches what is listed at once: {requests:#?}"
    );
    // 3 signed and attested images at 9 each, the unsigned one at 3, the listing and the
    // referrers probe.
    assert!(
        requests.len() <= 3 * 9 + 3 + 1 + 1,
        "{} requests: {requests:#?}",
        requests.len()
    );
    let listed = sm(&["store", "ls"]).ok().stdout_text();
    for tag in ["v1", "v2", "v3", "unsigned"] {
        assert!(
            listed.contains(&format!("{repo}:{tag}\t")),
            "{tag}: {listed}"
        );
    }
    assert!(
        !listed.contains("whole/other"),
        "only the named repository: {listed}"
    );
    assert!(
        !listed.contains(".sig\t") && !listed.contains(".att\t"),
        "attachment tags are not images: {listed}"
    );
    sm(&[
        "verify",
        "--offline",
        "--key",
        "cosign.pub",
        &format!("{repo}:v2"),
    ])
    .ok();

    reg.clear_requests();
    let again = summary(&sm(&["pull", "--progress", "none", "--json", &repo]).ok());
    assert_eq!(
        (again["manifests"].as_u64(), again["blobs"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    let requests = asked();
    assert_eq!(count(&requests, "/referrers/"), 1, "{requests:#?}");
    let heads = requests.iter().filter(|r| r.starts_with("HEAD")).count();
    assert_eq!(
        heads,
        4 + 2 * 3,
        "a HEAD per image tag and attachment tag: {requests:#?}"
    );
    assert_eq!(
        requests.len(),
        heads + 1 + 1,
        "nothing but HEADs, the listing and the referrers probes: {requests:#?}"
    );

    // A second signature on v1 moves its `.sig` tag: only that is fetched.
    generate_other_key_pair(&dir);
    sm(&["sign", "--key", "other.key", &format!("{repo}:v1")]).ok();
    reg.clear_requests();
    let moved = summary(&sm(&["pull", "--progress", "none", "--json", &repo]).ok());
    assert_eq!(moved["manifests"], 1, "{moved}");
    let requests = asked();
    let gets: Vec<&String> = requests
        .iter()
        .filter(|r| r.starts_with("GET") && !r.contains("/tags/list") && !r.contains("/referrers/"))
        .collect();
    assert!(
        gets.iter().all(|r| r.contains(".sig")
            || r.contains("/blobs/")
            || r.contains("/manifests/sha256:")),
        "only the moved signature image and its new blob: {gets:#?}"
    );
    assert!(gets.len() <= 3, "{gets:#?}");
    sm(&[
        "verify",
        "--offline",
        "--key",
        "other.pub",
        &format!("{repo}:v1"),
    ])
    .ok();
}

/// `store verify` checks every image of the store against the store's trust or a policy file,
/// records each outcome in the ledger, re-checks only what changed, and agrees with the real
/// cosign on which images verify.
#[test]
fn store_verify_records_outcomes_and_rechecks_only_what_changed() {
    let s = crate::setup("ledger/a");
    generate_other_key_pair(&s.dir);
    let image = |name: &str| format!("{}:v1", s.reg.image(name));
    for (name, seed) in [("ledger/b", "lb"), ("ledger/c", "lc"), ("ledger/d", "ld")] {
        push_image(&image(name), seed);
    }
    // a: signed and attested by the release key; b: signed by another key; c: unsigned;
    // d: signed by the release key, no attestation.
    s.sm(&["sign", "--key", "cosign.key", &image("ledger/a")])
        .ok();
    s.attest(&image("ledger/a"));
    s.sm(&["sign", "--key", "other.key", &image("ledger/b")])
        .ok();
    s.sm(&["sign", "--key", "cosign.key", &image("ledger/d")])
        .ok();
    let all: Vec<String> = ["ledger/a", "ledger/b", "ledger/c", "ledger/d"]
        .iter()
        .map(|n| image(n))
        .collect();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let store = s.pull_into_store(&refs);
    let store_verify = |extra: &[&str]| {
        let mut args = vec!["store", "verify", "--store", &store, "--json"];
        args.extend_from_slice(extra);
        s.sm(&args)
    };
    // image → (verified, checked now, reasons)
    let outcomes =
        |run: &sigmirror_tests::Run| -> std::collections::BTreeMap<String, (bool, bool, String)> {
            let v: Value = serde_json::from_str(&run.stdout_text()).expect("json");
            v.as_array()
                .expect("array")
                .iter()
                .map(|o| {
                    (
                        o["image"].as_str().unwrap().to_owned(),
                        (
                            o["ledger"]["verified"].as_bool().unwrap(),
                            o["checked"].as_bool().unwrap(),
                            o["ledger"]["reasons"].to_string(),
                        ),
                    )
                })
                .collect()
        };

    store_verify(&[]).fails_with("trusts no key or identity");
    s.sm(&[
        "trust",
        "add",
        "--store",
        &store,
        "--name",
        "release",
        "cosign.pub",
    ])
    .ok();
    let run = store_verify(&[]).fails_with("2 of 4 images did not satisfy the policy");
    let first = outcomes(&run);
    assert_eq!(first.len(), 4);
    for (img, (verified, checked, reasons)) in &first {
        assert!(checked, "{img}");
        // The real cosign, asked the same question of the registry, agrees.
        let cosign = s.cosign_verify("verify", "cosign.pub", img, &[]);
        assert_eq!(
            *verified,
            cosign.code == 0,
            "{img}: {reasons} / {}",
            cosign.stderr
        );
    }
    assert!(first[&all[0]].0 && first[&all[3]].0, "{first:?}");
    assert!(
        first[&all[1]].2.contains("does not verify with this key"),
        "{first:?}"
    );
    assert!(first[&all[2]].2.contains("no signature"), "{first:?}");
    let listed = s.sm(&["store", "ls", "--store", &store]).ok().stdout_text();
    for (img, state) in [
        (&all[0], "verified"),
        (&all[1], "refused"),
        (&all[2], "refused"),
    ] {
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(&format!("{img}\t")) && l.ends_with(&format!("\t{state}"))),
            "{img} {state}: {listed}"
        );
    }

    // Nothing changed: nothing is checked again, the outcomes stand.
    let again = outcomes(&store_verify(&[]).fails_with("2 of 4"));
    assert!(again.values().all(|(_, checked, _)| !checked), "{again:?}");
    assert_eq!(
        again.values().map(|o| o.0).collect::<Vec<_>>(),
        first.values().map(|o| o.0).collect::<Vec<_>>()
    );

    // b is signed with the release key too and pulled again: only b is checked, and passes.
    s.sm(&["sign", "--key", "cosign.key", &all[1]]).ok();
    s.sm(&["pull", "--store", &store, "--progress", "none", &all[1]])
        .ok();
    let after = outcomes(&store_verify(&[]).fails_with("1 of 4"));
    let checked: Vec<&String> = after.iter().filter(|(_, o)| o.1).map(|(i, _)| i).collect();
    assert_eq!(checked, vec![&all[1]], "{after:?}");
    assert!(after[&all[1]].0, "{after:?}");

    // A policy file: the release key, an attestation of the test type required.
    s.dir.write(
        "policy.yaml",
        "keys:\n  release: cosign.pub\nattestations:\n  - https://example.com/t/v1\n",
    );
    let policy = s.dir.join("policy.yaml").to_str().unwrap().to_owned();
    let run = store_verify(&["--policy", &policy]).fails_with("3 of 4");
    let with_attestations = outcomes(&run);
    assert!(
        with_attestations.values().all(|o| o.1),
        "a new policy checks everything again"
    );
    assert!(with_attestations[&all[0]].0, "{with_attestations:?}");
    assert!(
        with_attestations[&all[3]]
            .2
            .contains("no verified attestation of type https://example.com/t/v1"),
        "{with_attestations:?}"
    );
    // Two signatures required, from the release key or the other: only b has two.
    s.dir.write(
        "other.yaml",
        "keys:\n  release: cosign.pub\n  other: other.pub\nminSignatures: 2\n",
    );
    let other = s.dir.join("other.yaml").to_str().unwrap().to_owned();
    let two = outcomes(&store_verify(&["--policy", &other]).fails_with("3 of 4"));
    assert!(two[&all[1]].0, "{two:?}");
    assert!(
        two[&all[0]].2.contains("2 signatures must verify, 1 did"),
        "{two:?}"
    );

    // Policies that cannot be used are refused by name, and verify nothing.
    for (text, needle) in [
        ("keys:\n  release: missing.pub\n", "missing.pub"),
        (
            "identities:\n  ci:\n    certificateIdentity: x\n    certificateOidcIssuer: y\n",
            "trustedRoot",
        ),
        ("keys: {}\n", "names no keys and no identities"),
        (
            "keys:\n  release: cosign.pub\nminSignatures: 0\n",
            "at least 1",
        ),
        ("kyes:\n  release: cosign.pub\n", "unknown field"),
    ] {
        s.dir.write("bad.yaml", text);
        let bad = s.dir.join("bad.yaml").to_str().unwrap().to_owned();
        let out = store_verify(&["--policy", &bad]).fails_with(needle);
        assert!(out.stdout_text().trim().is_empty(), "{}", out.stdout_text());
    }
    s.sm(&["store", "verify", "--store", &store, "ledger/nothing:v9"])
        .fails_with("ledger/nothing:v9");
}
