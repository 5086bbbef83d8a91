//! The store as a sink whose writes run on the blocking pool, so a transfer keeps downloading
//! while files are synced to disk (the store itself is synchronous). This is the one place
//! where the synchronous store meets the async transfer engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::StreamExt;
use tokio::sync::{Notify, oneshot};

use sigmirror_oci::manifest::Manifest;
use sigmirror_oci::source::{BlobStream, Sink};
use sigmirror_oci::{Digest, ImageRef};
use sigmirror_store::Store;

/// [`Store`] as a [`Sink`] for the transfer engine, writing off the async threads.
///
/// A write handed to the blocking pool outlives the future that awaits it: when one transfer
/// fails, the others are dropped, but their threads go on, and one still downloading when the
/// runtime shuts down panics inside the HTTP client's timer. So every write is counted, a
/// dropped one stops reading its blob stream at once, and [`BlockingStore::finish_writes`] waits
/// for all of them: call it before leaving the runtime, whatever the outcome.
pub struct BlockingStore {
    store: Arc<Store>,
    in_flight: Arc<InFlight>,
}

#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// Counts one write as in flight until dropped (on the blocking thread, when the write ends).
struct Counted(Arc<InFlight>);

impl Counted {
    fn enter(in_flight: &Arc<InFlight>) -> Counted {
        in_flight.count.fetch_add(1, Ordering::SeqCst);
        Counted(in_flight.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl BlockingStore {
    /// Writes into `store`.
    pub fn new(store: Arc<Store>) -> BlockingStore {
        BlockingStore {
            store,
            in_flight: Arc::default(),
        }
    }

    /// Waits until no write is running on the blocking pool (those whose futures were dropped
    /// stop at their next chunk).
    pub async fn finish_writes(&self) {
        loop {
            let idle = self.in_flight.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.in_flight.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Runs one of the store's (synchronous) sink futures on the blocking pool. The runtime's
    /// handle lets a blob stream (network I/O) be driven from that thread while it writes.
    async fn off_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store, tokio::runtime::Handle) -> sigmirror_oci::Result<T> + Send + 'static,
    ) -> sigmirror_oci::Result<T> {
        let store = self.store.clone();
        let handle = tokio::runtime::Handle::current();
        let counted = Counted::enter(&self.in_flight);
        tokio::task::spawn_blocking(move || {
            let _counted = counted;
            f(&store, handle)
        })
        .await
        .map_err(sigmirror_oci::Error::backend)?
    }
}

/// `stream`, ending as soon as `dropped` resolves (its sender is dropped with the future that
/// awaited the write): a write nobody waits for stops reading, and fails on its short count.
fn until_dropped(stream: BlobStream, dropped: oneshot::Receiver<()>) -> BlobStream {
    Box::pin(stream.take_until(dropped))
}

impl Sink for BlockingStore {
    /// An index pulled for one platform is kept whole, its other children absent.
    fn holds_partial_indexes(&self) -> bool {
        true
    }

    async fn has_blob(&self, repo: &ImageRef, digest: &Digest) -> sigmirror_oci::Result<bool> {
        Sink::has_blob(&*self.store, repo, digest).await
    }

    fn trusts_existing(&self, layers: bool) -> bool {
        Sink::trusts_existing(&*self.store, layers)
    }

    async fn holds_complete(
        &self,
        repo: &ImageRef,
        digest: &Digest,
        layers: bool,
    ) -> sigmirror_oci::Result<bool> {
        Sink::holds_complete(&*self.store, repo, digest, layers).await
    }

    async fn tagged(&self, target: &ImageRef) -> sigmirror_oci::Result<Option<Manifest>> {
        Sink::tagged(&*self.store, target).await
    }

    async fn tag_existing(
        &self,
        target: &ImageRef,
        digest: &Digest,
    ) -> sigmirror_oci::Result<bool> {
        let (target, digest) = (target.clone(), digest.clone());
        self.off_thread(move |s, rt| rt.block_on(Sink::tag_existing(s, &target, &digest)))
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
        let (_awaited, dropped) = oneshot::channel::<()>();
        let stream = until_dropped(stream, dropped);
        self.off_thread(move |s, rt| rt.block_on(Sink::put_blob(s, &repo, &digest, size, stream)))
            .await
    }

    async fn put_manifest(
        &self,
        target: &ImageRef,
        manifest: &Manifest,
    ) -> sigmirror_oci::Result<()> {
        let (target, manifest) = (target.clone(), manifest.clone());
        self.off_thread(move |s, rt| rt.block_on(Sink::put_manifest(s, &target, &manifest)))
            .await
    }
}
