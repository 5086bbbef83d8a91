//! The local mirror: `pull` (registry → store), `push` (store → registry), `load` (layout →
//! store), and `store ls|info|du|fsck|gc`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use futures_util::{StreamExt, TryStreamExt};
use sigmirror_core::cosign::Attachment;
use sigmirror_core::layout::{KIND, KIND_IMAGE, KIND_INDEX, Layout};
use sigmirror_core::reference::ImageRef;
use sigmirror_core::timefmt::now_rfc3339;
use sigmirror_core::transfer::Transfer;
use sigmirror_store::{ImageRecord, Store};

use super::registry::{RegistryArgs, block_on};
use super::source::StoreArgs;
use super::transfer::TransferArgs;
use crate::progress::{Bars, human_bytes, print_summary};

/// The tag a reference without tag or digest means.
fn with_default_tag(image: ImageRef) -> ImageRef {
    if image.tag().is_none() && image.digest().is_none() {
        image.with_tag("latest")
    } else {
        image
    }
}

/// Records `name` in the store: incomplete before a transfer, complete after.
fn record(
    store: &Store,
    name: &ImageRef,
    digest: &str,
    complete: bool,
    no_layers: bool,
    source: &str,
) -> Result<()> {
    let mut rec = ImageRecord::new(digest, complete, no_layers, source);
    rec.pulled_at = now_rfc3339();
    store.record_image(&name.to_string(), rec)?;
    Ok(())
}

/// Copies each `(from, to)` pair, `at_once` images at a time, and returns each source with
/// the digest it was copied at; stops at the first failure, described by `what`. The engine
/// makes a walk that needs a manifest or blob another walk is copying wait for it, so nothing
/// is written before its content.
async fn copy_images<'i, S, K>(
    transfer: &Transfer<'_, S, K>,
    pairs: &'i [(&'i ImageRef, impl std::borrow::Borrow<ImageRef>)],
    at_once: usize,
    what: impl Fn(&ImageRef, &ImageRef) -> String,
) -> Result<Vec<(&'i ImageRef, String)>>
where
    S: sigmirror_core::source::Source,
    K: sigmirror_core::source::Sink,
{
    futures_util::stream::iter(pairs)
        .map(|(from, to)| {
            let to = to.borrow();
            let what = what(from, to);
            async move {
                let digest = transfer.copy_image(from, to).await.context(what)?;
                anyhow::Ok((*from, digest))
            }
        })
        .buffer_unordered(at_once.max(1))
        .try_collect()
        .await
}

/// Arguments of `pull`.
#[derive(Debug, Args)]
pub struct Pull {
    /// Mirror only what verification needs: manifests, configs and attachments, no layers.
    #[arg(long)]
    no_layers: bool,
    /// Read image references from FILE, one per line (# comments and blank lines ignored).
    #[arg(long, value_name = "FILE")]
    from_file: Option<PathBuf>,
    #[command(flatten)]
    transfer: TransferArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Images to pull, with their signatures, attestations, SBOMs and referrers.
    #[arg(value_name = "IMAGE")]
    images: Vec<String>,
}

impl Pull {
    /// Copies every image's closure from its registry into the store.
    pub fn run(self) -> Result<()> {
        let mut names = self.images.clone();
        if let Some(file) = &self.from_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            names.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        if names.is_empty() {
            bail!("nothing to pull: name images or give --from-file");
        }
        let images: Vec<ImageRef> = names
            .iter()
            .map(|i| ImageRef::parse(i).map(with_default_tag))
            .collect::<Result<_, _>>()?;
        let store = std::sync::Arc::new(self.store.open()?);
        let sink = super::source::BlockingStore(store.clone());
        let registry = self.registry.registry();
        let options = self
            .transfer
            .options(!self.no_layers, Attachment::ALL.to_vec());
        let bars = Bars::new("pull");
        let images_at_once = options.concurrency;
        // Each manifest records the repository it was pulled from.
        store.set_provenance_to_repository();
        let result = super::registry::block_on_parallel(async {
            let transfer = Transfer::new(&registry, &sink, options, &bars);
            for image in &images {
                if let Some(existing) = store.image(&image.to_string())? {
                    let source = image.repo_name();
                    record(
                        &store,
                        image,
                        &existing.digest,
                        false,
                        self.no_layers,
                        &source,
                    )?;
                }
            }
            // Attachments shared by two images are copied by one walk only, so an image is
            // recorded complete once every walk has succeeded, not when its own ends.
            let pairs: Vec<_> = images.iter().map(|image| (image, image)).collect();
            let pulled = copy_images(&transfer, &pairs, images_at_once, |image, _| {
                format!("pulling {image}")
            })
            .await?;
            for (image, digest) in pulled {
                record(
                    &store,
                    image,
                    &digest,
                    true,
                    self.no_layers,
                    &image.repo_name(),
                )?;
            }
            Ok(transfer.summary())
        });
        bars.finish();
        print_summary("pulled", &result?, self.transfer.json);
        Ok(())
    }
}

/// Arguments of `push`.
#[derive(Debug, Args)]
pub struct Push {
    /// Destination repository prefix, e.g. registry.internal:5000/mirror; each image keeps its
    /// repository path under it.
    #[arg(long, value_name = "PREFIX")]
    to: String,
    #[command(flatten)]
    transfer: TransferArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Images to push (default: every image in the store).
    #[arg(value_name = "IMAGE")]
    images: Vec<String>,
}

/// `PREFIX/<repository>` with the image's tag or digest.
fn under_prefix(prefix: &str, image: &ImageRef) -> Result<ImageRef> {
    let mut name = format!("{}/{}", prefix.trim_end_matches('/'), image.repository());
    if let Some(tag) = image.tag() {
        name.push(':');
        name.push_str(tag);
    } else if let Some(digest) = image.digest() {
        name.push('@');
        name.push_str(digest);
    }
    Ok(ImageRef::parse(&name)?)
}

impl Push {
    /// Copies images and everything attached from the store to a registry.
    pub fn run(self) -> Result<()> {
        let store = self.store.open()?;
        let images: Vec<ImageRef> = if self.images.is_empty() {
            store
                .images()?
                .into_iter()
                .map(|(name, _)| ImageRef::parse(&name))
                .collect::<Result<_, _>>()?
        } else {
            self.images
                .iter()
                .map(|i| ImageRef::parse(i).map(with_default_tag))
                .collect::<Result<_, _>>()?
        };
        if images.is_empty() {
            bail!("the store holds no images");
        }
        let registry = self.registry.registry();
        let options = self.transfer.options(true, Attachment::ALL.to_vec());
        let bars = Bars::new("push");
        let targets = images
            .iter()
            .map(|image| Ok((image, under_prefix(&self.to, image)?)))
            .collect::<Result<Vec<_>>>()?;
        let images_at_once = options.concurrency;
        let result = block_on(async {
            let transfer = Transfer::new(&store, &registry, options, &bars);
            copy_images(&transfer, &targets, images_at_once, |image, target| {
                format!("pushing {image} to {target}")
            })
            .await?;
            Ok(transfer.summary())
        });
        bars.finish();
        print_summary("pushed", &result?, self.transfer.json);
        Ok(())
    }
}

/// Arguments of `load`.
#[derive(Debug, Args)]
pub struct Load {
    /// The OCI image-layout folder (written by `sigmirror save` or `cosign save`).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    #[command(flatten)]
    transfer: TransferArgs,
    #[command(flatten)]
    store: StoreArgs,
    /// The name for the image of a layout that carries no names (as `cosign save` writes).
    #[arg(value_name = "IMAGE")]
    image: Option<String>,
}

/// Whether a layout entry name is an attachment tag rather than an image.
fn is_attachment_name(name: &str) -> bool {
    let tag = name.rsplit_once(':').map_or(name, |(_, t)| t);
    tag.starts_with("sha256-")
        && (tag.ends_with(".sig") || tag.ends_with(".att") || tag.ends_with(".sbom"))
}

impl Load {
    /// Copies the layout's images and everything attached into the store.
    pub fn run(self) -> Result<()> {
        let layout = Layout::open(&self.dir)
            .with_context(|| format!("cannot read {}", self.dir.display()))?;
        let mut roots: Vec<(ImageRef, ImageRef)> = vec![];
        let named: Vec<(String, String)> = layout
            .names()
            .into_iter()
            .filter(|(n, _)| n.contains('/') && !is_attachment_name(n))
            .collect();
        match (&self.image, named.is_empty()) {
            (Some(image), _) => {
                let target = with_default_tag(ImageRef::parse(image)?);
                let root = layout
                    .kinds()
                    .into_iter()
                    .find(|(k, _)| k == KIND_IMAGE || k == KIND_INDEX)
                    .map(|(_, d)| d)
                    .or_else(|| {
                        if named.len() == 1 {
                            Some(named[0].1.clone())
                        } else {
                            None
                        }
                    })
                    .with_context(|| {
                        format!(
                            "{} has no image marked with `{KIND}` to name {target}",
                            self.dir.display()
                        )
                    })?;
                roots.push((target.with_digest(&root), target));
            }
            (None, false) => {
                for (name, _) in &named {
                    let image = ImageRef::parse(name)?;
                    roots.push((image.clone(), image));
                }
            }
            (None, true) => bail!(
                "{} names no images (a cosign layout?): give the IMAGE to load it as",
                self.dir.display()
            ),
        }
        let store = self.store.open()?;
        store.set_provenance(&format!("layout:{}", self.dir.display()));
        let options = self.transfer.options(true, Attachment::ALL.to_vec());
        let bars = Bars::new("load");
        let result = block_on(async {
            let transfer = Transfer::new(&layout, &store, options, &bars);
            for (from, to) in &roots {
                let source = format!("layout:{}", self.dir.display());
                let digest = transfer
                    .copy_image(from, to)
                    .await
                    .with_context(|| format!("loading {to}"))?;
                record(&store, to, &digest, true, false, &source)?;
            }
            Ok(transfer.summary())
        });
        bars.finish();
        print_summary("loaded", &result?, self.transfer.json);
        Ok(())
    }
}

/// `store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// List the images in the store.
    Ls(StoreOnly),
    /// Show an image's record and whether everything pulled with it is present; exits
    /// non-zero unless it is complete.
    Info(StoreInfo),
    /// Disk usage of the store.
    Du(StoreOnly),
    /// Re-hash every blob and check every index entry; exits non-zero on damage.
    Fsck(StoreOnly),
    /// Remove everything no tag or image record reaches.
    Gc(StoreOnly),
}

/// Arguments of store commands without an image.
#[derive(Debug, Args)]
pub struct StoreOnly {
    #[command(flatten)]
    store: StoreArgs,
}

/// Arguments of `store info`.
#[derive(Debug, Args)]
pub struct StoreInfo {
    #[command(flatten)]
    store: StoreArgs,
    /// The image.
    #[arg(value_name = "IMAGE")]
    image: String,
}

impl StoreCmd {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            StoreCmd::Ls(a) => {
                let store = a.store.open()?;
                for (name, rec) in store.images()? {
                    let state = if rec.complete {
                        "complete"
                    } else {
                        "incomplete"
                    };
                    let layers = if rec.no_layers { " no-layers" } else { "" };
                    println!("{name}\t{}\t{state}{layers}\t{}", rec.digest, rec.pulled_at);
                }
                Ok(())
            }
            StoreCmd::Info(a) => {
                let store = a.store.open()?;
                let name = with_default_tag(ImageRef::parse(&a.image)?).to_string();
                let info = store.info(&name)?;
                let c = &info.closure;
                let report = serde_json::json!({
                    "name": info.name,
                    "digest": info.record.digest,
                    "complete": info.complete,
                    "noLayers": info.record.no_layers,
                    "source": info.record.source,
                    "pulledAt": info.record.pulled_at,
                    "manifests": c.manifests.len(),
                    "blobs": c.blobs.len(),
                    "bytes": c.bytes,
                    "attachments": c.attachments.len(),
                    "missingManifests": c.missing_manifests,
                    "missingBlobs": c.missing_blobs,
                    "missingLayers": c.missing_layers,
                    "damaged": c.damaged,
                });
                println!("{}", serde_json::to_string_pretty(&report)?);
                if !info.complete {
                    bail!("{name} is not complete in the store");
                }
                Ok(())
            }
            StoreCmd::Du(a) => {
                let usage = a.store.open()?.du()?;
                println!(
                    "{} blobs, {}, {} manifests, {} tags, {} images",
                    usage.blobs,
                    human_bytes(usage.bytes),
                    usage.manifests,
                    usage.tags,
                    usage.images
                );
                Ok(())
            }
            StoreCmd::Fsck(a) => {
                let report = a.store.open()?.fsck()?;
                for (digest, reason) in &report.damaged {
                    println!("damaged\t{digest}\t{reason}");
                }
                eprintln!(
                    "checked {} blobs ({}): {} damaged",
                    report.blobs_checked,
                    human_bytes(report.bytes_checked),
                    report.damaged.len()
                );
                if !report.is_clean() {
                    bail!("the store is damaged; re-pull the affected images");
                }
                Ok(())
            }
            StoreCmd::Gc(a) => {
                let report = a.store.open()?.gc()?;
                eprintln!(
                    "removed {} blobs, freed {}",
                    report.removed_blobs,
                    human_bytes(report.freed_bytes)
                );
                Ok(())
            }
        }
    }
}
