//! Progress bars for transfers (indicatif) on a terminal, nothing otherwise, and the one-line
//! summary printed at the end.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sigmirror_oci::Digest;
use sigmirror_registry::{Progress, Summary};

/// Draws a byte counter and the number of manifests done while a transfer runs.
pub struct Bars {
    bar: ProgressBar,
}

impl Bars {
    /// A bar on stderr if it is a terminal, hidden otherwise.
    pub fn new(action: &str) -> Self {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {bytes} ({bytes_per_sec}) {msg}")
                .expect("valid template"),
        );
        bar.set_prefix(action.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Bars { bar }
    }
}

/// The bar disappears when the transfer ends, whether it succeeded or not.
impl Drop for Bars {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bars {
    fn blob_finished(&self, _digest: &Digest, size: u64) {
        self.bar.inc(size);
    }
    fn manifest_done(&self, reference: &str) {
        self.bar.set_message(reference.to_owned());
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
