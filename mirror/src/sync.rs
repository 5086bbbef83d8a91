//! `sync CONFIG`: declarative mirroring, admitted only when verified. A sync file names sources
//! (registry repositories, with which tags to take) each with a [`Policy`], and targets (stores,
//! registry prefixes, OCI layout folders). Every selected image is pulled first into a staging
//! store beside the sync file, verified there against its source's policy, and only then copied
//! from the staging store to each target: the bytes that verified are the bytes written, and an
//! image that fails its policy reaches no target (no tag, no manifest). Staging persists, so a
//! re-run (or a run after a kill) moves only what changed.
//!
//! The format (YAML or JSON; paths relative to the file):
//!
//! ```yaml
//! staging: .sigmirror-sync        # where unverified content waits (this default)
//! sources:
//!   - repository: registry.example:5000/team/app
//!     tags: [v1.0.0, v1.1.0]      # these tags (default: every image tag, as `pull REPO`)
//!     include: '^v\d+\.\d+\.\d+$' # keep tags that match (regular expression)
//!     exclude: '-rc'              # drop tags that match
//!     semver: '>=1.0, <2'         # keep tags that are versions in this range (a leading v is fine)
//!     newest: 5                   # keep the 5 newest, by version order
//!     digests: [sha256:…]         # also these digests
//!     policy:                     # inline, as `store verify --policy` files; or a file name
//!       keys: {release: release.pub}
//!       attestations: [https://slsa.dev/provenance/v1]
//! targets:
//!   - store: ./mirror
//!   - registry: mirror.site:5000/mirror   # each image under this prefix, as `push --to`
//!   - layout: ./carry                     # an OCI layout, as `save`
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sigmirror_oci::attachment::is_attached_tag;
use sigmirror_oci::{Digest, ImageRef};
use sigmirror_registry::{NoProgress, Progress, Registry, Transfer, TransferOptions};
use sigmirror_store::Store;

use crate::error::{Error, Result};
use crate::ops::{Pulled, Stored, store_images};
use crate::policy::Policy;
use crate::store_sink::BlockingStore;

/// A sync file's problem.
fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SyncFile {
    #[serde(default)]
    staging: Option<String>,
    sources: Vec<SourceSpec>,
    targets: Vec<TargetSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SourceSpec {
    repository: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    include: Option<String>,
    #[serde(default)]
    exclude: Option<String>,
    #[serde(default)]
    semver: Option<String>,
    #[serde(default)]
    newest: Option<usize>,
    #[serde(default)]
    digests: Vec<String>,
    policy: serde_json::Value,
}

/// Where verified images go.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Target {
    /// A store folder.
    Store(PathBuf),
    /// A registry prefix: each image keeps its repository path under it (as `push --to`).
    Registry(String),
    /// An OCI layout folder (as `save`).
    Layout(PathBuf),
}

type TargetSpec = Target;

/// Which tags of a repository to take.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Exactly these tags (empty: every image tag).
    pub tags: Vec<String>,
    /// Keep tags that match.
    pub include: Option<regex::Regex>,
    /// Drop tags that match.
    pub exclude: Option<regex::Regex>,
    /// Keep tags that are versions in this range.
    pub semver: Option<semver::VersionReq>,
    /// Keep this many, the newest by version order.
    pub newest: Option<usize>,
}

/// One source: a repository, what to take of it, and what it must satisfy.
#[derive(Debug, Clone)]
pub struct SyncSource {
    /// The repository (no tag).
    pub repository: ImageRef,
    /// Which tags.
    pub selection: Selection,
    /// Digests taken besides the tags.
    pub digests: Vec<Digest>,
    /// What each image must satisfy to reach the targets.
    pub policy: Policy,
}

/// A parsed sync file.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Where unverified content waits.
    pub staging: PathBuf,
    /// What to take.
    pub sources: Vec<SyncSource>,
    /// Where verified images go.
    pub targets: Vec<Target>,
}

/// A version's order key: a leading `v` dropped, then a semantic version if it is one.
fn version_of(tag: &str) -> Option<semver::Version> {
    let text = tag.strip_prefix('v').unwrap_or(tag);
    semver::Version::parse(text).ok().or_else(|| {
        // `1.2` and `1` as `1.2.0` and `1.0.0`.
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() < 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            let mut full = parts.clone();
            full.resize(3, "0");
            semver::Version::parse(&full.join(".")).ok()
        } else {
            None
        }
    })
}

impl Selection {
    /// The tags of `listed` this selection takes, in version order (tags that are not
    /// versions first, by name), and the tags it names that `listed` lacks.
    pub fn select(&self, listed: &[String]) -> (Vec<String>, Vec<String>) {
        let images: Vec<&String> = listed.iter().filter(|t| !is_attached_tag(t)).collect();
        let missing = self
            .tags
            .iter()
            .filter(|t| !images.contains(t))
            .cloned()
            .collect();
        let mut chosen: Vec<String> = images
            .into_iter()
            .filter(|t| self.tags.is_empty() || self.tags.contains(t))
            .filter(|t| self.include.as_ref().is_none_or(|r| r.is_match(t)))
            .filter(|t| !self.exclude.as_ref().is_some_and(|r| r.is_match(t)))
            .filter(|t| {
                self.semver
                    .as_ref()
                    .is_none_or(|req| version_of(t).is_some_and(|v| req.matches(&v)))
            })
            .cloned()
            .collect();
        chosen.sort_by(|a, b| version_of(a).cmp(&version_of(b)).then(a.cmp(b)));
        if let Some(n) = self.newest {
            let skip = chosen.len().saturating_sub(n);
            chosen.drain(..skip);
        }
        (chosen, missing)
    }
}

impl SyncConfig {
    /// Reads the sync file at `path`.
    pub fn load(path: &Path) -> Result<SyncConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| bad(path, e.to_string()))?;
        let value = sigmirror_oci::yaml::parse(&text).map_err(|e| bad(path, e))?;
        let file: SyncFile = serde_json::from_value(value).map_err(|e| bad(path, e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if file.sources.is_empty() || file.targets.is_empty() {
            return Err(bad(path, "it needs at least one source and one target"));
        }
        let regex = |what: &str, r: &Option<String>| {
            r.as_deref()
                .map(regex::Regex::new)
                .transpose()
                .map_err(|e| bad(path, format!("{what}: {e}")))
        };
        let mut sources = vec![];
        for spec in file.sources {
            let repository = ImageRef::parse(&spec.repository)
                .map_err(|e| bad(path, format!("source {}: {e}", spec.repository)))?;
            if repository.tag().is_some() || repository.digest().is_some() {
                return Err(bad(
                    path,
                    format!(
                        "source {}: a repository, without a tag or digest (use tags: or digests:)",
                        spec.repository
                    ),
                ));
            }
            let policy = match spec.policy {
                serde_json::Value::String(file) => Policy::load(&base.join(file))?,
                inline => Policy::from_value(inline, path)?,
            };
            let digests = spec
                .digests
                .iter()
                .map(|d| Digest::parse(d).map_err(|e| bad(path, format!("digest {d}: {e}"))))
                .collect::<Result<_>>()?;
            let semver = spec
                .semver
                .as_deref()
                .map(semver::VersionReq::parse)
                .transpose()
                .map_err(|e| bad(path, format!("semver: {e}")))?;
            sources.push(SyncSource {
                repository,
                selection: Selection {
                    tags: spec.tags,
                    include: regex("include", &spec.include)?,
                    exclude: regex("exclude", &spec.exclude)?,
                    semver,
                    newest: spec.newest,
                },
                digests,
                policy,
            });
        }
        let targets = file
            .targets
            .into_iter()
            .map(|t| match t {
                Target::Store(p) => Target::Store(base.join(p)),
                Target::Layout(p) => Target::Layout(base.join(p)),
                registry => registry,
            })
            .collect();
        let staging = base.join(file.staging.as_deref().unwrap_or(".sigmirror-sync"));
        Ok(SyncConfig {
            staging,
            sources,
            targets,
        })
    }
}

/// What became of one image.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The image (`registry/repo:tag` or `@digest`).
    pub image: String,
    /// Its digest, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// `copied`, `up-to-date`, `refused` (its policy) or `failed` (anything else).
    pub outcome: String,
    /// Why it was refused or failed; for `copied`, the signers that verified.
    #[serde(default)]
    pub details: Vec<String>,
}

/// A run's report: every image with its outcome, and the counts.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// Whether it was a dry run (nothing written to the targets).
    pub dry_run: bool,
    /// Every image, in the order of the sources.
    pub images: Vec<Entry>,
    /// Count per outcome.
    pub counts: BTreeMap<String, usize>,
}

impl Report {
    /// The images of this report that were refused or failed: what `--retry-failed` retries.
    pub fn unfinished(&self) -> Vec<String> {
        self.images
            .iter()
            .filter(|e| e.outcome == "refused" || e.outcome == "failed")
            .map(|e| e.image.clone())
            .collect()
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Verify, but write nothing to the targets.
    pub dry_run: bool,
    /// Transfers and verifications at once.
    pub concurrency: usize,
    /// Only these images (`--retry-failed`): each must belong to a source of the file.
    pub only: Option<Vec<String>>,
}

/// The images `source` selects from its repository's tags (and its digests), and the named
/// tags that are missing (each a failure).
async fn selected(registry: &Registry, source: &SyncSource) -> Result<(Vec<ImageRef>, Vec<Entry>)> {
    let repo = &source.repository;
    let mut images = vec![];
    let mut failures = vec![];
    let wants_tags = !source.selection.tags.is_empty()
        || source.selection.include.is_some()
        || source.selection.exclude.is_some()
        || source.selection.semver.is_some()
        || source.selection.newest.is_some()
        || source.digests.is_empty();
    if wants_tags {
        let listed = registry.list_tags(repo).await?.ok_or_else(|| {
            Error::from(sigmirror_oci::Error::NotFound {
                what: format!("repository {repo}"),
            })
        })?;
        let (chosen, missing) = source.selection.select(&listed);
        images.extend(chosen.iter().map(|t| repo.with_tag(t)));
        failures.extend(missing.into_iter().map(|t| Entry {
            image: repo.with_tag(&t).to_string(),
            digest: None,
            outcome: "failed".into(),
            details: vec![format!("tag {t} is not in {repo}")],
        }));
    }
    images.extend(source.digests.iter().map(|d| repo.with_digest(d)));
    Ok((images, failures))
}

fn entry(image: &str, digest: Option<Digest>, outcome: &str, details: Vec<String>) -> Entry {
    Entry {
        image: image.to_owned(),
        digest,
        outcome: outcome.to_owned(),
        details,
    }
}

/// Runs `config`: selects, pulls into staging, verifies, and copies what passed to every
/// target. The report lists every image in source order.
pub async fn sync(
    registry: &Registry,
    config: &SyncConfig,
    options: &SyncOptions,
    progress: &dyn Progress,
) -> Result<Report> {
    let mut report = Report {
        started_at: sigmirror_oci::timefmt::now_rfc3339(),
        dry_run: options.dry_run,
        ..Report::default()
    };
    let staging = Arc::new(Store::open(&config.staging)?);
    let transfer_options = TransferOptions {
        concurrency: options.concurrency,
        ..TransferOptions::default()
    };
    // (image, digest, source index) of what verified.
    let mut admitted: Vec<(ImageRef, Digest)> = vec![];
    for source in &config.sources {
        let (mut images, failures) = match selected(registry, source).await {
            Ok(found) => found,
            Err(e) => {
                let name = source.repository.to_string();
                report.images.push(entry(
                    &name,
                    None,
                    "failed",
                    vec![crate::error::full_message(&e)],
                ));
                continue;
            }
        };
        report.images.extend(failures);
        if let Some(only) = &options.only {
            images.retain(|i| only.contains(&i.to_string()));
        }
        if images.is_empty() {
            continue;
        }
        // Into staging: the transfer engine's incremental, crash-safe copy.
        let (_, stored) = copy_into_store(
            registry,
            staging.clone(),
            &images,
            &transfer_options,
            progress,
        )
        .await?;
        for (image, e) in stored.failed {
            report.images.push(entry(
                &image,
                None,
                "failed",
                vec![crate::error::full_message(&e)],
            ));
        }
        // The gate: each image against its source's policy, from staging.
        let names: Vec<String> = stored.stored.iter().map(|(i, _)| i.to_string()).collect();
        let checked =
            crate::audit::verify_store(&staging, &source.policy, &names, options.concurrency)?;
        let digests: BTreeMap<String, Digest> = stored
            .stored
            .iter()
            .map(|(i, d)| (i.to_string(), d.clone()))
            .collect();
        for c in checked {
            let digest = digests.get(&c.name).cloned();
            if c.record.verified {
                let image = ImageRef::parse(&c.name)?;
                admitted.push((image, c.record.digest.clone()));
                report
                    .images
                    .push(entry(&c.name, digest, "admitted", c.record.verified_by));
            } else {
                report
                    .images
                    .push(entry(&c.name, digest, "refused", c.record.reasons));
            }
        }
    }
    if !options.dry_run && !admitted.is_empty() {
        let written = copy_to_targets(
            registry,
            &staging,
            &config.targets,
            &admitted,
            &transfer_options,
        )
        .await?;
        for e in report.images.iter_mut().filter(|e| e.outcome == "admitted") {
            e.outcome = match written.get(&e.image) {
                Some(Err(reason)) => {
                    e.details = vec![reason.clone()];
                    "failed".into()
                }
                Some(Ok(true)) => "copied".into(),
                _ => "up-to-date".into(),
            };
        }
    }
    for e in &report.images {
        *report.counts.entry(e.outcome.clone()).or_default() += 1;
    }
    Ok(report)
}

/// Copies the admitted images from staging to every target. Per image: `Ok(true)` if some
/// target received anything new, `Ok(false)` if every target had it all, `Err` with the first
/// failure.
async fn copy_to_targets(
    registry: &Registry,
    staging: &Arc<Store>,
    targets: &[Target],
    admitted: &[(ImageRef, Digest)],
    options: &TransferOptions,
) -> Result<BTreeMap<String, std::result::Result<bool, String>>> {
    let mut outcome: BTreeMap<String, std::result::Result<bool, String>> = admitted
        .iter()
        .map(|(i, _)| (i.to_string(), Ok(false)))
        .collect();
    let images: Vec<ImageRef> = admitted.iter().map(|(i, _)| i.clone()).collect();
    let mut note = |image: &str, wrote: bool, error: Option<String>| {
        let slot = outcome.entry(image.to_owned()).or_insert(Ok(false));
        match (error, &slot) {
            (Some(e), Ok(_)) => *slot = Err(e),
            (None, Ok(before)) => *slot = Ok(*before || wrote),
            _ => {}
        }
    };
    for target in targets {
        // A store is copied into in one transfer, images walked at once; whether an image was
        // new there is whether the store held it, complete at that digest, before.
        if let Target::Store(dir) = target {
            let store = Arc::new(Store::open(dir)?);
            let mut held = BTreeMap::new();
            for (image, digest) in admitted {
                let name = image.to_string();
                let same = store
                    .image(&name)?
                    .is_some_and(|r| r.complete && r.digest == *digest);
                held.insert(name, same);
            }
            let (_, stored) =
                copy_into_store(&**staging, store, &images, options, &NoProgress).await?;
            let failed: BTreeMap<String, String> = stored
                .failed
                .into_iter()
                .map(|(image, e)| (image, crate::error::full_message(&e)))
                .collect();
            for (name, same) in held {
                match failed.get(&name) {
                    Some(e) => note(&name, false, Some(e.clone())),
                    None => note(&name, !same, None),
                }
            }
            continue;
        }
        // One transfer per image, so that what each wrote is its own count.
        for image in &images {
            let one = std::slice::from_ref(image);
            let batch = match target {
                Target::Store(_) => unreachable!("copied above"),
                Target::Registry(prefix) => {
                    let batch = crate::ops::push(
                        staging,
                        registry,
                        prefix,
                        one,
                        options.clone(),
                        &NoProgress,
                    )
                    .await?;
                    (batch.summary.manifests + batch.summary.blobs, batch.failed)
                }
                Target::Layout(dir) => {
                    let batch =
                        crate::ops::save(&**staging, dir, one, options.clone(), &NoProgress)
                            .await?;
                    (batch.summary.manifests + batch.summary.blobs, batch.failed)
                }
            };
            let (written, failed) = batch;
            match failed.into_iter().next() {
                Some((_, e)) => note(
                    &image.to_string(),
                    false,
                    Some(crate::error::full_message(&e)),
                ),
                None => note(&image.to_string(), written > 0, None),
            }
        }
    }
    Ok(outcome)
}

/// Copies `images` (same names at both ends) from `source` into `store`, walked
/// `options.concurrency` at a time and recorded as a pull records them; returns how many
/// manifests and blobs were written, and each image that failed.
pub(crate) async fn copy_into_store<S: sigmirror_oci::source::Source>(
    source: &S,
    store: Arc<Store>,
    images: &[ImageRef],
    options: &TransferOptions,
    progress: &dyn Progress,
) -> Result<(u64, Stored)> {
    let sink = BlockingStore::new(store.clone());
    store.set_provenance_to_repository();
    let transfer = Transfer::new(source, &sink, options.clone(), progress);
    let how = Pulled {
        no_layers: false,
        platform: None,
    };
    let stored = store_images(
        &transfer,
        &sink,
        &store,
        images,
        &how,
        options.concurrency,
        "copying",
    )
    .await?;
    let summary = transfer.summary();
    Ok((summary.manifests + summary.blobs, stored))
}
