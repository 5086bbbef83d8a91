//! `attach signature`, `upload blob`, `upload wasm`, `clean`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use sigmirror_cosign::sigstore::classic;
use sigmirror_oci::ImageRef;
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_registry::upload::{
    SignatureEvidence, UploadFile, attach_signature, clean, detect_content_type, upload_blob,
    upload_wasm,
};

use super::registry::{RegistryArgs, block_on};

fn read_arg_file(path: &str) -> Result<Vec<u8>> {
    if path == "-" {
        let mut buf = vec![];
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading stdin")?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("cannot read {path}"))
}

/// What `attach` attaches.
#[derive(Debug, Subcommand)]
pub enum Attach {
    /// Attach a signature made elsewhere to the image's `.sig` (appended, no de-duplication).
    Signature(AttachSignature),
    /// Attach an SBOM at the image's `.sbom` tag (replacing any previous one).
    Sbom(AttachSbom),
    /// Attach DSSE attestation envelopes made elsewhere to the image's `.att`.
    Attestation(AttachAttestation),
}

// Keyless evidence made elsewhere, attached beside a signature or attestation as cosign does.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args)]
pub struct EvidenceArgs {
    /// PEM signing certificate to attach.
    #[arg(long, visible_alias = "cert", value_name = "FILE")]
    certificate: Option<PathBuf>,
    /// PEM certificate chain to attach with the certificate.
    #[arg(
        long,
        visible_alias = "cert-chain",
        value_name = "FILE",
        requires = "certificate"
    )]
    certificate_chain: Option<PathBuf>,
    /// Rekor bundle JSON (`{"SignedEntryTimestamp":…,"Payload":{…}}`) to attach: the
    /// transparency-log evidence keyless verification checks offline.
    #[arg(long, value_name = "FILE", requires = "certificate")]
    rekor_bundle: Option<PathBuf>,
    /// RFC 3161 timestamp JSON (`{"SignedRFC3161Timestamp":…}`) to attach.
    #[arg(long, value_name = "FILE")]
    rfc3161_timestamp: Option<PathBuf>,
    /// cosign's form of --rekor-bundle: the JSON `sign-blob --bundle` writes, whose
    /// `rekorBundle` is attached.
    #[arg(
        long,
        value_name = "FILE",
        requires = "certificate",
        conflicts_with = "rekor_bundle"
    )]
    rekor_response: Option<PathBuf>,
    /// cosign's form of --rfc3161-timestamp: the timestamp authority's response itself (DER).
    #[arg(long, value_name = "FILE", conflicts_with = "rfc3161_timestamp")]
    tsr: Option<PathBuf>,
}

impl EvidenceArgs {
    /// Whether anything is given.
    fn is_empty(&self) -> bool {
        self.certificate.is_none() && self.rfc3161_timestamp.is_none() && self.tsr.is_none()
    }

    /// Reads the files, checking the Rekor bundle and timestamp parse: a malformed one would
    /// only fail verification later, after it was written.
    fn read(&self) -> Result<SignatureEvidence> {
        let read_text = |p: &Option<PathBuf>| -> Result<Option<String>> {
            p.as_ref()
                .map(|p| {
                    let bytes =
                        crate::input::read_bounded(p, crate::input::SMALL, "evidence file")?;
                    String::from_utf8(bytes).with_context(|| format!("{} is not text", p.display()))
                })
                .transpose()
        };
        let rekor_bundle = match &self.rekor_response {
            Some(file) => Some(
                rekor_bundle_of_response(&read_text(&self.rekor_response)?.unwrap_or_default())
                    .with_context(|| format!("--rekor-response {}", file.display()))?,
            ),
            None => read_text(&self.rekor_bundle)?,
        };
        let timestamp = match &self.tsr {
            Some(file) => {
                let der = crate::input::read_bounded(file, crate::input::SMALL, "--tsr file")?;
                Some(format!(
                    r#"{{"SignedRFC3161Timestamp":"{}"}}"#,
                    sigmirror_cosign::b64::encode(&der)
                ))
            }
            None => read_text(&self.rfc3161_timestamp)?,
        };
        let evidence = SignatureEvidence {
            certificate: read_text(&self.certificate)?,
            chain: read_text(&self.certificate_chain)?,
            rekor_bundle,
            timestamp,
        };
        if let Some(bundle) = &evidence.rekor_bundle {
            classic::rekor_entry(bundle.as_bytes()).context("--rekor-bundle")?;
        }
        if let Some(timestamp) = &evidence.timestamp {
            classic::timestamp(timestamp.as_bytes()).context("--rfc3161-timestamp")?;
        }
        Ok(evidence)
    }
}

/// The `rekorBundle` of cosign's local signed payload (`{"base64Signature":…,"cert":…,
/// "rekorBundle":{…}}`), byte for byte.
fn rekor_bundle_of_response(text: &str) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct LocalSignedPayload<'a> {
        #[serde(rename = "rekorBundle", borrow)]
        rekor_bundle: Option<&'a serde_json::value::RawValue>,
    }
    let parsed: LocalSignedPayload<'_> =
        serde_json::from_str(text).context("not cosign's signed-payload JSON")?;
    match parsed.rekor_bundle {
        Some(raw) => Ok(raw.get().to_owned()),
        None => anyhow::bail!("it has no rekorBundle"),
    }
}

/// Arguments of `attach attestation`.
#[derive(Debug, Args)]
pub struct AttachAttestation {
    /// A file of DSSE envelopes (one JSON object, or several one after another); repeatable.
    #[arg(long = "attestation", value_name = "FILE", required = true)]
    attestations: Vec<String>,
    /// Evidence for a keyless attestation (one envelope only).
    #[command(flatten)]
    evidence: EvidenceArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The image.
    #[arg(value_name = "IMAGE")]
    image: String,
}

impl AttachAttestation {
    fn run(self) -> Result<()> {
        let image = ImageRef::parse(&self.image)?;
        let mut envelopes = vec![];
        for file in &self.attestations {
            let bytes = read_arg_file(file)?;
            // Each envelope is attached byte for byte: a log entry may name its hash.
            let mut stream =
                serde_json::Deserializer::from_slice(&bytes).into_iter::<serde_json::Value>();
            let mut start = 0;
            while let Some(value) = stream.next() {
                value.with_context(|| format!("{file}: not a stream of JSON envelopes"))?;
                let end = stream.byte_offset();
                envelopes.push(bytes[start..end].trim_ascii().to_vec());
                start = end;
            }
        }
        if envelopes.is_empty() {
            bail!("no envelopes found in {}", self.attestations.join(", "));
        }
        if !self.evidence.is_empty() && envelopes.len() > 1 {
            bail!("a certificate or timestamp belongs to one envelope; attach one at a time");
        }
        let evidence = self.evidence.read()?;
        let registry = self.registry.registry()?;
        let target = block_on(async {
            Ok(sigmirror_registry::attest::attach_attestations(
                &registry, &image, &envelopes, &evidence,
            )
            .await?)
        })?;
        eprintln!("Attached {} attestation(s) to {target}", envelopes.len());
        Ok(())
    }
}

impl Attach {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        match self {
            Attach::Signature(cmd) => cmd.run(),
            Attach::Sbom(cmd) => cmd.run(),
            Attach::Attestation(cmd) => cmd.run(),
        }
    }
}

/// SBOM formats for `attach sbom`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SbomType {
    /// SPDX (tag-value, or JSON).
    Spdx,
    /// CycloneDX (XML, or JSON).
    Cyclonedx,
    /// Syft JSON.
    Syft,
}

/// Input encodings for `attach sbom`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SbomInputFormat {
    /// JSON.
    Json,
    /// XML (CycloneDX).
    Xml,
    /// Text (SPDX tag-value).
    Text,
}

/// Arguments of `attach sbom`.
#[derive(Debug, Args)]
pub struct AttachSbom {
    /// The SBOM file; `-` reads it from stdin.
    #[arg(long, value_name = "FILE")]
    sbom: PathBuf,
    /// Its format.
    #[arg(long = "type", value_enum, default_value = "spdx")]
    kind: SbomType,
    /// Its encoding (default: JSON if the file name ends in .json, or, from stdin, if it
    /// starts with `{`).
    #[arg(long, value_enum)]
    input_format: Option<SbomInputFormat>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The image.
    #[arg(value_name = "IMAGE")]
    image: String,
}

impl AttachSbom {
    fn run(self) -> Result<()> {
        let image = ImageRef::parse(&self.image)?;
        let from_stdin = self.sbom.as_os_str() == "-";
        let name = self.sbom.to_string_lossy();
        let mut bytes = vec![];
        std::io::Read::read_to_end(&mut super::blob::open_blob(&name)?, &mut bytes)
            .with_context(|| format!("cannot read the SBOM {name}"))?;
        let json = match self.input_format {
            Some(f) => matches!(f, SbomInputFormat::Json),
            None if from_stdin => bytes.trim_ascii_start().starts_with(b"{"),
            None => self.sbom.extension().is_some_and(|e| e == "json"),
        };
        let kind = match self.kind {
            SbomType::Spdx => "spdx",
            SbomType::Cyclonedx => "cyclonedx",
            SbomType::Syft => "syft",
        };
        let media_type = sigmirror_cosign::attest::sbom_media_type(kind, json)?;
        let registry = self.registry.registry()?;
        let target = block_on(async {
            Ok(
                sigmirror_registry::attest::attach_sbom(&registry, &image, bytes, media_type)
                    .await?,
            )
        })?;
        eprintln!("Uploading SBOM file for [{image}] to [{target}] with mediaType [{media_type}].");
        Ok(())
    }
}

/// Arguments of `attach signature`.
#[derive(Debug, Args)]
pub struct AttachSignature {
    /// The signature (base64), a file or `-` for stdin; used verbatim as the annotation.
    #[arg(long, value_name = "FILE")]
    signature: String,
    /// The signed payload file (default: the simple-signing payload of the image's digest).
    #[arg(long, value_name = "FILE")]
    payload: Option<PathBuf>,
    #[command(flatten)]
    evidence: EvidenceArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The image.
    #[arg(value_name = "IMAGE")]
    image: String,
}

impl AttachSignature {
    fn run(self) -> Result<()> {
        let image = ImageRef::parse(&self.image)?;
        let signature = String::from_utf8(read_arg_file(&self.signature)?)
            .context("the signature must be base64 text")?;
        if signature.trim().is_empty() {
            bail!("the signature is empty");
        }
        let payload = self
            .payload
            .as_ref()
            .map(std::fs::read)
            .transpose()
            .context("reading the payload")?;
        let evidence = self.evidence.read()?;
        let registry = self.registry.registry()?;
        let target = block_on(async {
            Ok(attach_signature(&registry, &image, payload, &signature, &evidence).await?)
        })?;
        eprintln!("Attached signature to {target}");
        Ok(())
    }
}

/// What `upload` uploads.
#[derive(Debug, Subcommand)]
pub enum Upload {
    /// Upload files as an OCI image (several files with platforms make an index).
    Blob(UploadBlob),
    /// Upload a WebAssembly module as an OCI image.
    Wasm(UploadWasm),
}

impl Upload {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        match self {
            Upload::Blob(cmd) => cmd.run(),
            Upload::Wasm(cmd) => cmd.run(),
        }
    }
}

/// Arguments of `upload blob`.
#[derive(Debug, Args)]
pub struct UploadBlob {
    /// File to upload, optionally FILE:os/arch for a multi-platform index; repeatable.
    #[arg(
        short = 'f',
        long = "files",
        value_name = "FILE[:PLATFORM]",
        required = true,
        value_delimiter = ','
    )]
    files: Vec<String>,
    /// Layer media type (default: detected from the content).
    #[arg(long = "ct", value_name = "TYPE")]
    content_type: Option<String>,
    /// Manifest annotation KEY=VALUE; repeatable or comma-separated.
    #[arg(
        short = 'a',
        long = "annotation",
        value_name = "KEY=VALUE",
        value_delimiter = ','
    )]
    annotations: Vec<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Where to upload.
    #[arg(value_name = "IMAGE")]
    image: String,
}

impl UploadBlob {
    fn run(self) -> Result<()> {
        let image = ImageRef::parse(&self.image)?;
        let mut annotations = BTreeMap::new();
        for pair in &self.annotations {
            let (k, v) = pair
                .split_once('=')
                .with_context(|| format!("annotation {pair:?} is not KEY=VALUE"))?;
            annotations.insert(k.to_owned(), v.to_owned());
        }
        let files = self
            .files
            .iter()
            .map(|spec| {
                let (path, platform) = match spec.rsplit_once(':') {
                    Some((path, platform)) if platform.contains('/') => {
                        (path, Some(platform.to_owned()))
                    }
                    _ => (spec.as_str(), None),
                };
                let bytes = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
                let media_type = self
                    .content_type
                    .clone()
                    .unwrap_or_else(|| detect_content_type(&bytes).to_owned());
                eprintln!(
                    "Uploading file from [{path}] to [{image}] with media type [{media_type}]"
                );
                Ok(UploadFile {
                    bytes,
                    media_type,
                    platform,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let registry = self.registry.registry()?;
        let digest =
            block_on(async { Ok(upload_blob(&registry, &image, &files, &annotations).await?) })?;
        eprintln!("Uploaded image to:");
        outln!("{}", image.with_digest(&digest))?;
        Ok(())
    }
}

/// Arguments of `upload wasm`.
#[derive(Debug, Args)]
pub struct UploadWasm {
    /// The WebAssembly module.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Where to upload.
    #[arg(value_name = "IMAGE")]
    image: String,
}

impl UploadWasm {
    fn run(self) -> Result<()> {
        let image = ImageRef::parse(&self.image)?;
        let module = std::fs::read(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        if !module.starts_with(b"\0asm") {
            bail!(
                "{} is not a WebAssembly module (no \\0asm header)",
                self.file.display()
            );
        }
        let registry = self.registry.registry()?;
        let digest = block_on(async { Ok(upload_wasm(&registry, &image, module).await?) })?;
        eprintln!("Uploaded image to:");
        outln!("{}", image.with_digest(&digest))?;
        Ok(())
    }
}

/// What `clean` removes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CleanType {
    /// Signatures, attestations and SBOMs.
    All,
    /// The `.sig` image.
    Signature,
    /// The `.att` image.
    Attestation,
    /// The `.sbom` image.
    Sbom,
}

// Arguments of `clean` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Clean {
    /// What to remove.
    #[arg(long = "type", value_enum, default_value = "all")]
    kind: CleanType,
    /// Do not ask for confirmation.
    #[arg(short = 'f', long)]
    force: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The image.
    #[arg(value_name = "IMAGE")]
    image: String,
}

impl Clean {
    /// Deletes the attachment images; asks first unless `--force`.
    pub fn run(self) -> Result<()> {
        let image = ImageRef::parse(&self.image)?;
        let kinds: Vec<AttachmentKind> = match self.kind {
            CleanType::All => AttachmentKind::TAGGED.to_vec(),
            CleanType::Signature => vec![AttachmentKind::Signature],
            CleanType::Attestation => vec![AttachmentKind::Attestation],
            CleanType::Sbom => vec![AttachmentKind::Sbom],
        };
        if !self.force {
            eprint!(
                "WARNING: this will remove {:?} attachments from {image}\nAre you sure you would like to continue? [y/N] ",
                self.kind
            );
            let mut answer = String::new();
            std::io::stdin().read_line(&mut answer).ok();
            if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
                bail!("user declined the prompt (pass --force to skip it)");
            }
        }
        let registry = self.registry.registry()?;
        let removed = block_on(async { Ok(clean(&registry, &image, &kinds).await?) })?;
        for r in &removed {
            eprintln!("Removed {r}");
        }
        if removed.is_empty() {
            eprintln!("Nothing attached to {image}");
        }
        Ok(())
    }
}
