//! A private, offline Sigstore instance for keyless tests (`peers/private_sigstore.py`): a
//! Fulcio-like CA, a Rekor-like log, a CT log and a timestamp authority made of local keys, and
//! the trusted root listing them. Signatures it makes are judged by cosign, sigstore-go and
//! sigstore-python as well as by sigmirror; each mutation makes output all of them must refuse.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::{TestDir, run, venv_python};

/// The identity every test signs as.
pub const IDENTITY: &str =
    "https://github.com/sigmirror/ci/.github/workflows/release.yml@refs/heads/main";
/// The OIDC issuer every test signs with.
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// One instance (its keys and trusted root) in a scratch folder.
pub struct PrivateSigstore {
    dir: TestDir,
}

impl PrivateSigstore {
    /// Creates an instance valid from a day ago for ten years.
    pub fn init() -> Self {
        let dir = TestDir::new();
        let s = PrivateSigstore { dir };
        s.run(&["init", s.dir().to_str().expect("utf-8 path"), "--force"]);
        s
    }

    /// The instance folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `trusted_root.json`.
    pub fn trusted_root(&self) -> PathBuf {
        self.dir.join("trusted_root.json")
    }

    /// sigstore-python's `--trust-config` file.
    pub fn trust_config(&self) -> PathBuf {
        self.dir.join("trust_config.json")
    }

    /// cosign's environment for this instance without a trusted root file.
    pub fn cosign_env(&self) -> Vec<(&'static str, String)> {
        let path = |p: &str| self.dir.join(p).to_string_lossy().into_owned();
        vec![
            ("SIGSTORE_ROOT_FILE", path("fulcio_chain.pem")),
            ("SIGSTORE_REKOR_PUBLIC_KEY", path("certs/rekor.pub.pem")),
            (
                "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE",
                path("certs/ctlog.pub.pem"),
            ),
            ("SIGSTORE_TSA_CERTIFICATE_FILE", path("tsa_chain.pem")),
        ]
    }

    /// Runs a subcommand; returns its JSON summary.
    #[track_caller]
    pub fn run(&self, args: &[&str]) -> Value {
        let out = run(
            Command::new(venv_python())
                .arg(crate::peers::script("private_sigstore.py"))
                .args(args),
            None,
        )
        .ok();
        serde_json::from_slice(&out.stdout).expect("private_sigstore.py prints JSON")
    }

    /// A signing subcommand (`sign-blob`, `attest-blob`, `sign-image-layer`) as [`IDENTITY`],
    /// with `extra` options (`--tsa`, `--mutate NAME`, `--bundle-version 0.1`, …).
    #[track_caller]
    pub fn sign(&self, command: &str, input: &Path, extra: &[&str]) -> Value {
        let mut args = vec![
            command,
            self.dir().to_str().expect("utf-8 path"),
            input.to_str().expect("utf-8 path"),
            "--identity",
            IDENTITY,
            "--issuer",
            ISSUER,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}
