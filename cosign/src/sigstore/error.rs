//! Why a keyless or Sigstore-bundle verification failed. Each variant names the check; the
//! message says what was found against what was required, so a user can tell a wrong identity
//! from a signature outside its certificate's validity.

/// What can go wrong verifying against a Sigstore trusted root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key cannot be parsed or cannot do what was asked.
    #[error("key: {reason}")]
    Key {
        /// What is wrong.
        reason: String,
    },
    /// A signature does not verify (the caller says whose).
    #[error("the signature does not verify")]
    BadSignature,
    /// The trusted root is malformed.
    #[error("trusted root: {reason}")]
    TrustedRoot {
        /// What is wrong.
        reason: String,
    },
    /// The bundle is malformed.
    #[error("malformed bundle: {reason}")]
    Bundle {
        /// What is wrong.
        reason: String,
    },
    /// A bundle of a version or media type sigmirror does not know.
    #[error("unsupported bundle media type {media_type:?} (known: Sigstore bundles v0.1 to v0.3)")]
    UnsupportedBundle {
        /// The media type found.
        media_type: String,
    },
    /// The signing certificate cannot be parsed.
    #[error("certificate: {reason}")]
    Certificate {
        /// What is wrong.
        reason: String,
    },
    /// No certificate authority of the trusted root issued the certificate (at the signing time).
    #[error("certificate chain: {reason}")]
    Chain {
        /// What failed.
        reason: String,
    },
    /// The signing time is outside the certificate's validity.
    #[error("signed at {signed_at}, outside the certificate's validity {not_before}..{not_after}")]
    OutsideValidity {
        /// The verified signing time.
        signed_at: String,
        /// The certificate's notBefore.
        not_before: String,
        /// The certificate's notAfter.
        not_after: String,
    },
    /// No embedded SCT verifies with a CT log of the trusted root.
    #[error("certificate transparency: {reason}")]
    Sct {
        /// What failed.
        reason: String,
    },
    /// A transparency-log entry is malformed or cannot be checked.
    #[error("transparency log entry: {reason}")]
    Tlog {
        /// What failed.
        reason: String,
    },
    /// The signed entry timestamp (Rekor's promise) does not verify.
    #[error("signed entry timestamp of log {log_id}: {reason}")]
    SignedEntryTimestamp {
        /// Hex of the log's ID.
        log_id: String,
        /// What failed.
        reason: String,
    },
    /// The inclusion proof does not lead to the logged root.
    #[error("inclusion proof does not match the checkpoint of log {log_id}: {reason}")]
    InclusionProof {
        /// Hex of the log's ID.
        log_id: String,
        /// What failed.
        reason: String,
    },
    /// The checkpoint (signed tree head) does not verify.
    #[error("checkpoint of log {log_id}: {reason}")]
    Checkpoint {
        /// Hex of the log's ID.
        log_id: String,
        /// What failed.
        reason: String,
    },
    /// The logged entry is not about this signature.
    #[error("the log entry does not match the bundle: {reason}")]
    EntryMismatch {
        /// Which part differs.
        reason: String,
    },
    /// Not enough log entries verified.
    #[error("no transparency-log entry verified with a log of the trusted root{}", detail_suffix(.detail))]
    NoVerifiedLogEntry {
        /// What the skipped entries failed on.
        detail: String,
    },
    /// An RFC 3161 timestamp does not verify.
    #[error("timestamp: {reason}")]
    Timestamp {
        /// What failed.
        reason: String,
    },
    /// No verified time to check the certificate at.
    #[error(
        "no verified signing time: the bundle needs a transparency-log entry with an inclusion promise or an RFC 3161 timestamp"
    )]
    NoSigningTime,
    /// The certificate's identity is not the one required.
    #[error("certificate identity {found} does not match the required {required}")]
    Identity {
        /// The identity in the certificate.
        found: String,
        /// What the policy requires.
        required: String,
    },
    /// The certificate's OIDC issuer is not the one required.
    #[error("certificate OIDC issuer {found} does not match the required {required}")]
    Issuer {
        /// The issuer in the certificate.
        found: String,
        /// What the policy requires.
        required: String,
    },
    /// A certificate claim (a GitHub workflow extension) is not the one required.
    #[error("certificate {claim} is {found:?}, not the required {required:?}")]
    Claim {
        /// The claim.
        claim: &'static str,
        /// Its value in the certificate (empty if absent).
        found: String,
        /// What the policy requires.
        required: String,
    },
    /// The policy and the bundle disagree on how it was signed (a key where a certificate is
    /// required, or the other way round).
    #[error("{reason}")]
    Policy {
        /// What disagrees.
        reason: String,
    },
    /// The artifact's signature does not verify.
    #[error("signature: {reason}")]
    Signature {
        /// What failed.
        reason: String,
    },
}

impl Error {
    /// The message without the check's prefix, for joining several reasons under one.
    pub fn reason(&self) -> String {
        match self {
            Error::Timestamp { reason }
            | Error::Tlog { reason }
            | Error::Chain { reason }
            | Error::Sct { reason }
            | Error::Signature { reason } => reason.clone(),
            other => other.to_string(),
        }
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
