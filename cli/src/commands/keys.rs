//! `generate-key-pair`, `import-key-pair`, `public-key`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use sigmirror_cosign::keys::PrivateKey;

use crate::output::{confirm_overwrite, write_file, write_files};
use crate::password::read_password;

// Arguments of `generate-key-pair` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct GenerateKeyPair {
    /// Create the key in a signer plugin instead (e.g. awskms:///alias/NAME, pkcs11:…,
    /// k8s://NS/NAME); only the public key is written locally.
    #[arg(long, value_name = "KEY_REF")]
    kms: Option<String>,
    /// Prefix of the written files: PREFIX.key and PREFIX.pub.
    #[arg(long, default_value = "cosign", value_name = "PREFIX")]
    output_key_prefix: String,
    /// Overwrite existing files without asking.
    #[arg(short = 'y', long)]
    yes: bool,
    /// A key reference as positional argument, as cosign takes `k8s://NS/NAME` (same as --kms).
    #[arg(value_name = "KEY_REF", conflicts_with = "kms")]
    key_ref: Option<String>,
}

fn key_paths(prefix: &str) -> (PathBuf, PathBuf) {
    (
        PathBuf::from(format!("{prefix}.key")),
        PathBuf::from(format!("{prefix}.pub")),
    )
}

/// Writes PREFIX.key (0600) and PREFIX.pub (0644) for `key`, encrypted with a password read
/// with confirmation.
fn write_key_pair(key: &PrivateKey, prefix: &str, yes: bool) -> Result<()> {
    let (key_path, pub_path) = key_paths(prefix);
    confirm_overwrite(&[&key_path, &pub_path], yes)?;
    let password = read_password(true)?;
    let encrypted = key.to_encrypted_pem(&password)?;
    let public = key.public_key().to_pem();
    write_files(&[
        (&key_path, encrypted.as_bytes(), 0o600),
        (&pub_path, public.as_bytes(), 0o644),
    ])?;
    eprintln!("Private key written to {}", key_path.display());
    eprintln!("Public key written to {}", pub_path.display());
    Ok(())
}

impl GenerateKeyPair {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        if let Some(key_ref) = self.kms.as_deref().or(self.key_ref.as_deref()) {
            let (_, pub_path) = key_paths(&self.output_key_prefix);
            confirm_overwrite(&[&pub_path], self.yes)?;
            let signer = super::open_signer(key_ref, false)?;
            let public = signer.create_key().with_context(|| {
                format!(
                    "cannot create {}",
                    sigmirror_cosign::keyref::redact(key_ref)
                )
            })?;
            write_file(&pub_path, public.to_pem().as_bytes(), 0o600)?;
            eprintln!("Public key written to {}", pub_path.display());
            return Ok(());
        }
        write_key_pair(&PrivateKey::generate(), &self.output_key_prefix, self.yes)
    }
}

// Arguments of `import-key-pair` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct ImportKeyPair {
    /// Unencrypted EC P-256 private key PEM to import (PKCS#8 `PRIVATE KEY` or SEC1
    /// `EC PRIVATE KEY`).
    #[arg(short = 'k', long, value_name = "FILE")]
    key: PathBuf,
    /// Prefix of the written files: PREFIX.key and PREFIX.pub.
    #[arg(
        short = 'o',
        long,
        default_value = "import-cosign",
        value_name = "PREFIX"
    )]
    output_key_prefix: String,
    /// Overwrite existing files without asking.
    #[arg(short = 'y', long)]
    yes: bool,
}

impl ImportKeyPair {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        let pem = read(&self.key)?;
        let key = PrivateKey::from_unencrypted_pem(&pem)
            .with_context(|| format!("cannot import {}", self.key.display()))?;
        write_key_pair(&key, &self.output_key_prefix, self.yes)
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

// Arguments of `public-key` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct PublicKeyCmd {
    /// Private key file or key reference (awskms://…, pkcs11:…, k8s://…).
    #[arg(long, value_name = "KEY_REF")]
    key: String,
    /// Write the PEM to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    outfile: Option<PathBuf>,
}

impl PublicKeyCmd {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        let public = super::open_signer(&self.key, false)?.public_key()?.to_pem();
        match self.outfile {
            Some(path) => {
                write_file(&path, public.as_bytes(), 0o644)?;
                eprintln!("Public key written to {}", path.display());
            }
            None => out!("{public}")?,
        }
        Ok(())
    }
}
