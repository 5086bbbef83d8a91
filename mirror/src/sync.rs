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
use sigmirror_registry::{Layout, NoProgress, Progress, Registry, Transfer, TransferOptions};
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
    targets: Vec<Target>,
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
    /// Reads a report `write` wrote.
    pub fn read(path: &Path) -> Result<Report> {
        let text = std::fs::read(path).map_err(|e| bad(path, e.to_string()))?;
        serde_json::from_slice(&text).map_err(|e| bad(path, format!("not a sync report: {e}")))
    }

    /// Writes the report to `path` as pretty JSON, whole (never half); returns the JSON.
    pub fn write(&self, path: &Path) -> Result<String> {
        let json = serde_json::to_string_pretty(self).map_err(|e| bad(path, e.to_string()))?;
        sigmirror_oci::paths::write_atomic(path, json.as_bytes())
            .map_err(|e| bad(path, e.to_string()))?;
        Ok(json)
    }

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
    // What verified: (image, digest).
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

/// Copies the admitted images from staging to every target, each target in one transfer.
/// Per image: `Ok(true)` if some target did not hold it before, `Ok(false)` if every target
/// held it at that digest already, `Err` with the first failure.
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
    for target in targets {
        let held = held_by(registry, target, admitted).await?;
        let failed: Vec<(String, Error)> = match target {
            Target::Store(dir) => {
                let store = Arc::new(Store::open(dir)?);
                copy_into_store(&**staging, store, &images, options, &NoProgress)
                    .await?
                    .1
                    .failed
            }
            Target::Registry(prefix) => {
                crate::ops::push(
                    staging,
                    registry,
                    prefix,
                    &images,
                    options.clone(),
                    &NoProgress,
                )
                .await?
                .failed
            }
            Target::Layout(dir) => {
                crate::ops::save(&**staging, dir, &images, options.clone(), &NoProgress)
                    .await?
                    .failed
            }
        };
        let failed: BTreeMap<String, String> = failed
            .into_iter()
            .map(|(image, e)| (image, crate::error::full_message(&e)))
            .collect();
        for (name, was_held) in held {
            let slot = outcome.entry(name.clone()).or_insert(Ok(false));
            match (failed.get(&name), &slot) {
                (Some(e), Ok(_)) => *slot = Err(e.clone()),
                (None, Ok(before)) => *slot = Ok(*before || !was_held),
                _ => {}
            }
        }
    }
    Ok(outcome)
}

/// Per image, whether `target` holds it at its digest already, before the copy (for the
/// report's `up-to-date`).
async fn held_by(
    registry: &Registry,
    target: &Target,
    images: &[(ImageRef, Digest)],
) -> Result<BTreeMap<String, bool>> {
    let mut held = BTreeMap::new();
    match target {
        Target::Store(dir) => {
            let store = match dir.join("index").exists() {
                true => Some(Store::open_for_reading(
                    dir,
                    std::time::Duration::from_secs(10),
                )?),
                false => None,
            };
            for (image, digest) in images {
                let name = image.to_string();
                let same = match &store {
                    Some(store) => store
                        .image(&name)?
                        .is_some_and(|r| r.complete && r.digest == *digest),
                    None => false,
                };
                held.insert(name, same);
            }
        }
        Target::Registry(prefix) => {
            for (image, digest) in images {
                let copy = crate::ops::under_prefix(prefix, image)?;
                let same = registry.head_manifest(&copy).await? == Some(digest.clone());
                held.insert(image.to_string(), same);
            }
        }
        Target::Layout(dir) => {
            let names = match dir.join("index.json").exists() {
                true => Layout::open(dir)?.names(),
                false => vec![],
            };
            for (image, digest) in images {
                let name = image.to_string();
                let same = names.contains(&(name.clone(), digest.clone()));
                held.insert(name, same);
            }
        }
    }
    Ok(held)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn selections_filter_in_order_and_sort_by_version() {
        let digest = Digest::sha256_of(b"x");
        let listed = tags(&[
            "v1.10.0",
            "v1.2.0",
            "v1.9.0-rc1",
            "v2.0.0",
            "latest",
            "1.5",
            &format!("{}.sig", digest.tag_form()),
            &digest.tag_form(),
        ]);
        let all = Selection::default().select(&listed);
        // Attachment and referrers tags are not images; versions sort as versions
        // (v1.10.0 after v1.2.0), names that are not versions first.
        assert_eq!(
            all.0,
            tags(&["latest", "v1.2.0", "1.5", "v1.9.0-rc1", "v1.10.0", "v2.0.0"])
        );
        let re = |r: &str| Some(regex::Regex::new(r).unwrap());
        let pick = |selection: Selection| selection.select(&listed).0;
        assert_eq!(
            pick(Selection {
                include: re(r"^v\d"),
                exclude: re("-rc"),
                ..Selection::default()
            }),
            tags(&["v1.2.0", "v1.10.0", "v2.0.0"])
        );
        assert_eq!(
            pick(Selection {
                semver: Some(semver::VersionReq::parse(">=1.5, <2").unwrap()),
                ..Selection::default()
            }),
            tags(&["1.5", "v1.10.0"]),
            "a pre-release is outside a range that does not name it"
        );
        assert_eq!(
            pick(Selection {
                exclude: re("-rc"),
                newest: Some(2),
                ..Selection::default()
            }),
            tags(&["v1.10.0", "v2.0.0"])
        );
        let named = Selection {
            tags: tags(&["v2.0.0", "v3.0.0"]),
            ..Selection::default()
        }
        .select(&listed);
        assert_eq!(named, (tags(&["v2.0.0"]), tags(&["v3.0.0"])));
    }
}
