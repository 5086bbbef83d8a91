//! A registry or the store, chosen at run time: what `--offline` switches between for every
//! read-only command and for `save`.

use sigmirror_oci::manifest::Manifest;
use sigmirror_oci::source::{BlobStream, Source};
use sigmirror_oci::{Digest, ImageRef, Result};
use sigmirror_registry::Registry;
use sigmirror_store::Store;

/// Where read-only commands read from.
pub enum AnySource {
    /// Registries (over the network).
    Registry(Registry),
    /// The local mirror (no network at all).
    Store(Store),
}

impl Source for AnySource {
    async fn get_manifest(&self, image: &ImageRef) -> Result<Option<Manifest>> {
        match self {
            AnySource::Registry(r) => Source::get_manifest(r, image).await,
            AnySource::Store(s) => Source::get_manifest(s, image).await,
        }
    }

    async fn get_blob(&self, repo: &ImageRef, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        match self {
            AnySource::Registry(r) => Source::get_blob(r, repo, digest, max).await,
            AnySource::Store(s) => Source::get_blob(s, repo, digest, max).await,
        }
    }

    async fn open_blob(&self, repo: &ImageRef, digest: &Digest) -> Result<BlobStream> {
        match self {
            AnySource::Registry(r) => Source::open_blob(r, repo, digest).await,
            AnySource::Store(s) => Source::open_blob(s, repo, digest).await,
        }
    }

    async fn head_manifest(&self, image: &ImageRef) -> Result<Option<Digest>> {
        match self {
            AnySource::Registry(r) => Source::head_manifest(r, image).await,
            AnySource::Store(s) => Source::head_manifest(s, image).await,
        }
    }

    fn missing(&self, image: &ImageRef) -> sigmirror_oci::Error {
        match self {
            AnySource::Registry(r) => Source::missing(r, image),
            AnySource::Store(s) => Source::missing(s, image),
        }
    }

    async fn referrers(&self, image: &ImageRef) -> Result<Vec<Digest>> {
        match self {
            AnySource::Registry(r) => Source::referrers(r, image).await,
            AnySource::Store(s) => Source::referrers(s, image).await,
        }
    }
}
