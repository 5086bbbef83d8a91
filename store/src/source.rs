//! The store as a `Source` (offline reads) and a `Sink` (pull, load). The traits are async
//! for the network's sake; the store is synchronous, so each method is its sync code inside
//! an `async` block (the mirror crate moves the slow writes to a blocking pool). Blob streams
//! are read and written a chunk at a time, so memory stays flat whatever the blob size.

use std::future::Future;

use bytes::Bytes;
use futures_util::StreamExt;
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::manifest::{MAX_MANIFEST_SIZE, Manifest, declared_media_type, media_type_of};
use sigmirror_oci::source::{BlobStream, Sink, Source};
use sigmirror_oci::{Digest, ImageRef};

use crate::Store;

type OciResult<T> = sigmirror_oci::Result<T>;

/// The store's key for the repository of `r`.
fn repo_key(r: &ImageRef) -> String {
    format!("{}/{}", r.registry(), r.repository())
}

/// The OCI 1.1 referrers among an image's `attachments` (as [`Store::attachments_of`] lists
/// them), by digest, each once: what the store answers for the image's referrers.
pub fn referrers_among(attachments: &[crate::AttachmentRecord]) -> Vec<Digest> {
    let mut out: Vec<Digest> = attachments
        .iter()
        .filter(|a| a.kind == AttachmentKind::Referrer)
        .map(|a| a.digest.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The manifest the cosign attachment tag `reference` (`repo:sha256-<hex>.sig` …) points at,
/// found among its subject's `attachments` instead of resolving the tag: the index records a
/// cosign tag and its attachment entry in one transaction, so both say the same.
pub fn tagged_among(
    attachments: &[crate::AttachmentRecord],
    reference: &ImageRef,
) -> Option<Digest> {
    let repo = repo_key(reference);
    attachments
        .iter()
        .find(|a| a.repo == repo && a.tag.is_some() && a.tag.as_deref() == reference.tag())
        .map(|a| a.digest.clone())
}

impl Store {
    /// The manifest `image` names (by digest, else by tag, `latest` by default), verified.
    pub fn manifest_for(&self, image: &ImageRef) -> crate::Result<Option<Manifest>> {
        let digest = match image.digest() {
            Some(d) => d.clone(),
            None => {
                let tag = image.tag().unwrap_or("latest");
                match self.resolve_tag(&repo_key(image), tag)? {
                    Some(d) => d,
                    None => return Ok(None),
                }
            }
        };
        crate::sha256_hex(&digest)?;
        // Absent is `None`: one open tells, no separate existence check.
        let bytes = match self.read_blob(&digest, MAX_MANIFEST_SIZE) {
            Ok(bytes) => bytes,
            Err(crate::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        // The type the bytes declare (which is what a pull from a registry records), else the
        // one recorded when they came (a layout's descriptor), else the one their shape says.
        // Declared first: the index is then not read at all for most manifests.
        let media_type = match declared_media_type(&bytes) {
            Some(declared) => declared,
            None => {
                let recorded = self
                    .manifest_info(&digest)?
                    .map(|i| i.media_type)
                    .unwrap_or_default();
                if recorded.is_empty() {
                    media_type_of(&bytes)
                } else {
                    recorded
                }
            }
        };
        Ok(Some(Manifest {
            bytes: Bytes::from(bytes),
            digest,
            media_type,
        }))
    }

    /// Consumes `stream` into a checked blob.
    async fn put_stream(
        &self,
        digest: &Digest,
        size: u64,
        mut stream: BlobStream,
    ) -> OciResult<()> {
        if self.has_blob(digest) {
            return Ok(());
        }
        let mut writer = self.writer(digest, size)?;
        while let Some(chunk) = stream.next().await {
            writer.write_chunk(&chunk?)?;
        }
        Ok(writer.commit()?)
    }

    /// The digests of the OCI 1.1 referrers of the manifest `image` names.
    fn referrers_of(&self, image: &ImageRef) -> crate::Result<Vec<Digest>> {
        // By digest, the manifest need not be read (and hashed) again: that it is held is
        // enough. By tag, the tag is resolved through it.
        let subject = match image.digest() {
            Some(digest) if self.has_blob(digest) => digest.clone(),
            Some(_) => return Ok(vec![]),
            None => match self.manifest_for(image)? {
                Some(manifest) => manifest.digest,
                None => return Ok(vec![]),
            },
        };
        Ok(referrers_among(&self.attachments_of(&subject)?))
    }
}

/// How many close names a miss shows.
const CLOSEST_SHOWN: usize = 3;

impl Store {
    /// The tagged names (`registry/repo:tag`) closest to `name` by edit distance, at most
    /// [`CLOSEST_SHOWN`], and only those within a third of its length: a typo, not any name.
    fn closest_names(&self, name: &str) -> Vec<String> {
        let Ok(tags) = self.tags() else {
            return vec![];
        };
        let limit = (name.chars().count() / 3).max(2);
        let mut scored: Vec<(usize, String)> = tags
            .into_iter()
            .map(|(repo, tag, _)| format!("{repo}:{tag}"))
            .map(|held| (strsim::levenshtein(name, &held), held))
            .filter(|(distance, _)| *distance <= limit)
            .collect();
        scored.sort();
        scored.dedup();
        scored
            .into_iter()
            .take(CLOSEST_SHOWN)
            .map(|(_, held)| held)
            .collect()
    }
}

impl Source for Store {
    fn get_manifest(
        &self,
        image: &ImageRef,
    ) -> impl Future<Output = OciResult<Option<Manifest>>> + Send {
        let found = self.manifest_for(image);
        async move { Ok(found?) }
    }

    fn get_blob(
        &self,
        _repo: &ImageRef,
        digest: &Digest,
        max_size: u64,
    ) -> impl Future<Output = OciResult<Vec<u8>>> + Send {
        let blob = self.read_blob(digest, max_size);
        async move { Ok(blob?) }
    }

    fn open_blob(
        &self,
        _repo: &ImageRef,
        digest: &Digest,
    ) -> impl Future<Output = OciResult<BlobStream>> + Send {
        let opened = self
            .open_blob(digest)
            .and_then(|reader| Ok((reader, self.blob_path(digest)?)));
        async move {
            let (reader, path) = opened?;
            Ok(sigmirror_oci::stream::read_stream(reader, path))
        }
    }

    fn missing(&self, image: &ImageRef) -> sigmirror_oci::Error {
        sigmirror_oci::Error::NotInStore {
            what: image.to_string(),
            store: self.root().to_path_buf(),
            closest: self.closest_names(&image.to_string()),
        }
    }

    fn referrers(&self, image: &ImageRef) -> impl Future<Output = OciResult<Vec<Digest>>> + Send {
        let found = self.referrers_of(image);
        async move { Ok(found?) }
    }
}

impl Sink for Store {
    /// An index pulled for one platform is kept whole, its other children absent.
    fn holds_partial_indexes(&self) -> bool {
        true
    }

    fn tagged(
        &self,
        target: &ImageRef,
    ) -> impl Future<Output = OciResult<Option<Manifest>>> + Send {
        let held = match target.tag() {
            Some(_) => self.manifest_for(target).map_err(Into::into),
            None => Ok(None),
        };
        async move { held }
    }

    fn holds_complete(
        &self,
        _repo: &ImageRef,
        digest: &Digest,
        layers: bool,
    ) -> impl Future<Output = OciResult<bool>> + Send {
        let complete = self.content_complete(digest, layers);
        async move { Ok(complete?) }
    }

    fn tag_existing(
        &self,
        target: &ImageRef,
        digest: &Digest,
    ) -> impl Future<Output = OciResult<bool>> + Send {
        let tagged = match target.tag() {
            Some(tag) => self.set_tag(&repo_key(target), tag, digest).map(|()| true),
            None => Ok(false),
        };
        async move { Ok(tagged?) }
    }

    fn has_blob(
        &self,
        _repo: &ImageRef,
        digest: &Digest,
    ) -> impl Future<Output = OciResult<bool>> + Send {
        let has = Store::has_blob(self, digest);
        async move { Ok(has) }
    }

    fn put_blob(
        &self,
        _repo: &ImageRef,
        digest: &Digest,
        size: u64,
        stream: BlobStream,
    ) -> impl Future<Output = OciResult<()>> + Send {
        let digest = digest.clone();
        async move { self.put_stream(&digest, size, stream).await }
    }

    fn put_manifest(
        &self,
        target: &ImageRef,
        manifest: &Manifest,
    ) -> impl Future<Output = OciResult<()>> + Send {
        let repo = repo_key(target);
        let source = self.provenance_for(&repo);
        let stored = Store::put_manifest(
            self,
            &repo,
            &manifest.digest,
            &manifest.media_type,
            &manifest.bytes,
            &source,
        )
        .and_then(|()| match target.tag() {
            Some(tag) => self.set_tag(&repo, tag, &manifest.digest),
            None => Ok(()),
        });
        async move { Ok(stored?) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AttachmentRecord;

    fn record(kind: AttachmentKind, repo: &str, tag: Option<String>, n: u8) -> AttachmentRecord {
        AttachmentRecord {
            kind,
            repo: repo.to_owned(),
            tag,
            digest: Digest::sha256_of(&[n]),
        }
    }

    #[test]
    fn attachments_are_found_by_their_tag_in_their_repository_only() {
        let subject = Digest::sha256_of(b"image");
        let sig = AttachmentKind::Signature.tag_for(&subject);
        let att = AttachmentKind::Attestation.tag_for(&subject);
        let records = vec![
            record(AttachmentKind::Signature, "r.example/other", sig.clone(), 1),
            record(AttachmentKind::Signature, "r.example/app", sig.clone(), 2),
            record(AttachmentKind::Referrer, "r.example/app", None, 3),
            record(AttachmentKind::Referrer, "r.example/other", None, 3),
            record(AttachmentKind::Referrer, "r.example/app", None, 4),
        ];
        let in_app = |tag: &Option<String>| {
            ImageRef::parse(&format!(
                "r.example/app:{}",
                tag.as_deref().unwrap_or_default()
            ))
            .expect("reference")
        };
        assert_eq!(
            tagged_among(&records, &in_app(&sig)),
            Some(Digest::sha256_of(&[2]))
        );
        // No .att is recorded; a tag of another repository is not this one's.
        assert_eq!(tagged_among(&records, &in_app(&att)), None);
        let other = ImageRef::parse("r.example/third:latest").expect("reference");
        assert_eq!(
            tagged_among(
                &records,
                &other.with_tag(sig.as_deref().unwrap_or_default())
            ),
            None
        );
        // Referrers from any repository, each once.
        let mut expected = vec![Digest::sha256_of(&[3]), Digest::sha256_of(&[4])];
        expected.sort();
        assert_eq!(referrers_among(&records), expected);
    }
}
