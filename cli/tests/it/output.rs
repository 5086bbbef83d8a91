//! How the binary writes its results: a reader that goes away ends the command quietly; error
//! lines name each cause once and cannot drive the terminal.

use std::process::Stdio;

use sigmirror_tests::{TestDir, run};

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

#[test]
fn error_lines_escape_control_characters_and_name_each_cause_once() {
    let dir = TestDir::new();
    // A cause that prints its own source once, not twice.
    let out = run(
        sigmirror(&dir).args(["store", "gc", "--store", "/proc/sigmirror-none"]),
        None,
    );
    assert_ne!(out.code, 0);
    assert_eq!(
        out.stderr.matches("No such file or directory").count(),
        1,
        "{}",
        out.stderr
    );
    // Whatever a name or a server puts in an error cannot drive the terminal.
    let out = run(
        sigmirror(&dir).args([
            "verify-blob",
            "--key",
            "k.pub",
            "--bundle",
            "x\u{1b}[2Jy\nz",
            "a.txt",
        ]),
        None,
    );
    assert_ne!(out.code, 0);
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
    assert!(out.stderr.contains("x\\u{1b}[2Jy\\nz"), "{}", out.stderr);
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.stderr);
}
