//! End-to-end tests of the `sigmirror` binary, against the real cosign binary and openssl.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod attest;
mod blob;
mod cosign3;
mod cosign_env;
mod docs;
mod dropin;
mod fuse;
mod hostile;
mod hostile_layout;
mod images;
mod interop;
mod k8s;
mod keyless;
mod keys;
mod kms;
mod messages;
mod mirror;
mod output;
mod pkcs11;
mod plugins;
mod read_only;
mod serve;
mod sync;
mod tuf;
mod watch;

use std::process::Command;

use sigmirror_tests::TestDir;
use sigmirror_tests::oci::push_image;
use sigmirror_tests::registry::TestRegistry;

/// `sigmirror` built by this `cargo test`, isolated in `dir`.
pub fn sigmirror(dir: &TestDir) -> Command {
    sigmirror_tests::sigmirror(env!("CARGO_BIN_EXE_sigmirror"), dir)
}

/// Generates `cosign.key`/`cosign.pub` in `dir` with `password`.
pub fn generate_key_pair(dir: &TestDir, password: &str) {
    sigmirror_tests::run(
        sigmirror(dir)
            .arg("generate-key-pair")
            .env("COSIGN_PASSWORD", password),
        None,
    )
    .ok();
}

/// Generates a second pair, `other.key`/`other.pub` (password `pw`), for wrong-key cases.
pub fn generate_other_key_pair(dir: &TestDir) {
    sigmirror_tests::run(
        sigmirror(dir)
            .args(["generate-key-pair", "--output-key-prefix", "other"])
            .env("COSIGN_PASSWORD", "pw"),
        None,
    )
    .ok();
}

/// The predicate type the tests' attestations have.
pub const TEST_PREDICATE_TYPE: &str = "https://example.com/t/v1";

/// The arguments that attest `image` with `cosign.key`, the predicate in `pred.json`, of the type
/// [`TEST_PREDICATE_TYPE`] (the caller writes `pred.json`).
pub fn attest_args(image: &str) -> [&str; 8] {
    [
        "attest",
        "--key",
        "cosign.key",
        "--predicate",
        "pred.json",
        "--type",
        TEST_PREDICATE_TYPE,
        image,
    ]
}

/// The arguments of a cosign (2 or 3) `command` (`verify`, `verify-attestation`) of `image`
/// with `key`, without a transparency log, on a plain-HTTP registry; `extra` before the image.
pub fn judge_args<'a>(
    command: &'a str,
    key: &'a str,
    image: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        command,
        "--key",
        key,
        "--insecure-ignore-tlog",
        "--allow-http-registry",
    ];
    args.extend_from_slice(extra);
    args.push(image);
    args
}

/// A registry with one pushed image, and a key pair (password `pw`) in a scratch folder.
pub struct Setup {
    /// The registry (stopped when dropped).
    pub reg: TestRegistry,
    /// The scratch folder, with `cosign.key` and `cosign.pub`.
    pub dir: TestDir,
    /// `127.0.0.1:PORT/<repo>:v1`.
    pub image: String,
    /// Its manifest digest.
    pub digest: String,
}

/// A [`Setup`] with the image pushed to `repo`.
pub fn setup(repo: &str) -> Setup {
    let reg = TestRegistry::start();
    let dir = TestDir::new();
    generate_key_pair(&dir, "pw");
    let image = format!("{}:v1", reg.image(repo));
    let digest = push_image(&image, repo);
    Setup {
        reg,
        dir,
        image,
        digest,
    }
}

impl Setup {
    /// Runs sigmirror in the setup's folder with the key password.
    pub fn sm(&self, args: &[&str]) -> sigmirror_tests::Run {
        sigmirror_tests::run(
            sigmirror(&self.dir).args(args).env("COSIGN_PASSWORD", "pw"),
            None,
        )
    }

    /// Pulls `images` into the setup's `store` folder; returns its path.
    pub fn pull_into_store(&self, images: &[&str]) -> String {
        let store = self.dir.join("store").to_str().unwrap().to_owned();
        let mut args = vec!["pull", "--store", store.as_str()];
        args.extend_from_slice(images);
        self.sm(&args).ok();
        store
    }

    /// The real cosign's `command` (`verify`, `verify-attestation`) of `image` with `key`,
    /// without a transparency log, on a plain-HTTP registry; `extra` goes before the image.
    pub fn cosign_verify(
        &self,
        command: &str,
        key: &str,
        image: &str,
        extra: &[&str],
    ) -> sigmirror_tests::Run {
        self.cosign(&judge_args(command, key, image, extra))
    }

    /// Attests `image` with `cosign.key`: a small predicate (written to `pred.json`) of the type
    /// [`TEST_PREDICATE_TYPE`].
    pub fn attest(&self, image: &str) {
        self.dir.write("pred.json", r#"{"buildType":"test"}"#);
        self.sm(&attest_args(image)).ok();
    }

    /// `verify --offline` of `image` from the store `store` with the public key `key`.
    pub fn verify_offline(&self, store: &str, key: &str, image: &str) -> sigmirror_tests::Run {
        self.sm(&["verify", "--offline", "--store", store, "--key", key, image])
    }

    /// Runs the real cosign in the setup's folder with the key password.
    pub fn cosign(&self, args: &[&str]) -> sigmirror_tests::Run {
        sigmirror_tests::run(
            sigmirror_tests::cosign(&self.dir)
                .args(args)
                .env("COSIGN_PASSWORD", "pw"),
            None,
        )
    }
}
