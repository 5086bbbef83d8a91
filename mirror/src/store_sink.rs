//! The store as a sink whose writes run on the blocking pool, so a transfer keeps downloading
//! while files are synced to disk (the store itself is synchronous). This is the one place
//! where the synchronous store meets the async transfer engine.

use std::sync::Arc;

use sigmirror_oci::manifest::Manifest;
use sigmirror_oci::source::{BlobStream, Sink};
use sigmirror_oci::{Digest, ImageRef};
use sigmirror_store::Store;

/// [`Store`] as a [`Sink`] for the transfer engine, writing off the async threads.
pub struct BlockingStore(pub Arc<Store>);

/// Runs one of the store's (synchronous) sink futures on the blocking pool. The runtime's
/// handle lets a blob stream (network I/O) be driven from that thread while it writes.
async fn off_thread<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store, tokio::runtime::Handle) -> sigmirror_oci::Result<T> + Send + 'static,
) -> sigmirror_oci::Result<T> {
    let store = store.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || f(&store, handle))
        .await
        .map_err(sigmirror_oci::Error::backend)?
}

impl Sink for BlockingStore {
    async fn has_blob(&self, repo: &ImageRef, digest: &Digest) -> sigmirror_oci::Result<bool> {
        Sink::has_blob(&*self.0, repo, digest).await
    }

    fn trusts_existing(&self, layers: bool) -> bool {
        Sink::trusts_existing(&*self.0, layers)
    }

    async fn holds_complete(
        &self,
        repo: &ImageRef,
        digest: &Digest,
        layers: bool,
    ) -> sigmirror_oci::Result<bool> {
        Sink::holds_complete(&*self.0, repo, digest, layers).await
    }

    async fn tag_existing(
        &self,
        target: &ImageRef,
        digest: &Digest,
    ) -> sigmirror_oci::Result<bool> {
        let (target, digest) = (target.clone(), digest.clone());
        off_thread(&self.0, move |s, rt| {
            rt.block_on(Sink::tag_existing(s, &target, &digest))
        })
        .await
    }

    async fn put_blob(
        &self,
        repo: &ImageRef,
        digest: &Digest,
        size: u64,
        stream: BlobStream,
    ) -> sigmirror_oci::Result<()> {
        let (repo, digest) = (repo.clone(), digest.clone());
        off_thread(&self.0, move |s, rt| {
            rt.block_on(Sink::put_blob(s, &repo, &digest, size, stream))
        })
        .await
    }

    async fn put_manifest(
        &self,
        target: &ImageRef,
        manifest: &Manifest,
    ) -> sigmirror_oci::Result<()> {
        let (target, manifest) = (target.clone(), manifest.clone());
        off_thread(&self.0, move |s, rt| {
            rt.block_on(Sink::put_manifest(s, &target, &manifest))
        })
        .await
    }
}
