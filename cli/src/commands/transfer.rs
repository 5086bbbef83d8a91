//! `copy` (registry → registry) and `save` (registry or store → layout): the mirror crate's
//! operations with a source and sink chosen by flags.

use anyhow::{Result, bail};
use clap::Args;
use sigmirror_mirror::{Batch, CopyOptions};
use sigmirror_oci::ImageRef;
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_registry::TransferOptions;

use super::registry::{RegistryArgs, block_on};
use crate::progress::{Bars, ProgressMode, print_summary};

// Flags every transfer command shares.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
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
    /// How to show progress: a bar of bytes with rate and estimate on a terminal, a line per
    /// image elsewhere (auto), or always one of them, or nothing.
    #[arg(long, value_enum, default_value = "auto", value_name = "MODE")]
    pub progress: ProgressMode,
}

impl TransferArgs {
    /// The engine options for these flags.
    pub fn options(&self, layers: bool) -> TransferOptions {
        TransferOptions {
            concurrency: self.concurrency.max(1),
            layers,
            platform: self.platform.clone(),
            attachments: AttachmentKind::TAGGED.to_vec(),
            referrers: true,
        }
    }

    /// Runs a transfer with progress bars (removed when it ends, also on failure), then prints
    /// its summary, each image that failed (`bad` are the references that did not parse) and,
    /// with failures among several, the `3 of 5 pulled; 2 failed: …` line; fails with the
    /// first failure's exit code. One thread serves network transfers; `pull` asks for two, so
    /// that store writes on the blocking pool overlap with downloads.
    pub fn run<F>(
        &self,
        action: &str,
        threads: Threads,
        bad: Vec<(String, anyhow::Error)>,
        transfer: impl FnOnce(Bars) -> F,
    ) -> Result<()>
    where
        F: std::future::Future<Output = Result<(Batch, Bars)>>,
    {
        let work = transfer(Bars::new(action, self.progress));
        let (batch, bars) = match threads {
            Threads::One => block_on(work)?,
            Threads::Two => super::registry::block_on_parallel(work)?,
        };
        drop(bars);
        let total = batch.total + bad.len();
        let mut failed = bad;
        failed.extend(batch.failed.into_iter().map(|(r, e)| (r, e.into())));
        let past = action_past(action);
        // A summary of nothing done says nothing the errors below do not.
        if self.json || batch.summary.images > 0 || failed.is_empty() {
            print_summary(past, &batch.summary, self.json, &failed)?;
        }
        for (_, e) in &failed {
            eprintln!("Error: {}", crate::exit::message(e));
        }
        let names: Vec<String> = failed.iter().map(|(r, _)| r.clone()).collect();
        crate::exit::summarize(past, total, &names);
        match failed.first() {
            Some((_, e)) => Err(crate::exit::AlreadyReported {
                code: crate::exit::code_for(e),
            }
            .into()),
            None => Ok(()),
        }
    }
}

/// A whole batch made of one image's transfer (`copy`): its failure is the command's.
pub fn single(summary: sigmirror_registry::Summary) -> Batch {
    Batch {
        summary,
        total: 1,
        failed: vec![],
    }
}

/// How many runtime threads a transfer runs on.
#[derive(Debug, Clone, Copy)]
pub enum Threads {
    /// One: network I/O multiplexed, writes where the engine makes them.
    One,
    /// Two workers: for writes to the store through the blocking pool.
    Two,
}

/// `pulled`, `pushed`, … for the summary line.
pub fn action_past(action: &str) -> &'static str {
    match action {
        "pull" => "pulled",
        "push" => "pushed",
        "load" => "loaded",
        "save" => "saved",
        _ => "copied",
    }
}

/// Parses cosign's `--only sig,att,sbom`.
fn parse_only(only: &[String]) -> Result<Vec<AttachmentKind>> {
    only.iter()
        .map(|s| match AttachmentKind::from_name(s.trim()) {
            Some(kind) if kind.tag_suffix().is_some() => Ok(kind),
            _ => bail!("--only: unknown item {s:?} (expected sig, att, sbom)"),
        })
        .collect()
}

// Arguments of `copy` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
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
        let to = ImageRef::parse(&self.destination)?;
        let copy = CopyOptions {
            force: self.force,
            only: if self.only.is_empty() {
                None
            } else {
                Some(parse_only(&self.only)?)
            },
        };
        let registry = self.registry.registry()?;
        let options = self.transfer.options(true);
        self.transfer
            .run("copy", Threads::One, vec![], |bars| async {
                let summary =
                    sigmirror_mirror::copy(&registry, &from, &to, &copy, options, &bars).await?;
                Ok((single(summary), bars))
            })
    }
}

// Arguments of `save` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
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
        let mut parsed = crate::exit::parse_each(&self.images);
        let images = std::mem::take(&mut parsed.images);
        let source = super::source::any_source(&self.offline, &self.registry)?;
        let options = self.transfer.options(!self.no_layers);
        self.transfer
            .run("save", Threads::One, parsed.bad, |bars| async {
                let batch =
                    sigmirror_mirror::save(&source, &self.dir, &images, options, &bars).await?;
                Ok((batch, bars))
            })
    }
}
