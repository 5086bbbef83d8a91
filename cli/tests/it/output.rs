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

/// Progress (issue: "The mirror tells the truth", item 4). On a terminal the bar counts a large
/// layer's bytes as they stream, against the total, with rate and estimate (it used to stay at
/// the size of the small blobs until the layer was complete); elsewhere, one plain line per
/// image; `--progress none` shows only the summary.
#[test]
fn progress_counts_bytes_as_they_stream_and_is_plain_off_a_terminal() {
    const LAYER: usize = 96 << 20;
    let reg = sigmirror_tests::registry::TestRegistry::start();
    let dir = TestDir::new();
    let big = format!("{}:v1", reg.image("progress/big"));
    let digest = sigmirror_tests::oci::push_big_image(&big, "progress", 1, LAYER);
    let small = format!("{}:v1", reg.image("progress/small"));
    sigmirror_tests::oci::push_image(&small, "progress");

    // A terminal: `script` gives the command a pseudo-terminal and keeps what it drew.
    let typescript = dir.join("typescript");
    let command = format!(
        "{} pull --store {} {big}",
        env!("CARGO_BIN_EXE_sigmirror"),
        dir.join("store-tty").display()
    );
    run(
        std::process::Command::new(sigmirror_tests::tool("script"))
            .args(["-qec", &command])
            .arg(&typescript)
            .env("HOME", dir.path()),
        None,
    )
    .ok();
    let drawn = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    // Frames look like `⠙ pull 36.84 MiB/96.00 MiB (303.51 MiB/s, 0s left) …`.
    let counts: Vec<(f64, f64)> = drawn
        .split(['\r', '\n'])
        .filter(|frame| frame.contains(" left)"))
        .filter_map(|frame| {
            let (done, rest) = frame.split_once(" pull ")?.1.split_once('/')?;
            let total = rest.split(" (").next()?;
            Some((mebibytes(done)?, mebibytes(total)?))
        })
        .collect();
    assert!(
        counts
            .iter()
            .any(|&(done, total)| done > 1.0 && total >= 95.0 && frame_has_rate(&drawn)),
        "no frame counted the layer's bytes: {counts:?}\n{drawn}"
    );

    // Not a terminal: a line per image, then the summary.
    let out = run(
        sigmirror(&dir).args(["pull", "--store", "store-plain", &big, &small]),
        None,
    )
    .ok();
    assert!(
        out.stderr.contains(&format!("pulled {big} ({digest})")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("pulled {small} (sha256:")),
        "{}",
        out.stderr
    );
    let out = run(
        sigmirror(&dir).args([
            "pull",
            "--progress",
            "none",
            "--store",
            "store-none",
            &small,
        ]),
        None,
    )
    .ok();
    assert!(
        !out.stderr.contains(&format!("pulled {small}")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("pulled 1 image(s)"), "{}", out.stderr);
}

/// `12.5 MiB`, `300 KiB`, `7 B` as mebibytes.
fn mebibytes(text: &str) -> Option<f64> {
    let (value, unit) = text.trim().split_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let scale = match unit {
        "B" => 1.0 / (1024.0 * 1024.0),
        "KiB" => 1.0 / 1024.0,
        "MiB" => 1.0,
        "GiB" => 1024.0,
        _ => return None,
    };
    Some(value * scale)
}

/// Whether the bar shows a transfer rate.
fn frame_has_rate(drawn: &str) -> bool {
    drawn.contains("MiB/s") || drawn.contains("GiB/s")
}

/// `completion bash` completes commands and flags in a real bash; `man` writes a page per
/// command whose synopsis names the command as it is typed.
#[test]
fn completion_scripts_complete_and_man_pages_cover_every_command() {
    let dir = TestDir::new();
    let script = run(sigmirror(&dir).args(["completion", "bash"]), None).ok();
    dir.write("completion.bash", &script.stdout);
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source completion.bash; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; \
             COMP_POINT={}; _sigmirror sigmirror; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1,
            line.len()
        );
        run(
            std::process::Command::new("bash")
                .current_dir(dir.path())
                .args(["-c", &program]),
            None,
        )
        .ok()
        .stdout_text()
    };
    let commands = complete("sigmirror veri");
    assert!(
        commands.lines().any(|l| l == "verify") && commands.lines().any(|l| l == "verify-blob"),
        "{commands}"
    );
    let flags = complete("sigmirror verify --allow-");
    assert!(flags.contains("--allow-http-registry"), "{flags}");
    for shell in ["zsh", "fish", "powershell"] {
        let out = run(sigmirror(&dir).args(["completion", shell]), None).ok();
        assert!(out.stdout_text().contains("verify-attestation"), "{shell}");
    }

    run(sigmirror(&dir).args(["man", "--dir", "man"]), None).ok();
    let page = String::from_utf8(dir.read("man/sigmirror-trust-add.1")).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH sigmirror-trust-add"),
        "{page}"
    );
    assert!(page.contains("sigmirror trust add"), "{page}");
    for command in [
        "sigmirror.1",
        "sigmirror-pull.1",
        "sigmirror-store-gc.1",
        "sigmirror-serve.1",
    ] {
        assert!(dir.join("man").join(command).is_file(), "{command}");
    }
}
