//! The transfer engine: copies the closure of an image from any [`Source`] to any [`Sink`].
//!
//! The closure of a reference is: an index and its platform manifests, each manifest's config
//! and layers (layers optional), the `.sig`/`.att`/`.sbom` attachments of every digest in it,
//! OCI 1.1 referrers where the source has them, and the attachments of SBOMs and referrers,
//! recursively. Which attachment tags exist is read from one `tags/list` per repository where
//! the source can list tags cheaply ([`Source::list_tags`]); elsewhere each tag is probed. Digests are preserved
//! byte for byte. Children are written before their parents, blobs before the manifests that
//! name them, and an attachment before its tag, so a sink never holds a manifest whose content
//! is missing; everything already in the sink is skipped, which makes an interrupted transfer
//! safe to re-run. Several images can be copied at once through one [`Transfer`]: a manifest
//! or blob that another image's walk is copying is waited for, never assumed. Blob transfers
//! run concurrently up to a bound and are digest-checked on the way; the attachment probes of a
//! digest are sent together.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::try_join_all;
use sigmirror_oci::attachment::AttachmentKind;
use sigmirror_oci::manifest::Manifest;
use sigmirror_oci::source::{Sink, Source, resolve};
use sigmirror_oci::stream::check_stream;
use sigmirror_oci::{Digest, Error, ImageRef, Result};
use tokio::sync::{OnceCell, Semaphore};

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
    /// Which attachment tags to follow (of [`AttachmentKind::TAGGED`]).
    pub attachments: Vec<AttachmentKind>,
    /// Follow OCI 1.1 referrers.
    pub referrers: bool,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            concurrency: 8,
            layers: true,
            platform: None,
            attachments: AttachmentKind::TAGGED.to_vec(),
            referrers: true,
        }
    }
}

/// Counts bytes as a blob streams, called with each chunk's length.
pub type Meter = Arc<dyn Fn(u64) + Send + Sync>;

/// Receives progress events (the CLI draws bars; libraries never print).
pub trait Progress: Send + Sync {
    /// A blob transfer starts.
    fn blob_started(&self, _digest: &Digest, _size: u64) {}
    /// A blob transfer finished.
    fn blob_finished(&self, _digest: &Digest, _size: u64) {}
    /// A manifest was written (or was already there).
    fn manifest_done(&self, _reference: &str) {}
    /// A root image is complete at the destination, at `digest`.
    fn image_done(&self, _image: &str, _digest: &Digest) {}
    /// What counts bytes while blobs stream, if anything should: a large layer then shows
    /// progress as it arrives, not only once it is complete.
    fn meter(&self) -> Option<Meter> {
        None
    }
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
    /// One cell per manifest: see [`Transfer::copy_content`].
    manifests_done: Mutex<HashMap<String, Arc<OnceCell<ManifestDigests>>>>,
    /// Digests whose attachments this transfer has looked for (or is looking for).
    attachments_seen: Mutex<HashSet<String>>,
    /// The tags of each source repository, listed once per transfer (`None`: not listable).
    tag_lists: Mutex<HashMap<String, TagList>>,
    /// One cell per blob: a second walk that needs a blob already in flight waits for it, so a
    /// manifest is never written before every blob it names is complete.
    blobs_done: Mutex<HashMap<String, Arc<OnceCell<()>>>>,
    blob_slots: Semaphore,
    /// Manifest, tag and referrers requests in flight at once (held for one request only,
    /// never across a nested walk, so walks cannot starve each other of slots).
    request_slots: Semaphore,
    started: Instant,
}

/// The digests of the manifests in a manifest's content: itself and an index's children.
type ManifestDigests = Arc<Vec<Digest>>;

/// A repository's tags, listed at most once (see [`Transfer::tags_of`]).
type TagList = Arc<OnceCell<Option<Arc<HashSet<String>>>>>;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn malformed(what: &str, reason: impl Into<String>) -> Error {
    Error::Malformed {
        what: what.to_owned(),
        reason: reason.into(),
    }
}

/// How many attachments deep a transfer follows attachments of attachments. Real chains are
/// short (an image's SBOM, the SBOM's signature); the bound stops a source that invents a new
/// attachment at every level.
const MAX_ATTACHMENT_DEPTH: usize = 8;

/// How many indexes deep a walk goes (an image index of platform images is 2 deep). Deeper
/// nesting is refused: a source could otherwise make one image a chain of thousands of requests.
pub const MAX_INDEX_DEPTH: usize = 8;

/// The most distinct children one index may list. Multi-platform indexes list tens; a source
/// listing more is refused rather than walked. Duplicates are walked once and do not count.
pub const MAX_INDEX_CHILDREN: usize = 4096;

/// The most referrers one subject may have. More is refused: each is a manifest to fetch.
pub const MAX_REFERRERS: usize = 1024;

/// `digests` without repeats, in their first order.
fn distinct(digests: impl IntoIterator<Item = Digest>) -> Vec<Digest> {
    let mut seen = HashSet::new();
    digests
        .into_iter()
        .filter(|d| seen.insert(d.clone()))
        .collect()
}

/// Whether the attachments of an attachment of `kind` are followed. No cosign workflow signs,
/// attests or attaches an SBOM to a signature or attestation image, so their tags are not
/// probed (four requests more per image, for nothing). SBOMs are signed and attested
/// (`cosign sign --attachment sbom`), and so are OCI referrers: theirs are followed,
/// recursively.
fn follows_attachments_of(kind: AttachmentKind) -> bool {
    matches!(kind, AttachmentKind::Sbom)
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
            manifests_done: Mutex::new(HashMap::new()),
            attachments_seen: Mutex::new(HashSet::new()),
            tag_lists: Mutex::new(HashMap::new()),
            blobs_done: Mutex::new(HashMap::new()),
            blob_slots: Semaphore::new(slots),
            request_slots: Semaphore::new(slots),
            started: Instant::now(),
        }
    }

    /// Runs one request to the source while holding a request slot.
    async fn request<T>(&self, request: impl Future<Output = T>) -> T {
        let _slot = self
            .request_slots
            .acquire()
            .await
            .expect("the transfer never closes its semaphore");
        request.await
    }

    /// Tells the transfer every tag of `repo`'s repository in the source (a caller that listed
    /// them to choose what to copy), so attachments are looked up in that list, not asked for.
    pub fn know_tags(&self, repo: &ImageRef, tags: &[String]) {
        let known = Arc::new(tags.iter().cloned().collect::<HashSet<_>>());
        self.tag_list(repo).set(Some(known)).ok();
    }

    fn tag_list(&self, repo: &ImageRef) -> TagList {
        self.tag_lists
            .lock()
            .expect("tag lists poisoned")
            .entry(repo.repo_name())
            .or_default()
            .clone()
    }

    /// Every tag of `repo`'s repository in the source, listed once per transfer; `None` if the
    /// source cannot list them, or the listing failed (then each attachment tag is probed, as
    /// if there were no list: a listing is an optimisation, never a reason to fail).
    async fn tags_of(&self, repo: &ImageRef) -> Option<Arc<HashSet<String>>> {
        let cell = self.tag_list(repo);
        cell.get_or_init(|| async {
            match self.request(self.source.list_tags(repo)).await {
                Ok(tags) => tags.map(|t| Arc::new(t.into_iter().collect())),
                Err(e) => {
                    tracing::debug!(repo = %repo.repo_name(), error = %e, "tags/list failed; probing tags");
                    None
                }
            }
        })
        .await
        .clone()
    }

    /// The manifest `from` names. When the sink already holds `to`'s tag, the source is only
    /// asked where its tag points now (a HEAD): unchanged, the sink's copy is used and nothing
    /// is fetched.
    async fn root_manifest(&self, from: &ImageRef, to: &ImageRef) -> Result<Manifest> {
        if from.digest().is_none()
            && let Some(held) = self.sink.tagged(to).await?
            && self.request(self.source.head_manifest(from)).await? == Some(held.digest.clone())
        {
            return Ok(held);
        }
        self.request(resolve(self.source, from)).await
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
    ///
    /// With a platform, an index keeps its bytes and digest (signatures made on it still
    /// verify) and only the chosen platform's image is copied with it; the other children are
    /// left out, which only sinks that hold partial indexes accept
    /// ([`Sink::holds_partial_indexes`]); a registry is refused with why.
    pub async fn copy_image(&self, from: &ImageRef, to: &ImageRef) -> Result<Digest> {
        let manifest = self.root_manifest(from, to).await?;
        let digest = manifest.digest.clone();
        let (src_repo, dst_repo) = (from.clone(), to.clone());
        let digests = match &self.options.platform {
            Some(platform) if manifest.view(&from.to_string())?.is_index() => {
                self.copy_platform(&src_repo, &manifest, &dst_repo, platform)
                    .await?
            }
            _ => {
                self.copy_content(&src_repo, manifest.clone(), &dst_repo, false)
                    .await?
            }
        };
        try_join_all(
            digests
                .iter()
                .map(|d| self.copy_attachments(&src_repo, &dst_repo, d, 0)),
        )
        .await?;
        if to.tag().is_some() {
            self.sink.put_manifest(to, &manifest).await?;
        }
        self.stats.images.fetch_add(1, Ordering::Relaxed);
        self.progress.image_done(&to.to_string(), &digest);
        Ok(digest)
    }

    /// Copies the index `manifest` itself and the closure of its `platform` child, and returns
    /// the digests of the manifests copied (the index first). The index is written after the
    /// child; the other children are not copied, and not walked.
    async fn copy_platform(
        &'a self,
        src_repo: &'a ImageRef,
        manifest: &Manifest,
        dst_repo: &'a ImageRef,
        platform: &str,
    ) -> Result<ManifestDigests> {
        let what = format!("{}@{}", src_repo.repo_name(), manifest.digest);
        let view = manifest.view(&what)?;
        let entry = view
            .platform_entry(platform)
            .ok_or_else(|| Error::NotFound {
                what: format!("{what}: no manifest for platform {platform} in the index"),
            })?;
        if !self.sink.holds_partial_indexes() {
            return Err(malformed(
                &what,
                format!(
                    "--platform {platform}: the destination is a registry, which refuses an \
                     index whose other platforms' manifests it does not hold, and rewriting the \
                     tag to the platform's manifest would change its digest; copy the whole \
                     image, or the platform's image by digest ({}@{})",
                    src_repo.repo_name(),
                    entry.digest
                ),
            ));
        }
        let child = self
            .copy_content_of(src_repo, entry.digest.clone(), None, dst_repo, false, 1)
            .await?;
        let target = dst_repo.with_digest(&manifest.digest);
        if self.sink.has_manifest(dst_repo, &manifest.digest).await? {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.sink.put_manifest(&target, manifest).await?;
            self.stats.manifests.fetch_add(1, Ordering::Relaxed);
        }
        self.progress.manifest_done(&target.to_string());
        let mut digests = vec![manifest.digest.clone()];
        digests.extend(child.iter().cloned());
        Ok(Arc::new(digests))
    }

    /// Makes `manifest` and everything it names complete in the sink, at most once per
    /// transfer: a second walk that reaches a manifest in flight waits for it, so nothing is
    /// ever written before the content it names. Returns the digests of the manifests in its
    /// content (itself, and an index's children), whose attachments are looked for next.
    /// Content is addressed by digest and every fetched manifest is digest-checked, so this
    /// graph has no cycles to wait on; attachments, found by mutable tags, are not part of it.
    fn copy_content(
        &'a self,
        src_repo: &'a ImageRef,
        manifest: Manifest,
        dst_repo: &'a ImageRef,
        attachment: bool,
    ) -> BoxFuture<'a, Result<ManifestDigests>> {
        let digest = manifest.digest.clone();
        self.copy_content_of(src_repo, digest, Some(manifest), dst_repo, attachment, 0)
    }

    /// [`Self::copy_content`] by digest: the manifest is fetched only if no walk of it has
    /// started, so an index that lists one child many times, or children shared between
    /// images, cost one request each. `depth` counts the indexes above it.
    fn copy_content_of(
        &'a self,
        src_repo: &'a ImageRef,
        digest: Digest,
        manifest: Option<Manifest>,
        dst_repo: &'a ImageRef,
        attachment: bool,
        depth: usize,
    ) -> BoxFuture<'a, Result<ManifestDigests>> {
        Box::pin(async move {
            // Walked as an attachment, a manifest needs its layers (the payloads) even without
            // `--no-layers`: that is a different walk.
            let layers = self.options.layers || attachment;
            let cell = self
                .manifests_done
                .lock()
                .expect("manifest cells poisoned")
                .entry(format!("{}@{digest}#{layers}", dst_repo.repo_name()))
                .or_default()
                .clone();
            let digests = cell
                .get_or_try_init(|| async {
                    let manifest = match manifest {
                        Some(m) => m,
                        None => {
                            let child = src_repo.with_digest(&digest);
                            self.request(resolve(self.source, &child)).await?
                        }
                    };
                    self.walk_content(src_repo, manifest, dst_repo, attachment, depth)
                        .await
                })
                .await?;
            Ok(digests.clone())
        })
    }

    /// The walk behind [`Self::copy_content`].
    async fn walk_content(
        &'a self,
        src_repo: &'a ImageRef,
        manifest: Manifest,
        dst_repo: &'a ImageRef,
        attachment: bool,
        depth: usize,
    ) -> Result<ManifestDigests> {
        let digest = manifest.digest.clone();
        let what = format!("{}@{digest}", src_repo.repo_name());
        let view = manifest.view(&what)?;
        let target = dst_repo.with_digest(&digest);
        let children = distinct(view.children().cloned());
        if children.contains(&digest) {
            return Err(malformed(&what, "the index lists itself"));
        }
        if children.len() > MAX_INDEX_CHILDREN {
            return Err(malformed(
                &what,
                format!(
                    "the index lists {} manifests, more than the {MAX_INDEX_CHILDREN} allowed",
                    children.len()
                ),
            ));
        }
        if view.is_index() && depth >= MAX_INDEX_DEPTH {
            return Err(malformed(
                &what,
                format!("indexes nested more than {MAX_INDEX_DEPTH} deep"),
            ));
        }
        let layers = self.options.layers || attachment;
        let mut digests = vec![digest.clone()];
        // A manifest the sink already has with all its content needs no walk; its children
        // are still listed, for their attachments may have changed upstream.
        if self.sink.holds_complete(dst_repo, &digest, layers).await? {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            self.progress.manifest_done(&target.to_string());
            digests.extend(children);
            return Ok(Arc::new(digests));
        }
        if view.is_index() {
            let nested = try_join_all(children.into_iter().map(|child| {
                self.copy_content_of(src_repo, child, None, dst_repo, attachment, depth + 1)
            }))
            .await?;
            digests.extend(nested.iter().flat_map(|n| n.iter().cloned()));
        } else {
            let blobs: Vec<(Digest, u64)> = view
                .content_blobs(layers)
                .map(|d| (d.digest.clone(), d.size))
                .collect();
            if blobs.iter().any(|(d, _)| *d == digest) {
                return Err(malformed(&what, "the manifest names itself"));
            }
            try_join_all(
                blobs
                    .into_iter()
                    .map(|(d, size)| self.copy_blob(src_repo, dst_repo, d, size)),
            )
            .await?;
        }
        if self.sink.has_manifest(dst_repo, &digest).await? {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.sink.put_manifest(&target, &manifest).await?;
            self.stats.manifests.fetch_add(1, Ordering::Relaxed);
        }
        self.progress.manifest_done(&target.to_string());
        Ok(Arc::new(digests))
    }

    /// Copies the `.sig/.att/.sbom` images and referrers of `digest`, all probed at once;
    /// each digest's attachments are looked for once per transfer. `depth` counts the
    /// attachments between `digest` and the image: a source that makes up a new attachment
    /// at every level is stopped at [`MAX_ATTACHMENT_DEPTH`].
    fn copy_attachments(
        &'a self,
        src_repo: &'a ImageRef,
        dst_repo: &'a ImageRef,
        digest: &'a Digest,
        depth: usize,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if depth > MAX_ATTACHMENT_DEPTH {
                return Err(malformed(
                    &format!("{}@{digest}", src_repo.repo_name()),
                    format!(
                        "attachments nested more than {MAX_ATTACHMENT_DEPTH} deep (a source \
                         that invents them?)"
                    ),
                ));
            }
            if !self
                .attachments_seen
                .lock()
                .expect("attachment set poisoned")
                .insert(format!("{}@{digest}", dst_repo.repo_name()))
            {
                return Ok(());
            }
            let tags = try_join_all(
                self.options
                    .attachments
                    .iter()
                    .map(|kind| self.copy_attachment(src_repo, dst_repo, digest, *kind, depth)),
            );
            let referrers = async {
                if !self.options.referrers {
                    return Ok(());
                }
                let subject = src_repo.with_digest(digest);
                let found = match self.tags_of(src_repo).await {
                    Some(tags) => {
                        self.request(self.source.referrers_among(&subject, &tags))
                            .await?
                    }
                    None => self.request(self.source.referrers(&subject)).await?,
                };
                let found = distinct(found);
                if found.len() > MAX_REFERRERS {
                    return Err(malformed(
                        &subject.to_string(),
                        format!(
                            "{} referrers, more than the {MAX_REFERRERS} allowed",
                            found.len()
                        ),
                    ));
                }
                try_join_all(
                    found
                        .into_iter()
                        .filter(|r| r != digest)
                        .map(|r| self.copy_referrer(src_repo, dst_repo, r, depth)),
                )
                .await
                .map(|_| ())
            };
            futures_util::future::try_join(tags, referrers).await?;
            Ok(())
        })
    }

    /// Copies the attachment of `kind` of `digest`, if its tag exists: content first, then the
    /// tag. Whether the tag exists comes from the repository's tag list where there is one;
    /// then a tag the sink does not hold yet is fetched at once (one GET), and one it holds is
    /// checked with a HEAD. Without a list the tag is probed with a HEAD: most probes find
    /// nothing, and registries that limit pulls (Docker Hub) count manifest GETs, not HEADs.
    /// An attachment the sink already holds (its payloads are always written before it) is
    /// only re-tagged, never fetched again.
    async fn copy_attachment(
        &'a self,
        src_repo: &'a ImageRef,
        dst_repo: &'a ImageRef,
        digest: &'a Digest,
        kind: AttachmentKind,
        depth: usize,
    ) -> Result<()> {
        let Some(tag) = kind.tag_for(digest) else {
            return Ok(());
        };
        let probe = src_repo.with_tag(&tag);
        let dst_tag = dst_repo.with_tag(&tag);
        let listed = match self.tags_of(src_repo).await {
            Some(tags) if !tags.contains(&tag) => return Ok(()),
            Some(_) => true,
            None => false,
        };
        let (found, fetched) = if listed && self.sink.tagged(&dst_tag).await?.is_none() {
            match self.request(self.source.get_manifest(&probe)).await? {
                Some(manifest) => (manifest.digest.clone(), Some(manifest)),
                None => return Ok(()),
            }
        } else {
            match self.request(self.source.head_manifest(&probe)).await? {
                Some(found) => (found, None),
                None => return Ok(()),
            }
        };
        if self.sink.holds_complete(dst_repo, &found, true).await?
            && self.sink.tag_existing(&dst_tag, &found).await?
        {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
        } else {
            let manifest = match fetched {
                Some(manifest) => manifest,
                None => {
                    let attached = src_repo.with_digest(&found);
                    match self.request(self.source.get_manifest(&attached)).await? {
                        Some(manifest) => manifest,
                        None => return Ok(()),
                    }
                }
            };
            self.copy_content(src_repo, manifest.clone(), dst_repo, true)
                .await?;
            self.sink.put_manifest(&dst_tag, &manifest).await?;
        }
        if follows_attachments_of(kind) {
            self.copy_attachments(src_repo, dst_repo, &found, depth + 1)
                .await?;
        }
        Ok(())
    }

    /// Copies one referrer and what is attached to it.
    async fn copy_referrer(
        &'a self,
        src_repo: &'a ImageRef,
        dst_repo: &'a ImageRef,
        referrer: Digest,
        depth: usize,
    ) -> Result<()> {
        let referrer_ref = src_repo.with_digest(&referrer);
        let Some(manifest) = self
            .request(self.source.get_manifest(&referrer_ref))
            .await?
        else {
            return Ok(());
        };
        let digests = self
            .copy_content(src_repo, manifest, dst_repo, true)
            .await?;
        try_join_all(
            digests
                .iter()
                .map(|d| self.copy_attachments(src_repo, dst_repo, d, depth + 1)),
        )
        .await?;
        Ok(())
    }

    /// Copies one blob unless the sink has it, streaming and checking its digest and size.
    async fn copy_blob(
        &self,
        src_repo: &ImageRef,
        dst_repo: &ImageRef,
        digest: Digest,
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
        digest: Digest,
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
            .expect("the transfer never closes its semaphore");
        self.progress.blob_started(&digest, size);
        let stream = self.source.open_blob(src_repo, &digest).await?;
        let what = format!("{}@{digest}", src_repo.repo_name());
        let mut checked = check_stream(stream, &digest, size, what);
        if let Some(meter) = self.progress.meter() {
            use futures_util::StreamExt as _;
            checked = Box::pin(checked.inspect(move |chunk| {
                if let Ok(bytes) = chunk {
                    meter(bytes.len() as u64);
                }
            }));
        }
        self.sink.put_blob(dst_repo, &digest, size, checked).await?;
        self.stats.blobs.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes.fetch_add(size, Ordering::Relaxed);
        self.progress.blob_finished(&digest, size);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
