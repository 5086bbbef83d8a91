//! The transfer engine: copies the closure of an image from any [`Source`] to any [`Sink`].
//!
//! The closure of a reference is: an index and its platform manifests, each manifest's config
//! and layers (layers optional), the `.sig`/`.att`/`.sbom` attachments of every digest in it
//! (found by probing their tags, never by listing tags), OCI 1.1 referrers where the source
//! has them, and the attachments of those, recursively. Digests are preserved byte for byte.
//! Children are written before their parents and blobs before the manifests that name them,
//! so a sink never holds a manifest whose content is missing; everything already in the sink
//! is skipped, which makes an interrupted transfer safe to re-run. Blob transfers run
//! concurrently up to a bound and are digest-checked on the way.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::try_join_all;
use serde_json::Value;
use tokio::sync::{OnceCell, Semaphore};

use crate::cosign::{Attachment, attachment_tag};
use crate::digest::check_stream;
use crate::error::{Error, Result};
use crate::media_types;
use crate::reference::ImageRef;
use crate::registry::Manifest;
use crate::source::{Sink, Source};

/// What to copy.
#[derive(Debug, Clone)]
pub struct TransferOptions {
    /// Blob transfers in flight at once.
    pub concurrency: usize,
    /// Copy image layers; without them only what verification needs is copied (manifests,
    /// configs, and the payloads of signatures, attestations and SBOMs).
    pub layers: bool,
    /// Only this platform of an index (`os/arch[/variant]`).
    pub platform: Option<String>,
    /// Which attachment kinds to follow.
    pub attachments: Vec<Attachment>,
    /// Follow OCI 1.1 referrers.
    pub referrers: bool,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            concurrency: 8,
            layers: true,
            platform: None,
            attachments: Attachment::ALL.to_vec(),
            referrers: true,
        }
    }
}

/// Receives progress events (the CLI draws bars; libraries never print).
pub trait Progress: Send + Sync {
    /// A blob transfer starts.
    fn blob_started(&self, _digest: &str, _size: u64) {}
    /// A blob transfer finished.
    fn blob_finished(&self, _digest: &str, _size: u64) {}
    /// A manifest was written (or was already there).
    fn manifest_done(&self, _reference: &str) {}
}

/// Progress that shows nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Counters of one transfer.
#[derive(Debug, Default)]
pub struct Stats {
    /// Root images copied.
    pub images: AtomicU64,
    /// Manifests written.
    pub manifests: AtomicU64,
    /// Blobs written.
    pub blobs: AtomicU64,
    /// Bytes of blobs written.
    pub bytes: AtomicU64,
    /// Blobs and manifests the sink already had.
    pub skipped: AtomicU64,
}

/// A snapshot of [`Stats`] with the elapsed time, for the summary line and `--json`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Summary {
    /// Root images copied.
    pub images: u64,
    /// Manifests written.
    pub manifests: u64,
    /// Blobs written.
    pub blobs: u64,
    /// Bytes of blobs written.
    pub bytes: u64,
    /// Blobs and manifests the sink already had.
    pub skipped: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// One transfer between a source and a sink. Cheap to create; use one per command so the
/// counters and the de-duplication set cover the whole command.
pub struct Transfer<'a, S: Source, K: Sink> {
    source: &'a S,
    sink: &'a K,
    options: TransferOptions,
    progress: &'a dyn Progress,
    stats: Stats,
    visited: Mutex<HashSet<String>>,
    /// One cell per blob: a second walk that needs a blob already in flight waits for it, so a
    /// manifest is never written before every blob it names is complete.
    blobs_done: Mutex<HashMap<String, Arc<OnceCell<()>>>>,
    blob_slots: Semaphore,
    started: Instant,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn parse(manifest: &Manifest, what: &str) -> Result<Value> {
    let value: Value = serde_json::from_slice(&manifest.bytes).map_err(|e| Error::Malformed {
        what: what.to_owned(),
        reason: format!("not JSON: {e}"),
    })?;
    if !value.is_object() {
        return Err(Error::Malformed {
            what: what.to_owned(),
            reason: "not a JSON object".into(),
        });
    }
    Ok(value)
}

fn is_index(manifest: &Manifest, value: &Value) -> bool {
    media_types::is_index(&manifest.media_type)
        || (manifest.media_type.is_empty() && value.get("manifests").is_some())
}

/// `(digest, size)` of a descriptor, validated.
fn descriptor(value: &Value, what: &str) -> Result<(String, u64)> {
    let digest = value
        .get("digest")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !crate::digest::is_sha256_digest(digest) {
        return Err(Error::Malformed {
            what: what.to_owned(),
            reason: format!("invalid descriptor digest {digest:?}"),
        });
    }
    let size = value
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::Malformed {
            what: what.to_owned(),
            reason: format!("descriptor {digest} has no size"),
        })?;
    Ok((digest.to_owned(), size))
}

fn platform_matches(entry: &Value, wanted: &str) -> bool {
    let p = entry.get("platform");
    let field = |k: &str| {
        p.and_then(|p| p.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let mut parts = wanted.split('/');
    let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
    os.is_some_and(|os| os == field("os"))
        && arch.is_none_or(|a| a == field("architecture"))
        && variant.is_none_or(|v| v == field("variant"))
}

impl<'a, S: Source, K: Sink> Transfer<'a, S, K> {
    /// A transfer from `source` to `sink`.
    pub fn new(
        source: &'a S,
        sink: &'a K,
        options: TransferOptions,
        progress: &'a dyn Progress,
    ) -> Self {
        let slots = options.concurrency.max(1);
        Transfer {
            source,
            sink,
            options,
            progress,
            stats: Stats::default(),
            visited: Mutex::new(HashSet::new()),
            blobs_done: Mutex::new(HashMap::new()),
            blob_slots: Semaphore::new(slots),
            started: Instant::now(),
        }
    }

    /// The counters so far.
    pub fn summary(&self) -> Summary {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Summary {
            images: get(&self.stats.images),
            manifests: get(&self.stats.manifests),
            blobs: get(&self.stats.blobs),
            bytes: get(&self.stats.bytes),
            skipped: get(&self.stats.skipped),
            seconds: self.started.elapsed().as_secs_f64(),
        }
    }

    /// Copies the closure of `from` (tag or digest) to `to`'s repository, and tags it there
    /// with `to`'s tag if it has one. Returns the manifest digest.
    pub async fn copy_image(&self, from: &ImageRef, to: &ImageRef) -> Result<String> {
        let mut manifest = crate::source::resolve(self.source, from).await?;
        // With a platform, an index is replaced by its matching image: a partial index would
        // name manifests the destination does not have.
        if let Some(platform) = &self.options.platform {
            let value = parse(&manifest, &from.to_string())?;
            if is_index(&manifest, &value) {
                let entry = value
                    .get("manifests")
                    .and_then(Value::as_array)
                    .and_then(|m| m.iter().find(|e| platform_matches(e, platform)))
                    .ok_or_else(|| Error::NotFound {
                        reference: format!("{from} for platform {platform}"),
                    })?;
                let (child, _) = descriptor(entry, &from.to_string())?;
                manifest = crate::source::resolve(self.source, &from.with_digest(&child)).await?;
            }
        }
        let digest = manifest.digest.clone();
        self.copy_manifest(from.clone(), manifest.clone(), to.clone(), false)
            .await?;
        if to.tag().is_some() {
            self.sink.put_manifest(to, &manifest).await?;
        }
        self.stats.images.fetch_add(1, Ordering::Relaxed);
        Ok(digest)
    }

    /// Copies one manifest and everything it names, then its attachments.
    fn copy_manifest(
        &'a self,
        src_repo: ImageRef,
        manifest: Manifest,
        dst_repo: ImageRef,
        attachment: bool,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let digest = manifest.digest.clone();
            let key = format!("{}@{digest}", dst_repo.repo_name());
            if !self
                .visited
                .lock()
                .expect("visited set poisoned")
                .insert(key.clone())
            {
                return Ok(());
            }
            let what = format!("{}@{digest}", src_repo.repo_name());
            let value = parse(&manifest, &what)?;
            let target = dst_repo.with_digest(&digest);
            // A manifest the sink already has with all its content needs no walk: only its
            // attachments, which may have changed upstream, are looked at again.
            if self.sink.trusts_existing(self.options.layers || attachment)
                && self.sink.has_manifest(&dst_repo, &digest).await?
            {
                self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                self.progress.manifest_done(&target.to_string());
                return self.copy_attachments(&src_repo, &dst_repo, &digest).await;
            }
            if is_index(&manifest, &value) {
                let entries = value
                    .get("manifests")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let mut children = vec![];
                for entry in &entries {
                    let (child, _) = descriptor(entry, &what)?;
                    if child == digest {
                        return Err(Error::Malformed {
                            what,
                            reason: "the index lists itself".into(),
                        });
                    }
                    children.push(child);
                }
                try_join_all(children.into_iter().map(|child| {
                    let (src_repo, dst_repo) = (src_repo.clone(), dst_repo.clone());
                    async move {
                        let child_ref = src_repo.with_digest(&child);
                        let m = self.source.get_manifest(&child_ref).await?.ok_or_else(|| {
                            Error::NotFound {
                                reference: child_ref.to_string(),
                            }
                        })?;
                        self.copy_manifest(src_repo, m, dst_repo, attachment).await
                    }
                }))
                .await?;
            } else {
                let mut blobs = vec![];
                if let Some(config) = value.get("config") {
                    blobs.push(descriptor(config, &what)?);
                }
                if self.options.layers || attachment {
                    for layer in value
                        .get("layers")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        blobs.push(descriptor(layer, &what)?);
                    }
                }
                if blobs.iter().any(|(d, _)| *d == digest) {
                    return Err(Error::Malformed {
                        what,
                        reason: "the manifest names itself".into(),
                    });
                }
                try_join_all(
                    blobs
                        .into_iter()
                        .map(|(d, size)| self.copy_blob(&src_repo, &dst_repo, d, size)),
                )
                .await?;
            }
            if self.sink.has_manifest(&dst_repo, &digest).await? {
                self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            } else {
                self.sink.put_manifest(&target, &manifest).await?;
                self.stats.manifests.fetch_add(1, Ordering::Relaxed);
            }
            self.progress.manifest_done(&target.to_string());
            self.copy_attachments(&src_repo, &dst_repo, &digest).await
        })
    }

    /// Copies the `.sig/.att/.sbom` images and referrers of `digest`.
    async fn copy_attachments(
        &'a self,
        src_repo: &ImageRef,
        dst_repo: &ImageRef,
        digest: &str,
    ) -> Result<()> {
        for kind in &self.options.attachments {
            let tag = attachment_tag(digest, *kind);
            // Probe the tag with a HEAD; an attachment the sink already holds (its payloads are
            // always written before it) is only re-tagged, never fetched again.
            let Some(found) = self.source.head_manifest(&src_repo.with_tag(&tag)).await? else {
                continue;
            };
            let dst_tag = dst_repo.with_tag(&tag);
            if self.sink.has_manifest(dst_repo, &found).await?
                && self.sink.tag_existing(&dst_tag, &found).await?
            {
                self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let Some(manifest) = self
                .source
                .get_manifest(&src_repo.with_digest(&found))
                .await?
            else {
                continue;
            };
            self.copy_manifest(src_repo.clone(), manifest.clone(), dst_repo.clone(), true)
                .await?;
            self.sink
                .put_manifest(&dst_repo.with_tag(&tag), &manifest)
                .await?;
        }
        if self.options.referrers {
            for referrer in self.source.referrers(&src_repo.with_digest(digest)).await? {
                if referrer == digest {
                    continue;
                }
                let r = src_repo.with_digest(&referrer);
                if let Some(manifest) = self.source.get_manifest(&r).await? {
                    self.copy_manifest(src_repo.clone(), manifest, dst_repo.clone(), true)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Copies one blob unless the sink has it, streaming and checking its digest and size.
    async fn copy_blob(
        &self,
        src_repo: &ImageRef,
        dst_repo: &ImageRef,
        digest: String,
        size: u64,
    ) -> Result<()> {
        let cell = self
            .blobs_done
            .lock()
            .expect("blob cells poisoned")
            .entry(format!("{}@{digest}", dst_repo.repo_name()))
            .or_default()
            .clone();
        cell.get_or_try_init(|| self.transfer_blob(src_repo, dst_repo, digest, size))
            .await?;
        Ok(())
    }

    /// Copies one blob unless the sink has it (at most once per transfer, see `blobs_done`).
    async fn transfer_blob(
        &self,
        src_repo: &ImageRef,
        dst_repo: &ImageRef,
        digest: String,
        size: u64,
    ) -> Result<()> {
        if self.sink.has_blob(dst_repo, &digest).await? {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let _slot = self
            .blob_slots
            .acquire()
            .await
            .map_err(|e| Error::Malformed {
                what: "transfer".into(),
                reason: e.to_string(),
            })?;
        self.progress.blob_started(&digest, size);
        let stream = self.source.open_blob(src_repo, &digest).await?;
        let what = format!("{}@{digest}", src_repo.repo_name());
        let checked = check_stream(stream, &digest, size, what);
        self.sink.put_blob(dst_repo, &digest, size, checked).await?;
        self.stats.blobs.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes.fetch_add(size, Ordering::Relaxed);
        self.progress.blob_finished(&digest, size);
        Ok(())
    }
}
