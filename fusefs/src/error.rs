//! Errors of the view; the fuser adapter turns each into an errno.

/// Why a request on the view failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No such node.
    #[error("no such file or folder")]
    NotFound,
    /// A folder was expected.
    #[error("not a folder")]
    NotADirectory,
    /// A file was expected.
    #[error("is a folder")]
    IsADirectory,
    /// The operation does not apply to this node.
    #[error("invalid request for this node")]
    Invalid,
    /// A blob on disk does not match its digest: it is never served.
    #[error("blob {0} is corrupt in the store (run `sigmirror store fsck`)")]
    Corrupt(sigmirror_oci::Digest),
    /// Reading a store file failed.
    #[error("reading the store: {0}")]
    Io(#[source] std::io::Error),
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] sigmirror_store::Error),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
