//! `watch DIR`: imports the OCI layouts that land in a drop folder (the work is
//! `sigmirror_mirror::watch`'s; this waits for them, with `notify`, and stops on a signal).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use sigmirror_mirror::policy::Policy;
use sigmirror_mirror::watch;
use sigmirror_registry::TransferOptions;

use super::registry::block_on_parallel;
use super::source::StoreArgs;

// Arguments of `watch` (a plain comment: a doc comment here would replace the
// command's about, see `Command` in main.rs).
#[derive(Debug, Args)]
pub struct Watch {
    /// The drop folder.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The policy images must satisfy (a policy file, as `store verify --policy`); default:
    /// what the store trusts.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Seconds without any change after which an entry without a `.ready` marker counts as
    /// complete.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    settle: u64,
    /// Import what is complete now, then exit (entries still being written are left).
    #[arg(long)]
    once: bool,
    #[command(flatten)]
    store: StoreArgs,
}

impl Watch {
    /// Watches until SIGINT or SIGTERM (or, with `--once`, one pass).
    pub fn run(self) -> Result<()> {
        if !self.dir.is_dir() {
            bail!("{} is not a folder", self.dir.display());
        }
        // The store is opened per entry, never held while waiting: a watcher that runs for
        // weeks must not keep pulls (or anything else that writes) out. The store's trust is
        // read again for each entry, so `trust add` takes effect without a restart.
        let policy_for = |store: &sigmirror_store::Store| -> Result<Policy> {
            Ok(match &self.policy {
                Some(file) => Policy::load(file)?,
                None => super::mirror::store_trust_policy(store)?,
            })
        };
        // A policy that cannot be used is said now, not at the first entry.
        drop(policy_for(&self.store.open()?)?);
        let settle = Duration::from_secs(self.settle);
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, stop.clone())
                .context("cannot install signal handlers")?;
        }
        // Changes in the folder wake the loop at once; the timeout catches entries that settle.
        let (wake, woken) = std::sync::mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |_event| {
            let _ = wake.send(());
        })
        .context("cannot watch the folder")?;
        notify::Watcher::watch(&mut watcher, &self.dir, notify::RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", self.dir.display()))?;
        if !self.once {
            eprintln!(
                "watching {} (a .ready marker, or {} s without change, completes an entry); \
                 Ctrl-C or SIGTERM stops",
                self.dir.display(),
                self.settle
            );
        }
        let options = TransferOptions::default();
        let mut refused = 0;
        loop {
            let entries = watch::entries(&self.dir, settle)?;
            for (path, complete) in &entries {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if !complete {
                    continue;
                }
                let store = Arc::new(self.store.open()?);
                let policy = policy_for(&store)?;
                let report = block_on_parallel(async {
                    Ok(watch::process(&self.dir, path, store.clone(), &policy, &options).await?)
                })?;
                drop(store);
                let loaded = report
                    .images
                    .iter()
                    .filter(|i| i.outcome == "loaded")
                    .count();
                if report.outcome == watch::DONE {
                    eprintln!("imported {}: {loaded} image(s) loaded", report.entry);
                } else {
                    refused += 1;
                    let why: Vec<String> = report
                        .error
                        .iter()
                        .cloned()
                        .chain(
                            report
                                .images
                                .iter()
                                .filter(|i| i.outcome != "loaded")
                                .map(|i| format!("{}: {}", i.image, i.details.join("; "))),
                        )
                        .collect();
                    eprintln!(
                        "refused {} ({loaded} image(s) loaded): {}",
                        report.entry,
                        why.join("; ")
                    );
                }
            }
            if self.once {
                let waiting = entries.iter().filter(|(_, complete)| !complete).count();
                if waiting > 0 {
                    eprintln!("{waiting} entr(ies) not complete yet, left for a later run");
                }
                break;
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
            // Until something changes, or a second passes (entries settle on their own).
            let _ = woken.recv_timeout(Duration::from_secs(1));
            while woken.try_recv().is_ok() {}
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        if refused > 0 && self.once {
            bail!(
                "{refused} entr(ies) refused; their reports are in {}",
                self.dir.join(watch::REFUSED).display()
            );
        }
        Ok(())
    }
}
