//! Messages that say what happened (issue: "The mirror tells the truth", item 3): each case
//! reproduces a mistake a user made and checks the message names the cause.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use sigmirror_tests::registry::{PASSWORD, TestRegistry, USER};
use sigmirror_tests::run;

use crate::{setup, sigmirror};

/// A CI job that forgot `COSIGN_PASSWORD`: stdin is not a terminal and empty. The message says
/// where the password came from, not only that it was wrong.
#[test]
fn a_missing_password_says_cosign_password_is_unset() {
    let s = setup("msg/password");
    let out = run(
        sigmirror(&s.dir).args(["sign", "--key", "cosign.key", &s.image]),
        None,
    )
    .fails_with("COSIGN_PASSWORD is unset and stdin is not a terminal");
    assert!(out.stderr.contains("which was empty"), "{}", out.stderr);
    // A wrong password piped on purpose is counted, so a stray newline can be spotted.
    run(
        sigmirror(&s.dir).args(["sign", "--key", "cosign.key", &s.image]),
        Some(b"pw\n"),
    )
    .fails_with("3 byte(s)");
    // Set, the variable is used and nothing is said about stdin.
    let signed = s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    assert!(!signed.stderr.contains("stdin"), "{}", signed.stderr);
}

/// Logins: a username alone is refused before any request, the password comes from the flag,
/// the environment or stdin, and a rejected password is called rejected (not "give
/// credentials").
#[test]
fn registry_logins_are_whole_and_a_rejected_password_says_so() {
    let reg = TestRegistry::start_with_login();
    let s = setup("msg/login");
    let image = format!("{}:v1", reg.image("msg/login"));
    let verify = |extra: &[&str], env: Option<&str>, stdin: Option<&[u8]>| {
        let mut cmd = sigmirror(&s.dir);
        cmd.args(["verify", "--key", "cosign.pub"])
            .args(extra)
            .arg(&image);
        if let Some(password) = env {
            cmd.env("SIGMIRROR_REGISTRY_PASSWORD", password);
        }
        run(&mut cmd, stdin)
    };
    verify(&["--registry-username", USER], None, None)
        .fails_with("--registry-username needs a password");
    verify(&["--registry-password", PASSWORD], None, None)
        .fails_with("without --registry-username");
    // Right credentials, three ways: the image is absent (exit 11), so they were accepted.
    for (extra, env, stdin) in [
        (vec!["--registry-password", PASSWORD], None, None),
        (vec![], Some(PASSWORD), None),
        (
            vec!["--registry-password-stdin"],
            None,
            Some(format!("{PASSWORD}\n").into_bytes()),
        ),
    ] {
        let mut args = vec!["--registry-username", USER];
        args.extend(extra);
        let out = verify(&args, env, stdin.as_deref());
        assert_eq!(out.code, 11, "{args:?} {env:?}: {}", out.stderr);
        assert!(out.stderr.contains("not found"), "{}", out.stderr);
    }
    verify(
        &["--registry-username", USER, "--registry-password", "wrong"],
        None,
        None,
    )
    .fails_with(&format!("rejected the credentials of user \"{USER}\""));
    verify(&[], None, None).fails_with("give credentials with --registry-username");
    verify(
        &["--registry-username", USER, "--registry-password-stdin"],
        None,
        Some(b""),
    )
    .fails_with("stdin was empty");
}

/// An offline miss names the store and the names it holds that look like the one asked for.
#[test]
fn an_offline_miss_names_the_store_and_the_closest_names() {
    let s = setup("msg/offline");
    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    let store = s.pull_into_store(&[&s.image]);
    let store = store.as_str();
    let verify_offline = |image: &str| s.verify_offline(store, "cosign.pub", image);
    let typo = s.image.replace("msg/offline", "msg/ofline");
    let out = verify_offline(&typo).fails_with(&format!("{typo}: not in the store {store}"));
    assert_eq!(out.code, 11, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("the closest names it holds: {}", s.image)),
        "{}",
        out.stderr
    );
    // Nothing like it: no names are suggested.
    let far = format!("{}/zz/completely-different:v9", s.reg.addr());
    let out = verify_offline(&far).fails_with("no image of that name or a close one");
    assert!(!out.stderr.contains(&s.image), "{}", out.stderr);
    // A mistyped --store is not created, and the error names the path.
    s.verify_offline("nostore", "cosign.pub", &s.image)
        .fails_with("nostore: no store here");
    assert!(!s.dir.join("nostore").exists());
}

/// A registry that accepts connections and never answers: `--timeout` gives up at its limit
/// and names what it waited for; without it the stall rule does, naming the host and the time.
#[test]
fn timeouts_name_the_host_the_object_and_the_time_waited() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    // Accept and hold every connection, answering nothing.
    std::thread::spawn(move || {
        let mut held = vec![];
        for conn in silent.incoming() {
            held.push(conn);
        }
    });
    let s = setup("msg/timeout");
    let image = format!("{addr}/msg/silent:v1");
    let started = Instant::now();
    s.sm(&["--timeout", "3s", "verify", "--key", "cosign.pub", &image])
        .fails_with(&format!(
            "timed out after 3.0 s (--timeout): still waiting for {image}"
        ));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "--timeout 3s took {:?}",
        started.elapsed()
    );
    // cosign's spelling after the subcommand works too.
    s.sm(&["verify", "--timeout", "2s", "--key", "cosign.pub", &image])
        .fails_with("timed out after 2.0 s");
    s.sm(&[
        "verify",
        "--stall-timeout",
        "1",
        "--key",
        "cosign.pub",
        &image,
    ])
    .fails_with(&format!(
        "{image}: timed out: {addr} sent no complete answer in 2 s"
    ));
    s.sm(&["--timeout", "soon", "verify", "--key", "cosign.pub", &image])
        .fails_with("\"soon\" is not a duration");
}

/// `mount` by a user who may not mount FUSE file systems: the detached mount reports the same
/// reason as a foreground one (it used to exit with an empty reason, its log removed by the
/// store's cleanup of tmp/). Where this machine lets any user mount, both succeed instead.
#[test]
fn a_mount_that_cannot_be_made_says_why_also_in_the_background() {
    use std::os::unix::fs::{PermissionsExt, chown};
    const NOBODY: u32 = 65534;
    let dir = sigmirror_tests::TestDir::new();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let base = dir.join("nobody");
    std::fs::create_dir_all(base.join("mnt")).unwrap();
    for path in [base.clone(), base.join("mnt")] {
        chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let as_nobody = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(sigmirror_tests::tool("setpriv"));
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_sigmirror"))
            .arg("mount")
            .args(extra)
            .arg("--store")
            .arg(base.join("store"))
            .arg(base.join("mnt"))
            .env("HOME", &base);
        run(&mut cmd, None)
    };
    let background = as_nobody(&[]);
    if background.code == 0 {
        run(
            std::process::Command::new("umount").arg(base.join("mnt")),
            None,
        )
        .ok();
        return;
    }
    let foreground = as_nobody(&["--foreground"]);
    assert_ne!(foreground.code, 0, "{}", foreground.stderr);
    let reason = |stderr: &str| {
        stderr
            .lines()
            .find(|l| l.starts_with("Error: "))
            .unwrap_or_default()
            .to_owned()
    };
    let said = reason(&background.stderr);
    assert!(
        said.contains("mounting at") && said.contains("may not mount FUSE file systems"),
        "{}",
        background.stderr
    );
    assert_eq!(said, reason(&foreground.stderr));
}

/// `download signature | head -c 1`: the reader goes away; the command ends quietly with
/// success (it used to print "Error: Broken pipe").
#[test]
fn a_closed_pipe_after_a_download_ends_quietly() {
    let s = setup("msg/pipe");
    s.sm(&["sign", "--key", "cosign.key", &s.image]).ok();
    for args in [
        vec!["download", "signature", s.image.as_str()],
        vec!["verify", "--key", "cosign.pub", s.image.as_str()],
        vec!["triangulate", s.image.as_str()],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = sigmirror(&s.dir)
            .args(&args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("Error"), "{args:?}: {stderr}");
    }
}
