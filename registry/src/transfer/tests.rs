//! The engine against an in-memory source whose answers come back in a shuffled order, and a
//! sink that refuses any manifest whose content it does not hold yet: concurrent walks over
//! shared content must never write a manifest early.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::join_all;
use serde_json::{Value, json};

use sigmirror_oci::manifest::Manifest;
use sigmirror_oci::source::{BlobStream, Sink, Source};
use sigmirror_oci::{Digest, Error, ImageRef, Result, media_types};

use super::{NoProgress, Progress, Transfer, TransferOptions};

fn digest(bytes: &[u8]) -> Digest {
    Digest::sha256_of(bytes)
}

/// Lets other tasks run a number of times that depends on `key`, so walks interleave
/// differently for every piece of content.
async fn shuffle(key: &str) {
    let turns = key.bytes().last().map_or(1, |b| usize::from(b % 7) + 1);
    for _ in 0..turns {
        tokio::task::yield_now().await;
    }
}

#[derive(Default)]
struct MemorySource {
    manifests: HashMap<Digest, Manifest>,
    tags: HashMap<String, Digest>,
    blobs: HashMap<Digest, Bytes>,
}

impl MemorySource {
    fn add_blob(&mut self, bytes: &[u8]) -> Value {
        let d = digest(bytes);
        self.blobs.insert(d.clone(), Bytes::copy_from_slice(bytes));
        json!({"mediaType": "application/octet-stream", "digest": d, "size": bytes.len()})
    }

    fn add_manifest(&mut self, value: &Value, media_type: &str) -> (Digest, usize) {
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        let d = digest(&bytes);
        let size = bytes.len();
        self.manifests.insert(
            d.clone(),
            Manifest {
                bytes: Bytes::from(bytes),
                digest: d.clone(),
                media_type: media_type.to_owned(),
            },
        );
        (d, size)
    }

    fn add_image(&mut self, seed: &str) -> (Digest, usize) {
        let config = self.add_blob(format!("config {seed}").as_bytes());
        let layer = self.add_blob(format!("layer {seed}").as_bytes());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media_types::OCI_MANIFEST,
            "config": config,
            "layers": [layer],
        });
        self.add_manifest(&manifest, media_types::OCI_MANIFEST)
    }
}

impl MemorySource {
    /// A cosign-style attachment of `subject`: a manifest with one payload layer, tagged
    /// `sha256-<hex>.<suffix>`.
    fn attach(&mut self, subject: &Digest, suffix: &str, payload: &str) -> Digest {
        let config = self.add_blob(b"{}");
        let layer = self.add_blob(payload.as_bytes());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media_types::OCI_MANIFEST,
            "config": config,
            "layers": [layer],
        });
        let (digest, _) = self.add_manifest(&manifest, media_types::OCI_MANIFEST);
        self.tags
            .insert(format!("{}.{suffix}", subject.tag_form()), digest.clone());
        digest
    }

    fn lookup(&self, image: &ImageRef) -> Option<Manifest> {
        let key = image
            .digest()
            .cloned()
            .or_else(|| image.tag().and_then(|t| self.tags.get(t).cloned()))?;
        self.manifests.get(&key).cloned()
    }
}

impl Source for MemorySource {
    async fn get_manifest(&self, image: &ImageRef) -> Result<Option<Manifest>> {
        shuffle(&image.to_string()).await;
        Ok(self.lookup(image))
    }

    async fn get_blob(&self, _repo: &ImageRef, digest: &Digest, _max: u64) -> Result<Vec<u8>> {
        Ok(self
            .blobs
            .get(digest)
            .map(|b| b.to_vec())
            .unwrap_or_default())
    }

    async fn open_blob(&self, _repo: &ImageRef, digest: &Digest) -> Result<BlobStream> {
        shuffle(digest.as_str()).await;
        let bytes = self.blobs.get(digest).cloned().unwrap_or_default();
        let key = digest.to_string();
        // In chunks of 4 bytes, as a network body arrives in pieces.
        let chunks: Vec<Bytes> = bytes.chunks(4).map(Bytes::copy_from_slice).collect();
        Ok(Box::pin(futures_util::stream::iter(chunks).then(
            move |chunk| {
                let key = key.clone();
                async move {
                    shuffle(&key).await;
                    Ok(chunk)
                }
            },
        )))
    }
}

/// Holds what was written; refuses a manifest that names anything it does not hold.
#[derive(Default)]
struct CheckingSink {
    held: Mutex<HashSet<String>>,
    manifests_written: AtomicUsize,
}

impl CheckingSink {
    fn holds(&self, digest: &str) -> bool {
        self.held
            .lock()
            .map(|h| h.contains(digest))
            .unwrap_or(false)
    }
}

impl Sink for CheckingSink {
    async fn has_blob(&self, _repo: &ImageRef, digest: &Digest) -> Result<bool> {
        Ok(self.holds(digest.as_str()))
    }

    async fn put_blob(
        &self,
        _repo: &ImageRef,
        digest: &Digest,
        _size: u64,
        mut stream: BlobStream,
    ) -> Result<()> {
        use futures_util::StreamExt;
        while let Some(chunk) = stream.next().await {
            chunk?;
        }
        shuffle(digest.as_str()).await;
        if let Ok(mut held) = self.held.lock() {
            held.insert(digest.to_string());
        }
        Ok(())
    }

    async fn put_manifest(&self, target: &ImageRef, manifest: &Manifest) -> Result<()> {
        let value: Value = serde_json::from_slice(&manifest.bytes).unwrap_or_default();
        let named = value
            .get("config")
            .into_iter()
            .chain(value["layers"].as_array().into_iter().flatten())
            .chain(value["manifests"].as_array().into_iter().flatten());
        for descriptor in named {
            let d = descriptor["digest"].as_str().unwrap_or_default();
            if !self.holds(d) {
                return Err(Error::Malformed {
                    what: target.to_string(),
                    reason: format!("written before its content {d}"),
                });
            }
        }
        shuffle(manifest.digest.as_str()).await;
        if let Ok(mut held) = self.held.lock()
            && held.insert(manifest.digest.to_string())
        {
            self.manifests_written.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[tokio::test]
async fn concurrent_walks_over_shared_content_never_write_a_manifest_early() {
    let mut source = MemorySource::default();
    let children: Vec<(Digest, usize)> = (0..4).map(|i| source.add_image(&i.to_string())).collect();
    let entries: Vec<Value> = children
        .iter()
        .map(|(d, size)| json!({"mediaType": media_types::OCI_MANIFEST, "digest": d, "size": size}))
        .collect();
    let index =
        json!({"schemaVersion": 2, "mediaType": media_types::OCI_INDEX, "manifests": entries});
    let (index_digest, _) = source.add_manifest(&index, media_types::OCI_INDEX);
    source.tags.insert("v1".into(), index_digest.clone());

    let repo = ImageRef::parse("127.0.0.1:5000/team/app:v1").expect("reference");
    let mut refs = vec![repo.clone(), repo.clone()];
    refs.extend(children.iter().map(|(d, _)| repo.with_digest(d)));
    refs.push(repo.clone());

    let sink = CheckingSink::default();
    let transfer = Transfer::new(&source, &sink, TransferOptions::default(), &NoProgress);
    let results = join_all(refs.iter().map(|r| transfer.copy_image(r, r))).await;
    for result in results {
        result.expect("every walk succeeds, none writes a manifest before its content");
    }
    // The index and its four children, each written once.
    assert_eq!(sink.manifests_written.load(Ordering::Relaxed), 5);
    assert!(sink.holds(index_digest.as_str()));
    assert_eq!(transfer.summary().images, refs.len() as u64);
}

#[tokio::test]
async fn attachments_are_tagged_after_their_content_and_cycles_end() {
    let mut source = MemorySource::default();
    let (image, _) = source.add_image("signed");
    source.tags.insert("v1".into(), image.clone());
    let sig = source.attach(&image, "sig", "signature payload");
    let att = source.attach(&image, "att", "attestation payload");
    let sbom = source.attach(&image, "sbom", "sbom payload");
    let sbom_sig = source.attach(&sbom, "sig", "signature of the sbom");
    // The SBOM's own `.sbom` tag points back at itself: a cycle through tags.
    source
        .tags
        .insert(format!("{}.sbom", sbom.tag_form()), sbom.clone());
    // cosign never attaches to its signature images: this one is not followed.
    let ignored = source.attach(&sig, "sig", "signature of a signature");

    let repo = ImageRef::parse("127.0.0.1:5000/team/app:v1").expect("reference");
    let sink = CheckingSink::default();
    let transfer = Transfer::new(&source, &sink, TransferOptions::default(), &NoProgress);
    let refs = [repo.clone(), repo.with_digest(&image), repo.clone()];
    for result in join_all(refs.iter().map(|r| transfer.copy_image(r, r))).await {
        result.expect("every walk succeeds");
    }
    for digest in [&image, &sig, &att, &sbom, &sbom_sig] {
        assert!(sink.holds(digest.as_str()), "{digest} was not copied");
    }
    assert!(
        !sink.holds(ignored.as_str()),
        "a signature's signature was followed"
    );
    assert_eq!(sink.manifests_written.load(Ordering::Relaxed), 5);
}

#[tokio::test]
async fn a_failing_walk_fails_its_image_and_writes_nothing_above_the_failure() {
    let mut source = MemorySource::default();
    let (image, _) = source.add_image("broken");
    let (healthy, _) = source.add_image("healthy");
    // The broken image's layer is gone from the source.
    let layer = digest(b"layer broken");
    source.blobs.remove(&layer);
    let repo = ImageRef::parse("127.0.0.1:5000/team/app:v1").expect("reference");
    let sink = CheckingSink::default();
    let transfer = Transfer::new(&source, &sink, TransferOptions::default(), &NoProgress);
    let broken = repo.with_digest(&image);
    let fine = repo.with_digest(&healthy);
    let (bad, good) = futures_util::future::join(
        transfer.copy_image(&broken, &broken),
        transfer.copy_image(&fine, &fine),
    )
    .await;
    assert!(bad.is_err(), "a missing layer must fail the image");
    good.expect("the other image is unaffected");
    assert!(
        !sink.holds(image.as_str()),
        "a manifest was written without its layer"
    );
    assert!(sink.holds(healthy.as_str()));
}

/// A source that answers every `.sbom` probe with a new manifest: an endless chain of
/// attachments that never repeats a digest.
struct InventingSource(MemorySource, Mutex<HashMap<Digest, Manifest>>);

impl Source for InventingSource {
    async fn get_manifest(&self, image: &ImageRef) -> Result<Option<Manifest>> {
        if let Some(found) = self.0.lookup(image) {
            return Ok(Some(found));
        }
        if let Some(d) = image.digest() {
            return Ok(self.1.lock().ok().and_then(|m| m.get(d).cloned()));
        }
        let Some(tag) = image.tag().filter(|t| t.ends_with(".sbom")) else {
            return Ok(None);
        };
        let value = json!({
            "schemaVersion": 2,
            "mediaType": media_types::OCI_MANIFEST,
            "config": {"mediaType": "application/octet-stream", "digest": digest(b"{}"), "size": 2},
            "layers": [],
            "annotations": {"invented-for": tag},
        });
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        let manifest = Manifest {
            digest: digest(&bytes),
            bytes: Bytes::from(bytes),
            media_type: media_types::OCI_MANIFEST.into(),
        };
        if let Ok(mut invented) = self.1.lock() {
            invented.insert(manifest.digest.clone(), manifest.clone());
        }
        Ok(Some(manifest))
    }

    async fn get_blob(&self, repo: &ImageRef, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        self.0.get_blob(repo, digest, max).await
    }

    async fn open_blob(&self, repo: &ImageRef, digest: &Digest) -> Result<BlobStream> {
        self.0.open_blob(repo, digest).await
    }
}

#[tokio::test]
async fn a_source_that_invents_attachments_is_stopped() {
    let mut inner = MemorySource::default();
    let (image, _) = inner.add_image("endless");
    inner.add_blob(b"{}");
    let source = InventingSource(inner, Mutex::default());
    let repo = ImageRef::parse("127.0.0.1:5000/team/app").expect("reference");
    let target = repo.with_digest(&image);
    let sink = CheckingSink::default();
    let transfer = Transfer::new(&source, &sink, TransferOptions::default(), &NoProgress);
    let error = transfer
        .copy_image(&target, &target)
        .await
        .expect_err("an endless chain must end in an error");
    assert!(error.to_string().contains("nested"), "{error}");
}

/// Wraps a [`MemorySource`], counting manifest requests (GET and HEAD) per reference and the
/// most in flight at once, and answering the referrers API from `referrers`.
#[derive(Default)]
struct CountingSource {
    inner: MemorySource,
    referrers: HashMap<Digest, Vec<Digest>>,
    requests: Mutex<HashMap<String, usize>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl CountingSource {
    async fn counted<T>(&self, what: String, answer: T) -> T {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry(what.clone()).or_default() += 1;
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        shuffle(&what).await;
        tokio::task::yield_now().await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        answer
    }

    /// Manifest GETs of `digest`.
    fn fetches_of(&self, digest: &Digest) -> usize {
        let requests = self.requests.lock().expect("requests");
        requests
            .iter()
            .filter(|(k, _)| k.starts_with("GET ") && k.ends_with(digest.as_str()))
            .map(|(_, n)| n)
            .sum()
    }

    fn total_requests(&self) -> usize {
        self.requests.lock().expect("requests").values().sum()
    }
}

impl Source for CountingSource {
    async fn get_manifest(&self, image: &ImageRef) -> Result<Option<Manifest>> {
        Ok(self
            .counted(format!("GET {image}"), self.inner.lookup(image))
            .await)
    }

    async fn head_manifest(&self, image: &ImageRef) -> Result<Option<Digest>> {
        let found = self.inner.lookup(image).map(|m| m.digest);
        Ok(self.counted(format!("HEAD {image}"), found).await)
    }

    async fn referrers(&self, image: &ImageRef) -> Result<Vec<Digest>> {
        let found = image
            .digest()
            .and_then(|d| self.referrers.get(d).cloned())
            .unwrap_or_default();
        Ok(self.counted(format!("REFERRERS {image}"), found).await)
    }

    async fn get_blob(&self, repo: &ImageRef, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        self.inner.get_blob(repo, digest, max).await
    }

    async fn open_blob(&self, repo: &ImageRef, digest: &Digest) -> Result<BlobStream> {
        self.inner.open_blob(repo, digest).await
    }
}

fn index_of(children: &[(Digest, usize)]) -> Value {
    let entries: Vec<Value> = children
        .iter()
        .map(|(d, size)| json!({"mediaType": media_types::OCI_MANIFEST, "digest": d, "size": size}))
        .collect();
    json!({"schemaVersion": 2, "mediaType": media_types::OCI_INDEX, "manifests": entries})
}

fn options(concurrency: usize) -> TransferOptions {
    TransferOptions {
        concurrency,
        ..TransferOptions::default()
    }
}

#[tokio::test]
async fn a_child_listed_ten_thousand_times_is_fetched_once() {
    let mut source = CountingSource::default();
    let child = source.inner.add_image("repeated");
    let index = index_of(&vec![child.clone(); 10_000]);
    let (index, _) = source.inner.add_manifest(&index, media_types::OCI_INDEX);
    let repo = ImageRef::parse("127.0.0.1:5000/team/app").expect("reference");
    let sink = CheckingSink::default();
    let transfer = Transfer::new(&source, &sink, options(1), &NoProgress);
    let image = repo.with_digest(&index);
    transfer.copy_image(&image, &image).await.expect("copied");
    assert!(sink.holds(index.as_str()) && sink.holds(child.0.as_str()));
    assert_eq!(
        source.fetches_of(&child.0),
        1,
        "the child's manifest is fetched once"
    );
    // The index, its child, and each one's three attachment probes and referrers question.
    assert!(
        source.total_requests() <= 10,
        "{} requests",
        source.total_requests()
    );
}

#[tokio::test]
async fn requests_in_flight_never_exceed_the_concurrency() {
    let mut source = CountingSource::default();
    let children: Vec<(Digest, usize)> = (0..200)
        .map(|i| source.inner.add_image(&format!("child {i}")))
        .collect();
    let (index, _) = source
        .inner
        .add_manifest(&index_of(&children), media_types::OCI_INDEX);
    let repo = ImageRef::parse("127.0.0.1:5000/team/app").expect("reference");
    for concurrency in [1, 3] {
        let sink = CheckingSink::default();
        source.most_in_flight.store(0, Ordering::SeqCst);
        let transfer = Transfer::new(&source, &sink, options(concurrency), &NoProgress);
        let image = repo.with_digest(&index);
        transfer.copy_image(&image, &image).await.expect("copied");
        assert!(children.iter().all(|(d, _)| sink.holds(d.as_str())));
        let most = source.most_in_flight.load(Ordering::SeqCst);
        assert!(
            most <= concurrency,
            "{most} requests in flight with --concurrency {concurrency}"
        );
    }
}

#[tokio::test]
async fn deep_indexes_and_referrer_floods_are_refused() {
    // 200 indexes, each listing the next: refused at the depth limit, long before the bottom.
    let mut source = CountingSource::default();
    let mut below = source.inner.add_image("bottom");
    for _ in 0..200 {
        below = source
            .inner
            .add_manifest(&index_of(&[below]), media_types::OCI_INDEX);
    }
    let repo = ImageRef::parse("127.0.0.1:5000/team/app").expect("reference");
    let sink = CheckingSink::default();
    let transfer = Transfer::new(&source, &sink, options(4), &NoProgress);
    let top = repo.with_digest(&below.0);
    let error = transfer.copy_image(&top, &top).await.expect_err("refused");
    assert!(error.to_string().contains("nested more than"), "{error}");
    assert!(
        source.total_requests() <= 2 * super::MAX_INDEX_DEPTH,
        "{} requests",
        source.total_requests()
    );

    // A subject with 5,000 referrers: refused with the count, none of them fetched.
    let mut source = CountingSource::default();
    let (image, _) = source.inner.add_image("popular");
    let flood: Vec<Digest> = (0..5000)
        .map(|i| digest(format!("referrer {i}").as_bytes()))
        .collect();
    source.referrers.insert(image.clone(), flood);
    let sink = CheckingSink::default();
    let transfer = Transfer::new(&source, &sink, options(4), &NoProgress);
    let subject = repo.with_digest(&image);
    let error = transfer
        .copy_image(&subject, &subject)
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("5000 referrers"), "{error}");
    assert!(source.total_requests() <= 10, "{}", source.total_requests());
}

/// Records progress events in order.
#[derive(Default)]
struct Recorder {
    events: Arc<Mutex<Vec<String>>>,
}

impl Progress for Recorder {
    fn blob_started(&self, digest: &Digest, size: u64) {
        self.events
            .lock()
            .unwrap()
            .push(format!("start {digest} {size}"));
    }
    fn blob_finished(&self, digest: &Digest, _size: u64) {
        self.events.lock().unwrap().push(format!("end {digest}"));
    }
    fn image_done(&self, image: &str, digest: &Digest) {
        self.events
            .lock()
            .unwrap()
            .push(format!("image {image} {digest}"));
    }
    fn meter(&self) -> Option<crate::Meter> {
        let events = self.events.clone();
        Some(Arc::new(move |n| {
            events.lock().unwrap().push(format!("bytes {n}"))
        }))
    }
}

/// A blob's bytes are counted as they stream, between its start and its end, so a large layer
/// shows progress before it is complete; the image is reported once, when done.
#[tokio::test]
async fn bytes_are_metered_as_blobs_stream() {
    let mut source = MemorySource::default();
    let (image, _) = source.add_image("metered with a layer of several chunks");
    source.tags.insert("v1".into(), image.clone());
    let layer = digest(b"layer metered with a layer of several chunks");
    let repo = ImageRef::parse("127.0.0.1:5000/team/app:v1").expect("reference");
    let sink = CheckingSink::default();
    let recorder = Recorder::default();
    let transfer = Transfer::new(&source, &sink, TransferOptions::default(), &recorder);
    transfer.copy_image(&repo, &repo).await.expect("copied");
    let events = recorder.events.lock().unwrap().clone();
    let start = events
        .iter()
        .position(|e| e.starts_with(&format!("start {layer}")))
        .expect("the layer started");
    let end = events
        .iter()
        .position(|e| *e == format!("end {layer}"))
        .expect("the layer ended");
    // Several meter calls for this blob in between (another blob may interleave: count them
    // all; the layer alone is 44 bytes, 11 chunks).
    let metered: Vec<u64> = events[start..end]
        .iter()
        .filter_map(|e| e.strip_prefix("bytes ")?.parse().ok())
        .collect();
    assert!(metered.len() >= 11, "{events:?}");
    assert_eq!(
        events.iter().filter(|e| e.starts_with("image ")).count(),
        1,
        "{events:?}"
    );
    assert_eq!(events.last().unwrap(), &format!("image {repo} {image}"));
}
