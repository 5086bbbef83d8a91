//! Choosing where read-only commands read from: the registry, or with `--offline` the local
//! store (then no network connection is made at all).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sigmirror_core::reference::ImageRef;
use sigmirror_core::registry::{Manifest, Registry};
use sigmirror_core::source::{BlobStream, Source};
use sigmirror_store::Store;

use super::registry::RegistryArgs;

/// `--store`: where the local mirror lives.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// The local mirror folder (default: $SIGMIRROR_STORE, else ~/.local/share/sigmirror/store).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
}

impl StoreArgs {
    /// Opens the store (waiting briefly if another sigmirror process holds it).
    pub fn open(&self) -> Result<Store> {
        let dir = match &self.store {
            Some(dir) => dir.clone(),
            None => sigmirror_store::default_store_dir()
                .context("no store folder: pass --store DIR or set SIGMIRROR_STORE")?,
        };
        // How long to wait for another sigmirror process to release the store.
        let wait = std::env::var("SIGMIRROR_LOCK_WAIT")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map_or(
                std::time::Duration::from_secs(10),
                std::time::Duration::from_secs,
            );
        Store::open_with_wait(&dir, wait)
            .with_context(|| format!("cannot open the store at {}", dir.display()))
    }
}

/// `--offline` and `--store`, for read-only commands.
#[derive(Debug, Args, Clone)]
pub struct OfflineArgs {
    /// Read from the local store only; make no network connection.
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// The one image a read-only command looks at, and where it is read from.
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
            AnySource::new(&self.offline, &self.registry)?,
        ))
    }
}

/// A registry or the store, chosen at run time.
pub enum AnySource {
    /// Read from registries.
    Registry(Registry),
    /// Read from the local mirror.
    Store(Store),
}

impl AnySource {
    /// The source `--offline` selects.
    pub fn new(offline: &OfflineArgs, registry: &RegistryArgs) -> Result<AnySource> {
        Ok(if offline.offline {
            AnySource::Store(offline.store.open()?)
        } else {
            AnySource::Registry(registry.registry())
        })
    }
}

impl Source for AnySource {
    async fn get_manifest(&self, image: &ImageRef) -> sigmirror_core::Result<Option<Manifest>> {
        match self {
            AnySource::Registry(r) => Source::get_manifest(r, image).await,
            AnySource::Store(s) => Source::get_manifest(s, image).await,
        }
    }

    async fn get_blob(
        &self,
        repo: &ImageRef,
        digest: &str,
        max: u64,
    ) -> sigmirror_core::Result<Vec<u8>> {
        match self {
            AnySource::Registry(r) => Source::get_blob(r, repo, digest, max).await,
            AnySource::Store(s) => Source::get_blob(s, repo, digest, max).await,
        }
    }

    async fn open_blob(&self, repo: &ImageRef, digest: &str) -> sigmirror_core::Result<BlobStream> {
        match self {
            AnySource::Registry(r) => Source::open_blob(r, repo, digest).await,
            AnySource::Store(s) => Source::open_blob(s, repo, digest).await,
        }
    }

    async fn referrers(&self, image: &ImageRef) -> sigmirror_core::Result<Vec<String>> {
        match self {
            AnySource::Registry(r) => Source::referrers(r, image).await,
            AnySource::Store(s) => Source::referrers(s, image).await,
        }
    }
}

/// The store as a sink whose writes run on the blocking pool, so a transfer keeps downloading
/// while files are synced to disk (the store itself is synchronous).
pub struct BlockingStore(pub std::sync::Arc<Store>);

/// Runs one of the store's (synchronous) sink futures on the blocking pool.
async fn off_thread<T: Send + 'static>(
    store: &std::sync::Arc<Store>,
    f: impl FnOnce(&Store) -> sigmirror_core::Result<T> + Send + 'static,
) -> sigmirror_core::Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| sigmirror_core::Error::Malformed {
            what: "store task".into(),
            reason: e.to_string(),
        })?
}

impl sigmirror_core::source::Sink for BlockingStore {
    async fn has_blob(&self, repo: &ImageRef, digest: &str) -> sigmirror_core::Result<bool> {
        sigmirror_core::source::Sink::has_blob(&*self.0, repo, digest).await
    }

    fn trusts_existing(&self, layers: bool) -> bool {
        sigmirror_core::source::Sink::trusts_existing(&*self.0, layers)
    }

    async fn holds_complete(
        &self,
        repo: &ImageRef,
        digest: &str,
        layers: bool,
    ) -> sigmirror_core::Result<bool> {
        sigmirror_core::source::Sink::holds_complete(&*self.0, repo, digest, layers).await
    }

    async fn tag_existing(&self, target: &ImageRef, digest: &str) -> sigmirror_core::Result<bool> {
        let (target, digest) = (target.clone(), digest.to_owned());
        off_thread(&self.0, move |s| {
            tokio::runtime::Handle::current().block_on(sigmirror_core::source::Sink::tag_existing(
                s, &target, &digest,
            ))
        })
        .await
    }

    async fn put_blob(
        &self,
        repo: &ImageRef,
        digest: &str,
        size: u64,
        stream: BlobStream,
    ) -> sigmirror_core::Result<()> {
        let (repo, digest) = (repo.clone(), digest.to_owned());
        let handle = tokio::runtime::Handle::current();
        off_thread(&self.0, move |s| {
            // The stream is network I/O driven by the runtime; this thread only writes.
            handle.block_on(sigmirror_core::source::Sink::put_blob(
                s, &repo, &digest, size, stream,
            ))
        })
        .await
    }

    async fn put_manifest(
        &self,
        target: &ImageRef,
        manifest: &Manifest,
    ) -> sigmirror_core::Result<()> {
        let (target, manifest) = (target.clone(), manifest.clone());
        off_thread(&self.0, move |s| {
            tokio::runtime::Handle::current().block_on(sigmirror_core::source::Sink::put_manifest(
                s, &target, &manifest,
            ))
        })
        .await
    }
}
