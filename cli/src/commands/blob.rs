//! `sign-blob` and `verify-blob`: signing with a key (no transparency log), verifying with a key
//! or keyless (Sigstore bundles, cosign's older bundle and certificate forms), byte-compatible
//! with cosign.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{ArgAction, Args};
use sigmirror_cosign::b64;
use sigmirror_cosign::blob::{read_signature_arg, sign_blob, verify_blob};
use sigmirror_cosign::bundle::LocalBundle;
use sigmirror_cosign::sigstore::bundle::is_sigstore_bundle;
use sigmirror_cosign::sigstore::classic::Evidence;
use sigmirror_cosign::sigstore::{Artifact, Certificate};
use sigmirror_cosign::verifier::Verifier;
use sigmirror_oci::digest::Sha256Digest;

use super::verifier::VerifierArgs;

use crate::output::{write_file, write_files};

/// Opens the blob argument: a file, or stdin for `-`.
pub(crate) fn open_blob(blob: &str) -> Result<Box<dyn Read>> {
    if blob == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let file = File::open(blob).with_context(|| format!("cannot read {blob}"))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        bail!("{blob} is a directory, not a file");
    }
    Ok(Box::new(file))
}

// cosign's transparency-log flags, accepted so that cosign command lines work unchanged:
// sigmirror signs with keys only and never talks to Rekor.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args)]
pub struct TlogArgs {
    /// Accepted for cosign compatibility; only `false` is supported (no Rekor upload).
    #[arg(long)]
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

// Arguments of `sign-blob` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct SignBlob {
    /// Private key file or key reference (awskms://…, pkcs11:…, k8s://…, env://VAR).
    #[arg(long, value_name = "KEY_REF")]
    key: String,
    /// Write the signature to FILE (base64, no trailing newline) instead of stdout.
    #[arg(long, visible_alias = "output", value_name = "FILE")]
    output_signature: Option<PathBuf>,
    /// Also write a bundle to FILE: cosign's key-based bundle (`{"base64Signature":…}`), or with
    /// `--new-bundle-format` a Sigstore bundle v0.3 as cosign 3 writes.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// Write `--bundle` as a Sigstore bundle v0.3 (cosign 3's default; cosign 2 reads it with
    /// its own `--new-bundle-format`).
    #[arg(long, requires = "bundle")]
    new_bundle_format: bool,
    /// Base64-encode the signature output; `--b64=false` writes raw DER.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    b64: bool,
    #[command(flatten)]
    tlog: TlogArgs,
    /// The files to sign, one after another as cosign does (the output files then hold the
    /// last one's); `-` reads stdin. Streamed: any size signs in constant memory.
    #[arg(value_name = "BLOB", required = true)]
    blobs: Vec<String>,
}

impl SignBlob {
    /// Runs the command: signs each blob in turn with one opened key.
    pub fn run(self) -> Result<()> {
        self.tlog.check()?;
        if self.blobs.iter().filter(|b| *b == "-").count() > 1 {
            anyhow::bail!("stdin (-) can be read only once");
        }
        let signer = super::open_signer(&self.key, self.blobs.iter().any(|b| b == "-"))?;
        for blob in &self.blobs {
            self.sign_one(&signer, blob)?;
        }
        Ok(())
    }

    /// Signs one blob and writes or prints what was asked for.
    fn sign_one(&self, signer: &sigmirror_signer::PluginSigner, blob: &str) -> Result<()> {
        eprintln!("Using payload from: {blob}");
        let signed =
            sign_blob(signer, open_blob(blob)?).with_context(|| format!("cannot sign {blob}"))?;
        let encoded = b64::encode(&signed.signature);
        let sig_bytes: &[u8] = if self.b64 {
            encoded.as_bytes()
        } else {
            &signed.signature
        };
        let bundle = match (&self.bundle, self.new_bundle_format) {
            (None, _) => None,
            (Some(_), false) => Some(LocalBundle::for_signature(&signed.signature).to_json()),
            (Some(_), true) => {
                let public = sigmirror_cosign::signer::Signer::public_key(signer)?;
                Some(sigmirror_cosign::bundle_image::message_bundle(
                    &signed.digest,
                    &signed.signature,
                    &public,
                ))
            }
        };
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

// Arguments of `verify-blob` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct VerifyBlob {
    #[command(flatten)]
    verifier: VerifierArgs,
    /// The signature: a file, or the base64 signature itself.
    #[arg(long, value_name = "FILE|BASE64", required_unless_present = "bundle")]
    signature: Option<String>,
    /// A Sigstore bundle (v0.1 to v0.3, as cosign 3 and sigstore clients write), or cosign's
    /// older bundle (`{"base64Signature":…}`, from `sign-blob --bundle`).
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    classic: ClassicEvidenceArgs,
    /// The file to verify; `-` reads stdin. With a Sigstore bundle, `sha256:<hex>` verifies a
    /// digest instead of a file.
    #[arg(value_name = "BLOB")]
    blob: String,
}

// The evidence cosign 2 kept beside a keyless signature outside a bundle.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args)]
pub struct ClassicEvidenceArgs {
    /// Make no network connection (cosign: no transparency-log lookups). Blob verification
    /// here never makes one, so this changes nothing; accepted for cosign's scripts.
    #[arg(long)]
    offline: bool,
    /// The signing certificate (PEM, or base64 of the PEM), for a signature outside a bundle
    /// or a bundle without one.
    #[arg(long, value_name = "FILE")]
    certificate: Option<PathBuf>,
    /// An RFC 3161 timestamp over the signature (cosign's `{"SignedRFC3161Timestamp":…}`).
    #[arg(long, value_name = "FILE")]
    rfc3161_timestamp: Option<PathBuf>,
}

impl ClassicEvidenceArgs {
    /// Adds the certificate and timestamp given to what the old bundle (if any) carries. A
    /// certificate given and one in the bundle must be the same.
    pub fn evidence(&self, bundle: Option<&LocalBundle>) -> Result<Evidence> {
        let mut evidence = bundle.map(LocalBundle::evidence).unwrap_or_default();
        if let Some(path) = &self.certificate {
            let bytes = crate::input::read_bounded(path, crate::input::SMALL, "certificate")?;
            let pem = b64::decode_lenient(bytes.trim_ascii()).unwrap_or(bytes);
            if let Some(inside) = &evidence.certificate_pem {
                let first = |p: &[u8]| {
                    Certificate::from_pem_chain(p)
                        .ok()
                        .and_then(|c| c.into_iter().next())
                };
                if first(inside) != first(&pem) {
                    bail!(
                        "the certificate {} is not the one in the bundle",
                        path.display()
                    );
                }
            }
            evidence.certificate_pem = Some(pem);
        }
        if let Some(path) = &self.rfc3161_timestamp {
            evidence.timestamp = Some(crate::input::read_bounded(
                path,
                crate::input::SMALL,
                "timestamp",
            )?);
        }
        Ok(evidence)
    }

    /// Refuses the classic inputs beside a Sigstore bundle, which carries its own.
    pub fn refuse_with_sigstore_bundle(&self) -> Result<()> {
        if self.certificate.is_some() || self.rfc3161_timestamp.is_some() {
            bail!(
                "--certificate and --rfc3161-timestamp cannot be used with a Sigstore bundle \
                 (it carries its certificate and timestamps)"
            );
        }
        Ok(())
    }
}

/// The artifact a Sigstore bundle is checked against: a file, stdin, or `sha256:<hex>`.
pub fn blob_artifact(blob: &str) -> Result<Artifact> {
    if let Some(hex) = blob.strip_prefix("sha256:")
        && !std::path::Path::new(blob).exists()
    {
        let digest = sigmirror_oci::Digest::parse(blob)
            .with_context(|| format!("{blob} is neither a file nor a sha256 digest"))?;
        let bytes: [u8; 32] = sigmirror_cosign::sigstore::bytes::unhex(hex)
            .and_then(|b| b.try_into().ok())
            .with_context(|| format!("{digest} is not a SHA-256 digest"))?;
        return Ok(Artifact::Sha256(bytes));
    }
    Artifact::of_reader(open_blob(blob)?).with_context(|| format!("cannot read {blob}"))
}

/// Reads and classifies a `--bundle` file.
pub enum BundleFile {
    /// A Sigstore bundle.
    Sigstore(Box<sigmirror_cosign::sigstore::Bundle>),
    /// cosign's older bundle.
    Classic(LocalBundle),
}

impl BundleFile {
    /// Reads `path`.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let bytes = crate::input::read_bounded(path, crate::input::BUNDLE, "bundle")?;
        let context = || format!("cannot read bundle {}", path.display());
        Ok(if is_sigstore_bundle(&bytes) {
            BundleFile::Sigstore(Box::new(
                sigmirror_cosign::sigstore::Bundle::from_json(&bytes).with_context(context)?,
            ))
        } else {
            BundleFile::Classic(LocalBundle::from_json(&bytes).with_context(context)?)
        })
    }
}

impl VerifyBlob {
    /// Runs the command: exits 0 with `Verified OK` on stderr only if the signature verifies.
    pub fn run(self) -> Result<()> {
        let bundle = self.bundle.as_deref().map(BundleFile::read).transpose()?;
        let store = super::verifier::default_store();
        let classic = match bundle {
            Some(BundleFile::Sigstore(bundle)) => {
                if self.signature.is_some() {
                    bail!(
                        "--signature cannot be used with a Sigstore bundle (it carries the signature)"
                    );
                }
                self.classic.refuse_with_sigstore_bundle()?;
                let verifier = self.verifier.bundle_verifier(store.as_deref())?;
                let artifact = blob_artifact(&self.blob)?;
                verifier
                    .check_bundle(&bundle, Some(&artifact))
                    .with_context(|| format!("{} does not verify", self.blob))?;
                eprintln!("Verified OK");
                return Ok(());
            }
            Some(BundleFile::Classic(b)) => Some(b),
            None => None,
        };
        let signature = match (&self.signature, &classic) {
            (Some(sig), _) => read_signature_arg(sig)?,
            (None, Some(bundle)) => bundle.signature()?,
            (None, None) => bail!("--signature or --bundle is required"),
        };
        match self.verifier.verifier(store.as_deref())? {
            Verifier::Key(key) => {
                if classic.as_ref().is_some_and(|b| b.rekor_bundle.is_some()) {
                    eprintln!(
                        "note: the bundle's transparency-log entry is not checked; \
                         the signature is verified with the key only"
                    );
                }
                verify_blob(&key, open_blob(&self.blob)?, &signature)
                    .with_context(|| format!("{} does not verify", self.blob))?;
            }
            Verifier::Sigstore(verifier) => {
                let evidence = self.classic.evidence(classic.as_ref())?;
                let (digest, _) = Sha256Digest::of_reader(open_blob(&self.blob)?)
                    .with_context(|| format!("cannot read {}", self.blob))?;
                verifier
                    .check_classic_signature(*digest.as_bytes(), signature, &evidence)
                    .with_context(|| format!("{} does not verify", self.blob))?;
            }
        }
        eprintln!("Verified OK");
        Ok(())
    }
}
