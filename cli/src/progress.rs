//! Progress for transfers: on a terminal an indicatif bar of bytes as they stream, with rate
//! and an estimate; elsewhere one plain line per image; and the one-line summary printed at
//! the end.

use std::io::IsTerminal;
use std::sync::Arc;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sigmirror_oci::Digest;
use sigmirror_registry::{Meter, Progress, Summary};

/// How a transfer shows its progress (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A bar on a terminal, plain lines otherwise.
    Auto,
    /// A bar of bytes as they stream, with rate and estimate (needs a terminal on stderr).
    Bar,
    /// One line per image done, on stderr: for logs and CI.
    Plain,
    /// Nothing but the summary.
    None,
}

/// Shows a transfer's progress as [`ProgressMode`] says.
pub struct Bars {
    /// The bar, hidden unless drawing one.
    bar: ProgressBar,
    /// The past tense of the action (`pulled`), for plain lines.
    past: &'static str,
    plain: bool,
}

impl Bars {
    /// Progress for `action` (`pull`) in `mode`.
    pub fn new(action: &str, mode: ProgressMode) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let draw = match mode {
            ProgressMode::Auto => terminal,
            ProgressMode::Bar => true,
            ProgressMode::Plain | ProgressMode::None => false,
        };
        let target = if draw {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        // The length grows as blobs start: the estimate is for what is known so far.
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left) {msg}",
            )
            .expect("valid template"),
        );
        bar.set_prefix(action.to_owned());
        if draw {
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        Bars {
            bar,
            past: crate::commands::transfer::action_past(action),
            plain: mode == ProgressMode::Plain || (mode == ProgressMode::Auto && !terminal),
        }
    }
}

/// The bar disappears when the transfer ends, whether it succeeded or not.
impl Drop for Bars {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bars {
    fn blob_started(&self, _digest: &Digest, size: u64) {
        self.bar.inc_length(size);
    }
    fn manifest_done(&self, reference: &str) {
        self.bar.set_message(reference.to_owned());
    }
    fn image_done(&self, image: &str, digest: &Digest) {
        if self.plain {
            self.bar
                .suspend(|| eprintln!("{} {image} ({digest})", self.past));
        }
    }
    fn meter(&self) -> Option<Meter> {
        let bar = self.bar.clone();
        Some(Arc::new(move |bytes| bar.inc(bytes)))
    }
}

/// `1.5 MiB`-style sizes.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Prints the summary: one line on stderr, or the JSON report on stdout with `json` (the
/// counters, and `failed`: each image that failed with its error).
pub fn print_summary(
    action: &str,
    summary: &Summary,
    json: bool,
    failed: &[(String, anyhow::Error)],
) -> std::io::Result<()> {
    if json {
        let mut report = serde_json::to_value(summary).expect("summary serializes");
        report["failed"] = failed
            .iter()
            .map(|(image, e)| {
                serde_json::json!({ "image": image, "error": crate::exit::message(e) })
            })
            .collect();
        return outln!("{report}");
    }
    eprintln!(
        "{action} {} image(s): {} manifest(s), {} blob(s), {} written, {} already present, in {:.2} s",
        summary.images,
        summary.manifests,
        summary.blobs,
        human_bytes(summary.bytes),
        summary.skipped,
        summary.seconds
    );
    Ok(())
}
