//! The one error type of `sigmirror-cosign`.

use std::path::PathBuf;

/// Everything that can go wrong reading, writing or checking cosign's formats. Messages are one
/// line and say what to do where there is something to do; they never contain a password or
/// key material.
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
    /// A policy file cannot be used: unreadable, not valid Rego, or in a language sigmirror
    /// cannot evaluate.
    #[error("policy: {reason}")]
    Policy {
        /// What is wrong with it.
        reason: String,
    },
    /// An attestation does not satisfy the policies.
    #[error("policy is not satisfied: {reason}")]
    PolicyNotMet {
        /// How it fails.
        reason: String,
    },
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
    #[error(
        "unsupported key type: {found} (cosign keys are ECDSA P-256, P-384 or P-521, RSA of 2048 \
         to 4096 bits, or Ed25519)"
    )]
    UnsupportedKeyType {
        /// The key type found.
        found: String,
    },
    /// An Ed25519 key was asked to sign or verify a digest: its signatures are over the
    /// message itself.
    #[error("an Ed25519 key signs the message itself, not a digest of it")]
    MessageOnlyKey,
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
    /// A simple-signing payload is not what cosign writes.
    #[error("malformed signature payload: {reason}")]
    Payload {
        /// What is wrong with it.
        reason: String,
    },
    /// A `-a key=value` argument without `=`.
    #[error("invalid annotation {pair:?}: expected key=value")]
    Annotation {
        /// The argument as given.
        pair: String,
    },
    /// A DSSE envelope is malformed.
    #[error("malformed DSSE envelope: {reason}")]
    Envelope {
        /// What is wrong with it.
        reason: String,
    },
    /// An in-toto statement is malformed.
    #[error("malformed in-toto statement: {reason}")]
    Statement {
        /// What is wrong with it.
        reason: String,
    },
    /// A predicate file cannot become the predicate of its type.
    #[error("invalid predicate: {reason}")]
    Predicate {
        /// What is wrong with it.
        reason: String,
    },
    /// A `--type` that is neither a shortname nor a URI.
    #[error(
        "invalid predicate type {given:?}: use a shortname (custom, slsaprovenance, \
         slsaprovenance1, link, spdx, spdxjson, cyclonedx, vuln, openvex) or a URI"
    )]
    PredicateType {
        /// The value as given.
        given: String,
    },
    /// An `attach sbom --type` that is not spdx, cyclonedx or syft.
    #[error("invalid SBOM type {given:?}: expected spdx, cyclonedx or syft")]
    SbomType {
        /// The value as given.
        given: String,
    },
    /// The config of an existing signature image is not JSON.
    #[error("malformed signature image config: {reason}")]
    SignatureImage {
        /// What is wrong with it.
        reason: String,
    },
    /// A signature layer has no signature annotation.
    #[error("no signature annotation")]
    NoSignatureAnnotation,
    /// A signature layer's signature annotation is not base64.
    #[error("signature annotation is not base64: {reason}")]
    SignatureAnnotation {
        /// The decoder's complaint.
        reason: String,
    },
    /// A payload names another image digest than the one verified.
    #[error("payload is for digest {found:?}, not {expected}")]
    PayloadDigest {
        /// The digest in the payload.
        found: String,
        /// The digest verified.
        expected: String,
    },
    /// A required annotation has another value in the payload.
    #[error("annotation {key}: payload has {found}, required {required}")]
    AnnotationMismatch {
        /// The annotation.
        key: String,
        /// Its value in the payload (JSON).
        found: String,
        /// The required value (JSON).
        required: String,
    },
    /// A required annotation is not in the payload.
    #[error("annotation {key} is missing from the payload")]
    AnnotationMissing {
        /// The annotation.
        key: String,
    },
    /// No subject of a statement has the digest verified.
    #[error("statement has no subject with digest {digest}")]
    SubjectMismatch {
        /// The digest verified.
        digest: String,
    },
    /// A statement has another predicate type than the one required.
    #[error("predicate type is {found:?}, not {wanted:?}")]
    PredicateTypeMismatch {
        /// The statement's predicate type.
        found: String,
        /// The one required.
        wanted: String,
    },
    /// An image has no signatures (no `.sig` manifest, or one without layers).
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
    /// An environment variable cosign reads holds something invalid.
    #[error("{variable}: {source}")]
    Environment {
        /// The variable.
        variable: &'static str,
        /// What is wrong with its value.
        #[source]
        source: sigmirror_oci::Error,
    },
    /// A signer (a plugin, a token, a KMS) failed to sign or to give its public key.
    #[error(transparent)]
    Signer(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A keyless or Sigstore-bundle verification failed.
    #[error(transparent)]
    Sigstore(#[from] crate::sigstore::Error),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
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
