//! The error of the OCI vocabulary and of every [`Source`](crate::source::Source) and
//! [`Sink`](crate::source::Sink).
//!
//! Sources and sinks are implemented in other crates (the registry client, the store, the
//! layout folder), each with its own error type. What a caller acts on is named here
//! ([`Error::NotFound`], a digest or size that does not match, a malformed manifest); anything
//! else a backend reports travels whole in [`Error::Backend`], so its type, message and source
//! chain survive the trip through the transfer engine (see [`Error::backend_error`]).

use std::path::PathBuf;

/// Everything that can go wrong in `sigmirror-oci`, and what any source or sink reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image reference does not follow the docker grammar.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not a digest in an accepted algorithm and spelling.
    #[error("invalid digest {digest:?}: {reason}")]
    InvalidDigest {
        /// The digest as given.
        digest: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The source has no such manifest, blob or repository.
    #[error("{what}: not found")]
    NotFound {
        /// What was looked up.
        what: String,
    },
    /// An image the local store does not hold, with the names it holds that look closest.
    #[error("{what}: not in the store {}{}", store.display(), closest_names(closest))]
    NotInStore {
        /// What was looked up.
        what: String,
        /// The store's folder.
        store: std::path::PathBuf,
        /// The store's image names closest to `what`, closest first (none if it holds none).
        closest: Vec<String>,
    },
    /// A manifest, index or descriptor breaks the format.
    #[error("{what}: {reason}")]
    Malformed {
        /// What was being read.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Content does not match the digest or size it was announced with; it was not kept.
    #[error("{what}: {reason}")]
    Mismatch {
        /// The content, usually `repository@digest`.
        what: String,
        /// What was received instead.
        reason: String,
    },
    /// Content larger than the limit for its kind.
    #[error("{what}: larger than the {limit}-byte limit")]
    TooLarge {
        /// The content.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A source's or sink's own error (registry, store, …), kept whole.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A backend's error, kept whole.
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Backend(Box::new(error))
    }

    /// The backend error of type `E` this error carries, if any: how callers find, say, a
    /// registry's "unauthorized" behind the transfer engine.
    pub fn backend_error<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Error::Backend(inner) => inner.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// Whether this says that something does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. } | Error::NotInStore { .. })
    }
}

/// `; it holds a:1, b:2` for [`Error::NotInStore`].
fn closest_names(closest: &[String]) -> String {
    if closest.is_empty() {
        "; it holds no image of that name or a close one".to_owned()
    } else {
        format!("; the closest names it holds: {}", closest.join(", "))
    }
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
