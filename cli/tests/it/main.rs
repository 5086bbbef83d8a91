//! End-to-end tests of the `sigmirror` binary, against the real cosign binary and openssl.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod attest;
mod blob;
mod fuse;
mod hostile;
mod images;
mod interop;
mod k8s;
mod keys;
mod kms;
mod mirror;
mod pkcs11;
mod plugins;

use std::process::Command;

use sigmirror_tests::TestDir;

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
