//! `pull`, `push`, `load`, `save` and `copy` as library functions: names in, a transfer
//! [`Summary`] back, progress reported through the [`Progress`] the caller passes. Each is the
//! transfer engine with a different source and sink; what differs is which images are roots,
//! what they are called at the destination, and what is recorded about them.

use std::path::Path;
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use sigmirror_oci::attachment::{AttachmentKind, is_attached_tag};
use sigmirror_oci::source::{Sink, Source, resolve};
use sigmirror_oci::{Digest, ImageRef};
use sigmirror_registry::layout::{KIND_IMAGE, KIND_INDEX};
use sigmirror_registry::{Layout, Progress, Registry, Summary, Transfer, TransferOptions};
use sigmirror_store::{ImageRecord, Store};

use crate::error::{Error, Result};
use crate::store_sink::BlockingStore;

/// The tag a reference without tag or digest means.
pub fn with_default_tag(image: ImageRef) -> ImageRef {
    if image.tag().is_none() && image.digest().is_none() {
        image.with_tag("latest")
    } else {
        image
    }
}

/// `PREFIX/<repository>` with the image's tag or digest: where `push --to PREFIX` puts it.
pub fn under_prefix(prefix: &str, image: &ImageRef) -> Result<ImageRef> {
    let mut name = format!("{}/{}", prefix.trim_end_matches('/'), image.repository());
    if let Some(tag) = image.tag() {
        name.push(':');
        name.push_str(tag);
    } else if let Some(digest) = image.digest() {
        name.push('@');
        name.push_str(digest.as_str());
    }
    Ok(ImageRef::parse(&name)?)
}

/// What a command over several images did: the transfer's counters, and each image that
/// failed with its error (which names the image). Images that succeeded are kept whatever the
/// others did: one bad reference in a list of fifty must not cost the other forty-nine.
#[derive(Debug)]
pub struct Batch {
    /// The transfer's counters (of what succeeded, and what failed images wrote first).
    pub summary: Summary,
    /// How many images the command was given.
    pub total: usize,
    /// The images that failed, as given, each with its error (which names it too), in the
    /// order given.
    pub failed: Vec<(String, Error)>,
}

impl Batch {
    /// The summary if every image succeeded, else the first failure: for callers that want
    /// all or nothing.
    pub fn into_result(self) -> Result<Summary> {
        match self.failed.into_iter().next() {
            Some((_, first)) => Err(first),
            None => Ok(self.summary),
        }
    }
}

/// Copies each `(from, to)` pair, `at_once` images at a time, and returns each pair with its
/// outcome, in the order given: the digest it was copied at, or the error, which names its
/// image. The engine makes a walk that needs a manifest or blob another walk is copying wait
/// for it, so nothing is written before its content, and one image's failure does not stop
/// the others.
async fn copy_images<'i, S: Source, K: Sink>(
    transfer: &Transfer<'_, S, K>,
    pairs: &'i [(ImageRef, ImageRef)],
    at_once: usize,
    context: impl Fn(&ImageRef, &ImageRef) -> String,
) -> Vec<(&'i ImageRef, Result<Digest>)> {
    futures_util::stream::iter(pairs)
        .map(|(from, to)| {
            let context = context(from, to);
            async move {
                let outcome = transfer
                    .copy_image(from, to)
                    .await
                    .map_err(|e| Error::from(e).for_image(context));
                (from, outcome)
            }
        })
        .buffered(at_once.max(1))
        .collect()
        .await
}

/// How an image was transferred, for its record.
pub(crate) struct Pulled<'o> {
    pub(crate) no_layers: bool,
    pub(crate) platform: Option<&'o str>,
}

/// Records `name` in the store: incomplete before a transfer, complete after.
fn record(
    store: &Store,
    name: &ImageRef,
    digest: &Digest,
    complete: bool,
    how: &Pulled<'_>,
    source: &str,
) -> Result<()> {
    let record = ImageRecord::new(digest, complete, how.no_layers, source)
        .for_platform(how.platform.map(str::to_owned));
    Ok(store.record_image(&name.to_string(), record)?)
}

/// The images `requested` names: a reference with a tag or digest is itself; a repository
/// without either is every image tag it has (`tags/list`, every page; attachment and referrers
/// fallback tags are not images, they come with their subjects). Each repository listed is told
/// to `transfer`, which then finds attachments in the list instead of asking for each. A
/// repository that cannot be listed, or has no image tags, is a failure of its own.
async fn expand_repositories<K: Sink>(
    registry: &Registry,
    transfer: &Transfer<'_, Registry, K>,
    requested: Vec<ImageRef>,
) -> (Vec<ImageRef>, Vec<(String, Error)>) {
    let mut images = vec![];
    let mut failed = vec![];
    for image in requested {
        if image.tag().is_some() || image.digest().is_some() {
            images.push(image);
            continue;
        }
        let listed = match registry.list_tags(&image).await {
            Ok(Some(tags)) => tags,
            Ok(None) => {
                let missing = sigmirror_oci::Error::NotFound {
                    what: format!("repository {image}"),
                };
                failed.push((image.to_string(), Error::from(missing)));
                continue;
            }
            Err(e) => {
                let e = Error::from(e).for_image(format!("listing the tags of {image}"));
                failed.push((image.to_string(), e));
                continue;
            }
        };
        transfer.know_tags(&image, &listed);
        let before = images.len();
        images.extend(
            listed
                .iter()
                .filter(|tag| !is_attached_tag(tag))
                .map(|tag| image.with_tag(tag)),
        );
        if images.len() == before {
            let empty = sigmirror_oci::Error::NotFound {
                what: format!("an image tag in repository {image} (it has none)"),
            };
            failed.push((image.to_string(), Error::from(empty)));
        }
    }
    (images, failed)
}

/// Pulls each image's closure from its registry into the store, `options.concurrency` images
/// at a time; a repository named without a tag or digest is every image tag it has. An image already in the store is marked incomplete first, and marked complete
/// again once its closure is (attachments shared by two images are copied by one walk only,
/// which both wait for). Each manifest records the repository it was pulled from. Images that
/// fail are reported in the [`Batch`]; the others are kept.
pub async fn pull(
    registry: &Registry,
    store: Arc<Store>,
    images: &[ImageRef],
    options: TransferOptions,
    progress: &dyn Progress,
) -> Result<Batch> {
    let platform = options.platform.clone();
    let how = Pulled {
        no_layers: !options.layers,
        platform: platform.as_deref(),
    };
    if images.is_empty() {
        return Err(Error::NothingToDo("pull", " or give --from-file"));
    }
    let at_once = options.concurrency;
    let sink = BlockingStore::new(store.clone());
    store.set_provenance_to_repository();
    let transfer = Transfer::new(registry, &sink, options, progress);
    let (images, mut failed) = expand_repositories(registry, &transfer, images.to_vec()).await;
    let unlisted = failed.len();
    let stored = store_images(&transfer, &sink, &store, &images, &how, at_once, "pulling").await?;
    failed.extend(stored.failed);
    Ok(Batch {
        summary: transfer.summary(),
        total: images.len() + unlisted,
        failed,
    })
}

/// What [`store_images`] did: each image stored with its digest, and each failure.
pub(crate) struct Stored {
    pub(crate) stored: Vec<(ImageRef, Digest)>,
    pub(crate) failed: Vec<(String, Error)>,
}

/// Copies `images` (same names at both ends) through `transfer` into `store`, `at_once` at a
/// time: an image already in the store is marked incomplete first, and marked complete (with
/// `how`) once its closure is. `verb` names the work in errors (`pulling IMAGE`).
pub(crate) async fn store_images<S: Source>(
    transfer: &Transfer<'_, S, BlockingStore>,
    sink: &BlockingStore,
    store: &Store,
    images: &[ImageRef],
    how: &Pulled<'_>,
    at_once: usize,
    verb: &str,
) -> Result<Stored> {
    for image in images {
        if let Some(existing) = store.image(&image.to_string())? {
            let was = Pulled {
                no_layers: existing.no_layers,
                platform: existing.platform.as_deref(),
            };
            record(
                store,
                image,
                &existing.digest,
                false,
                &was,
                &image.repo_name(),
            )?;
        }
    }
    let pairs: Vec<(ImageRef, ImageRef)> = images.iter().map(|i| (i.clone(), i.clone())).collect();
    let copied = copy_images(transfer, &pairs, at_once, |image, _| {
        format!("{verb} {image}")
    })
    .await;
    sink.finish_writes().await;
    let mut out = Stored {
        stored: vec![],
        failed: vec![],
    };
    for (image, outcome) in copied {
        match outcome {
            Ok(digest) => {
                record(store, image, &digest, true, how, &image.repo_name())?;
                out.stored.push((image.clone(), digest));
            }
            Err(e) => out.failed.push((image.to_string(), e)),
        }
    }
    Ok(out)
}

/// Pushes images with everything attached from the store to `prefix`, each keeping its
/// repository path under it; every image of the store when `images` is empty.
pub async fn push(
    store: &Store,
    registry: &Registry,
    prefix: &str,
    images: &[ImageRef],
    options: TransferOptions,
    progress: &dyn Progress,
) -> Result<Batch> {
    let images: Vec<ImageRef> = if images.is_empty() {
        store
            .images()?
            .into_iter()
            .map(|(name, _)| ImageRef::parse(&name))
            .collect::<std::result::Result<_, _>>()?
    } else {
        images.iter().cloned().map(with_default_tag).collect()
    };
    if images.is_empty() {
        return Err(Error::NothingToDo("push", ": the store holds no images"));
    }
    let pairs = images
        .into_iter()
        .map(|image| {
            let target = under_prefix(prefix, &image)?;
            Ok((image, target))
        })
        .collect::<Result<Vec<_>>>()?;
    let total = pairs.len();
    // An image pulled for one platform cannot go to a registry: said per image, up front.
    let mut failed = vec![];
    let mut whole = vec![];
    for (image, target) in pairs {
        match store.image(&image.to_string())?.and_then(|r| r.platform) {
            Some(platform) => {
                let e = Error::PartialImage { platform };
                failed.push((
                    image.to_string(),
                    e.for_image(format!("pushing {image} to {target}")),
                ));
            }
            None => whole.push((image, target)),
        }
    }
    let at_once = options.concurrency;
    let transfer = Transfer::new(store, registry, options, progress);
    let pushed = copy_images(&transfer, &whole, at_once, |image, to| {
        format!("pushing {image} to {to}")
    })
    .await;
    failed.extend(
        pushed
            .into_iter()
            .filter_map(|(image, o)| Some((image.to_string(), o.err()?))),
    );
    Ok(Batch {
        summary: transfer.summary(),
        total,
        failed,
    })
}

/// The images a layout holds, as `(where in the layout, name to give it)`: every named entry
/// that is not an attachment, or, for a layout without names (`cosign save`), the entry marked
/// as its image, called `name`.
pub fn layout_roots(
    layout: &Layout,
    dir: &Path,
    name: Option<&ImageRef>,
) -> Result<Vec<(ImageRef, ImageRef)>> {
    let named: Vec<(String, Digest)> = layout
        .names()
        .into_iter()
        .filter(|(n, _)| n.contains('/') && !is_attachment_name(n))
        .collect();
    match (name, named.as_slice()) {
        (Some(image), _) => {
            let target = with_default_tag(image.clone());
            let root = layout
                .kinds()
                .into_iter()
                .find(|(k, _)| k == KIND_IMAGE || k == KIND_INDEX)
                .map(|(_, d)| d)
                .or_else(|| match named.as_slice() {
                    [(_, only)] => Some(only.clone()),
                    _ => None,
                })
                .ok_or_else(|| Error::NoImageInLayout {
                    dir: dir.to_path_buf(),
                    image: target.to_string(),
                })?;
            Ok(vec![(target.with_digest(&root), target)])
        }
        (None, []) => Err(Error::UnnamedLayout(dir.to_path_buf())),
        (None, named) => named
            .iter()
            .map(|(n, _)| {
                let image = ImageRef::parse(n)?;
                Ok((image.clone(), image))
            })
            .collect(),
    }
}

/// The image `verify --local-image DIR` checks, as cosign picks it: the entry marked as the
/// layout's image (or its only named image), by its digest, under its own name when the layout
/// gives it one (`sigmirror save`), else under a stand-in name (`cosign save` names nothing; its
/// attachments are found by their `kind`).
pub fn local_image_root(layout: &Layout, dir: &Path) -> Result<ImageRef> {
    let stand_in = ImageRef::parse("localhost/local-image")?;
    let Some((root, _)) = layout_roots(layout, dir, Some(&stand_in))?
        .into_iter()
        .next()
    else {
        return Err(Error::UnnamedLayout(dir.to_path_buf()));
    };
    let digest = root.digest().cloned();
    let named = layout
        .names()
        .into_iter()
        .find(|(n, d)| Some(d) == digest.as_ref() && n.contains('/') && !is_attachment_name(n));
    match (named, digest) {
        (Some((name, _)), Some(digest)) => Ok(ImageRef::parse(&name)?.with_digest(&digest)),
        _ => Ok(root),
    }
}

/// Whether a layout entry name is an attachment tag rather than an image.
fn is_attachment_name(name: &str) -> bool {
    let tag = name.rsplit_once(':').map_or(name, |(_, t)| t);
    AttachmentKind::parse_tag(tag).is_some()
}

/// Loads a layout's images (see [`layout_roots`]) with everything attached into the store,
/// `options.concurrency` images at a time, recording each as complete and as coming from the
/// layout as soon as it is in. The index is synced once at the end (a [`Store::batch`]), blobs
/// one by one as always; images walked at once let those syncs overlap.
pub async fn load(
    dir: &Path,
    store: Arc<Store>,
    name: Option<&ImageRef>,
    options: TransferOptions,
    progress: &dyn Progress,
) -> Result<Summary> {
    let layout = Layout::open(dir)?;
    let roots = layout_roots(&layout, dir, name)?;
    let source = format!("layout:{}", dir.display());
    store.set_provenance(&source);
    let at_once = options.concurrency.max(1);
    let platform = options.platform.clone();
    let how = Pulled {
        no_layers: false,
        platform: platform.as_deref(),
    };
    let sink = BlockingStore::new(store.clone());
    let transfer = Transfer::new(&layout, &sink, options, progress);
    let batch = store.batch();
    let loaded = futures_util::stream::iter(&roots)
        .map(|(from, to)| {
            let (transfer, store, source, how) = (&transfer, &store, &source, &how);
            async move {
                let digest = transfer
                    .copy_image(from, to)
                    .await
                    .map_err(|e| Error::from(e).for_image(format!("loading {to}")))?;
                record(store, to, &digest, true, how, source)
            }
        })
        .buffer_unordered(at_once)
        .try_collect::<()>()
        .await;
    sink.finish_writes().await;
    loaded?;
    batch.finish()?;
    Ok(transfer.summary())
}

/// Writes a layout's image with everything attached to `image` in a registry, as `cosign load
/// --dir DIR IMAGE` does: the layout's image (the entry cosign marks as its image, or its only
/// named image) under `image`, its signatures and attestations at the tags of its digest in
/// `image`'s repository, digests unchanged.
pub async fn load_to_registry(
    dir: &Path,
    registry: &Registry,
    image: &ImageRef,
    options: TransferOptions,
    progress: &dyn Progress,
) -> Result<Summary> {
    let layout = Layout::open(dir)?;
    let roots = layout_roots(&layout, dir, Some(image))?;
    let transfer = Transfer::new(&layout, registry, options, progress);
    for (from, to) in &roots {
        transfer.copy_image(from, to).await.map_err(|e| {
            Error::from(e).for_image(format!("loading {} into {to}", dir.display()))
        })?;
    }
    Ok(transfer.summary())
}

/// Saves images with everything attached from `source` into the layout at `dir` (created if
/// missing), cosign-compatible: each image is named, and the last one carries cosign's `kind`
/// annotations.
pub async fn save<S: Source>(
    source: &S,
    dir: &Path,
    images: &[ImageRef],
    options: TransferOptions,
    progress: &dyn Progress,
) -> Result<Batch> {
    let layout = Layout::create(dir)?;
    // index.json is written once, at the end, with every image that was saved (also when a
    // later one failed): rewriting it per manifest made large saves quadratic.
    layout.defer_index_writes();
    let transfer = Transfer::new(source, &layout, options, progress);
    let mut failed = vec![];
    for image in images {
        let name = with_default_tag(image.clone());
        let result = match transfer.copy_image(image, &name).await {
            Ok(digest) => layout.finish(&name, &digest).map_err(Error::from),
            Err(e) => Err(Error::from(e)),
        };
        if let Err(e) = result {
            failed.push((image.to_string(), e.for_image(format!("saving {image}"))));
        }
    }
    layout.write_pending()?;
    Ok(Batch {
        summary: transfer.summary(),
        total: images.len(),
        failed,
    })
}

/// What `copy` does besides copying.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// Overwrite a destination tag that points at another digest.
    pub force: bool,
    /// Copy only these attachments and leave the destination tag alone (cosign's `--only`).
    pub only: Option<Vec<AttachmentKind>>,
}

/// Copies an image with everything attached from one registry to another, digests unchanged.
/// A destination without tag or digest takes the source's tag.
pub async fn copy(
    registry: &Registry,
    from: &ImageRef,
    to: &ImageRef,
    copy: &CopyOptions,
    mut options: TransferOptions,
    progress: &dyn Progress,
) -> Result<Summary> {
    let mut to = to.clone();
    if to.tag().is_none() && to.digest().is_none() {
        to = to.with_tag(from.tag().unwrap_or("latest"));
    }
    if let Some(only) = &copy.only {
        options.attachments = only.clone();
    }
    let source_digest = resolve(registry, from).await?.digest;
    if to.tag().is_some() && !copy.force {
        let existing = registry.get_manifest(&to).await?;
        if existing.is_some_and(|e| e.digest != source_digest) {
            return Err(Error::DestinationExists(to.to_string()));
        }
    }
    let target = match copy.only {
        None => to.clone(),
        Some(_) => to.with_digest(&source_digest),
    };
    let transfer = Transfer::new(registry, registry, options, progress);
    transfer
        .copy_image(from, &target)
        .await
        .map_err(|e| Error::from(e).for_image(format!("copying {from} to {to}")))?;
    Ok(transfer.summary())
}
