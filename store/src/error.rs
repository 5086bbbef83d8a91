//! The one error type of `sigmirror-store`. Every variant names the file or digest concerned,
//! because a store error is only actionable when the user can find what it is about.

use std::path::PathBuf;

use sigmirror_oci::Digest;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another process holds the store's lock for longer than we were willing to wait.
    #[error("store {} is in use by another sigmirror process ({holder}); wait for it to finish", root.display())]
    Locked {
        /// The store's root folder.
        root: PathBuf,
        /// Who holds the lock: `pid 1234: \`sigmirror pull ...\`` when it could be read.
        holder: String,
    },
    /// A file or folder of the store could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The sled index failed.
    #[error("store index {}: {source}", path.display())]
    Index {
        /// The index folder.
        path: PathBuf,
        /// sled's error.
        #[source]
        source: sled::Error,
    },
    /// An index entry could not be decoded (the index was written by something else, or damaged).
    #[error("store index entry {key:?} in {tree}: {reason}; run `sigmirror store fsck`")]
    BadEntry {
        /// The index tree.
        tree: &'static str,
        /// The entry's key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A digest the store cannot hold: it keeps SHA-256 blobs only.
    #[error("unsupported digest {digest}: the store holds sha256 blobs only")]
    InvalidDigest {
        /// The digest as given.
        digest: String,
    },
    /// A repository or tag name the store cannot key safely.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A stored blob no longer hashes to its digest: it is never served.
    #[error("blob {digest} is corrupt ({reason}) at {}; run `sigmirror store fsck`", path.display())]
    Corrupt {
        /// The digest the blob should have.
        digest: Digest,
        /// Its file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// Content offered for `digest` does not match it; nothing was stored.
    #[error("refused content for {digest}: {reason}")]
    Mismatch {
        /// The digest the content was announced as.
        digest: Digest,
        /// What was received instead.
        reason: String,
    },
    /// A blob is larger than the caller allows.
    #[error("blob {digest} is {size} bytes, more than the {max} allowed here")]
    TooLarge {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// There is no store at the folder a reading command was given.
    #[error("{}: no store here (a mistyped --store?); read-only commands do not create one", root.display())]
    NoStore {
        /// The folder.
        root: PathBuf,
    },
    /// A write to a store opened read-only (on write-protected media).
    #[error("{}: the store is read-only here (write-protected media?): {what} needs write access", root.display())]
    ReadOnly {
        /// The store's root folder.
        root: PathBuf,
        /// What was attempted.
        what: &'static str,
    },
    /// Something the operation needs is not in the store.
    #[error("{what}: not in the store")]
    NotFound {
        /// What was looked up.
        what: String,
    },
    /// `gc` cannot know what a damaged manifest reaches, so it deletes nothing.
    #[error(
        "gc refused: manifest {digest} reachable from a tag is damaged, so what it reaches is \
         unknown; run `sigmirror store fsck` and pull the image again"
    )]
    GcRefused {
        /// The damaged manifest.
        digest: Digest,
    },
    /// A stored manifest is not the JSON it should be.
    #[error("manifest {digest}: {reason}")]
    MalformedManifest {
        /// The manifest.
        digest: Digest,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Sources and sinks speak `sigmirror_oci::Error`: absent content stays
/// [`NotFound`](sigmirror_oci::Error::NotFound), which callers act on, and everything else
/// travels whole as a backend error, message and source chain included.
impl From<Error> for sigmirror_oci::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { what } => sigmirror_oci::Error::NotFound { what },
            other => sigmirror_oci::Error::backend(other),
        }
    }
}
