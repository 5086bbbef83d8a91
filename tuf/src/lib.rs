//! Sigstore's trusted root through TUF, for sites without a network.
//!
//! Sigstore publishes `trusted_root.json` as a target of a TUF repository. Outside the air gap,
//! [`update`] runs a TUF client update against that repository (`tough`, a maintained client):
//! from a root the user trusts, through every newer root (each signed by enough keys of the
//! one before it), then the timestamp, snapshot and targets metadata, refusing expired,
//! rolled-back (older than what this store saw before) or under-signed metadata, and a target
//! whose hash is not the listed one. The verified repository is kept as files; carried inside,
//! the same [`update`] runs against that folder, from a root the user pins there, and re-checks
//! all of it. Nothing is returned, kept or replaced unless everything verified.

use std::path::{Path, PathBuf};

use tough::{DefaultTransport, IntoVec, RepositoryLoader, TargetName};
use url::Url;

/// Sigstore's public-good TUF repository.
pub const SIGSTORE_REPOSITORY: &str = "https://tuf-repo-cdn.sigstore.dev";
/// Its root metadata (version 15, from sigstore-python; see `data/README.md`): where a first
/// update from the public-good repository starts when the user pins no other root.
pub const SIGSTORE_ROOT: &[u8] = include_bytes!("../data/sigstore-root.json");
/// The target holding the trusted root.
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";
/// The largest trusted root accepted (the public-good one is about 15 KiB).
const MAX_TARGET: usize = 4 << 20;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The repository location is neither a URL nor a folder.
    #[error("{location} is neither an http(s) URL nor a folder")]
    Location {
        /// What was given.
        location: String,
    },
    /// The TUF update failed: unreachable, expired, rolled back, under-signed, tampered.
    #[error("TUF update from {repository} failed: {reason}")]
    Update {
        /// The repository.
        repository: String,
        /// What failed: tough's account, which already spells out its causes.
        reason: String,
    },
    /// The repository does not list the trusted root.
    #[error("the TUF repository {repository} has no target {TRUSTED_ROOT_TARGET}")]
    NoTrustedRoot {
        /// The repository.
        repository: String,
    },
    /// The trusted root is larger than sigmirror reads.
    #[error("{TRUSTED_ROOT_TARGET} is larger than 4 MiB")]
    TooLarge,
    /// A local file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an update established.
#[derive(Debug, Clone)]
pub struct Updated {
    /// The verified `trusted_root.json`.
    pub trusted_root: Vec<u8>,
    /// The version of the newest root metadata reached.
    pub root_version: u64,
    /// The timestamp metadata's version.
    pub timestamp_version: u64,
    /// When the timestamp metadata expires (RFC 3339): the update is to be run again by then.
    pub expires: String,
}

/// The metadata and targets base URLs of a repository given as a URL or a folder (both laid out
/// as Sigstore's: metadata at the top, targets under `targets/`).
fn locate(repository: &str) -> Result<(Url, Url)> {
    let bad = || Error::Location {
        location: repository.to_owned(),
    };
    let base = if repository.starts_with("http://") || repository.starts_with("https://") {
        Url::parse(repository).map_err(|_| bad())?
    } else {
        let path = std::fs::canonicalize(repository).map_err(|_| bad())?;
        Url::from_directory_path(&path).map_err(|()| bad())?
    };
    let base = if base.path().ends_with('/') {
        base
    } else {
        Url::parse(&format!("{base}/")).map_err(|_| bad())?
    };
    let targets = base.join("targets/").map_err(|_| bad())?;
    Ok((base, targets))
}

/// Runs a TUF update of `repository` (an http(s) URL or a folder) starting from `root` (root
/// metadata the user trusts), with `datastore` keeping what earlier updates saw (so older
/// metadata is refused as a rollback). On success, writes the verified repository (the whole
/// root chain, the top-level metadata, the trusted root) to `keep` (replacing what was there)
/// and returns the trusted root.
pub async fn update(
    repository: &str,
    root: &[u8],
    datastore: &Path,
    keep: &Path,
) -> Result<Updated> {
    let (metadata, targets) = locate(repository)?;
    let failed = |source: tough::error::Error| Error::Update {
        repository: repository.to_owned(),
        reason: source.to_string(),
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(datastore).map_err(io(datastore))?;
    let repo = RepositoryLoader::new(&root, metadata, targets)
        .transport(DefaultTransport::new())
        .datastore(datastore)
        .load()
        .await
        .map_err(failed)?;
    let name = TargetName::new(TRUSTED_ROOT_TARGET).map_err(failed)?;
    let stream = repo
        .read_target(&name)
        .await
        .map_err(failed)?
        .ok_or_else(|| Error::NoTrustedRoot {
            repository: repository.to_owned(),
        })?;
    // The whole target is read and its hash checked before anything is used or written.
    let trusted_root = stream.into_vec().await.map_err(failed)?;
    if trusted_root.len() > MAX_TARGET {
        return Err(Error::TooLarge);
    }

    // Keep the verified repository: written beside, then put in place.
    let parent = keep.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let staging = parent.join(format!(
        ".{}.{}.tmp",
        keep.file_name().and_then(|n| n.to_str()).unwrap_or("tuf"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    let cached = repo
        .cache(
            &staging,
            staging.join("targets"),
            Some(&[TRUSTED_ROOT_TARGET]),
            true,
        )
        .await;
    if let Err(e) = cached {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(failed(e));
    }
    let _ = std::fs::remove_dir_all(keep);
    std::fs::rename(&staging, keep).map_err(io(keep))?;

    Ok(Updated {
        trusted_root,
        root_version: repo.root().signed.version.get(),
        timestamp_version: repo.timestamp().signed.version.get(),
        expires: repo.timestamp().signed.expires.to_string(),
    })
}
