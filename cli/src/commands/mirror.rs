//! The local mirror: `pull` (registry → store), `push` (store → registry), `load` (layout →
//! registry, cosign's meaning), and `store ls|info|du|fsck|gc|verify|load` (`store load`: layout
//! → store). The work is `sigmirror_mirror`'s; this parses and
//! prints.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sigmirror_mirror::ops::with_default_tag;
use sigmirror_oci::ImageRef;

use super::registry::RegistryArgs;
use super::source::StoreArgs;
use super::transfer::{Threads, TransferArgs};
use crate::progress::human_bytes;

// Arguments of `pull` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
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
    /// Images to pull, with their signatures, attestations, SBOMs and referrers. A repository
    /// without a tag or digest (registry.example/team/app) means every image tag it has.
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
        let mut parsed = crate::exit::parse_each(&names);
        if parsed.images.is_empty() {
            return crate::exit::report_each("pulled", parsed.failures::<()>(), |()| Ok(()));
        }
        let images = std::mem::take(&mut parsed.images);
        let store = Arc::new(self.store.open()?);
        let registry = self.registry.registry()?;
        let options = self.transfer.options(!self.no_layers);
        self.transfer
            .run("pull", Threads::Two, parsed.bad, |bars| async {
                let batch =
                    sigmirror_mirror::pull(&registry, store, &images, options, &bars).await?;
                Ok((batch, bars))
            })
    }
}

// Arguments of `push` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
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

impl Push {
    /// Copies images and everything attached from the store to a registry.
    pub fn run(self) -> Result<()> {
        let mut parsed = crate::exit::parse_each(&self.images);
        if parsed.images.is_empty() && !parsed.bad.is_empty() {
            return crate::exit::report_each("pushed", parsed.failures::<()>(), |()| Ok(()));
        }
        let images = std::mem::take(&mut parsed.images);
        let store = self.store.open_for_reading()?;
        let registry = self.registry.registry()?;
        let options = self.transfer.options(true);
        self.transfer
            .run("push", Threads::One, parsed.bad, |bars| async {
                let batch =
                    sigmirror_mirror::push(&store, &registry, &self.to, &images, options, &bars)
                        .await?;
                Ok((batch, bars))
            })
    }
}

// Arguments of `load` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Load {
    /// The OCI image-layout folder (written by `cosign save` or `sigmirror save`).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    #[command(flatten)]
    transfer: TransferArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Where to write the layout's image in the registry; its signatures and attestations go
    /// to the tags of its digest in that repository. (To load into the local store instead:
    /// `sigmirror store load`.)
    #[arg(value_name = "IMAGE")]
    image: String,
}

impl Load {
    /// Writes the layout's image and everything attached to IMAGE in its registry.
    pub fn run(self) -> Result<()> {
        let image = ImageRef::parse(&self.image)?;
        let registry = self.registry.registry()?;
        let options = self.transfer.options(true);
        self.transfer
            .run("load", Threads::One, vec![], |bars| async {
                let summary = sigmirror_mirror::load_to_registry(
                    &self.dir, &registry, &image, options, &bars,
                )
                .await
                .with_context(|| format!("cannot load {}", self.dir.display()))?;
                Ok((super::transfer::single(summary), bars))
            })
    }
}

// Arguments of `store load` (a plain comment: a doc comment here would replace the
// command's about, see `StoreCmd`).
#[derive(Debug, Args)]
pub struct StoreLoad {
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

impl StoreLoad {
    /// Copies the layout's images and everything attached into the store.
    pub fn run(self) -> Result<()> {
        let name = self.image.as_deref().map(ImageRef::parse).transpose()?;
        let store = std::sync::Arc::new(self.store.open()?);
        let options = self.transfer.options(true);
        self.transfer
            .run("load", Threads::One, vec![], |bars| async {
                let summary =
                    sigmirror_mirror::load(&self.dir, store, name.as_ref(), options, &bars)
                        .await
                        .with_context(|| format!("cannot load {}", self.dir.display()))?;
                Ok((super::transfer::single(summary), bars))
            })
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
    /// Verify every image of the store (or those named) against what the store trusts or a
    /// policy file, and record each outcome in the store's ledger; exits non-zero if any is
    /// refused.
    ///
    /// An image whose digest, attachments and policy are those of its last ledger entry is not
    /// checked again: its recorded outcome stands. `store ls` shows each image's last outcome.
    Verify(StoreVerify),
    /// Load an OCI image layout (sigmirror save or cosign save) into the store, names kept;
    /// a layout without names (cosign save) needs IMAGE to name its image.
    ///
    /// This is `sigmirror load` of earlier versions: `load` now writes to a registry, as
    /// `cosign load` does.
    Load(StoreLoad),
}

// Arguments of `store verify`.
#[derive(Debug, Args)]
pub struct StoreVerify {
    #[command(flatten)]
    store: StoreArgs,
    /// A policy file (YAML or JSON: keys, identities with a trusted root, minSignatures,
    /// attestations; see docs/mirror.md) instead of the store's trust.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Print the outcomes as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Threads verifying at once (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// The images (default: every image in the store).
    #[arg(value_name = "IMAGE")]
    images: Vec<String>,
}

impl StoreVerify {
    fn run(self) -> Result<()> {
        let store = self.store.open()?;
        let policy = match &self.policy {
            Some(file) => sigmirror_mirror::policy::Policy::load(file)?,
            None => store_trust_policy(&store)?,
        };
        let names: Vec<String> = self
            .images
            .iter()
            .map(|n| Ok(with_default_tag(ImageRef::parse(n)?).to_string()))
            .collect::<Result<_>>()?;
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let outcomes = sigmirror_mirror::audit::verify_store(&store, &policy, &names, threads)?;
        let refused = outcomes.iter().filter(|o| !o.record.verified).count();
        let checked = outcomes.iter().filter(|o| o.checked).count();
        if self.json {
            let report: Vec<_> = outcomes
                .iter()
                .map(|o| {
                    serde_json::json!({
                        "image": o.name,
                        "checked": o.checked,
                        "ledger": o.record,
                    })
                })
                .collect();
            outln!("{}", serde_json::to_string_pretty(&report)?)?;
        } else {
            for o in &outcomes {
                let r = &o.record;
                let outcome = if r.verified {
                    format!("verified\tby {}", r.verified_by.join(", "))
                } else {
                    format!("refused\t{}", r.reasons.join("; "))
                };
                outln!("{}\t{}\t{outcome}", o.name, r.digest)?;
            }
        }
        eprintln!(
            "{} images: {} verified, {refused} refused ({checked} checked, {} unchanged since \
             the ledger) against policy {}",
            outcomes.len(),
            outcomes.len() - refused,
            outcomes.len() - checked,
            policy.digest
        );
        if refused > 0 {
            bail!(
                "{refused} of {} images did not satisfy the policy",
                outcomes.len()
            );
        }
        Ok(())
    }
}

/// The policy of what the store trusts (`sigmirror trust …`), its digest over every trust file.
pub(crate) fn store_trust_policy(
    store: &sigmirror_store::Store,
) -> Result<sigmirror_mirror::policy::Policy> {
    let root = store.root();
    let signers = sigmirror_fusefs::trust::verifiers(root);
    if signers.is_empty() {
        bail!(
            "the store at {} trusts no key or identity: add one with `sigmirror trust add` \
             (or `trust identity add` with `trust root add`), or give --policy FILE",
            root.display()
        );
    }
    let material = sigmirror_store::trust_material(root);
    let policy = sigmirror_mirror::policy::Policy::new(signers, &material);
    // The mounted view takes ledger entries made against this digest as current.
    debug_assert_eq!(policy.digest, sigmirror_store::trust_policy_digest(root));
    Ok(policy)
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
                let store = a.store.open_for_reading()?;
                for (name, rec) in store.images()? {
                    let state = if rec.complete {
                        "complete"
                    } else {
                        "incomplete"
                    };
                    let layers = if rec.no_layers { " no-layers" } else { "" };
                    let platform = rec
                        .platform
                        .as_ref()
                        .map_or(String::new(), |p| format!(" platform={p}"));
                    // The ledger's last word on this digest (`store verify`).
                    let verified = match store.verification(&name)? {
                        Some(v) if v.digest == rec.digest && v.verified => "verified",
                        Some(v) if v.digest == rec.digest => "refused",
                        _ => "unverified",
                    };
                    outln!(
                        "{name}\t{}\t{state}{layers}{platform}\t{}\t{verified}",
                        rec.digest,
                        rec.pulled_at
                    )?;
                }
                Ok(())
            }
            StoreCmd::Info(a) => {
                let store = a.store.open_for_reading()?;
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
                    "pulledForPlatform": info.record.platform,
                    "platforms": info.platforms.iter().map(|p| serde_json::json!({
                        "platform": p.platform,
                        "digest": p.digest,
                        "present": p.present,
                    })).collect::<Vec<_>>(),
                });
                outln!("{}", serde_json::to_string_pretty(&report)?)?;
                if !info.complete {
                    bail!("{name} is not complete in the store");
                }
                Ok(())
            }
            StoreCmd::Du(a) => {
                let usage = a.store.open_for_reading()?.du()?;
                outln!(
                    "{} blobs, {}, {} manifests, {} tags, {} images",
                    usage.blobs,
                    human_bytes(usage.bytes),
                    usage.manifests,
                    usage.tags,
                    usage.images
                )?;
                Ok(())
            }
            StoreCmd::Fsck(a) => {
                let report = a.store.open_for_checking()?.fsck()?;
                for (digest, reason) in &report.damaged {
                    outln!("damaged\t{digest}\t{reason}")?;
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
            StoreCmd::Verify(a) => a.run(),
            StoreCmd::Load(a) => a.run(),
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
