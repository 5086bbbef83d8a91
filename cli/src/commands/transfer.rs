//! `copy` (registry → registry); `pull`, `push`, `save`, `load` join it as the store and
//! layouts arrive. All are the transfer engine with a different source and sink.

use anyhow::{Context, Result, bail};
use clap::Args;
use sigmirror_core::cosign::Attachment;
use sigmirror_core::reference::ImageRef;
use sigmirror_core::transfer::{Transfer, TransferOptions};

use super::registry::{RegistryArgs, block_on};
use crate::progress::{Bars, print_summary};

/// Flags every transfer command shares.
#[derive(Debug, Args, Clone)]
pub struct TransferArgs {
    /// Blob transfers in flight at once, and images walked at once by `pull` and `push`.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
    /// Only this platform of a multi-platform image (os/arch[/variant]).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Print a JSON report on stdout instead of the summary line.
    #[arg(long)]
    pub json: bool,
}

impl TransferArgs {
    /// The engine options for these flags.
    pub fn options(&self, layers: bool, attachments: Vec<Attachment>) -> TransferOptions {
        TransferOptions {
            concurrency: self.concurrency.max(1),
            layers,
            platform: self.platform.clone(),
            attachments,
            referrers: true,
        }
    }
}

/// Parses cosign's `--only sig,att,sbom`.
fn parse_only(only: &[String]) -> Result<Vec<Attachment>> {
    only.iter()
        .map(|s| match s.trim() {
            "sig" => Ok(Attachment::Signature),
            "att" => Ok(Attachment::Attestation),
            "sbom" => Ok(Attachment::Sbom),
            other => bail!("--only: unknown item {other:?} (expected sig, att, sbom)"),
        })
        .collect()
}

/// Arguments of `copy`.
#[derive(Debug, Args)]
pub struct Copy {
    /// Copy only these attachments (comma-separated: sig, att, sbom); the destination tag is
    /// then left alone, as in cosign.
    #[arg(long, value_delimiter = ',', value_name = "ITEMS")]
    only: Vec<String>,
    /// Overwrite a destination tag that points at another digest.
    #[arg(short = 'f', long)]
    force: bool,
    #[command(flatten)]
    transfer: TransferArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The image to copy.
    #[arg(value_name = "SRC_IMAGE")]
    source: String,
    /// Where to copy it.
    #[arg(value_name = "DST_IMAGE")]
    destination: String,
}

impl Copy {
    /// Copies the image with everything attached, digests unchanged.
    pub fn run(self) -> Result<()> {
        let from = ImageRef::parse(&self.source)?;
        let mut to = ImageRef::parse(&self.destination)?;
        if to.tag().is_none() && to.digest().is_none() {
            to = to.with_tag(from.tag().unwrap_or("latest"));
        }
        let attachments = if self.only.is_empty() {
            Attachment::ALL.to_vec()
        } else {
            parse_only(&self.only)?
        };
        let registry = self.registry.registry();
        let options = self.transfer.options(true, attachments);
        let bars = Bars::new("copy");
        let result = block_on(async {
            let source_digest = registry
                .get_manifest(&from)
                .await?
                .ok_or_else(|| sigmirror_core::Error::NotFound {
                    reference: from.to_string(),
                })?
                .digest;
            let existing = match (to.tag(), self.force) {
                (Some(_), false) => registry.get_manifest(&to).await?,
                _ => None,
            };
            if existing.is_some_and(|e| e.digest != source_digest) {
                bail!("image \"{to}\" already exists with another digest; use -f to overwrite");
            }
            let transfer = Transfer::new(&registry, &registry, options, &bars);
            let target = if self.only.is_empty() {
                to.clone()
            } else {
                to.with_digest(&source_digest)
            };
            transfer
                .copy_image(&from, &target)
                .await
                .with_context(|| format!("copying {from} to {to}"))?;
            Ok(transfer.summary())
        });
        bars.finish();
        print_summary("copied", &result?, self.transfer.json);
        Ok(())
    }
}

/// Arguments of `save`.
#[derive(Debug, Args)]
pub struct Save {
    /// The OCI image-layout folder to write (created if missing; several images share it).
    #[arg(long, value_name = "DIR")]
    dir: std::path::PathBuf,
    /// Save images without their layers (only what verification needs).
    #[arg(long)]
    no_layers: bool,
    #[command(flatten)]
    transfer: TransferArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    offline: super::source::OfflineArgs,
    /// Images to save, with their signatures, attestations and SBOMs.
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
}

impl Save {
    /// Writes the images and everything attached into an OCI layout, cosign-compatible.
    pub fn run(self) -> Result<()> {
        let images: Vec<ImageRef> = self
            .images
            .iter()
            .map(|i| ImageRef::parse(i))
            .collect::<Result<_, _>>()?;
        let layout = sigmirror_core::layout::Layout::create(&self.dir)
            .with_context(|| format!("cannot write a layout in {}", self.dir.display()))?;
        let registry = super::source::AnySource::new(&self.offline, &self.registry)?;
        let options = self
            .transfer
            .options(!self.no_layers, Attachment::ALL.to_vec());
        let bars = Bars::new("save");
        let result = block_on(async {
            let transfer = Transfer::new(&registry, &layout, options, &bars);
            for image in &images {
                let name = if image.tag().is_none() && image.digest().is_none() {
                    image.with_tag("latest")
                } else {
                    image.clone()
                };
                let digest = transfer
                    .copy_image(image, &name)
                    .await
                    .with_context(|| format!("saving {image}"))?;
                layout.finish(&name, &digest)?;
            }
            Ok(transfer.summary())
        });
        bars.finish();
        print_summary("saved", &result?, self.transfer.json);
        Ok(())
    }
}
