//! Where content is read from. Every read-only flow (verify, tree, download, triangulate) takes
//! any [`Source`], so "offline" is just another implementation: the local store instead of the
//! registry.

use std::future::Future;

use crate::error::Result;
use crate::reference::ImageRef;
use crate::registry::{Manifest, Registry};

/// Read access to manifests and blobs.
pub trait Source: Sync {
    /// The manifest at the reference's tag or digest; `Ok(None)` if there is none.
    fn get_manifest(
        &self,
        image: &ImageRef,
    ) -> impl Future<Output = Result<Option<Manifest>>> + Send;

    /// A blob of the reference's repository, at most `max_size` bytes, digest-checked.
    fn get_blob(
        &self,
        repo: &ImageRef,
        digest: &str,
        max_size: u64,
    ) -> impl Future<Output = Result<Vec<u8>>> + Send;
}

impl Source for Registry {
    fn get_manifest(
        &self,
        image: &ImageRef,
    ) -> impl Future<Output = Result<Option<Manifest>>> + Send {
        Registry::get_manifest(self, image)
    }

    fn get_blob(
        &self,
        repo: &ImageRef,
        digest: &str,
        max_size: u64,
    ) -> impl Future<Output = Result<Vec<u8>>> + Send {
        Registry::get_blob(self, repo, digest, max_size)
    }
}

/// The manifest `image` names, which must exist.
pub async fn resolve<S: Source>(source: &S, image: &ImageRef) -> Result<Manifest> {
    source
        .get_manifest(image)
        .await?
        .ok_or_else(|| crate::Error::NotFound {
            reference: image.to_string(),
        })
}
