//! Integration tests of the store: corruption, the process lock (across processes), gc,
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions
//! closures, the Source/Sink implementations and kill -9 crash safety.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use sigmirror_core::digest::Sha256Digest;
use sigmirror_core::reference::ImageRef;
use sigmirror_core::registry::Manifest;
use sigmirror_core::source::{Sink, Source};
use sigmirror_store::{AttachmentKind, Error, ImageRecord, Store};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const REPO: &str = "registry.test:5000/team/app";

/// Env var that turns the `child_process` test into a helper for the multi-process tests.
const CHILD_ENV: &str = "SIGMIRROR_STORE_TEST_CHILD";

fn sha(bytes: &[u8]) -> String {
    Sha256Digest::of(bytes).to_string()
}

fn put_blob(store: &Store, bytes: &[u8]) -> String {
    let digest = sha(bytes);
    let mut w = store.writer(&digest, bytes.len() as u64).unwrap();
    w.write_all(bytes).unwrap();
    w.commit().unwrap();
    digest
}

fn put_manifest(store: &Store, repo: &str, value: &Value) -> String {
    let bytes = serde_json::to_vec(value).unwrap();
    let digest = sha(&bytes);
    let mt = value["mediaType"].as_str().unwrap_or_default();
    store
        .put_manifest(repo, &digest, mt, &bytes, "test")
        .unwrap();
    digest
}

fn descriptor(mt: &str, digest: &str, size: usize) -> Value {
    json!({"mediaType": mt, "digest": digest, "size": size})
}

/// An image manifest with a stored config and one stored layer; returns its digest, config and
/// layer digests. `store_layer: false` leaves the layer out (like `--no-layers`).
fn image(store: &Store, repo: &str, seed: &str, store_layer: bool) -> (String, String, String) {
    let config = format!("{{\"architecture\":\"{seed}\"}}");
    let layer = format!("layer of {seed}").repeat(100);
    let c = put_blob(store, config.as_bytes());
    let l = if store_layer {
        put_blob(store, layer.as_bytes())
    } else {
        sha(layer.as_bytes())
    };
    let m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &c, config.len()),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", &l, layer.len())],
    });
    (put_manifest(store, repo, &m), c, l)
}

/// A cosign signature manifest for `subject`, tagged `sha256-<hex>.sig`; returns its digest
/// and its payload's.
fn sign(store: &Store, repo: &str, subject: &str) -> (String, String) {
    let payload =
        format!("{{\"critical\":{{\"image\":{{\"docker-manifest-digest\":\"{subject}\"}}}}}}");
    let p = put_blob(store, payload.as_bytes());
    let c = put_blob(store, b"{}");
    let m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &c, 2),
        "layers": [descriptor("application/vnd.dev.cosign.simplesigning.v1+json", &p, payload.len())],
    });
    let d = put_manifest(store, repo, &m);
    let tag = format!("{}.sig", subject.replacen(':', "-", 1));
    store.set_tag(repo, &tag, &d).unwrap();
    (d, p)
}

/// A multi-platform image: an index of two images, the index and one child signed, and an
/// OCI 1.1 referrer of the index. Returns every digest it stored.
fn signed_index(store: &Store, repo: &str, seed: &str) -> Vec<String> {
    let (a, ac, al) = image(store, repo, &format!("{seed}-amd64"), true);
    let (b, bc, bl) = image(store, repo, &format!("{seed}-arm64"), true);
    let idx = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [descriptor(OCI_MANIFEST, &a, 0), descriptor(OCI_MANIFEST, &b, 0)],
    });
    let i = put_manifest(store, repo, &idx);
    store.set_tag(repo, seed, &i).unwrap();
    let (s1, p1) = sign(store, repo, &i);
    let (s2, p2) = sign(store, repo, &a);
    let sbom = put_blob(store, format!("sbom of {seed}").as_bytes());
    let r = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": descriptor("application/vnd.oci.empty.v1+json", &sha(b"{}"), 2),
        "layers": [descriptor("application/spdx+json", &sbom, 0)],
        "subject": descriptor(OCI_INDEX, &i, 0),
    });
    let r = put_manifest(store, repo, &r);
    vec![a, ac, al, b, bc, bl, i, s1, p1, s2, p2, sbom, r, sha(b"{}")]
}

fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn tampered_blob_is_never_served_and_fsck_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let digests = signed_index(&store, REPO, "v1");
    let report = store.fsck().unwrap();
    assert!(report.is_clean(), "{:?}", report.damaged);
    assert_eq!(report.blobs_checked, digests.len() as u64);

    let layer = &digests[2];
    flip_byte(&store.blob_path(layer).unwrap());
    let err = store.read_blob(layer, u64::MAX).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("corrupt"), "{err}");
    let mut reader = store.open_blob(layer).unwrap();
    let err = reader.read_to_end(&mut vec![]).unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");

    let report = store.fsck().unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.damaged.len(), 1, "{:?}", report.damaged);
    assert_eq!(&report.damaged[0].0, layer);
    assert!(report.damaged[0].1.contains("corrupt"));

    // A tampered manifest: closure reports it damaged, info says incomplete, gc refuses.
    flip_byte(&store.blob_path(&digests[0]).unwrap());
    let closure = store.closure(&digests[6]).unwrap();
    assert!(closure.damaged.contains(&digests[0]));
    assert!(!closure.is_complete(false));
    drop(store);
    let mut store = Store::open(dir.path()).unwrap();
    assert!(matches!(store.gc(), Err(Error::GcRefused { .. })));
}

#[test]
fn stray_files_are_damage_tmp_files_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    signed_index(&store, REPO, "v1");
    drop(store);
    std::fs::write(dir.path().join("tmp/leftover.tmp"), b"half a blob").unwrap();
    std::fs::create_dir(dir.path().join("tmp/sub")).unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
    assert!(store.fsck().unwrap().is_clean());

    std::fs::write(dir.path().join("blobs/sha256/notes.txt"), b"x").unwrap();
    let report = store.fsck().unwrap();
    assert_eq!(report.damaged.len(), 1);
    assert!(report.damaged[0].0.ends_with("notes.txt"));
    let gc = store.gc().unwrap();
    assert_eq!(gc.removed_blobs, 1);
    assert!(store.fsck().unwrap().is_clean());
}

#[test]
fn index_entries_need_their_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let absent = sha(b"never stored");
    assert!(matches!(
        store.set_tag(REPO, "v1", &absent),
        Err(Error::NotFound { .. })
    ));
    let rec = ImageRecord::new(&absent, true, false, "test");
    assert!(
        store
            .record_image("registry.test:5000/team/app:v1", rec)
            .is_err()
    );
    // A manifest whose bytes do not match its digest, or that is not JSON, is refused.
    let err = store
        .put_manifest(REPO, &absent, OCI_MANIFEST, b"{}", "test")
        .unwrap_err();
    assert!(matches!(err, Error::Mismatch { .. }));
    let err = store
        .put_manifest(REPO, &sha(b"not json"), OCI_MANIFEST, b"not json", "test")
        .unwrap_err();
    assert!(matches!(err, Error::MalformedManifest { .. }));
    assert!(store.set_tag("no-slash", "v1", &absent).is_err());
    assert_eq!(store.du().unwrap().blobs, 0);
    assert!(store.fsck().unwrap().is_clean());
}

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
    assert_eq!(atts[0].kind, AttachmentKind::Sig);
    assert_eq!(&atts[0].digest, sig_on_index);
    assert_eq!(atts[0].repo, REPO);
    assert_eq!(
        atts[0].tag.as_deref(),
        Some(format!("{}.sig", index.replacen(':', "-", 1)).as_str())
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
        .set_tag(REPO, &format!("{}.sig", d[3].replacen(':', "-", 1)), &sig)
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
        .set_tag(REPO, &format!("{}.sig", sig.replacen(':', "-", 1)), &img)
        .unwrap();
    let closure = store.closure(&img).unwrap();
    assert!(closure.is_complete(false));
    assert_eq!(closure.manifests.len(), 2);
    // An index that lists a digest that is not a manifest but a layer, and an invalid digest.
    let (_, _, layer) = image(&store, REPO, "big", true);
    let idx = put_manifest(
        &store,
        REPO,
        &json!({"manifests": [descriptor(OCI_MANIFEST, &layer, 1), descriptor(OCI_MANIFEST, "sha256:../x", 1)]}),
    );
    let closure = store.closure(&idx).unwrap();
    assert!(closure.damaged.contains(&layer));
    assert!(closure.missing_manifests.contains("sha256:../x"));
}

#[test]
fn gc_keeps_what_tags_reach_and_removes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let kept = signed_index(&store, REPO, "v1");
    // Reached only through an image record (pulled by digest).
    let (by_digest, c, l) = image(&store, "reg.test/pinned", "pinned", true);
    store
        .record_image(
            &format!("reg.test/pinned@{by_digest}"),
            ImageRecord::new(&by_digest, true, false, "r"),
        )
        .unwrap();
    // Garbage: a loose blob, an untagged image, and the signature of an untagged image.
    let loose = put_blob(&store, b"loose blob");
    let (untagged, uc, ul) = image(&store, REPO, "untagged", true);
    let (usig, upayload) = sign(&store, REPO, &untagged);
    // A tag moved away from an old image leaves the old one (and its signature) unreachable.
    let (old, oc, ol) = image(&store, REPO, "old", true);
    let (osig, opayload) = sign(&store, REPO, &old);
    store.set_tag(REPO, "moving", &old).unwrap();
    store.set_tag(REPO, "moving", &kept[3]).unwrap();
    std::fs::write(dir.path().join("tmp/x.tmp"), b"junk").unwrap();

    let before = store.du().unwrap();
    let report = store.gc().unwrap();
    let garbage = [
        loose,
        untagged.clone(),
        uc,
        ul,
        usig,
        upayload,
        old,
        oc,
        ol,
        osig,
        opayload,
    ];
    assert_eq!(report.removed_blobs, garbage.len() as u64, "{report:?}");
    assert_eq!(report.removed_tmp, 1);
    for d in &garbage {
        assert!(!store.has_blob(d), "{d} should be gone");
        assert!(store.manifest_info(d).unwrap().is_none());
    }
    for d in kept.iter().chain([&by_digest, &c, &l]) {
        assert!(store.has_blob(d), "{d} should be kept");
    }
    let after = store.du().unwrap();
    assert_eq!(before.bytes - after.bytes, report.freed_bytes);
    assert_eq!(after.tags, 4); // v1, moving, the two signatures of v1
    assert!(store.attachments_of(&untagged).unwrap().is_empty());
    assert!(store.fsck().unwrap().is_clean());
    assert!(store.closure(&kept[6]).unwrap().is_complete(false));
    // Nothing left to collect.
    assert_eq!(store.gc().unwrap().removed_blobs, 0);
}

#[tokio::test]
async fn source_and_sink_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.set_provenance("registry.test:5000");
    let layer: Vec<u8> = (0..2_500_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let ld = sha(&layer);
    let target = ImageRef::parse("registry.test:5000/team/app:v1").unwrap();
    assert!(!Sink::has_blob(&store, &target, &ld).await.unwrap());
    let chunks: Vec<sigmirror_core::Result<bytes::Bytes>> = layer
        .chunks(100_000)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    Sink::put_blob(
        &store,
        &target,
        &ld,
        layer.len() as u64,
        Box::pin(futures_util::stream::iter(chunks)),
    )
    .await
    .unwrap();
    assert!(Sink::has_blob(&store, &target, &ld).await.unwrap());

    // A lying stream is refused and leaves nothing.
    let wrong = sha(b"something else");
    let lie = futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b"not it"))]);
    let err = Sink::put_blob(&store, &target, &wrong, 6, Box::pin(lie))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(!store.has_blob(&wrong));

    let config = b"{}".to_vec();
    let cd = put_blob(&store, &config);
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &cd, 2),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &ld, layer.len())],
    }))
    .unwrap();
    let manifest = Manifest {
        digest: sha(&body),
        bytes: body.into(),
        media_type: String::new(),
    };
    Sink::put_manifest(&store, &target, &manifest)
        .await
        .unwrap();
    assert_eq!(
        store
            .manifest_info(&manifest.digest)
            .unwrap()
            .unwrap()
            .source,
        "registry.test:5000"
    );

    let got = Source::get_manifest(&store, &target)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes, manifest.bytes);
    assert_eq!(got.digest, manifest.digest);
    assert_eq!(got.media_type, OCI_MANIFEST); // inferred: stored without one
    let by_digest = target.with_digest(&manifest.digest);
    assert_eq!(
        Source::get_manifest(&store, &by_digest)
            .await
            .unwrap()
            .unwrap()
            .bytes,
        manifest.bytes
    );
    assert!(
        Source::get_manifest(&store, &target.with_tag("v2"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        Source::get_manifest(&store, &target.with_digest(&wrong))
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(
        Source::get_blob(&store, &target, &cd, 10).await.unwrap(),
        config
    );
    assert!(Source::get_blob(&store, &target, &ld, 10).await.is_err());
    let mut stream = Source::open_blob(&store, &target, &ld).await.unwrap();
    let mut back = vec![];
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.len() <= 1 << 20);
        back.extend_from_slice(&chunk);
    }
    assert_eq!(back, layer);

    // A corrupted blob: the stream ends in an error that says so, get_blob refuses it.
    flip_byte(&store.blob_path(&ld).unwrap());
    let mut stream = Source::open_blob(&store, &target, &ld).await.unwrap();
    let mut last = None;
    while let Some(item) = stream.next().await {
        last = Some(item);
    }
    let err = last.unwrap().unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    flip_byte(&store.blob_path(&cd).unwrap());
    let err = Source::get_blob(&store, &target, &cd, 10)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
}

#[test]
fn second_open_in_the_same_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let started = Instant::now();
    let err = Store::open_with_wait(dir.path(), Duration::from_millis(300)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let msg = err.to_string();
    assert!(
        msg.contains("is in use by another sigmirror process"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    drop(store);
    Store::open_with_wait(dir.path(), Duration::ZERO).unwrap();
}

/// Starts this test binary as a helper process in `mode` on the store at `root`.
fn spawn_child(mode: &str, root: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format!("{mode}:{}", root.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Reads the child's stdout until `line` comes.
fn wait_for(child: &mut std::process::Child, line: &str) -> BufReader<std::process::ChildStdout> {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut buf = String::new();
    loop {
        buf.clear();
        assert!(
            out.read_line(&mut buf).unwrap() > 0,
            "child exited before {line}"
        );
        // The harness prints "test child_process ... " before the child's own output.
        if buf.trim_end().ends_with(line) {
            return out;
        }
    }
}

#[test]
fn second_process_gets_the_lock_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child("hold", dir.path());
    let _out = wait_for(&mut child, "LOCKED");
    let err = Store::open_with_wait(dir.path(), Duration::from_millis(200)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Locked { .. }));
    assert!(msg.contains(&format!("pid {}", child.id())), "{msg}");
    assert!(msg.contains("child_process"), "{msg}"); // its command line
    assert!(msg.contains("wait for it to finish"), "{msg}");
    // The holder exits while we wait: the open succeeds.
    drop(child.stdin.take());
    let store = Store::open_with_wait(dir.path(), Duration::from_secs(20)).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(store.fsck().unwrap().is_clean());
}

#[test]
fn kill_9_at_any_moment_leaves_a_clean_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
    for round in 0..20 {
        let mut child = spawn_child("churn", dir.path());
        let _out = wait_for(&mut child, "READY");
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        std::thread::sleep(Duration::from_millis(seed >> 58)); // 0..63 ms
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let store = Store::open_with_wait(dir.path(), Duration::from_secs(20)).unwrap();
        let report = store.fsck().unwrap();
        assert!(report.is_clean(), "round {round}: {:?}", report.damaged);
        for (name, rec) in store.images().unwrap() {
            assert!(store.has_blob(&rec.digest), "round {round}: {name}");
        }
    }
    let store = Store::open(dir.path()).unwrap();
    assert!(store.du().unwrap().manifests > 0);
}

/// Not a test on its own: the helper process of the multi-process tests (see [`spawn_child`]).
#[test]
fn child_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mode, root) = spec.split_once(':').unwrap();
    let mut store = Store::open(root).unwrap();
    let mut stdout = std::io::stdout();
    match mode {
        "hold" => {
            writeln!(stdout, "LOCKED").unwrap();
            stdout.flush().unwrap();
            std::io::stdin().read_to_end(&mut vec![]).unwrap();
        }
        "churn" => {
            let nonce = format!("{}-{:?}", std::process::id(), Instant::now());
            // Never outlive a parent that failed to kill us.
            let deadline = Instant::now() + Duration::from_secs(60);
            for i in 0u64.. {
                if Instant::now() > deadline {
                    std::process::exit(3);
                }
                let seed = format!("{nonce}-{i}");
                let (img, _, _) = image(&store, REPO, &seed, true);
                let big: Vec<u8> = seed
                    .bytes()
                    .cycle()
                    .take(300_000 + (i as usize % 7) * 100_000)
                    .collect();
                put_blob(&store, &big);
                store.set_tag(REPO, &format!("t{}", i % 4), &img).unwrap();
                sign(&store, REPO, &img);
                let rec = ImageRecord::new(&img, true, false, "churn");
                store
                    .record_image(&format!("{REPO}:t{}", i % 4), rec)
                    .unwrap();
                if i % 5 == 4 {
                    store.gc().unwrap();
                }
                if i == 0 {
                    writeln!(stdout, "READY").unwrap();
                    stdout.flush().unwrap();
                }
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn flush_cost_is_small() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let started = Instant::now();
    let n = 50;
    for i in 0..n {
        let (img, _, _) = image(&store, REPO, &format!("perf{i}"), true);
        store.set_tag(REPO, &format!("t{i}"), &img).unwrap();
    }
    let per_image = started.elapsed() / n;
    eprintln!("put 2 blobs + put_manifest + set_tag: {per_image:?} per image");
    assert!(per_image < Duration::from_millis(500), "{per_image:?}");
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
    let tag = format!("{}.sig", child.replacen(':', "-", 1));
    store.set_tag("r.example/team/app", &tag, &newer).unwrap();
    let sigs: Vec<_> = store
        .attachments_of(&child)
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == AttachmentKind::Sig)
        .map(|a| a.digest)
        .collect();
    assert_eq!(sigs, [newer]);
    assert_ne!(first_sig, sigs[0]);
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
