//! How the binary writes its results: a reader that goes away ends the command quietly.

use std::process::Stdio;

use sigmirror_tests::TestDir;

use crate::{generate_key_pair, sigmirror};

/// Runs `args` with stdout a pipe whose reader is already closed, as `… | head -1` leaves it
/// once `head` has its line. Regression (crate-layout issue): `println!` panicked there.
fn with_closed_stdout(dir: &TestDir, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    sigmirror(dir)
        .args(args)
        .env("COSIGN_PASSWORD", "pw")
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_ends_quietly_with_success() {
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    let store = dir.join("store");
    let store = store.to_str().unwrap();
    sigmirror_tests::run(
        sigmirror(&dir).args(["trust", "add", "--store", store, "cosign.pub"]),
        None,
    )
    .ok();
    for args in [
        vec!["plugins"],
        vec!["public-key", "--key", "cosign.key"],
        vec!["trust", "ls", "--store", store],
    ] {
        let out = with_closed_stdout(&dir, &args);
        assert!(
            out.status.success(),
            "{args:?}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
