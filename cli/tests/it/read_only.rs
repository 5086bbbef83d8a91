//! A store on write-protected media, the normal case at an air-gapped site: every command that
//! only reads works, none creates a lock file, and commands that write say why they cannot.

use sigmirror_tests::mounts::Mount;

use crate::fuse::Mounted;
use crate::setup;

#[test]
fn a_store_on_read_only_media_is_read_without_a_lock_file() {
    let s = setup("team/ro");
    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    let writable = s.dir.join("writable");
    let w = writable.to_str().unwrap();
    s.sm(&["pull", "--store", w, &s.image]).ok();
    std::fs::remove_file(writable.join("lock")).unwrap();
    // `store` is what the FUSE helper mounts: the same store, write-protected.
    let store = s.dir.join("store");
    let _bind = Mount::read_only_bind(&writable, &store);
    let ro = store.to_str().unwrap();
    assert!(
        std::fs::write(store.join("probe"), b"x").is_err(),
        "the bind is read-only"
    );

    // Verification from the read-only store: the signing key passes, another key does not.
    crate::generate_other_key_pair(&s.dir);
    let verify = |key: &str| s.verify_offline(ro, key, &s.image);
    verify("cosign.pub").ok();
    verify("other.pub").fails_with("does not verify");
    let ls = s.sm(&["store", "ls", "--store", ro]).ok();
    assert!(
        ls.stdout_text().contains("team/ro:v1"),
        "{}",
        ls.stdout_text()
    );
    s.sm(&["store", "info", "--store", ro, &s.image]).ok();
    s.sm(&["store", "du", "--store", ro]).ok();
    let fsck = s.sm(&["store", "fsck", "--store", ro]).ok();
    assert!(format!("{}{}", fsck.stdout_text(), fsck.stderr).contains(" 0 damaged"));
    s.sm(&[
        "save",
        "--offline",
        "--store",
        ro,
        "--dir",
        "layout",
        &s.image,
    ])
    .ok();
    assert!(s.dir.join("layout/index.json").is_file());
    let to = format!("{}/copy", s.reg.addr());
    s.sm(&["push", "--store", ro, "--to", &to]).ok();
    s.cosign(&[
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        "--allow-http-registry",
        &format!("{to}/team/ro:v1"),
    ])
    .ok();
    {
        let point = s.dir.join("view");
        let _mounted = Mounted::start(&s.dir, &point);
        let tag = point.join(format!("{}/team/ro/_tags/v1", s.reg.addr()));
        assert!(tag.join("manifest.json").is_file(), "{}", tag.display());
    }

    // Writing commands say why they cannot; nothing created a lock file.
    s.sm(&["pull", "--store", ro, &s.image])
        .fails_with("read-only file system");
    s.sm(&["store", "gc", "--store", ro])
        .fails_with("read-only file system");
    assert!(!store.join("lock").exists(), "a lock file was created");

    // A mistyped store is an error that names it, not a new empty store.
    let missing = s.dir.join("no-such-store");
    let m = missing.to_str().unwrap();
    s.verify_offline(m, "cosign.pub", &s.image)
        .fails_with("no store here");
    s.sm(&["store", "ls", "--store", m])
        .fails_with("no store here");
    assert!(!missing.exists(), "a reading command created a store");
}
