//! A picture of the store's index as the registry serves it, read as every reader reads the
//! store (see `Store::open_for_reading`: never waiting for a writer), and retaken when the
//! store changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use sigmirror_oci::Digest;
use sigmirror_store::Store;

use crate::names::{is_valid_tag, served_name};

/// One served repository.
#[derive(Debug, Clone, Default)]
pub struct Repository {
    /// Every tag, attachment tags (`sha256-<hex>.sig`) included, as a registry lists them.
    pub tags: BTreeMap<String, Digest>,
    /// The manifests stored under it.
    pub manifests: BTreeSet<Digest>,
}

/// A stored manifest's media type and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The media type it was stored with.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The picture.
#[derive(Debug, Default)]
pub struct Picture {
    /// Served name → repository.
    pub repos: BTreeMap<String, Repository>,
    /// Every manifest the store records.
    pub manifests: HashMap<Digest, Stored>,
    /// `(served name, subject)` → the OCI 1.1 referrers stored under that repository.
    pub referrers: HashMap<(String, Digest), Vec<Digest>>,
}

impl Picture {
    /// Takes a picture, waiting at most `wait` for a writer to release the store.
    pub fn take(root: &Path, wait: Duration) -> crate::Result<Picture> {
        let store = Store::open_for_reading(root, wait)?;
        let mut picture = Picture::default();
        for (repo, tag, digest) in store.tags()? {
            if let Some(name) = served_name(&repo)
                && is_valid_tag(&tag)
            {
                picture
                    .repos
                    .entry(name)
                    .or_default()
                    .tags
                    .insert(tag, digest);
            }
        }
        for (digest, info) in store.manifests()? {
            for repo in &info.repos {
                let Some(name) = served_name(repo) else {
                    continue;
                };
                picture
                    .repos
                    .entry(name.clone())
                    .or_default()
                    .manifests
                    .insert(digest.clone());
                if let Some(subject) = &info.subject {
                    picture
                        .referrers
                        .entry((name, subject.clone()))
                        .or_default()
                        .push(digest.clone());
                }
            }
            picture.manifests.insert(
                digest,
                Stored {
                    media_type: info.media_type,
                    size: info.size,
                },
            );
        }
        Ok(picture)
    }
}

/// The current picture of a store, retaken when the store has changed (checked at most once a
/// second, when asked).
pub struct Current {
    root: PathBuf,
    state: Mutex<State>,
}

struct State {
    picture: Arc<Picture>,
    marker: Vec<(PathBuf, Option<(SystemTime, u64)>)>,
    checked: Instant,
}

/// How often the store is checked for changes.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// How long a retake waits for a writer (a `pull` holds the store while it runs): not longer,
/// for requests wait behind a retake; the picture in hand is served and the retake tried again
/// a second later.
const RETAKE_WAIT: Duration = Duration::from_millis(100);

impl Current {
    /// The store at `root`, pictured now (waiting at most `wait` for a writer).
    pub fn new(root: &Path, wait: Duration) -> crate::Result<Current> {
        let marker = sigmirror_store::change_marker(root, []);
        let picture = Arc::new(Picture::take(root, wait)?);
        Ok(Current {
            root: root.to_path_buf(),
            state: Mutex::new(State {
                picture,
                marker,
                checked: Instant::now(),
            }),
        })
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The picture, retaken first if the store changed since it was taken. A picture that
    /// cannot be retaken (a writer holds the store) is served as it was.
    pub fn get(&self) -> Arc<Picture> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.checked.elapsed() >= CHECK_EVERY {
            state.checked = Instant::now();
            let marker = sigmirror_store::change_marker(&self.root, []);
            if marker != state.marker
                && let Ok(picture) = Picture::take(&self.root, RETAKE_WAIT)
            {
                state.picture = Arc::new(picture);
                state.marker = marker;
            }
        }
        state.picture.clone()
    }
}
