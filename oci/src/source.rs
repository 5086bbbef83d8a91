//! Where content lives: every place (a registry, the local store, an OCI layout folder) is a
//! [`Source`] to read from and a [`Sink`] to write to. Every read-only flow (verify, tree,
//! download, triangulate) takes any `Source`, so "offline" is just another implementation, and
//! the transfer engine moves content from any `Source` to any `Sink`.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::reference::ImageRef;

/// A blob's bytes, in chunks. Sinks check the digest of what they receive.
pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// Read access to manifests and blobs.
pub trait Source: Sync {
    /// The manifest at the reference's tag or digest; `Ok(None)` if there is none. The bytes
    /// are checked against the digest when the reference names one.
    fn get_manifest(
        &self,
        image: &ImageRef,
    ) -> impl Future<Output = Result<Option<Manifest>>> + Send;

    /// A small blob of the reference's repository, at most `max_size` bytes, digest-checked.
    fn get_blob(
        &self,
        repo: &ImageRef,
        digest: &Digest,
        max_size: u64,
    ) -> impl Future<Output = Result<Vec<u8>>> + Send;

    /// A blob of any size as a stream (the consumer checks the digest).
    fn open_blob(
        &self,
        repo: &ImageRef,
        digest: &Digest,
    ) -> impl Future<Output = Result<BlobStream>> + Send;

    /// The digest a tag or digest reference resolves to, without fetching the manifest where
    /// the source can avoid it (a HEAD request for registries); `Ok(None)` if absent.
    fn head_manifest(
        &self,
        image: &ImageRef,
    ) -> impl Future<Output = Result<Option<Digest>>> + Send {
        async move { Ok(self.get_manifest(image).await?.map(|m| m.digest)) }
    }

    /// The error for `image` not being there. A source can say more than "not found": the
    /// store names itself and the names it holds that look closest.
    fn missing(&self, image: &ImageRef) -> Error {
        Error::NotFound {
            what: image.to_string(),
        }
    }

    /// Digests of the OCI 1.1 referrers of `image`'s digest (none by default).
    fn referrers(&self, image: &ImageRef) -> impl Future<Output = Result<Vec<Digest>>> + Send {
        let _ = image;
        async { Ok(vec![]) }
    }

    /// Every tag of `repo`'s repository, where the source can list them in a request or a few
    /// (a registry's `tags/list`); `Ok(None)` where it cannot, or does not know the repository.
    /// The transfer engine then learns which attachment tags exist from the list instead of
    /// asking for each.
    fn list_tags(
        &self,
        repo: &ImageRef,
    ) -> impl Future<Output = Result<Option<Vec<String>>>> + Send {
        let _ = repo;
        async { Ok(None) }
    }

    /// [`Source::referrers`] when `tags` are all the tags of the repository: a source that
    /// keeps referrers only at the subject's fallback tag (a registry without the referrers
    /// API) answers without asking when that tag is not among them.
    fn referrers_among(
        &self,
        image: &ImageRef,
        tags: &HashSet<String>,
    ) -> impl Future<Output = Result<Vec<Digest>>> + Send {
        let _ = tags;
        self.referrers(image)
    }
}

/// Write access to manifests and blobs. Every write is all-or-nothing.
pub trait Sink: Sync {
    /// Whether the repository already has the blob (or manifest) `digest`.
    fn has_blob(
        &self,
        repo: &ImageRef,
        digest: &Digest,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Whether the repository has the manifest `digest` (by default: the blob of that digest,
    /// which is how content-addressed sinks store manifests).
    fn has_manifest(
        &self,
        repo: &ImageRef,
        digest: &Digest,
    ) -> impl Future<Output = Result<bool>> + Send {
        self.has_blob(repo, digest)
    }

    /// Whether the sink can hold an index without all of its children (`--platform`): the
    /// store and OCI layouts can; registries refuse such an index, so by default a sink
    /// cannot.
    fn holds_partial_indexes(&self) -> bool {
        false
    }

    /// Whether a manifest already in the sink is known to have all its content: then the
    /// transfer does not walk it again. Sinks write manifests after their content, so this
    /// holds unless layers are wanted and an earlier transfer skipped them; registries refuse
    /// manifests whose content is missing, so for them it always holds.
    fn trusts_existing(&self, layers: bool) -> bool {
        !layers
    }

    /// Whether the sink holds the manifest `digest` with everything a transfer would copy for
    /// it (an index's children, configs, and layers if `layers`): then it is not walked again.
    /// By default, whether it holds the manifest and [`Sink::trusts_existing`] vouches for
    /// the rest.
    fn holds_complete(
        &self,
        repo: &ImageRef,
        digest: &Digest,
        layers: bool,
    ) -> impl Future<Output = Result<bool>> + Send {
        async move { Ok(self.trusts_existing(layers) && self.has_manifest(repo, digest).await?) }
    }

    /// The manifest the sink holds at `target`'s tag, where it can tell without a request (a
    /// local sink); `Ok(None)` otherwise. A transfer then asks the source only whether the tag
    /// still points there (a HEAD), and fetches the manifest only if it moved.
    fn tagged(&self, target: &ImageRef) -> impl Future<Output = Result<Option<Manifest>>> + Send {
        let _ = target;
        async { Ok(None) }
    }

    /// Points `target`'s tag at the manifest `digest` the sink already has, if it can do so
    /// without the manifest's bytes; `Ok(false)` means the caller must put the manifest.
    fn tag_existing(
        &self,
        target: &ImageRef,
        digest: &Digest,
    ) -> impl Future<Output = Result<bool>> + Send {
        let _ = (target, digest);
        async { Ok(false) }
    }

    /// Stores a blob from `stream`, refusing it unless its bytes hash to `digest` and number
    /// `size`.
    fn put_blob(
        &self,
        repo: &ImageRef,
        digest: &Digest,
        size: u64,
        stream: BlobStream,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Stores a manifest at `target`'s digest, and at its tag if it has one.
    fn put_manifest(
        &self,
        target: &ImageRef,
        manifest: &Manifest,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The manifest `image` names, which must exist.
pub async fn resolve<S: Source>(source: &S, image: &ImageRef) -> Result<Manifest> {
    source
        .get_manifest(image)
        .await?
        .ok_or_else(|| source.missing(image))
}
