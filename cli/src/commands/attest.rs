//! `attest`, `verify-attestation`, `attest-blob`, `verify-blob-attestation`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use sigmirror_cosign::attest::{attest_blob, verify_blob_attestation};
use sigmirror_cosign::bundle::LocalBundle;
use sigmirror_cosign::rego_policy::{self, RegoPolicies};
use sigmirror_cosign::signer::Signer;
use sigmirror_cosign::statement::{predicate, predicate_type_uri};
use sigmirror_oci::timefmt::now_rfc3339;
use sigmirror_registry::attest::{AttestRequest, attest_image};
use sigmirror_registry::verify::verify_image_attestations;

use super::registry::{RegistryArgs, block_on};
use crate::output::{write_file, write_files};

/// How many images one call works on at once.
const CONCURRENCY: usize = 16;

fn read_predicate(path: &PathBuf, type_arg: &str) -> Result<(String, serde_json::Value)> {
    let contents =
        std::fs::read(path).with_context(|| format!("cannot read predicate {}", path.display()))?;
    eprintln!("Using payload from: {}", path.display());
    Ok(predicate(type_arg, &contents, &now_rfc3339())?)
}

// Arguments of `attest` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Attest {
    /// Private key file or key reference (awskms://…, pkcs11:…, k8s://…, env://VAR).
    #[arg(long, value_name = "KEY_REF")]
    key: String,
    /// The predicate file.
    #[arg(long, value_name = "FILE")]
    predicate: PathBuf,
    /// Predicate type: custom, slsaprovenance, slsaprovenance02, slsaprovenance1, link, spdx,
    /// spdxjson, cyclonedx, vuln, openvex, or a URI.
    #[arg(long = "type", default_value = "custom", value_name = "TYPE")]
    kind: String,
    /// Replace existing attestations of the same predicate type.
    #[arg(long)]
    replace: bool,
    /// Write cosign 3's format: a Sigstore bundle stored as an OCI 1.1 referrer of the image,
    /// which cosign 3 verifies and cosign 2 does not read. Default: the classic `.att` image.
    #[arg(long)]
    new_bundle_format: bool,
    #[command(flatten)]
    tlog: super::blob::TlogArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Make the attestation and print its DSSE envelope instead of storing it.
    #[arg(long)]
    no_upload: bool,
    /// Images to attest (tags are resolved once; the digest is the subject).
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
}

impl Attest {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        self.tlog.check()?;
        let mut parsed = crate::exit::parse_each(&self.images);
        let images = std::mem::take(&mut parsed.images);
        if self.replace && self.new_bundle_format {
            anyhow::bail!(
                "--replace works on .att images; it cannot be used with --new-bundle-format"
            );
        }
        let (predicate_type, predicate) = read_predicate(&self.predicate, &self.kind)?;
        let signer: Arc<dyn Signer> = Arc::new(super::open_signer(&self.key, false)?);
        let registry = self.registry.registry()?;
        block_on(async {
            let results: Vec<_> = futures_util::stream::iter(images.iter().map(|image| {
                let request = AttestRequest {
                    image: image.clone(),
                    predicate_type: predicate_type.clone(),
                    predicate: predicate.clone(),
                    replace: self.replace,
                    new_bundle_format: self.new_bundle_format,
                    upload: !self.no_upload,
                };
                let (registry, signer) = (&registry, signer.clone());
                async move {
                    attest_image(registry, signer, &request)
                        .await
                        .with_context(|| format!("attesting {image}"))
                }
            }))
            .buffered(CONCURRENCY)
            .collect()
            .await;
            let outcomes = parsed
                .failures()
                .into_iter()
                .chain(images.iter().map(ToString::to_string).zip(results));
            crate::exit::report_each("attested", outcomes, |attested| {
                match attested.target {
                    Some(target) => eprintln!("Pushing attestation to: {target}"),
                    // cosign's --no-upload prints the envelope, one line per image.
                    None => outln!("{}", String::from_utf8_lossy(&attested.envelope_json))?,
                }
                Ok(())
            })
        })
    }
}

/// What `verify-attestation` prints for each verified attestation.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AttestationOutput {
    /// The DSSE envelope JSON as stored, one per line (cosign's output).
    Envelope,
    /// The decoded in-toto statement, one per line.
    Statement,
}

// Arguments of `verify-attestation` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct VerifyAttestation {
    #[command(flatten)]
    verifier: super::verifier::VerifierArgs,
    /// Only accept attestations of this predicate type: a shortname (custom, slsaprovenance,
    /// slsaprovenance02, slsaprovenance1, link, spdx, spdxjson, cyclonedx, vuln, openvex) or a
    /// URI. As in cosign, `custom` unless given: other types need `--type`.
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    kind: String,
    /// What to print for each verified attestation.
    #[arg(short = 'o', long, value_enum, default_value = "envelope")]
    output: AttestationOutput,
    /// A Rego policy (FILE.rego) every verified attestation's statement must satisfy:
    /// `data.signature.allow` must be true with the statement as `input`, as in cosign;
    /// repeatable. CUE policies (.cue) are refused: there is no CUE evaluator here.
    #[arg(long, value_name = "FILE")]
    policy: Vec<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    source: super::source::VerifySourceArgs,
    /// Images to verify (with `--local-image`, layout folders).
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
}

impl VerifyAttestation {
    /// Runs the command: exits 0 only if every image has a valid attestation.
    pub fn run(self) -> Result<()> {
        let predicate_type = predicate_type_uri(&self.kind)?;
        // Every policy is read (and a CUE one refused) before anything is verified.
        for file in &self.policy {
            rego_policy::refuse_unsupported(file)?;
        }
        let policies = match self.policy.is_empty() {
            true => None,
            false => Some(RegoPolicies::load(&self.policy)?),
        };
        let verifier = self
            .verifier
            .verifier(self.source.offline.store.existing_dir().as_deref())?;
        let (verifier, predicate_type, policies) = (&verifier, &predicate_type, &policies);
        let outcomes =
            self.source
                .check_each(&self.images, &self.registry, |image, source| async move {
                    let (_, attestations) =
                        verify_image_attestations(&*source, verifier, &image, Some(predicate_type))
                            .await?;
                    if let Some(policies) = policies {
                        eprintln!(
                            "will be validating against Rego policies: {:?}",
                            policies.files()
                        );
                        policies
                            .check_all(attestations.iter().map(|a| &a.statement.json))
                            .with_context(|| format!("attestations of {image}"))?;
                    }
                    Ok(attestations)
                })?;
        let mut out = std::io::stdout().lock();
        crate::exit::report_each("verified", outcomes, |checked| {
            super::image::print_checks(&checked.label, false, self.verifier.is_keyless());
            for a in checked.value {
                match self.output {
                    AttestationOutput::Envelope => out.write_all(&a.envelope_json)?,
                    AttestationOutput::Statement => {
                        out.write_all(&sigmirror_oci::gojson::to_vec(&a.statement.json))?
                    }
                }
                out.write_all(b"\n")?;
            }
            Ok(())
        })
    }
}

// Arguments of `attest-blob` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct AttestBlob {
    /// Private key file or key reference.
    #[arg(long, value_name = "KEY_REF")]
    key: String,
    /// The predicate file.
    #[arg(long, value_name = "FILE")]
    predicate: PathBuf,
    /// Predicate type (shortname or URI), as for `attest`.
    #[arg(long = "type", default_value = "custom", value_name = "TYPE")]
    kind: String,
    /// Write the DSSE envelope to FILE instead of stdout.
    #[arg(long, visible_alias = "output-attestation", value_name = "FILE")]
    output_signature: Option<PathBuf>,
    /// Also write a bundle to FILE: cosign's key-based bundle (base64 of the envelope), or with
    /// `--new-bundle-format` a Sigstore bundle v0.3 holding the envelope, as cosign 3 writes.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// Write `--bundle` as a Sigstore bundle v0.3 (cosign 3's default).
    #[arg(long, requires = "bundle")]
    new_bundle_format: bool,
    #[command(flatten)]
    tlog: super::blob::TlogArgs,
    /// The file the statement is about.
    #[arg(value_name = "BLOB")]
    blob: PathBuf,
}

impl AttestBlob {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        self.tlog.check()?;
        let (predicate_type, predicate) = read_predicate(&self.predicate, &self.kind)?;
        let signer = super::open_signer(&self.key, false)?;
        let file = std::fs::File::open(&self.blob)
            .with_context(|| format!("cannot read {}", self.blob.display()))?;
        let name = self
            .blob
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.blob.display().to_string());
        let signed = attest_blob(&signer, file, &name, &predicate_type, &predicate)?;
        let envelope = signed.to_json();
        let bundle = if self.new_bundle_format {
            let public = sigmirror_cosign::signer::Signer::public_key(&signer)?;
            sigmirror_cosign::bundle_image::dsse_bundle(&signed, &public)
        } else {
            LocalBundle::for_signature(&envelope).to_json()
        };
        let mut files: Vec<(&std::path::Path, &[u8], u32)> = vec![];
        if let Some(path) = &self.output_signature {
            files.push((path, &envelope, 0o644));
        }
        if let Some(path) = &self.bundle {
            files.push((path, &bundle, 0o644));
        }
        match files.len() {
            0 => {}
            1 => write_file(files[0].0, files[0].1, files[0].2)?,
            _ => write_files(&files)?,
        }
        match &self.output_signature {
            Some(path) => eprintln!("Signature written in {}", path.display()),
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(&envelope)?;
                out.write_all(b"\n")?;
            }
        }
        if let Some(path) = &self.bundle {
            eprintln!("Wrote bundle to file {}", path.display());
        }
        Ok(())
    }
}

// Arguments of `verify-blob-attestation` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct VerifyBlobAttestation {
    #[command(flatten)]
    verifier: super::verifier::VerifierArgs,
    /// The DSSE envelope file written by `attest-blob`.
    #[arg(long, value_name = "FILE", required_unless_present = "bundle")]
    signature: Option<PathBuf>,
    /// A Sigstore bundle with a DSSE envelope (cosign 3, sigstore clients), or cosign's older
    /// bundle written by `attest-blob --bundle`.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// Only accept attestations of this predicate type: a shortname (custom, slsaprovenance,
    /// slsaprovenance02, slsaprovenance1, link, spdx, spdxjson, cyclonedx, vuln, openvex) or a
    /// URI. As in cosign, `custom` unless given: other types need `--type`.
    #[arg(long = "type", value_name = "TYPE", default_value = "custom")]
    kind: String,
    #[command(flatten)]
    classic: super::blob::ClassicEvidenceArgs,
    /// The file the statement is about (its SHA-256 or SHA-512 must be a subject). With a
    /// Sigstore bundle, `sha256:<hex>` names a digest instead of a file.
    #[arg(value_name = "BLOB")]
    blob: String,
}

impl VerifyBlobAttestation {
    /// Runs the command: `Verified OK` on stderr and exit 0 only if every check passes.
    pub fn run(self) -> Result<()> {
        let predicate_type = predicate_type_uri(&self.kind)?;
        let store = super::verifier::default_store();
        let bundle = self
            .bundle
            .as_deref()
            .map(super::blob::BundleFile::read)
            .transpose()?;
        let classic = match bundle {
            Some(super::blob::BundleFile::Sigstore(bundle)) => {
                if self.signature.is_some() {
                    anyhow::bail!(
                        "--signature cannot be used with a Sigstore bundle (it carries the envelope)"
                    );
                }
                self.classic.refuse_with_sigstore_bundle()?;
                let verifier = self.verifier.bundle_verifier(store.as_deref())?;
                let artifact = super::blob::blob_artifact(&self.blob)?;
                let verified = verifier
                    .check_bundle(&bundle, Some(&artifact))
                    .with_context(|| format!("{} does not verify", self.blob))?;
                let statement = verified
                    .statement
                    .context("the bundle holds a signature, not an attestation: use verify-blob")?;
                if statement.predicate_type != predicate_type {
                    anyhow::bail!(
                        "the attestation's predicate type is {}, not {predicate_type}",
                        statement.predicate_type
                    );
                }
                eprintln!("Verified OK");
                return Ok(());
            }
            Some(super::blob::BundleFile::Classic(b)) => Some(b),
            None => None,
        };
        let envelope = match (&self.signature, &classic) {
            (Some(path), _) => crate::input::read_bounded(path, crate::input::BUNDLE, "envelope")?,
            (None, Some(bundle)) => bundle.signature()?,
            (None, None) => anyhow::bail!("--signature or --bundle is required"),
        };
        let verifier = self.verifier.verifier(store.as_deref())?;
        let evidence = self.classic.evidence(classic.as_ref())?;
        let file = std::fs::File::open(&self.blob)
            .with_context(|| format!("cannot read {}", self.blob))?;
        verify_blob_attestation(&verifier, &envelope, &evidence, file, Some(&predicate_type))?;
        eprintln!("Verified OK");
        Ok(())
    }
}
