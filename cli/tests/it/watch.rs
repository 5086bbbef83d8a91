//! `watch DIR` end to end: a layout copied in slowly is imported only once complete; a
//! corrupted one and one with an unsigned image are refused with their reports and change
//! nothing in the store; `.tar` archives; SIGTERM stops it cleanly, and what lands while it is
//! stopped is imported by the next run.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sigmirror_tests::oci::push_image;
use sigmirror_tests::run;

use crate::{setup, sigmirror};

/// Copies the folder `from` to `to` one file at a time, pausing between files.
fn copy_slowly(from: &std::path::Path, to: &std::path::Path, pause: Duration) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_slowly(&entry.path(), &target, pause);
        } else {
            std::thread::sleep(pause);
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A signed image saved as the layout `layouts/good`, an empty drop folder `drop`, and a store
/// `store` that trusts the signing key as `release`; returns the drop folder.
fn drop_folder_with_a_signed_layout(s: &crate::Setup) -> std::path::PathBuf {
    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    s.sm(&["save", "--dir", "layouts/good", &s.image]).ok();
    let drop = s.dir.join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    s.sm(&[
        "trust",
        "add",
        "--store",
        "store",
        "--name",
        "release",
        "cosign.pub",
    ])
    .ok();
    drop
}

#[test]
fn watch_imports_complete_layouts_and_refuses_bad_ones() {
    let s = setup("watch/app");
    let unsigned = format!("{}:v1", s.reg.image("watch/unsigned"));
    push_image(&unsigned, "watch-unsigned");
    let drop = drop_folder_with_a_signed_layout(&s);
    s.sm(&["save", "--dir", "layouts/unsigned", &unsigned]).ok();
    let listed = || {
        s.sm(&["store", "ls", "--store", "store"])
            .ok()
            .stdout_text()
    };
    let report = |folder: &str, entry: &str| -> Value {
        serde_json::from_slice(
            &std::fs::read(drop.join(folder).join(format!("{entry}.report.json"))).unwrap(),
        )
        .unwrap()
    };

    // A watcher in the background, with a settle time of 2 s.
    let mut watcher = Command::new(env!("CARGO_BIN_EXE_sigmirror"))
        .current_dir(s.dir.path())
        .env("HOME", s.dir.path())
        .args(["watch", "--store", "store", "--settle", "2"])
        .arg(&drop)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Copied in slowly (a file every 0.5 s): it must wait until the copy is whole.
    copy_slowly(
        &s.dir.join("layouts/good"),
        &drop.join("good"),
        Duration::from_millis(500),
    );
    wait_for("good to be processed", Duration::from_secs(30), || {
        drop.join("done/good").exists() || drop.join("refused/good").exists()
    });
    assert!(
        drop.join("done/good").exists(),
        "{:?}",
        report("refused", "good")
    );
    assert!(listed().contains(&format!("{}\t", s.image)));
    assert_eq!(report("done", "good")["images"][0]["outcome"], "loaded");

    // A corrupted layout, marked ready: refused at once, the store unchanged.
    let before = listed();
    copy_slowly(
        &s.dir.join("layouts/unsigned"),
        &s.dir.join("corrupt"),
        Duration::ZERO,
    );
    let blobs = s.dir.join("corrupt/blobs/sha256");
    let victim = std::fs::read_dir(&blobs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();
    std::fs::rename(s.dir.join("corrupt"), drop.join("corrupt")).unwrap();
    std::fs::write(drop.join("corrupt.ready"), "").unwrap();
    wait_for("corrupt to be refused", Duration::from_secs(20), || {
        drop.join("refused/corrupt").exists()
    });
    let refused = report("refused", "corrupt");
    assert!(
        refused["error"].as_str().unwrap().contains("digest"),
        "{refused}"
    );
    assert!(
        drop.join("refused/corrupt.ready").exists(),
        "the marker goes with it"
    );
    // An intact layout whose image is unsigned: refused, not loaded.
    copy_slowly(
        &s.dir.join("layouts/unsigned"),
        &s.dir.join("unsigned"),
        Duration::ZERO,
    );
    std::fs::rename(s.dir.join("unsigned"), drop.join("unsigned")).unwrap();
    std::fs::write(drop.join("unsigned.ready"), "").unwrap();
    wait_for("unsigned to be refused", Duration::from_secs(20), || {
        drop.join("refused/unsigned").exists()
    });
    let refused = report("refused", "unsigned");
    assert_eq!(refused["images"][0]["outcome"], "refused", "{refused}");
    assert!(
        refused["images"][0]["details"]
            .to_string()
            .contains("no signature"),
        "{refused}"
    );
    assert_eq!(listed(), before, "nothing refused reached the store");

    // SIGTERM stops it cleanly.
    run(
        Command::new("kill").args(["-TERM", &watcher.id().to_string()]),
        None,
    )
    .ok();
    let status = watcher.wait().unwrap();
    assert!(status.success(), "{status:?}");

    // Dropped while it was stopped: a .tar archive of a layout; the next run imports it, and
    // what it processed before stays where it is.
    run(
        Command::new("tar")
            .args(["-cf"])
            .arg(drop.join("again.tar"))
            .arg("-C")
            .arg(s.dir.join("layouts"))
            .arg("good"),
        None,
    )
    .ok();
    std::fs::write(drop.join("again.tar.ready"), "").unwrap();
    // An archive with a symbolic link in it is refused, not unpacked.
    std::os::unix::fs::symlink("/etc/passwd", s.dir.join("link")).unwrap();
    run(
        Command::new("tar")
            .arg("-cf")
            .arg(drop.join("evil.tar"))
            .arg("-C")
            .arg(s.dir.path())
            .arg("link"),
        None,
    )
    .ok();
    std::fs::write(drop.join("evil.tar.ready"), "").unwrap();
    let once = run(
        sigmirror(&s.dir)
            .args(["watch", "--store", "store", "--once"])
            .arg(&drop),
        None,
    )
    .fails_with("1 entr(ies) refused");
    let evil = report("refused", "evil.tar");
    assert!(
        evil["error"]
            .as_str()
            .unwrap()
            .contains("not a file or folder"),
        "{evil}"
    );
    assert!(
        once.stderr.contains("imported again.tar"),
        "{}",
        once.stderr
    );
    assert!(drop.join("done/again.tar").exists());
    assert!(
        drop.join("done/good").exists() && !drop.join("done/good.2").exists(),
        "nothing imported twice"
    );
    let entries: Vec<String> = std::fs::read_dir(&drop)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    let mut entries = entries;
    entries.sort();
    assert_eq!(entries, vec!["done", "refused"], "none left behind");
}

/// A watcher killed (-9) at some moment of an import: the entry is either still waiting or
/// fully processed, never half; the next run imports what is waiting, and the store is whole.
#[test]
fn a_watcher_killed_mid_import_leaves_the_entry_for_the_next_run() {
    let s = setup("watch/killed");
    let drop = drop_folder_with_a_signed_layout(&s);
    let delays = [0u64, 30, 80, 150, 300];
    for delay in delays {
        let entry = format!("entry-{delay}");
        copy_slowly(
            &s.dir.join("layouts/good"),
            &drop.join(&entry),
            Duration::ZERO,
        );
        std::fs::write(drop.join(format!("{entry}.ready")), "").unwrap();
        let mut watcher = Command::new(env!("CARGO_BIN_EXE_sigmirror"))
            .current_dir(s.dir.path())
            .env("HOME", s.dir.path())
            .args(["watch", "--store", "store"])
            .arg(&drop)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        watcher.kill().unwrap();
        watcher.wait().unwrap();
        let waiting = drop.join(&entry).exists();
        let done = drop.join("done").join(&entry).exists();
        assert!(waiting != done, "{entry}: waiting {waiting}, done {done}");
    }
    run(
        sigmirror(&s.dir)
            .args(["watch", "--store", "store", "--once"])
            .arg(&drop),
        None,
    )
    .ok();
    for delay in delays {
        assert!(
            drop.join("done").join(format!("entry-{delay}")).exists(),
            "entry-{delay}"
        );
    }
    s.sm(&["store", "fsck", "--store", "store"]).ok();
    s.verify_offline("store", "cosign.pub", &s.image).ok();
}
