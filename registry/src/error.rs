//! The one error type of `sigmirror-registry`.

use std::path::PathBuf;

/// What can go wrong talking to registries and writing cosign's images to them. Content and
/// format errors keep their own types ([`sigmirror_oci::Error`], [`sigmirror_cosign::Error`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry has no such manifest, blob or repository.
    #[error("{reference}: not found in the registry")]
    NotFound {
        /// What was looked up.
        reference: String,
    },
    /// The registry refused the credentials (or their absence).
    #[error("{reference}: {}", unauthorized(sent.as_deref()))]
    Unauthorized {
        /// What was accessed.
        reference: String,
        /// The credentials that were sent and refused (`user "bob"`), if any were.
        sent: Option<String>,
    },
    /// The registry could not be reached.
    #[error("{reference}: cannot reach the registry: {reason}")]
    Unreachable {
        /// What was accessed.
        reference: String,
        /// The transport error.
        reason: String,
    },
    /// The registry did not answer in time (see [`crate::stall`]).
    #[error("{reference}: timed out: {reason}")]
    TimedOut {
        /// What was waited for.
        reference: String,
        /// Who did not answer, and how long was waited.
        reason: String,
    },
    /// The registry answered with an error or with content that breaks the protocol.
    #[error("{reference}: registry error: {reason}")]
    Registry {
        /// What was accessed.
        reference: String,
        /// The registry's message or what is wrong with its answer.
        reason: String,
    },
    /// A platform was asked of an image that is not a multi-platform index.
    #[error("--platform {platform}: {image} is a single image, not a multi-platform index")]
    NotAnIndex {
        /// The image.
        image: String,
        /// The platform asked for.
        platform: String,
    },
    /// An index has no image for the platform asked for.
    #[error("{image} has no image for platform {platform}; it has: {}", known.join(", "))]
    NoSuchPlatform {
        /// The index.
        image: String,
        /// The platform asked for.
        platform: String,
        /// The platforms it has.
        known: Vec<String>,
    },
    /// A signature or attestation image already has cosign's maximum number of layers.
    #[error("{reference}: the image already has {layers} layers, the maximum")]
    TooManyLayers {
        /// The `.sig` or `.att` image.
        reference: String,
        /// Its layer count.
        layers: usize,
    },
    /// An `upload blob` request that cannot be made into an image.
    #[error("cannot upload: {reason}")]
    InvalidUpload {
        /// Why.
        reason: String,
    },
    /// Content read from a source or written to a sink is malformed, missing or refused.
    #[error(transparent)]
    Oci(#[from] sigmirror_oci::Error),
    /// cosign's formats or checks failed (a payload, key, signature, envelope).
    #[error(transparent)]
    Cosign(#[from] sigmirror_cosign::Error),
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Work moved to a blocking thread (a plugin call) panicked or was cancelled.
    #[error("{what} did not finish: {source}")]
    Task {
        /// The work.
        what: &'static str,
        /// Why.
        #[source]
        source: tokio::task::JoinError,
    },
}

impl Error {
    /// Whether this says that something does not exist (in a registry or any other source).
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::NotFound { .. } => true,
            Error::Oci(e) => e.is_not_found(),
            _ => false,
        }
    }
}

/// Sources and sinks speak `sigmirror_oci::Error`: a registry's "not found" keeps its meaning,
/// errors that came from content stay what they were, and the rest travels whole.
impl From<Error> for sigmirror_oci::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { reference } => sigmirror_oci::Error::NotFound { what: reference },
            Error::Oci(inner) => inner,
            other => sigmirror_oci::Error::backend(other),
        }
    }
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why access was refused: credentials that were sent and rejected, or none sent.
fn unauthorized(sent: Option<&str>) -> String {
    match sent {
        Some(who) => format!(
            "the registry rejected the credentials of {who} (wrong password or token, or no \
             access to this repository)"
        ),
        None => "unauthorized; give credentials with --registry-username and \
                 --registry-password(-stdin), or in ~/.docker/config.json"
            .to_owned(),
    }
}
