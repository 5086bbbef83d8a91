//! The registry client as a [`Source`] and a [`Sink`]: its own errors become
//! `sigmirror_oci` errors (a registry's "not found" stays one; the rest travels whole).

use std::collections::HashSet;

use sigmirror_oci::manifest::Manifest;
use sigmirror_oci::source::{BlobStream, Sink, Source};
use sigmirror_oci::{Digest, ImageRef, Result};

use crate::client::Registry;

impl Source for Registry {
    async fn get_manifest(&self, image: &ImageRef) -> Result<Option<Manifest>> {
        Ok(Registry::get_manifest(self, image).await?)
    }

    async fn get_blob(&self, repo: &ImageRef, digest: &Digest, max_size: u64) -> Result<Vec<u8>> {
        Ok(Registry::get_blob(self, repo, digest, max_size).await?)
    }

    async fn open_blob(&self, repo: &ImageRef, digest: &Digest) -> Result<BlobStream> {
        Ok(Registry::open_blob(self, repo, digest).await?)
    }

    async fn referrers(&self, image: &ImageRef) -> Result<Vec<Digest>> {
        Ok(Registry::referrers(self, image).await?)
    }

    async fn head_manifest(&self, image: &ImageRef) -> Result<Option<Digest>> {
        Ok(Registry::head_manifest(self, image).await?)
    }

    async fn list_tags(&self, repo: &ImageRef) -> Result<Option<Vec<String>>> {
        Ok(Registry::quick_tags(self, repo).await?)
    }

    async fn referrers_among(
        &self,
        image: &ImageRef,
        tags: &HashSet<String>,
    ) -> Result<Vec<Digest>> {
        Ok(Registry::referrers_among(self, image, Some(tags)).await?)
    }
}

impl Sink for Registry {
    async fn has_blob(&self, repo: &ImageRef, digest: &Digest) -> Result<bool> {
        Ok(Registry::has_blob(self, repo, digest).await?)
    }

    async fn has_manifest(&self, repo: &ImageRef, digest: &Digest) -> Result<bool> {
        Ok(Registry::has_manifest(self, repo, digest).await?)
    }

    fn trusts_existing(&self, _layers: bool) -> bool {
        true
    }

    async fn put_blob(
        &self,
        repo: &ImageRef,
        digest: &Digest,
        size: u64,
        stream: BlobStream,
    ) -> Result<()> {
        Ok(Registry::put_blob_stream(self, repo, digest, size, stream).await?)
    }

    async fn put_manifest(&self, target: &ImageRef, manifest: &Manifest) -> Result<()> {
        Registry::put_manifest(self, target, manifest.bytes.clone(), &manifest.media_type).await?;
        // A referrer stays findable on a registry without the referrers API.
        Ok(crate::referrers::index_referrer(self, target, manifest).await?)
    }
}
