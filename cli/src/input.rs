//! Reading the files users name on the command line — keys, certificates, bundles, trusted
//! roots, timestamps — with a bound: a name can point anywhere (`--key /dev/zero`), and none of
//! these files is large, so more than the bound is refused instead of read.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// A key or certificate PEM, a timestamp, a signature.
pub const SMALL: u64 = 1 << 20;
/// A trusted root (the public-good one is about 15 KiB).
pub const TRUSTED_ROOT: u64 = 4 << 20;
/// A bundle or an envelope (a DSSE payload can be a large statement).
pub const BUNDLE: u64 = 32 << 20;

/// Reads at most `limit` bytes of `path`; more is an error naming the file and the bound.
pub fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    let mut bytes = vec![];
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!(
            "{what} {} is larger than {} KiB; refusing to read it",
            path.display(),
            limit >> 10
        );
    }
    Ok(bytes)
}
