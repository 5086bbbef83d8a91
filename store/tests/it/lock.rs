//! The process lock, across threads and processes, and crash safety under kill -9.

use crate::fixture::*;

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
    // Other tests of this binary start child processes: one forked at this moment holds the
    // lock's file description until it execs, so the reopen may wait an instant.
    Store::open_with_wait(dir.path(), Duration::from_secs(5)).unwrap();
}

/// Starts this test binary as a helper process in `mode` on the store at `root`.
fn spawn_child(mode: &str, root: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lock::child_process",
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
    // Its program's name, never its arguments (they can hold credentials); a private file.
    assert!(msg.contains(": `it-"), "{msg}");
    assert!(!msg.contains("child_process"), "{msg}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("lock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
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
fn reading_opens_a_half_created_store_and_refuses_a_folder_that_is_none() {
    // A pull killed right after it made the folders, before sled made the index.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
    let store = Store::open_for_reading(dir.path(), Duration::from_millis(300)).unwrap();
    assert!(store.images().unwrap().is_empty());
    assert!(!store.is_read_only());
    drop(store);
    // An empty folder, or one that is something else, is not a store and is left alone.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("notes.txt"), b"x").unwrap();
    let err = Store::open_for_reading(other.path(), Duration::from_millis(300)).unwrap_err();
    assert!(err.to_string().contains("no store here"), "{err}");
    assert!(!other.path().join("index").exists() && !other.path().join("lock").exists());
}

/// Readers never wait for a writer: while a writer holds the store, a reader at once gets the
/// state the last writer left (its snapshot), with every image whole; what the writer adds
/// appears to readers once it closes the store. Without any snapshot yet, a reader waits as
/// before. A damaged snapshot is refused, not read as an empty store.
#[test]
fn readers_read_the_last_closed_state_while_a_writer_holds_the_store() {
    let dir = tempfile::tempdir().unwrap();
    // No snapshot yet: the reader waits (and here gives up).
    let first = Store::open(dir.path()).unwrap();
    let (one, _, _) = image(&first, "reg.example/team/one", "one", true);
    first.set_tag("reg.example/team/one", "v1", &one).unwrap();
    assert!(Store::open_for_reading(dir.path(), Duration::from_millis(100)).is_err());
    drop(first);
    assert!(dir.path().join(sigmirror_store::SNAPSHOT_FILE).is_file());

    // No writer: the current snapshot is read without taking the lock, so a writer that
    // starts meanwhile does not wait for this reader.
    let reader = Store::open_for_reading(dir.path(), Duration::ZERO).unwrap();
    assert!(reader.is_snapshot());
    let writer = Store::open_with_wait(dir.path(), Duration::ZERO).unwrap();
    drop(reader);

    // A writer adds an image: readers meanwhile see the last closed state, at once.
    let (two, _, _) = image(&writer, "reg.example/team/two", "two", true);
    writer.set_tag("reg.example/team/two", "v1", &two).unwrap();
    let started = Instant::now();
    let reader = Store::open_for_reading(dir.path(), Duration::from_secs(10)).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the reader waited"
    );
    assert!(reader.is_snapshot() && reader.is_read_only());
    assert_eq!(
        reader.resolve_tag("reg.example/team/one", "v1").unwrap(),
        Some(one.clone())
    );
    assert_eq!(
        reader.resolve_tag("reg.example/team/two", "v1").unwrap(),
        None
    );
    assert!(reader.content_complete(&one, true).unwrap());
    assert!(reader.set_tag("reg.example/team/one", "v2", &one).is_err());
    drop(reader);
    drop(writer);
    let reader = Store::open_for_reading(dir.path(), Duration::ZERO).unwrap();
    assert_eq!(
        reader.resolve_tag("reg.example/team/two", "v1").unwrap(),
        Some(two)
    );
    drop(reader);

    // While a writer has changed the index, the snapshot is not current (the marker is
    // there); its close leaves a new snapshot and removes the marker.
    let writer = Store::open(dir.path()).unwrap();
    writer.set_tag("reg.example/team/one", "v3", &one).unwrap();
    assert!(dir.path().join("index.writing").exists());
    drop(writer);
    assert!(!dir.path().join("index.writing").exists());
    let reader = Store::open_for_reading(dir.path(), Duration::ZERO).unwrap();
    assert!(reader.is_snapshot());
    assert_eq!(
        reader.resolve_tag("reg.example/team/one", "v3").unwrap(),
        Some(one)
    );
}

#[test]
fn a_writer_killed_before_its_close_leaves_readers_on_the_index_itself() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Store::open(dir.path()).unwrap();
    let (one, _, _) = image(&writer, "reg.example/team/one", "one", true);
    writer.set_tag("reg.example/team/one", "v1", &one).unwrap();
    drop(writer);
    assert!(!dir.path().join("index.writing").exists());
    // The marker of a writer that never closed: the snapshot is stale, the store free.
    std::fs::write(dir.path().join("index.writing"), b"").unwrap();
    let reader = Store::open_for_reading(dir.path(), Duration::ZERO).unwrap();
    assert!(!reader.is_snapshot());
    assert_eq!(
        reader.resolve_tag("reg.example/team/one", "v1").unwrap(),
        Some(one)
    );
}

#[test]
fn damaged_snapshots_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Store::open(dir.path()).unwrap();
    let (one, _, _) = image(&writer, "reg.example/team/one", "one", true);
    writer.set_tag("reg.example/team/one", "v1", &one).unwrap();
    drop(writer);
    // A damaged snapshot, read while a writer holds the store, is an error.
    let writer = Store::open(dir.path()).unwrap();
    let snapshot = dir.path().join(sigmirror_store::SNAPSHOT_FILE);
    let bytes = std::fs::read(&snapshot).unwrap();
    std::fs::write(&snapshot, &bytes[..bytes.len() / 2]).unwrap();
    let err = Store::open_for_reading(dir.path(), Duration::ZERO)
        .err()
        .unwrap();
    assert!(err.to_string().contains("truncated"), "{err}");
    drop(writer);
}

/// The verification ledger travels in the snapshot readers load; a snapshot written before the
/// ledger existed (five trees) still loads, with an empty ledger.
#[test]
fn snapshots_carry_the_ledger_and_older_snapshots_load_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (one, _, _) = image(&store, "reg.example/team/one", "one", true);
    let name = "reg.example/team/one:v1";
    store
        .record_image(name, ImageRecord::new(&one, true, false, "test"))
        .unwrap();
    let record = sigmirror_store::VerificationRecord {
        digest: one.clone(),
        attachments: vec![],
        policy: "sha256:policy".into(),
        checked_at: "2026-12-01T00:00:00Z".into(),
        verified: true,
        verified_by: vec!["release".into()],
        reasons: vec![],
    };
    store.record_verification(name, &record).unwrap();
    drop(store);
    let reader = Store::open_for_reading(dir.path(), Duration::ZERO).unwrap();
    assert!(reader.is_snapshot());
    assert_eq!(reader.verification(name).unwrap(), Some(record));
    drop(reader);

    // Cut the snapshot before its ledger tree, as an older sigmirror wrote it.
    let file = dir.path().join(sigmirror_store::SNAPSHOT_FILE);
    let bytes = std::fs::read(&file).unwrap();
    let header = [&6u32.to_be_bytes()[..], b"ledger"].concat();
    let at = bytes
        .windows(header.len())
        .rposition(|w| w == header.as_slice())
        .expect("the ledger tree");
    std::fs::write(&file, &bytes[..at]).unwrap();
    let reader = Store::open_for_reading(dir.path(), Duration::ZERO).unwrap();
    assert!(reader.is_snapshot());
    assert!(reader.image(name).unwrap().is_some());
    assert_eq!(reader.verification(name).unwrap(), None);
    // A snapshot cut inside an older tree is still refused.
    std::fs::write(&file, &bytes[..at / 2]).unwrap();
    assert!(Store::open_for_reading(dir.path(), Duration::ZERO).is_err());
}
