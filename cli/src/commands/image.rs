//! `sign`, `verify`, `generate`, `triangulate`, `tree`, `download signature`.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use serde_json::Value;
use sigmirror_cosign::conventions::attachment_ref;
use sigmirror_cosign::payload::{parse_annotations, simple_signing};
use sigmirror_cosign::signer::Signer;
use sigmirror_oci::ImageRef;
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::gojson;
use sigmirror_registry::inspect::{attachments, resolve_digest};
use sigmirror_registry::sign::{SignRequest, sign_image, sign_image_bundle};
use sigmirror_registry::verify::verify_image;

use super::registry::{RegistryArgs, block_on};

/// How many images one call works on at once.
const CONCURRENCY: usize = 16;

// Arguments of `sign` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Sign {
    /// Private key file or key reference (awskms://…, pkcs11:…, k8s://…, env://VAR).
    #[arg(long, value_name = "KEY_REF")]
    key: String,
    /// Annotation for the signed payload, KEY=VALUE; repeatable or comma-separated.
    #[arg(
        short = 'a',
        long = "annotations",
        value_name = "KEY=VALUE",
        value_delimiter = ','
    )]
    annotations: Vec<String>,
    /// For an image index, also sign every platform manifest.
    #[arg(long)]
    recursive: bool,
    /// Put this identity in the payload's docker-reference instead of the image's repository.
    #[arg(long, value_name = "IDENTITY")]
    sign_container_identity: Option<String>,
    /// Write cosign 3's format: a Sigstore bundle stored as an OCI 1.1 referrer of the image,
    /// which cosign 3 verifies and cosign 2 does not read. Default: the classic `.sig` image,
    /// which cosign 2 and cosign 3 both verify.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    new_bundle_format: bool,
    #[command(flatten)]
    tlog: super::blob::TlogArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Images to sign (tags are resolved to digests once; the digest is signed).
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
}

impl Sign {
    /// Runs the command: signs every image concurrently.
    pub fn run(self) -> Result<()> {
        self.tlog.check()?;
        let mut parsed = crate::exit::parse_each(&self.images);
        let annotations = parse_annotations(&self.annotations)?;
        if self.new_bundle_format
            && (!annotations.is_empty() || self.sign_container_identity.is_some())
        {
            anyhow::bail!(
                "-a and --sign-container-identity go into the classic payload; \
                 a --new-bundle-format signature has no place for them"
            );
        }
        let signer: Arc<dyn Signer> = Arc::new(super::open_signer(&self.key, false)?);
        let registry = self.registry.registry()?;
        let bundle = self.new_bundle_format;
        let images = std::mem::take(&mut parsed.images);
        block_on(async {
            let results: Vec<_> = futures_util::stream::iter(images.iter().map(|image| {
                let request = SignRequest {
                    image: image.clone(),
                    annotations: annotations.clone(),
                    recursive: self.recursive,
                    identity: self.sign_container_identity.clone(),
                };
                let (registry, signer) = (&registry, signer.clone());
                async move {
                    if bundle {
                        sign_image_bundle(registry, signer, &request).await
                    } else {
                        sign_image(registry, signer, &request).await
                    }
                    .with_context(|| format!("signing {image}"))
                }
            }))
            .buffered(CONCURRENCY)
            .collect()
            .await;
            let outcomes = parsed
                .failures()
                .into_iter()
                .chain(images.iter().map(ToString::to_string).zip(results));
            crate::exit::report_each("signed", outcomes, |signed| {
                for s in signed {
                    if s.already_present {
                        eprintln!("Signature for {} already present; nothing pushed", s.image);
                    } else {
                        eprintln!("Pushing signature to: {}", s.signature_ref);
                    }
                }
                Ok(())
            })
        })
    }
}

/// Output format of `verify`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VerifyOutput {
    /// A JSON array of the verified payloads, as cosign prints it.
    Json,
    /// Each verified payload's raw bytes, one per line.
    Text,
}

// Arguments of `verify` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Verify {
    #[command(flatten)]
    verifier: super::verifier::VerifierArgs,
    /// Require this annotation in the payload, KEY=VALUE; repeatable or comma-separated.
    #[arg(
        short = 'a',
        long = "annotations",
        value_name = "KEY=VALUE",
        value_delimiter = ','
    )]
    annotations: Vec<String>,
    /// Output format for verified payloads.
    #[arg(short = 'o', long, value_enum, default_value = "json")]
    output: VerifyOutput,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    source: super::source::VerifySourceArgs,
    /// Images to verify (with `--local-image`, layout folders).
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
}

impl Verify {
    /// Runs the command: exits 0 only if every image has at least one valid signature.
    pub fn run(self) -> Result<()> {
        let required = parse_annotations(&self.annotations)?;
        let verifier = self
            .verifier
            .verifier(self.source.offline.store.existing_dir().as_deref())?;
        let super::source::Targets {
            mut parsed,
            sources,
            labels,
        } = self.source.targets(&self.images, &self.registry)?;
        let images = std::mem::take(&mut parsed.images);
        let (verifier, required) = (&verifier, &required);
        block_on(async {
            let results: Vec<_> =
                futures_util::stream::iter(images.iter().zip(&sources).zip(&labels).map(
                    |((image, source), label)| async move {
                        let verified = verify_image(&**source, verifier, image, required).await;
                        verified.map(|v| (label, v))
                    },
                ))
                .buffered(CONCURRENCY)
                .collect()
                .await;
            let outcomes = parsed.outcomes(&images, results);
            crate::exit::report_each("verified", outcomes, |(image, (label, verification))| {
                print_checks(label, !required.is_empty(), self.verifier.is_keyless());
                print_verification(image, &verification, self.output)?;
                Ok(())
            })
        })
    }
}

/// cosign's list of the checks made on each verified image, on stderr.
/// `label` names the image as the user did: its reference, or with `--local-image` the folder.
pub fn print_checks(label: &str, with_annotations: bool, keyless: bool) {
    eprintln!("\nVerification for {label} --");
    eprintln!("The following checks were performed on each of these signatures:");
    eprintln!("  - The cosign claims were validated");
    if with_annotations {
        eprintln!("  - The specified annotations were verified.");
    }
    if keyless {
        eprintln!("  - Existence of the claims in the transparency log was verified offline");
        eprintln!(
            "  - The code-signing certificate was verified using trusted certificate authority certificates"
        );
    } else {
        eprintln!("  - The signatures were verified against the specified public key");
    }
}

fn print_verification(
    image: &ImageRef,
    verification: &sigmirror_cosign::verify::Verification,
    output: VerifyOutput,
) -> std::io::Result<()> {
    match output {
        VerifyOutput::Json => {
            let payloads: Vec<Value> = verification
                .signatures
                .iter()
                .map(|s| s.printed_payload(&image.to_string()))
                .collect();
            outln!("\n{}", String::from_utf8_lossy(&gojson::to_vec(&payloads)))?;
        }
        VerifyOutput::Text => {
            for s in &verification.signatures {
                outln!("{}", String::from_utf8_lossy(&s.payload))?;
            }
        }
    }
    Ok(())
}

// Arguments of `generate` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Generate {
    /// Annotation for the payload, KEY=VALUE; repeatable or comma-separated.
    #[arg(
        short = 'a',
        long = "annotations",
        value_name = "KEY=VALUE",
        value_delimiter = ','
    )]
    annotations: Vec<String>,
    #[command(flatten)]
    target: super::source::ReadImageArgs,
}

impl Generate {
    /// Prints the simple-signing payload that `sign` would sign (no trailing newline).
    pub fn run(self) -> Result<()> {
        let (image, registry) = self.target.open()?;
        let annotations = parse_annotations(&self.annotations)?;
        let digest = block_on(async { Ok(resolve_digest(&registry, &image).await?) })?;
        let payload = simple_signing(&image.repo_name(), &digest, &annotations);
        use std::io::Write;
        std::io::stdout().write_all(&payload)?;
        Ok(())
    }
}

/// Attachment kinds for `triangulate`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TriangulateType {
    /// The `.sig` tag.
    Signature,
    /// The `.att` tag.
    Attestation,
    /// The `.sbom` tag.
    Sbom,
    /// The image digest itself.
    Digest,
}

// Arguments of `triangulate` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Triangulate {
    /// What to locate.
    #[arg(long = "type", value_enum, default_value = "signature")]
    kind: TriangulateType,
    #[command(flatten)]
    target: super::source::ReadImageArgs,
}

impl Triangulate {
    /// Prints where the attachment of the image lives.
    pub fn run(self) -> Result<()> {
        let (image, registry) = self.target.open()?;
        let digest = block_on(async { Ok(resolve_digest(&registry, &image).await?) })?;
        let kind = match self.kind {
            TriangulateType::Digest => {
                outln!("{}", image.with_digest(&digest))?;
                return Ok(());
            }
            TriangulateType::Signature => AttachmentKind::Signature,
            TriangulateType::Attestation => AttachmentKind::Attestation,
            TriangulateType::Sbom => AttachmentKind::Sbom,
        };
        outln!("{}", attachment_ref(&image, &digest, kind)?)?;
        Ok(())
    }
}

// Arguments of `tree` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Tree {
    #[command(flatten)]
    target: super::source::ReadImageArgs,
}

impl Tree {
    /// Prints the signatures, attestations and SBOMs attached to the image, as cosign does.
    pub fn run(self) -> Result<()> {
        let (image, registry) = self.target.open()?;
        let found = block_on(async { Ok(attachments(&registry, &image).await?) })?;
        if found.is_empty() {
            outln!(
                "No Supply Chain Security Related Artifacts artifacts found for image {image},\n \
                 start creating one with simply running$ sigmirror sign <img>"
            )?;
            return Ok(());
        }
        outln!(
            "📦 Supply Chain Security Related artifacts for an image: {}",
            self.target.image
        )?;
        for attached in found {
            let title = match attached.kind {
                AttachmentKind::Signature => "🔐 Signatures for an image tag".to_owned(),
                AttachmentKind::Attestation => "💾 Attestations for an image tag".to_owned(),
                AttachmentKind::Sbom => "📦 SBOMs for an image tag".to_owned(),
                AttachmentKind::Referrer => format!(
                    "🔗 {} artifacts via OCI referrer",
                    attached.artifact.as_deref().unwrap_or("unknown")
                ),
            };
            outln!("└── {title}: {}", attached.reference)?;
            let n = attached.layers.len();
            for (i, layer) in attached.layers.iter().enumerate() {
                let branch = if i + 1 == n { "└──" } else { "├──" };
                outln!("   {branch} 🍒 {}", layer.digest)?;
            }
        }
        Ok(())
    }
}
