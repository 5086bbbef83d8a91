//! `sync CONFIG`: declarative mirroring admitted only when verified (the work is
//! `sigmirror_mirror::sync`'s; this reads the flags, prints the report and writes it).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use sigmirror_mirror::sync::{Report, SyncConfig, SyncOptions};

use super::registry::{RegistryArgs, block_on_parallel};
use crate::progress::{Bars, ProgressMode};

// Arguments of `sync` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Sync {
    /// The sync file (YAML or JSON): sources with their tag selection and policy, and targets
    /// (see docs/sync.md).
    #[arg(value_name = "CONFIG")]
    config: PathBuf,
    /// Pull and verify, but write nothing to the targets; the report says what would be copied
    /// (`admitted`).
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Images transferred and verified at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    concurrency: usize,
    /// Re-run only the images a previous report refused or that failed.
    #[arg(long, value_name = "REPORT")]
    retry_failed: Option<PathBuf>,
    /// Where to write the report (default: sync-report.json beside the sync file).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// How to show progress (see `pull --progress`).
    #[arg(long, value_enum, default_value = "auto", value_name = "MODE")]
    progress: ProgressMode,
    #[command(flatten)]
    registry: RegistryArgs,
}

impl Sync {
    /// Runs the sync file, writes the report, prints the summary; fails if any image was
    /// refused or failed.
    pub fn run(self) -> Result<()> {
        let config = SyncConfig::load(&self.config)?;
        let only = match &self.retry_failed {
            Some(file) => {
                let unfinished = Report::read(file)?.unfinished();
                if unfinished.is_empty() {
                    eprintln!(
                        "{}: nothing was refused or failed; nothing to retry",
                        file.display()
                    );
                    return Ok(());
                }
                Some(unfinished)
            }
            None => None,
        };
        let options = SyncOptions {
            dry_run: self.dry_run,
            concurrency: self.concurrency.max(1),
            only,
        };
        let registry = self.registry.registry()?;
        let bars = Bars::new("sync", self.progress);
        let report = block_on_parallel(async {
            Ok(sigmirror_mirror::sync::sync(&registry, &config, &options, &bars).await?)
        })?;
        drop(bars);
        let path = self.report.clone().unwrap_or_else(|| {
            self.config
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join("sync-report.json")
        });
        let json = report.write(&path)?;
        if self.json {
            outln!("{json}")?;
        }
        for e in &report.images {
            if e.outcome == "refused" || e.outcome == "failed" {
                eprintln!("{} {}: {}", e.outcome, e.image, e.details.join("; "));
            }
        }
        let counts: Vec<String> = ["copied", "up-to-date", "admitted", "refused", "failed"]
            .iter()
            .filter_map(|k| report.counts.get(*k).map(|n| format!("{n} {k}")))
            .collect();
        eprintln!(
            "sync{}: {} (report: {})",
            if self.dry_run { " (dry run)" } else { "" },
            if counts.is_empty() {
                "nothing selected".to_owned()
            } else {
                counts.join(", ")
            },
            path.display()
        );
        let unfinished = report.unfinished().len();
        if unfinished > 0 {
            bail!(
                "{unfinished} of {} images were refused or failed; fix them and run again with \
                 --retry-failed {}",
                report.images.len(),
                path.display()
            );
        }
        Ok(())
    }
}
