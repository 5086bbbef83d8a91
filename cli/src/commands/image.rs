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
use sigmirror_registry::sign::{SignRequest, Signed, sign_image, sign_image_bundle};
use sigmirror_registry::verify::{verify_detached, verify_image_with};

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
    #[arg(short = 'r', long)]
    recursive: bool,
    /// Put this identity in the payload's docker-reference instead of the image's repository.
    #[arg(long, value_name = "IDENTITY")]
    sign_container_identity: Option<String>,
    /// Sign this payload file as it is, instead of the simple-signing payload made for each
    /// image.
    #[arg(long, value_name = "FILE")]
    payload: Option<std::path::PathBuf>,
    /// Store the signature at the image's `.sig` tag; `--upload=false` only makes it (for
    /// `--output-signature` and `--output-payload`).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    upload: bool,
    /// Where the signature goes: at the image's `.sig` tag (legacy), or as an OCI 1.1 referrer
    /// of its digest (oci-1-1, cosign 2's experimental format, which `verify
    /// --experimental-oci11` finds).
    #[arg(long, value_enum, default_value = "legacy", value_name = "MODE")]
    registry_referrers_mode: ReferrersMode,
    #[command(flatten)]
    outputs: SignOutputs,
    #[command(flatten)]
    attachment: AttachmentArgs,
    /// Write cosign 3's format: a Sigstore bundle stored as an OCI 1.1 referrer of the image,
    /// which cosign 3 verifies and cosign 2 does not read. Default: the classic `.sig` image,
    /// which cosign 2 and cosign 3 both verify.
    #[arg(long)]
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
            && (!annotations.is_empty()
                || self.sign_container_identity.is_some()
                || self.payload.is_some()
                || !self.upload
                || self.outputs.any()
                || matches!(self.registry_referrers_mode, ReferrersMode::Oci11))
        {
            anyhow::bail!(
                "-a, --sign-container-identity, --payload, --upload=false, --output-* and \
                 --registry-referrers-mode belong to the classic signature; a \
                 --new-bundle-format signature has no place for them"
            );
        }
        let oci11 = matches!(self.registry_referrers_mode, ReferrersMode::Oci11);
        if oci11 && !sigmirror_cosign::conventions::experimental() {
            anyhow::bail!(
                "--registry-referrers-mode=oci-1-1 is experimental: set COSIGN_EXPERIMENTAL=1 to \
                 use it, as cosign asks"
            );
        }
        let payload = match &self.payload {
            Some(file) => Some(
                std::fs::read(file)
                    .with_context(|| format!("cannot read the payload {}", file.display()))?,
            ),
            None => None,
        };
        let signer: Arc<dyn Signer> = Arc::new(super::open_signer(&self.key, false)?);
        let registry = self.registry.registry()?;
        let bundle = self.new_bundle_format;
        let images = std::mem::take(&mut parsed.images);
        let (attachment, payload, this) = (&self.attachment, &payload, &self);
        block_on(async {
            let results: Vec<_> = futures_util::stream::iter(images.iter().map(|image| {
                let (registry, signer) = (&registry, signer.clone());
                let annotations = annotations.clone();
                async move {
                    let mut request = SignRequest::new(attachment.of(registry, image).await?);
                    request.annotations = annotations;
                    request.recursive = this.recursive;
                    request.identity = this.sign_container_identity.clone();
                    request.payload = payload.clone();
                    request.upload = this.upload;
                    request.oci11 = oci11;
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
                for s in &signed {
                    if !self.upload {
                        continue;
                    } else if oci11 {
                        eprintln!(
                            "Uploading signature for [{}] to [{}] with config.mediaType [{}] \
                             layers[0].mediaType [{}].",
                            s.image,
                            s.signature_ref,
                            sigmirror_cosign::conventions::OCI11_SIGNATURE_ARTIFACT_TYPE,
                            sigmirror_oci::media_types::SIMPLE_SIGNING
                        );
                    } else if s.already_present {
                        eprintln!("Signature for {} already present; nothing pushed", s.image);
                    } else {
                        eprintln!("Pushing signature to: {}", s.signature_ref);
                    }
                }
                self.outputs.write(&signed, self.recursive, &*signer)
            })
        })
    }
}

/// cosign's `--registry-referrers-mode`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReferrersMode {
    /// The `.sig` tag of the image's digest.
    Legacy,
    /// An OCI 1.1 referrer of the image's digest.
    #[value(name = "oci-1-1")]
    Oci11,
}

// cosign's `--output-signature`, `--output-payload` and `--output-certificate` of `sign`.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args)]
pub struct SignOutputs {
    /// Write the signature (base64) to FILE; with --recursive, one file per digest,
    /// `FILE-sha256-<hex>`.
    #[arg(long, value_name = "FILE")]
    output_signature: Option<std::path::PathBuf>,
    /// Write the signed payload to FILE; with --recursive, one file per digest, as for
    /// --output-signature.
    #[arg(long, value_name = "FILE")]
    output_payload: Option<std::path::PathBuf>,
    /// Write the signer's certificate to FILE; a key has none, so its public key (PEM) is
    /// written, as cosign does.
    #[arg(long, value_name = "FILE")]
    output_certificate: Option<std::path::PathBuf>,
}

impl SignOutputs {
    /// Whether any output file was asked for.
    fn any(&self) -> bool {
        self.output_signature.is_some()
            || self.output_payload.is_some()
            || self.output_certificate.is_some()
    }

    /// Writes what was asked for about `signed` (0600, as cosign): with several images each
    /// overwrites the last, as in cosign; with `recursive` each digest has its own file.
    fn write(&self, signed: &[Signed], recursive: bool, signer: &dyn Signer) -> Result<()> {
        let per_digest = |file: &std::path::Path, s: &Signed| match s.image.digest() {
            Some(d) if recursive => std::path::PathBuf::from(format!(
                "{}-{}",
                file.display(),
                d.as_str().replace(':', "-")
            )),
            _ => file.to_path_buf(),
        };
        for s in signed {
            if let Some(file) = &self.output_signature {
                let file = per_digest(file, s);
                let encoded = sigmirror_cosign::b64::encode(&s.signature);
                crate::output::write_file(&file, encoded.as_bytes(), 0o600)?;
            }
            if let Some(file) = &self.output_payload {
                crate::output::write_file(&per_digest(file, s), &s.payload, 0o600)?;
            }
        }
        if let Some(file) = &self.output_certificate {
            let public = signer.public_key()?;
            crate::output::write_file(file, public.to_pem().as_bytes(), 0o600)?;
            eprintln!("Certificate wrote in the file {}", file.display());
        }
        Ok(())
    }
}

// cosign's deprecated `--attachment sbom` of `sign` and `verify`: act on the image's attached
// SBOM instead of the image.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args)]
pub struct AttachmentArgs {
    /// Sign or verify the image's attached SBOM (the `.sbom` tag of its digest) instead of
    /// the image. Deprecated in cosign, accepted for scripts that use it.
    #[arg(long, value_enum, value_name = "ATTACHMENT")]
    attachment: Option<Attachment>,
}

/// What `--attachment` can name.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Attachment {
    /// The SBOM attached with `attach sbom`.
    Sbom,
}

impl AttachmentArgs {
    /// The image to act on: `image` itself, or its attached SBOM's tag.
    pub async fn of<S: sigmirror_oci::source::Source>(
        &self,
        source: &S,
        image: &ImageRef,
    ) -> Result<ImageRef> {
        match self.attachment {
            None => Ok(image.clone()),
            Some(Attachment::Sbom) => {
                let digest = resolve_digest(source, image)
                    .await
                    .with_context(|| format!("resolving {image}"))?;
                Ok(attachment_ref(image, &digest, AttachmentKind::Sbom)?)
            }
        }
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
    /// Check this signature (a file, or the signature itself; base64 or raw) instead of those
    /// stored at the image's `.sig` tag.
    #[arg(long, value_name = "FILE|BASE64")]
    signature: Option<String>,
    /// The payload `--signature` signs (default: the simple-signing payload cosign makes for
    /// the image's digest, without annotations).
    #[arg(long, value_name = "FILE", requires = "signature")]
    payload: Option<std::path::PathBuf>,
    /// Also look for cosign 2's OCI 1.1 signatures (`sign --registry-referrers-mode=oci-1-1`)
    /// among the image's referrers; a valid signature found either there or at the `.sig` tag
    /// counts.
    #[arg(long)]
    experimental_oci11: bool,
    #[command(flatten)]
    attachment: AttachmentArgs,
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
        let detached = self.detached_signature()?;
        let (verifier, required, detached) = (&verifier, &required, &detached);
        let (attachment, oci11) = (&self.attachment, self.experimental_oci11);
        let outcomes =
            self.source
                .check_each(&self.images, &self.registry, |image, source| async move {
                    let image = attachment.of(&*source, &image).await?;
                    Ok(match detached {
                        Some((payload, signature)) => {
                            let payload = payload.clone();
                            verify_detached(
                                &*source, verifier, &image, payload, signature, required,
                            )
                            .await?
                        }
                        None => {
                            verify_image_with(&*source, verifier, &image, required, oci11).await?
                        }
                    })
                })?;
        crate::exit::report_each("verified", outcomes, |checked| {
            print_checks(
                &checked.label,
                !required.is_empty(),
                self.verifier.is_keyless(),
            );
            print_verification(&checked.image, &checked.value, self.output)?;
            Ok(())
        })
    }
}

impl Verify {
    /// `--payload` and `--signature` as cosign reads them: the signature from a file, or the
    /// argument itself, base64 or raw (`blob::read_signature_arg`, as for `verify-blob`).
    fn detached_signature(&self) -> Result<Option<(Option<Vec<u8>>, String)>> {
        let Some(given) = &self.signature else {
            return Ok(None);
        };
        // As verify-blob reads it: a file or the argument, base64 or raw.
        let raw = sigmirror_cosign::blob::read_signature_arg(given)?;
        let signature = sigmirror_cosign::b64::encode(&raw);
        let payload = match &self.payload {
            Some(file) => Some(crate::input::read_bounded(
                file,
                crate::input::SMALL,
                "payload",
            )?),
            None => None,
        };
        Ok(Some((payload, signature)))
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
        // A digest is the payload's whole subject: as in cosign, it is not looked up.
        let digest = match image.digest() {
            Some(digest) => digest.clone(),
            None => block_on(async { Ok(resolve_digest(&registry, &image).await?) })?,
        };
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
