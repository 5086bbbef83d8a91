//! Choosing where read-only commands read from: the registry, with `--offline` the local
//! store, with `--local-image` an OCI layout (then no network connection is made at all).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use futures_util::StreamExt;
use sigmirror_mirror::AnySource;
use sigmirror_oci::ImageRef;
use sigmirror_store::Store;

use super::registry::RegistryArgs;

// `--store`: where the local mirror lives.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// The local mirror folder (default: $SIGMIRROR_STORE, else ~/.local/share/sigmirror/store).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
}

impl StoreArgs {
    /// The store folder, if it exists: where trusted roots and identities are read from
    /// without opening (or creating) the store.
    pub fn existing_dir(&self) -> Option<PathBuf> {
        self.store
            .clone()
            .or_else(sigmirror_store::default_store_dir)
            .filter(|d| d.is_dir())
    }

    /// Opens the store, creating it if needed (waiting briefly if another sigmirror process
    /// holds it): for commands that write.
    pub fn open(&self) -> Result<Store> {
        let (dir, wait) = self.dir_and_wait()?;
        Store::open_with_wait(&dir, wait)
            .with_context(|| format!("cannot open the store at {}", dir.display()))
    }

    /// Opens an existing store for a command that only reads: a folder holding no store is an
    /// error, and a store on write-protected media is read without a lock file (see
    /// [`Store::open_for_reading`]).
    pub fn open_for_reading(&self) -> Result<Store> {
        let (dir, wait) = self.dir_and_wait()?;
        // Every error of this open names the folder or file it is about.
        Store::open_for_reading(&dir, wait).context("cannot open the store")
    }

    /// Opens an existing store for `fsck`: as [`StoreArgs::open_for_reading`], but the index
    /// itself whenever no writer holds the store.
    pub fn open_for_checking(&self) -> Result<Store> {
        let (dir, wait) = self.dir_and_wait()?;
        Store::open_for_checking(&dir, wait).context("cannot open the store")
    }

    /// The store folder, and how long to wait for another sigmirror process to release it.
    fn dir_and_wait(&self) -> Result<(PathBuf, std::time::Duration)> {
        let dir = match &self.store {
            Some(dir) => dir.clone(),
            None => sigmirror_store::default_store_dir()
                .context("no store folder: pass --store DIR or set SIGMIRROR_STORE")?,
        };
        let wait = std::env::var("SIGMIRROR_LOCK_WAIT")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map_or(
                std::time::Duration::from_secs(10),
                std::time::Duration::from_secs,
            );
        Ok((dir, wait))
    }
}

// `--offline` and `--store`, for read-only commands.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args, Clone)]
pub struct OfflineArgs {
    /// Read from the local store only; make no network connection.
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

// The one image a read-only command looks at, and where it is read from.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args)]
pub struct ReadImageArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    offline: OfflineArgs,
    /// The image.
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

impl ReadImageArgs {
    /// The image reference and the source `--offline` selects.
    pub fn open(&self) -> Result<(ImageRef, AnySource)> {
        Ok((
            ImageRef::parse(&self.image)?,
            any_source(&self.offline, &self.registry)?,
        ))
    }
}

/// The source `--offline` selects: the store (no network at all) or the registries.
pub fn any_source(offline: &OfflineArgs, registry: &RegistryArgs) -> Result<AnySource> {
    Ok(if offline.offline {
        AnySource::Store(offline.store.open_for_reading()?)
    } else {
        AnySource::Registry(registry.registry()?)
    })
}

// `--local-image`, for `verify` and `verify-attestation`.
// (Plain comments: a flattened struct's doc comment would replace the about of the
// commands that flatten it, see `Command` in main.rs.)
#[derive(Debug, Args, Clone)]
pub struct VerifySourceArgs {
    /// Each IMAGE is an OCI layout folder (`cosign save`, `sigmirror save`): verify the image
    /// it holds, with the signatures or attestations saved with it; no network connection.
    #[arg(long, conflicts_with = "offline")]
    pub local_image: bool,
    /// Images verified at once (cosign's `--max-workers`).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_workers: usize,
    #[command(flatten)]
    pub offline: OfflineArgs,
}

/// One image checked by [`VerifySourceArgs::check_each`]: what to call it, the image as
/// named, and what its check gave.
pub struct Checked<T> {
    /// The reference, or with `--local-image` the folder as given (as cosign names it).
    pub label: String,
    /// The image.
    pub image: ImageRef,
    /// What the check gave.
    pub value: T,
}

/// The images a verify command checks, each with the source it is read from.
struct Targets {
    /// The references (or layout folders) that parsed, and those that did not.
    pub parsed: crate::exit::Parsed,
    /// The source of each of `parsed.images`, in the same order.
    pub sources: Vec<Arc<AnySource>>,
    /// What to call each of `parsed.images` in the `Verification for …` line: the reference,
    /// or the layout folder as given (as cosign does).
    pub labels: Vec<String>,
}

impl VerifySourceArgs {
    /// Checks each image `names` mean with `check` (the image and the source to read it
    /// from), `--max-workers` at a time; the outcomes in the order given, references that did
    /// not parse first, for [`crate::exit::report_each`].
    pub fn check_each<T, F, Fut>(
        &self,
        names: &[String],
        registry: &RegistryArgs,
        check: F,
    ) -> Result<Vec<(String, Result<Checked<T>>)>>
    where
        F: Fn(ImageRef, Arc<AnySource>) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let Targets {
            mut parsed,
            sources,
            labels,
        } = self.targets(names, registry)?;
        let images = std::mem::take(&mut parsed.images);
        let results: Vec<Result<T>> = super::registry::block_on(async {
            Ok(futures_util::stream::iter(
                images
                    .iter()
                    .zip(&sources)
                    .map(|(image, source)| check(image.clone(), source.clone())),
            )
            .buffered(self.max_workers.max(1))
            .collect()
            .await)
        })?;
        let mut outcomes = parsed.failures();
        outcomes.extend(images.into_iter().zip(labels).zip(results).map(
            |((image, label), result)| {
                let value = result.map(|value| Checked {
                    label: label.clone(),
                    image,
                    value,
                });
                (label, value)
            },
        ));
        Ok(outcomes)
    }

    /// The images `names` mean and their sources: the registry or the store, shared, or with
    /// `--local-image` each folder's layout, its image the one cosign would pick.
    fn targets(&self, names: &[String], registry: &RegistryArgs) -> Result<Targets> {
        self.refuse_cosigns_offline()?;
        if !self.local_image {
            let parsed = crate::exit::parse_each(names);
            let source = Arc::new(any_source(&self.offline, registry)?);
            let sources = vec![source; parsed.images.len()];
            let labels = parsed.images.iter().map(ToString::to_string).collect();
            return Ok(Targets {
                parsed,
                sources,
                labels,
            });
        }
        let mut targets = Targets {
            parsed: crate::exit::Parsed {
                images: vec![],
                bad: vec![],
            },
            sources: vec![],
            labels: vec![],
        };
        for dir in names {
            match local_image(Path::new(dir)) {
                Ok((image, source)) => {
                    targets.parsed.images.push(image);
                    targets.sources.push(Arc::new(source));
                    targets.labels.push(dir.clone());
                }
                Err(e) => targets.parsed.bad.push((dir.clone(), e)),
            }
        }
        Ok(targets)
    }
}

impl VerifySourceArgs {
    /// cosign's `verify --offline` means "no transparency-log lookups" and still reads the
    /// registry; here `--offline` reads the local store. So that a cosign command line cannot
    /// verify a store's copy by surprise, `--offline` needs the store named: `--store DIR` or
    /// `SIGMIRROR_STORE` (both sigmirror's own). Without either it is refused, saying so.
    fn refuse_cosigns_offline(&self) -> Result<()> {
        let named = self.offline.store.store.is_some()
            || std::env::var_os("SIGMIRROR_STORE").is_some_and(|v| !v.is_empty());
        if self.offline.offline && !named {
            anyhow::bail!(
                "--offline verifies from sigmirror's local store: name it with --store DIR or \
                 SIGMIRROR_STORE. (cosign's --offline, no transparency-log lookups, is what \
                 verify does here without it.)"
            );
        }
        Ok(())
    }
}

/// The image of the layout at `dir` (see [`sigmirror_mirror::ops::local_image_root`]) and the
/// layout to read it from.
fn local_image(dir: &Path) -> Result<(ImageRef, AnySource)> {
    let layout = sigmirror_registry::Layout::open(dir)
        .with_context(|| format!("--local-image: cannot open the layout {}", dir.display()))?;
    let image = sigmirror_mirror::ops::local_image_root(&layout, dir)?;
    Ok((image, AnySource::Layout(layout)))
}
