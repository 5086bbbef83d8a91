//! The store as a `Source` (offline reads) and a `Sink` (pull, load). The traits are async
//! for the network's sake; the store is synchronous, so each method is its sync code inside
//! an `async move` block. Blob streams are read and written a chunk at a time, so memory stays
//! flat whatever the blob size.

use std::future::Future;
use std::io::Read;

use bytes::Bytes;
use futures_util::StreamExt;
use sigmirror_core::media_types;
use sigmirror_core::reference::ImageRef;
use sigmirror_core::registry::{MAX_MANIFEST_SIZE, Manifest};
use sigmirror_core::source::{BlobStream, Sink, Source};

use crate::index::AttachmentKind;
use crate::{Store, parse_digest};

/// Size of the chunks of a blob stream.
const CHUNK: usize = 1 << 20;

type CoreResult<T> = sigmirror_core::Result<T>;

/// The store's key for the repository of `r`.
fn repo_key(r: &ImageRef) -> String {
    format!("{}/{}", r.registry(), r.repository())
}

/// The media type of a manifest stored without one: what its JSON says it is.
fn infer_media_type(bytes: &[u8]) -> String {
    let json: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    if let Some(mt) = json.get("mediaType").and_then(|v| v.as_str()) {
        return mt.to_owned();
    }
    if json.get("manifests").is_some() {
        media_types::OCI_INDEX.to_owned()
    } else {
        media_types::OCI_MANIFEST.to_owned()
    }
}

impl Store {
    /// The manifest `image` names (by digest, else by tag, `latest` by default), verified.
    fn manifest_for(&self, image: &ImageRef) -> crate::Result<Option<Manifest>> {
        let digest = match image.digest() {
            Some(d) => d.to_owned(),
            None => {
                let tag = image.tag().unwrap_or("latest");
                match self.resolve_tag(&repo_key(image), tag)? {
                    Some(d) => d,
                    None => return Ok(None),
                }
            }
        };
        parse_digest(&digest)?;
        if !self.has_blob(&digest) {
            return Ok(None);
        }
        let bytes = self.read_blob(&digest, MAX_MANIFEST_SIZE as u64)?;
        let recorded = self
            .manifest_info(&digest)?
            .map(|i| i.media_type)
            .unwrap_or_default();
        let media_type = if recorded.is_empty() {
            infer_media_type(&bytes)
        } else {
            recorded
        };
        Ok(Some(Manifest {
            bytes: Bytes::from(bytes),
            digest,
            media_type,
        }))
    }

    /// Consumes `stream` into a checked blob.
    async fn put_stream(&self, digest: &str, size: u64, mut stream: BlobStream) -> CoreResult<()> {
        if self.has_blob(digest) {
            return Ok(());
        }
        let mut writer = self.writer(digest, size)?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            writer.write_chunk(&chunk)?;
        }
        Ok(writer.commit()?)
    }
}

/// Reads up to a chunk from `reader`. A verification failure after some bytes is reported on
/// the next call (the reader's failure is sticky), so no byte is lost and the error still comes.
fn next_chunk(reader: &mut crate::BlobReader) -> std::io::Result<Option<Bytes>> {
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    while filled < CHUNK {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) if filled > 0 => break,
            Err(e) => return Err(e),
        }
    }
    if filled == 0 {
        return Ok(None);
    }
    buf.truncate(filled);
    Ok(Some(Bytes::from(buf)))
}

impl Source for Store {
    fn get_manifest(
        &self,
        image: &ImageRef,
    ) -> impl Future<Output = CoreResult<Option<Manifest>>> + Send {
        let image = image.clone();
        async move { Ok(self.manifest_for(&image)?) }
    }

    fn get_blob(
        &self,
        _repo: &ImageRef,
        digest: &str,
        max_size: u64,
    ) -> impl Future<Output = CoreResult<Vec<u8>>> + Send {
        let digest = digest.to_owned();
        async move { Ok(self.read_blob(&digest, max_size)?) }
    }

    fn open_blob(
        &self,
        _repo: &ImageRef,
        digest: &str,
    ) -> impl Future<Output = CoreResult<BlobStream>> + Send {
        let digest = digest.to_owned();
        async move {
            let reader = self.open_blob(&digest)?;
            let path = self.blob_path(&digest)?;
            let stream = futures_util::stream::unfold(Some(reader), move |state| {
                let path = path.clone();
                async move {
                    let mut reader = state?;
                    match next_chunk(&mut reader) {
                        Ok(Some(chunk)) => Some((Ok(chunk), Some(reader))),
                        Ok(None) => None,
                        Err(e) => Some((Err(sigmirror_core::Error::io(path, e)), None)),
                    }
                }
            });
            Ok(Box::pin(stream) as BlobStream)
        }
    }

    fn referrers(&self, image: &ImageRef) -> impl Future<Output = CoreResult<Vec<String>>> + Send {
        let image = image.clone();
        async move {
            let Some(manifest) = self.manifest_for(&image)? else {
                return Ok(vec![]);
            };
            let mut out: Vec<String> = self
                .attachments_of(&manifest.digest)?
                .into_iter()
                .filter(|a| a.kind == AttachmentKind::Referrer)
                .map(|a| a.digest)
                .collect();
            out.dedup();
            Ok(out)
        }
    }
}

impl Sink for Store {
    fn holds_complete(
        &self,
        _repo: &ImageRef,
        digest: &str,
        layers: bool,
    ) -> impl Future<Output = CoreResult<bool>> + Send {
        let digest = digest.to_owned();
        async move { Ok(self.content_complete(&digest, layers)?) }
    }

    fn tag_existing(
        &self,
        target: &ImageRef,
        digest: &str,
    ) -> impl Future<Output = CoreResult<bool>> + Send {
        let (repo, tag, digest) = (
            repo_key(target),
            target.tag().map(str::to_owned),
            digest.to_owned(),
        );
        async move {
            match tag {
                Some(tag) => {
                    self.set_tag(&repo, &tag, &digest)?;
                    Ok(true)
                }
                None => Ok(false),
            }
        }
    }

    fn has_blob(
        &self,
        _repo: &ImageRef,
        digest: &str,
    ) -> impl Future<Output = CoreResult<bool>> + Send {
        let digest = digest.to_owned();
        async move { Ok(Store::has_blob(self, &digest)) }
    }

    fn put_blob(
        &self,
        _repo: &ImageRef,
        digest: &str,
        size: u64,
        stream: BlobStream,
    ) -> impl Future<Output = CoreResult<()>> + Send {
        let digest = digest.to_owned();
        async move { self.put_stream(&digest, size, stream).await }
    }

    fn put_manifest(
        &self,
        target: &ImageRef,
        manifest: &Manifest,
    ) -> impl Future<Output = CoreResult<()>> + Send {
        let target = target.clone();
        let manifest = manifest.clone();
        async move {
            let repo = repo_key(&target);
            let source = self.provenance_for(&repo);
            Store::put_manifest(
                self,
                &repo,
                &manifest.digest,
                &manifest.media_type,
                &manifest.bytes,
                &source,
            )?;
            if let Some(tag) = target.tag() {
                self.set_tag(&repo, tag, &manifest.digest)?;
            }
            Ok(())
        }
    }
}
