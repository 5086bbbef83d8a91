//! The store as a read-only OCI registry: the read side of the distribution spec (`/v2/`,
//! manifests and blobs by GET and HEAD, `Range` on blobs, `tags/list` and `_catalog` with
//! `n`/`last` pagination, and the OCI 1.1 referrers API), answered from the store's files with
//! no copy. Writes are refused with the spec's error JSON.
//!
//! The index is read as a [`picture::Picture`], taken as every reader takes it (from the snapshot the last writer left, or under the store lock for a moment)
//! and retaken when the store changes, so `pull` and other writers run while it serves and a
//! completed pull shows without a restart. Blob files are immutable and read in place; a blob
//! is hashed the first time it is served whole, and never served again if it does not match.

pub mod access;
pub mod names;
pub mod picture;
pub mod registry;
pub mod server;

/// What can go wrong setting up the server (requests are answered, never fail).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] sigmirror_store::Error),
    /// The login file or the TLS certificate cannot be used.
    #[error(transparent)]
    Access(#[from] access::AccessError),
    /// The address could not be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
