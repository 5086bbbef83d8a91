//! Choosing where read-only commands read from: the registry, or with `--offline` the local
//! store (then no network connection is made at all).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sigmirror_mirror::AnySource;
use sigmirror_oci::ImageRef;
use sigmirror_store::Store;

use super::registry::RegistryArgs;

// `--store`: where the local mirror lives.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// The local mirror folder (default: $SIGMIRROR_STORE, else ~/.local/share/sigmirror/store).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
}

impl StoreArgs {
    /// The store folder, if it exists: where trusted roots and identities are read from
    /// without opening (or creating) the store.
    pub fn existing_dir(&self) -> Option<PathBuf> {
        self.store
            .clone()
            .or_else(sigmirror_store::default_store_dir)
            .filter(|d| d.is_dir())
    }

    /// Opens the store, creating it if needed (waiting briefly if another sigmirror process
    /// holds it): for commands that write.
    pub fn open(&self) -> Result<Store> {
        let (dir, wait) = self.dir_and_wait()?;
        Store::open_with_wait(&dir, wait)
            .with_context(|| format!("cannot open the store at {}", dir.display()))
    }

    /// Opens an existing store for a command that only reads: a folder holding no store is an
    /// error, and a store on write-protected media is read without a lock file (see
    /// [`Store::open_for_reading`]).
    pub fn open_for_reading(&self) -> Result<Store> {
        let (dir, wait) = self.dir_and_wait()?;
        // Every error of this open names the folder or file it is about.
        Store::open_for_reading(&dir, wait).context("cannot open the store")
    }

    /// Opens an existing store for `fsck`: as [`StoreArgs::open_for_reading`], but the index
    /// itself whenever no writer holds the store.
    pub fn open_for_checking(&self) -> Result<Store> {
        let (dir, wait) = self.dir_and_wait()?;
        Store::open_for_checking(&dir, wait).context("cannot open the store")
    }

    /// The store folder, and how long to wait for another sigmirror process to release it.
    fn dir_and_wait(&self) -> Result<(PathBuf, std::time::Duration)> {
        let dir = match &self.store {
            Some(dir) => dir.clone(),
            None => sigmirror_store::default_store_dir()
                .context("no store folder: pass --store DIR or set SIGMIRROR_STORE")?,
        };
        let wait = std::env::var("SIGMIRROR_LOCK_WAIT")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map_or(
                std::time::Duration::from_secs(10),
                std::time::Duration::from_secs,
            );
        Ok((dir, wait))
    }
}

// `--offline` and `--store`, for read-only commands.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args, Clone)]
pub struct OfflineArgs {
    /// Read from the local store only; make no network connection.
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

// The one image a read-only command looks at, and where it is read from.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args)]
pub struct ReadImageArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    offline: OfflineArgs,
    /// The image.
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

impl ReadImageArgs {
    /// The image reference and the source `--offline` selects.
    pub fn open(&self) -> Result<(ImageRef, AnySource)> {
        Ok((
            ImageRef::parse(&self.image)?,
            any_source(&self.offline, &self.registry)?,
        ))
    }
}

/// The source `--offline` selects: the store (no network at all) or the registries.
pub fn any_source(offline: &OfflineArgs, registry: &RegistryArgs) -> Result<AnySource> {
    Ok(if offline.offline {
        AnySource::Store(offline.store.open_for_reading()?)
    } else {
        AnySource::Registry(registry.registry()?)
    })
}
