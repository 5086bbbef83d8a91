//! Sigstore's trusted root through TUF: a repository made by python-tuf (the reference
//! implementation, `tests/peers/tuf_repo.py`) and served over loopback HTTP. Outside, `trust
//! sigstore pull` follows root rotations and refuses expired, rolled-back, under-signed and
//! tampered metadata without changing what the store trusts; the verified repository is exported,
//! imported inside from a pinned root, and the imported root verifies keyless signatures with
//! no file argument.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sigmirror_tests::peers::{Server, script};
use sigmirror_tests::private_sigstore::{IDENTITY, ISSUER, PrivateSigstore};
use sigmirror_tests::{Run, TestDir, run, venv_python};

use crate::sigmirror;

/// A TUF repository in `dir/repo`, published at `server`.
pub(crate) struct Repo {
    dir: TestDir,
    pub(crate) server: Server,
}

impl Repo {
    fn path(&self) -> PathBuf {
        self.dir.join("repo")
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.path().join("1.root.json")
    }

    /// Runs a `tuf_repo.py` command on the repository.
    fn tuf(&self, args: &[&str]) -> Value {
        let out = run(
            Command::new(venv_python())
                .arg(script("tuf_repo.py"))
                .arg(args[0])
                .arg(self.path())
                .args(&args[1..]),
            None,
        )
        .ok();
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Saves the published files, to put them back after a mutation.
    fn save(&self, name: &str) -> PathBuf {
        let to = self.dir.join(name);
        let _ = std::fs::remove_dir_all(&to);
        copy(&self.path(), &to);
        to
    }

    fn restore(&self, saved: &Path) {
        std::fs::remove_dir_all(self.path()).unwrap();
        copy(saved, &self.path());
    }
}

fn copy(from: &Path, to: &Path) {
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(to)
            .status()
            .unwrap()
            .success()
    );
}

pub(crate) fn new_repo(target: &Path) -> Repo {
    let dir = TestDir::new();
    std::fs::create_dir_all(dir.join("repo")).unwrap();
    let server = Server::static_files(&dir.join("repo"));
    let repo = Repo { dir, server };
    repo.tuf(&["init", target.to_str().unwrap()]);
    repo
}

#[test]
fn a_tuf_update_follows_rotations_refuses_every_bad_repository_and_crosses_the_air_gap() {
    let ps = PrivateSigstore::init();
    let repo = new_repo(&ps.trusted_root());
    let outside = TestDir::new();
    let sm = |store: &Path, args: &[&str]| -> Run {
        run(
            sigmirror(&outside).env("SIGMIRROR_STORE", store).args(args),
            None,
        )
    };
    let store = outside.join("store");
    let url = repo.server.url();
    let root = repo.root();
    let pull = || {
        sm(
            &store,
            &[
                "trust",
                "sigstore",
                "pull",
                "--repository",
                &url,
                "--root",
                root.to_str().unwrap(),
            ],
        )
    };
    let trusted = || std::fs::read(store.join("trusted-roots/sigstore.json")).unwrap();

    pull().ok();
    assert_eq!(trusted(), std::fs::read(ps.trusted_root()).unwrap());

    // Two root rotations and a new target: followed from the pinned version 1.
    repo.tuf(&["rotate-root"]);
    repo.tuf(&["rotate-root"]);
    repo.tuf(&["update", ps.trusted_root().to_str().unwrap()]);
    let out = pull().ok();
    assert!(out.stderr.contains("root version 3"), "{}", out.stderr);
    let good = repo.save("good");
    let before = trusted();

    // Each bad repository is refused, and what the store trusts stays as it was.
    let other = PrivateSigstore::init();
    let other_root = other.trusted_root();
    for (case, mutate, needle) in [
        ("expired timestamp", vec!["expire-timestamp"], "expired"),
        (
            "new root under its threshold",
            vec!["rotate-root-unsigned"],
            "threshold",
        ),
        (
            "rolled-back snapshot",
            vec!["rollback-snapshot"],
            "snapshot",
        ),
        (
            "tampered target",
            vec!["update", other_root.to_str().unwrap(), "tamper-target"],
            "hash mismatch",
        ),
    ] {
        let mut args = mutate.clone();
        while !args.is_empty() {
            // A command and its argument, if it takes one.
            let takes = args[0] == "update";
            let n = if takes { 2 } else { 1 };
            repo.tuf(&args[..n]);
            args.drain(..n);
        }
        pull().fails_with(needle);
        assert_eq!(trusted(), before, "{case} changed the trusted root");
        repo.restore(&good);
    }
    // Rollback: after a newer state was seen, the older one is refused.
    let older = repo.save("older");
    repo.tuf(&["update", ps.trusted_root().to_str().unwrap()]);
    pull().ok();
    repo.restore(&older);
    pull().fails_with("previously fetched");

    // Across the air gap: export, then import inside from the pinned root alone.
    let carried = outside.join("carried");
    sm(
        &store,
        &["trust", "sigstore", "export", carried.to_str().unwrap()],
    )
    .ok();
    let inside = TestDir::new();
    let inside_store = inside.join("store");
    let sm_inside = |args: &[&str]| {
        run(
            sigmirror(&inside)
                .env("SIGMIRROR_STORE", &inside_store)
                .args(args),
            None,
        )
    };
    // A tampered copy is refused first, and leaves nothing trusted.
    let tampered = inside.join("tampered");
    copy(&carried, &tampered);
    let target = std::fs::read_dir(tampered.join("targets"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&target).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&target, bytes).unwrap();
    sm_inside(&[
        "trust",
        "sigstore",
        "import",
        "--root",
        root.to_str().unwrap(),
        tampered.to_str().unwrap(),
    ])
    .fails_with("hash mismatch");
    assert!(!inside_store.join("trusted-roots/sigstore.json").exists());
    // A root the repository was not made with is refused.
    let stranger = new_repo(&ps.trusted_root());
    sm_inside(&[
        "trust",
        "sigstore",
        "import",
        "--root",
        stranger.root().to_str().unwrap(),
        carried.to_str().unwrap(),
    ])
    .fails_with("TUF update");
    sm_inside(&[
        "trust",
        "sigstore",
        "import",
        "--root",
        root.to_str().unwrap(),
        carried.to_str().unwrap(),
    ])
    .ok();

    // The imported root verifies a keyless signature with no trusted-root argument.
    let artifact = inside.write("release.tar", b"a release");
    let bundle = inside.join("release.sigstore.json");
    ps.sign("sign-blob", &artifact, &["--out", bundle.to_str().unwrap()]);
    sm_inside(&[
        "verify-blob",
        "--bundle",
        bundle.to_str().unwrap(),
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
        artifact.to_str().unwrap(),
    ])
    .ok();
}
