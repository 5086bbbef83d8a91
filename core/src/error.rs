//! The one error type of `sigmirror-core`.

use std::path::PathBuf;

use sigmirror_plugin_abi::host::PluginError;

/// Everything that can go wrong in `sigmirror-core`. Messages are one line and say what to do
/// where there is something to do; they never contain a password or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A PEM file could not be decoded.
    #[error("invalid PEM: {reason}")]
    Pem {
        /// What is wrong with it.
        reason: String,
    },
    /// A PEM block has a label this operation does not accept.
    #[error("unsupported PEM type {label:?} (expected {expected})")]
    UnsupportedPemLabel {
        /// The label found.
        label: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// The JSON envelope of an encrypted cosign key is malformed.
    #[error("malformed encrypted key: {reason}")]
    KeyEnvelope {
        /// What is wrong with it.
        reason: String,
    },
    /// The key uses a KDF other than scrypt.
    #[error("encrypted key: unknown kdf name {0:?}")]
    UnknownKdf(String),
    /// The key uses a cipher other than nacl/secretbox.
    #[error("encrypted key: unknown cipher name {0:?}")]
    UnknownCipher(String),
    /// The scrypt parameters are not one of the three sets cosign writes. Checked before any
    /// key derivation, so a hostile N cannot exhaust memory.
    #[error(
        "encrypted key: unsupported scrypt parameters N={n} r={r} p={p} \
         (accepted: N=32768, 65536 or 131072 with r=8, p=1)"
    )]
    UnsupportedScrypt {
        /// The N parameter.
        n: u64,
        /// The r parameter.
        r: u64,
        /// The p parameter.
        p: u64,
    },
    /// Authentication of the encrypted key failed.
    #[error("decryption failed: wrong password, or the key file is corrupted")]
    DecryptionFailed,
    /// A private key could not be parsed.
    #[error("invalid private key: {reason}")]
    InvalidPrivateKey {
        /// What is wrong with it.
        reason: String,
    },
    /// A public key could not be parsed.
    #[error("invalid public key: {reason}")]
    InvalidPublicKey {
        /// What is wrong with it.
        reason: String,
    },
    /// A key of a type sigmirror does not sign or verify with.
    #[error("unsupported key type: {found} (sigmirror supports ECDSA P-256 keys)")]
    UnsupportedKeyType {
        /// The key type found.
        found: String,
    },
    /// A signature could not be decoded (base64 or DER).
    #[error("malformed signature: {reason}")]
    MalformedSignature {
        /// What is wrong with it.
        reason: String,
    },
    /// The signature does not verify with the key over these bytes.
    #[error("invalid signature: it does not verify with this key over these bytes")]
    InvalidSignature,
    /// A cosign bundle file is malformed.
    #[error("malformed bundle: {reason}")]
    MalformedBundle {
        /// What is wrong with it.
        reason: String,
    },
    /// A key reference is malformed or names something that does not exist.
    #[error("invalid key reference {key_ref:?}: {reason}")]
    KeyRef {
        /// The reference as given.
        key_ref: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No plugin serves the scheme of a key reference.
    #[error(
        "no signer plugin serves {scheme:?} key references (searched: {searched}); \
         run `sigmirror plugins` to see what was found"
    )]
    NoPlugin {
        /// The scheme.
        scheme: String,
        /// The plugin folders searched.
        searched: String,
    },
    /// An image reference does not follow the docker grammar.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry has no such manifest or repository.
    #[error("{reference}: not found in the registry")]
    NotFound {
        /// What was looked up.
        reference: String,
    },
    /// The registry refused the credentials (or their absence).
    #[error(
        "{reference}: unauthorized; give credentials with --registry-username/--registry-password \
         or in ~/.docker/config.json"
    )]
    Unauthorized {
        /// What was accessed.
        reference: String,
    },
    /// The registry could not be reached.
    #[error("{reference}: cannot reach the registry: {reason}")]
    Unreachable {
        /// What was accessed.
        reference: String,
        /// The transport error.
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
    /// A manifest or payload read from a registry or file is malformed.
    #[error("{what}: {reason}")]
    Malformed {
        /// What was being read.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An image has no signatures (no `.sig` manifest).
    #[error("no signatures found for {reference}")]
    NoSignatures {
        /// The image.
        reference: String,
    },
    /// Signatures exist but none verifies; every candidate's reason is listed.
    #[error("no valid signatures for {reference}: {}", reasons.join("; "))]
    NoValidSignatures {
        /// The image.
        reference: String,
        /// Why each candidate was rejected.
        reasons: Vec<String>,
    },
    /// An image has no attestations (no `.att` manifest).
    #[error("no attestations found for {reference}")]
    NoAttestations {
        /// The image.
        reference: String,
    },
    /// Attestations exist but none passes the checks; every candidate's reason is listed.
    #[error("no valid attestations for {reference}: {}", reasons.join("; "))]
    NoValidAttestations {
        /// The image or blob.
        reference: String,
        /// Why each candidate was rejected.
        reasons: Vec<String>,
    },
    /// A plugin failed to load or a call into it failed.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
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
