//! `download signature|attestation|sbom`: what is attached to an image, in cosign's output
//! shapes.

use std::io::Write;

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::Value;
use sigmirror_cosign::conventions::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, SIGNATURE_ANNOTATION,
    TIMESTAMP_ANNOTATION,
};
use sigmirror_cosign::dsse::Envelope;
use sigmirror_cosign::sigstore::Bundle;
use sigmirror_cosign::sigstore::bundle::Content;
use sigmirror_cosign::statement::{self, predicate_type_uri};
use sigmirror_cosign::{Error, b64};
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::gojson;
use sigmirror_registry::inspect::{attached_payloads, platform_image, resolve_digest};
use sigmirror_registry::verify::fetch_bundles;

use super::registry::block_on;

/// What `download` fetches.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DownloadKind {
    /// Signatures, one JSON object per line.
    Signature,
    /// Attestation envelopes, one JSON object per line.
    Attestation,
    /// The SBOM attached with `attach sbom`, as stored.
    Sbom,
}

// Arguments of `download` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Download {
    /// What to download.
    #[arg(value_enum)]
    kind: DownloadKind,
    /// With `attestation`: only envelopes of this predicate type (shortname or URI).
    #[arg(long, value_name = "URI")]
    predicate_type: Option<String>,
    /// With `sbom` or `attestation` of a multi-platform image: those of this platform's image
    /// (os/arch[/variant]) instead of the index's.
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    #[command(flatten)]
    target: super::source::ReadImageArgs,
}

/// At most this many attachments are downloaded, as in cosign.
const MAX_DOWNLOAD: usize = 100;

impl Download {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        let (image, registry) = self.target.open()?;
        let kind = match self.kind {
            DownloadKind::Signature => AttachmentKind::Signature,
            DownloadKind::Attestation => AttachmentKind::Attestation,
            DownloadKind::Sbom => AttachmentKind::Sbom,
        };
        if self.platform.is_some() && kind == AttachmentKind::Signature {
            anyhow::bail!(
                "--platform is for `download sbom` and `download attestation`, as in cosign"
            );
        }
        let (image, layers, bundles) = block_on(async {
            let image = match &self.platform {
                Some(platform) => platform_image(&registry, &image, platform).await?,
                None => image,
            };
            let layers = attached_payloads(&registry, &image, kind, MAX_DOWNLOAD).await?;
            // cosign 3's bundles referring to the image, of the same kind (not for SBOMs).
            let bundles = match kind {
                AttachmentKind::Signature | AttachmentKind::Attestation => {
                    let digest = resolve_digest(&registry, &image).await?;
                    let pinned = image.with_digest(&digest);
                    fetch_bundles(&registry, &pinned, kind == AttachmentKind::Signature).await?
                }
                _ => vec![],
            };
            Ok::<_, anyhow::Error>((image, layers, bundles))
        })?;
        let bundles: Vec<Vec<u8>> = bundles
            .into_iter()
            .filter_map(|b| b.bundle.ok())
            .take(MAX_DOWNLOAD)
            .collect();
        let reference = image.to_string();
        let mut out = std::io::stdout().lock();
        match self.kind {
            DownloadKind::Signature => {
                if layers.is_empty() && bundles.is_empty() {
                    return Err(Error::NoSignatures { reference }.into());
                }
                for (layer, payload) in layers {
                    let annotation = |k: &str| layer.annotation(k).map(str::to_owned);
                    let line = SignatureLine {
                        signature: annotation(SIGNATURE_ANNOTATION).unwrap_or_default(),
                        payload: b64::encode(&payload),
                        cert: annotation(CERTIFICATE_ANNOTATION),
                        chain: annotation(CHAIN_ANNOTATION),
                        bundle: annotation(BUNDLE_ANNOTATION)
                            .and_then(|b| serde_json::from_str::<Value>(&b).ok()),
                        rfc3161_timestamp: annotation(TIMESTAMP_ANNOTATION)
                            .and_then(|t| serde_json::from_str(&t).ok()),
                    };
                    out.write_all(&gojson::to_vec(&line))?;
                    out.write_all(b"\n")?;
                }
                for bundle in &bundles {
                    out.write_all(bundle.trim_ascii())?;
                    out.write_all(b"\n")?;
                }
            }
            DownloadKind::Attestation => {
                if layers.is_empty() && bundles.is_empty() {
                    return Err(Error::NoAttestations { reference }.into());
                }
                let wanted = self
                    .predicate_type
                    .as_deref()
                    .map(predicate_type_uri)
                    .transpose()?;
                let mut printed = 0;
                for (_, bytes) in layers {
                    let envelope = Envelope::from_json(&bytes)?;
                    if let Some(want) = &wanted {
                        let parsed = statement::parse(&envelope.payload)?;
                        if &parsed.predicate_type != want {
                            continue;
                        }
                    }
                    out.write_all(&envelope.to_json())?;
                    out.write_all(b"\n")?;
                    printed += 1;
                }
                for bundle in &bundles {
                    if let Some(want) = &wanted {
                        let predicate_type =
                            Bundle::from_json(bundle)
                                .ok()
                                .and_then(|b| match b.content {
                                    Content::Dsse { payload, .. } => {
                                        statement::parse(&payload).ok().map(|s| s.predicate_type)
                                    }
                                    Content::Message { .. } => None,
                                });
                        if predicate_type.as_ref() != Some(want) {
                            continue;
                        }
                    }
                    out.write_all(bundle.trim_ascii())?;
                    out.write_all(b"\n")?;
                    printed += 1;
                }
                if printed == 0 {
                    anyhow::bail!(
                        "no attestations with predicate type '{}' found",
                        wanted.unwrap_or_default()
                    );
                }
            }
            DownloadKind::Sbom => {
                let Some((layer, bytes)) = layers.into_iter().next() else {
                    anyhow::bail!("no SBOM attached to {reference}");
                };
                eprintln!("Found SBOM of media type: {}", layer.media_type);
                out.write_all(&bytes)?;
            }
        }
        Ok(())
    }
}

/// One line of `download signature`, with cosign's Go field names and order.
#[derive(serde::Serialize)]
struct SignatureLine {
    #[serde(rename = "Base64Signature")]
    signature: String,
    #[serde(rename = "Payload")]
    payload: String,
    #[serde(rename = "Cert")]
    cert: Option<String>,
    #[serde(rename = "Chain")]
    chain: Option<String>,
    #[serde(rename = "Bundle")]
    bundle: Option<Value>,
    #[serde(rename = "RFC3161Timestamp")]
    rfc3161_timestamp: Option<Value>,
}
