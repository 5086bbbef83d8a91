//! A registry, the store or an OCI layout, chosen at run time: what `--offline` and
//! `--local-image` switch between for every read-only command and for `save`.

use sigmirror_oci::manifest::Manifest;
use sigmirror_oci::source::{BlobStream, Source};
use sigmirror_oci::{Digest, ImageRef, Result};
use sigmirror_registry::{Layout, Registry};
use sigmirror_store::Store;

/// Where read-only commands read from.
pub enum AnySource {
    /// Registries (over the network).
    Registry(Registry),
    /// The local mirror (no network at all).
    Store(Store),
    /// An OCI image layout on disk (`verify --local-image`; no network at all).
    Layout(Layout),
}

/// Calls the same [`Source`] method on whichever source `$any` holds.
macro_rules! on_each {
    ($any:expr, $s:ident => $call:expr) => {
        match $any {
            AnySource::Registry($s) => $call,
            AnySource::Store($s) => $call,
            AnySource::Layout($s) => $call,
        }
    };
}

impl Source for AnySource {
    async fn get_manifest(&self, image: &ImageRef) -> Result<Option<Manifest>> {
        on_each!(self, s => Source::get_manifest(s, image).await)
    }

    async fn get_blob(&self, repo: &ImageRef, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        on_each!(self, s => Source::get_blob(s, repo, digest, max).await)
    }

    async fn open_blob(&self, repo: &ImageRef, digest: &Digest) -> Result<BlobStream> {
        on_each!(self, s => Source::open_blob(s, repo, digest).await)
    }

    async fn head_manifest(&self, image: &ImageRef) -> Result<Option<Digest>> {
        on_each!(self, s => Source::head_manifest(s, image).await)
    }

    fn missing(&self, image: &ImageRef) -> sigmirror_oci::Error {
        on_each!(self, s => Source::missing(s, image))
    }

    async fn referrers(&self, image: &ImageRef) -> Result<Vec<Digest>> {
        on_each!(self, s => Source::referrers(s, image).await)
    }
}
