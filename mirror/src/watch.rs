//! `watch DIR`: a drop folder whose OCI layouts (folders, or `.tar` archives of one) are
//! imported into the store once complete, admitted only when their images satisfy a policy.
//!
//! An entry is complete when a marker `<entry>.ready` appears beside it, or when nothing in it
//! has changed for the settle time (its newest modification time is that old): a copy still
//! being written is never read. Each complete entry is loaded into a staging store
//! (`DIR/.sigmirror-watch/staging`), its images verified there, those that pass copied into the
//! store, and the entry moved to `DIR/done/` (every image passed) or `DIR/refused/` (any did
//! not, or the layout could not be read), with `<entry>.report.json` beside it. Everything up
//! to the move is idempotent, so an entry whose processing was cut short (a crash, a kill) is
//! simply processed again on the next start; none is lost, and loading the same images twice
//! changes nothing in the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sigmirror_registry::{Layout, NoProgress, TransferOptions};
use sigmirror_store::Store;

use crate::error::{Error, Result};
use crate::ops::layout_roots;
use crate::policy::Policy;

/// Where processed entries go, and the watcher's own state, inside the drop folder.
pub const DONE: &str = "done";
/// Entries with a refused or unreadable image.
pub const REFUSED: &str = "refused";
/// The watcher's state (staging store, unpacked archives).
pub const STATE: &str = ".sigmirror-watch";
/// The suffix of an entry's "complete" marker.
pub const MARKER_SUFFIX: &str = ".ready";

/// What happened to one entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryReport {
    /// The entry's name in the drop folder.
    pub entry: String,
    /// When it was processed (RFC 3339).
    pub processed_at: String,
    /// `done` or `refused`.
    pub outcome: String,
    /// Why the layout as a whole could not be imported (unreadable, corrupt, no image names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Each image: `loaded` or `refused`, with the signers or the reasons.
    pub images: Vec<crate::sync::Entry>,
}

/// The newest modification time of `path` and everything under it (symbolic links are not
/// followed).
fn newest_change(path: &Path) -> std::io::Result<SystemTime> {
    let meta = std::fs::symlink_metadata(path)?;
    let mut newest = meta.modified()?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            newest = newest.max(newest_change(&entry?.path())?);
        }
    }
    Ok(newest)
}

/// Whether `name` in the drop folder is an entry (not the watcher's own folders, a marker, a
/// report or a hidden file).
fn is_entry(dir: &Path, name: &str) -> bool {
    !(name.starts_with('.')
        || name == DONE
        || name == REFUSED
        || name.ends_with(MARKER_SUFFIX)
        || name.ends_with(".report.json"))
        && (dir.join(name).is_dir() || name.ends_with(".tar"))
}

/// The entries of `dir`, sorted: each with whether it is complete now (a marker, or no change
/// for `settle`).
pub fn entries(dir: &Path, settle: Duration) -> Result<Vec<(PathBuf, bool)>> {
    let io = |e: std::io::Error| Error::Config {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    };
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_entry(dir, &name) {
            continue;
        }
        let path = entry.path();
        let marked = dir.join(format!("{name}{MARKER_SUFFIX}")).exists();
        let settled = newest_change(&path)
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= settle);
        out.push((path, marked || settled));
    }
    out.sort();
    Ok(out)
}

/// A place under the state folder for this entry's unpacked archive, emptied first.
fn unpack(archive: &Path, state: &Path) -> std::result::Result<PathBuf, String> {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = state.join("unpacked").join(name.trim_end_matches(".tar"));
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|e| crate::error::full_message(&e))?;
    }
    std::fs::create_dir_all(&target).map_err(|e| crate::error::full_message(&e))?;
    let file = std::fs::File::open(archive).map_err(|e| crate::error::full_message(&e))?;
    let mut tar = tar::Archive::new(file);
    // Entries may not leave the folder (`unpack_in` refuses `..` and absolute paths); links in
    // the layout are refused when it is read.
    for item in tar
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?
    {
        let mut item = item.map_err(|e| format!("damaged tar archive: {e}"))?;
        // A layout is folders and regular files; a link in an archive could make a later
        // entry land outside the folder, or the layout read something else.
        let kind = item.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            return Err(format!(
                "the archive holds {}, which is not a file or folder ({kind:?}); a layout has none",
                item.path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
        let inside = item
            .unpack_in(&target)
            .map_err(|e| format!("cannot unpack: {e}"))?;
        if !inside {
            return Err(format!(
                "the archive has a path outside its folder: {}",
                item.path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
    }
    // `tar` of a folder often holds it under its own name: the layout is where oci-layout is.
    if !target.join("oci-layout").exists()
        && let Ok(mut inner) = std::fs::read_dir(&target)
        && let Some(Ok(only)) = inner.next()
        && inner.next().is_none()
        && only.path().join("oci-layout").exists()
    {
        return Ok(only.path());
    }
    Ok(target)
}

/// A free name for `name` in `folder`: itself, else with a number. (Only the entry counts: a
/// report without its entry is one a run cut short wrote, and is written again.)
fn free_name(folder: &Path, name: &str) -> PathBuf {
    let taken = |n: &str| folder.join(n).exists();
    if !taken(name) {
        return folder.join(name);
    }
    (2..)
        .map(|n| format!("{name}.{n}"))
        .find(|candidate| !taken(candidate))
        .map(|candidate| folder.join(candidate))
        .expect("some number is free")
}

/// Imports the complete entry `path` of the drop folder `dir` into `store` under `policy`,
/// then moves it (and its marker) to `done/` or `refused/` with its report.
pub async fn process(
    dir: &Path,
    path: &Path,
    store: Arc<Store>,
    policy: &Policy,
    options: &TransferOptions,
) -> Result<EntryReport> {
    let state = dir.join(STATE);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut report = EntryReport {
        entry: name.clone(),
        processed_at: sigmirror_oci::timefmt::now_rfc3339(),
        outcome: DONE.into(),
        error: None,
        images: vec![],
    };
    match import(path, &state, store, policy, options).await {
        Ok(images) => report.images = images,
        Err(reason) => report.error = Some(reason),
    }
    if report.error.is_some() || report.images.iter().any(|i| i.outcome != "loaded") {
        report.outcome = REFUSED.into();
    }
    // Moved last: until then the entry is where it was, and a restart processes it again.
    let folder = dir.join(&report.outcome);
    std::fs::create_dir_all(&folder).map_err(|e| Error::Config {
        path: folder.clone(),
        reason: e.to_string(),
    })?;
    let destination = free_name(&folder, &name);
    let moved_name = destination
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or(name.clone());
    let report_file = folder.join(format!("{moved_name}.report.json"));
    let json = serde_json::to_vec_pretty(&report).map_err(|e| Error::Config {
        path: report_file.clone(),
        reason: e.to_string(),
    })?;
    let move_err = |e: std::io::Error| Error::Config {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    sigmirror_oci::paths::write_atomic(&report_file, &json).map_err(move_err)?;
    std::fs::rename(path, &destination).map_err(move_err)?;
    let marker = dir.join(format!("{name}{MARKER_SUFFIX}"));
    if marker.exists() {
        std::fs::rename(&marker, folder.join(format!("{moved_name}{MARKER_SUFFIX}")))
            .map_err(move_err)?;
    }
    Ok(report)
}

/// Loads the entry into staging, verifies each image, copies the passing ones into `store`.
/// `Err` is why the layout as a whole could not be imported.
async fn import(
    path: &Path,
    state: &Path,
    store: Arc<Store>,
    policy: &Policy,
    options: &TransferOptions,
) -> std::result::Result<Vec<crate::sync::Entry>, String> {
    let layout_dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        unpack(path, state)?
    };
    let staging =
        Arc::new(Store::open(state.join("staging")).map_err(|e| crate::error::full_message(&e))?);
    let layout = Layout::open(&layout_dir).map_err(|e| crate::error::full_message(&e))?;
    let names: Vec<String> = layout_roots(&layout, &layout_dir, None)
        .map_err(|e| crate::error::full_message(&e))?
        .into_iter()
        .map(|(_, to)| to.to_string())
        .collect();
    crate::ops::load(
        &layout_dir,
        staging.clone(),
        None,
        options.clone(),
        &NoProgress,
    )
    .await
    .map_err(|e| crate::error::full_message(&e))?;
    let checked = crate::audit::verify_store(&staging, policy, &names, options.concurrency)
        .map_err(|e| crate::error::full_message(&e))?;
    let mut images = vec![];
    let mut passing = vec![];
    for c in checked {
        if c.record.verified {
            passing.push(
                sigmirror_oci::ImageRef::parse(&c.name)
                    .map_err(|e| crate::error::full_message(&e))?,
            );
            images.push(crate::sync::Entry {
                image: c.name,
                digest: Some(c.record.digest),
                outcome: "loaded".into(),
                details: c.record.verified_by,
            });
        } else {
            images.push(crate::sync::Entry {
                image: c.name,
                digest: Some(c.record.digest),
                outcome: "refused".into(),
                details: c.record.reasons,
            });
        }
    }
    if !passing.is_empty() {
        let (_, stored) =
            crate::sync::copy_into_store(&*staging, store, &passing, options, &NoProgress)
                .await
                .map_err(|e| crate::error::full_message(&e))?;
        for (image, e) in stored.failed {
            if let Some(entry) = images.iter_mut().find(|i| i.image == image) {
                entry.outcome = "failed".into();
                entry.details = vec![crate::error::full_message(&e)];
            }
        }
    }
    Ok(images)
}
