//! `sign-blob` and `verify-blob`: key-based, no transparency log, byte-compatible with cosign.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{ArgAction, Args};
use sigmirror_cosign::b64;
use sigmirror_cosign::blob::{read_signature_arg, sign_blob, verify_blob};
use sigmirror_cosign::bundle::LocalBundle;

use crate::output::{write_file, write_files};

/// Opens the blob argument: a file, or stdin for `-`.
fn open_blob(blob: &str) -> Result<Box<dyn Read>> {
    if blob == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let file = File::open(blob).with_context(|| format!("cannot read {blob}"))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        bail!("{blob} is a directory, not a file");
    }
    Ok(Box::new(file))
}

/// cosign's transparency-log flags, accepted so that cosign command lines work unchanged:
/// sigmirror signs with keys only and never talks to Rekor.
#[derive(Debug, Args)]
pub struct TlogArgs {
    /// Accepted for cosign compatibility; only `false` is supported (no Rekor upload).
    #[arg(long, default_value_t = false, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    tlog_upload: bool,
    /// Accepted for cosign compatibility (there is nothing to confirm without Rekor).
    #[arg(short = 'y', long)]
    yes: bool,
}

impl TlogArgs {
    /// Refuses `--tlog-upload=true`.
    pub fn check(&self) -> Result<()> {
        if self.tlog_upload {
            bail!(
                "sigmirror does not upload to a transparency log; sign without --tlog-upload \
                 (key-only signatures, like cosign --tlog-upload=false)"
            );
        }
        let _ = self.yes;
        Ok(())
    }
}

/// cosign's `--insecure-ignore-tlog` for verifying commands, accepted so that cosign command
/// lines work unchanged: sigmirror verifies with keys only and never consults a transparency
/// log, so there is nothing to ignore.
#[derive(Debug, Args)]
pub struct IgnoreTlogArgs {
    /// Accepted for cosign compatibility: sigmirror verifies with keys only, never with a
    /// transparency log.
    #[arg(long, default_value_t = false, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    insecure_ignore_tlog: bool,
}

/// Arguments of `sign-blob`.
#[derive(Debug, Args)]
pub struct SignBlob {
    /// Private key file or key reference (awskms://…, pkcs11:…, k8s://…, env://VAR).
    #[arg(long, value_name = "KEY_REF")]
    key: String,
    /// Write the signature to FILE (base64, no trailing newline) instead of stdout.
    #[arg(long, visible_alias = "output", value_name = "FILE")]
    output_signature: Option<PathBuf>,
    /// Also write cosign's key-based bundle JSON (`{"base64Signature":…}`) to FILE.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// Base64-encode the signature output; `--b64=false` writes raw DER.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    b64: bool,
    #[command(flatten)]
    tlog: TlogArgs,
    /// The file to sign; `-` reads stdin. Streamed: any size signs in constant memory.
    #[arg(value_name = "BLOB")]
    blob: String,
}

impl SignBlob {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        self.tlog.check()?;
        let signer = super::open_signer(&self.key, self.blob == "-")?;
        eprintln!("Using payload from: {}", self.blob);
        let signed = sign_blob(&signer, open_blob(&self.blob)?)
            .with_context(|| format!("cannot sign {}", self.blob))?;
        let encoded = b64::encode(&signed.signature);
        let sig_bytes: &[u8] = if self.b64 {
            encoded.as_bytes()
        } else {
            &signed.signature
        };
        let bundle = self
            .bundle
            .as_ref()
            .map(|_| LocalBundle::for_signature(&signed.signature).to_json());
        match (&self.bundle, &self.output_signature, &bundle) {
            (Some(bundle_path), Some(sig_path), Some(bundle)) => {
                write_files(&[(bundle_path, bundle, 0o644), (sig_path, sig_bytes, 0o644)])?;
                eprintln!("Wrote bundle to file {}", bundle_path.display());
                eprintln!("Wrote signature to file {}", sig_path.display());
            }
            (Some(bundle_path), None, Some(bundle)) => {
                write_file(bundle_path, bundle, 0o644)?;
                eprintln!("Wrote bundle to file {}", bundle_path.display());
            }
            (None, Some(sig_path), _) => {
                write_file(sig_path, sig_bytes, 0o644)?;
                eprintln!("Wrote signature to file {}", sig_path.display());
            }
            _ => {}
        }
        if self.output_signature.is_none() {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(sig_bytes)?;
            if self.b64 {
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        Ok(())
    }
}

/// Arguments of `verify-blob`.
#[derive(Debug, Args)]
pub struct VerifyBlob {
    /// Public key file (PEM), env://VAR, or a plugin key reference whose public half is used.
    #[arg(long, value_name = "KEY_REF")]
    key: String,
    /// The signature: a file, or the base64 signature itself.
    #[arg(
        long,
        value_name = "FILE|BASE64",
        conflicts_with = "bundle",
        required_unless_present = "bundle"
    )]
    signature: Option<String>,
    /// cosign's key-based bundle file written by `sign-blob --bundle`.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    tlog: IgnoreTlogArgs,
    /// The file to verify; `-` reads stdin.
    #[arg(value_name = "BLOB")]
    blob: String,
}

impl VerifyBlob {
    /// Runs the command: exits 0 with `Verified OK` on stderr only if the signature verifies.
    pub fn run(self) -> Result<()> {
        let key = super::load_public_key(&self.key)?;
        let signature = match (&self.signature, &self.bundle) {
            (Some(sig), _) => read_signature_arg(sig)?,
            (None, Some(path)) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read bundle {}", path.display()))?;
                let bundle = LocalBundle::from_json(&bytes)
                    .with_context(|| format!("cannot read bundle {}", path.display()))?;
                if bundle.rekor_bundle.is_some() {
                    eprintln!(
                        "note: the bundle's transparency-log entry is not checked; \
                         the signature is verified with the key only"
                    );
                }
                bundle.signature()?
            }
            (None, None) => bail!("--signature or --bundle is required"),
        };
        verify_blob(&key, open_blob(&self.blob)?, &signature)
            .with_context(|| format!("{} does not verify", self.blob))?;
        eprintln!("Verified OK");
        Ok(())
    }
}
