//! Keyless and Sigstore-bundle verification, offline, against a Sigstore trusted root.
//!
//! A trusted root ([`trusted_root`]) names the certificate authorities (Fulcio), transparency
//! logs (Rekor v1 and v2), CT logs and timestamp authorities a verification trusts. A bundle
//! ([`bundle`]) carries a signature, its key material and the evidence that it was made while
//! the certificate was valid: transparency-log entries ([`tlog`]) with signed entry timestamps
//! or inclusion proofs under signed checkpoints ([`checkpoint`], [`merkle`]), and RFC 3161
//! timestamps ([`timestamp`]). [`verifier::verify`] checks all of it in sigstore-go's order and
//! then the identity the [`policy`] requires.
//!
//! Nothing here touches the network: the trusted root is a file (shipped by Sigstore's TUF
//! repository, copied into an air-gapped site like any other file).

pub mod bundle;
pub mod bytes;
pub mod certificate;
pub mod checkpoint;
pub mod classic;
pub(crate) mod der_util;
mod error;
pub mod keys;
pub mod merkle;
pub mod policy;
pub mod sct;
pub mod time;
pub mod timestamp;
pub mod tlog;
pub mod trusted_root;
pub mod verifier;

pub use bundle::Bundle;
pub use certificate::Certificate;
pub use error::{Error, Result};
pub use policy::{IdentityPolicy, IdentitySpec, Matcher, Policy, WorkflowClaims};
pub use time::Instant;
pub use trusted_root::TrustedRoot;
pub use verifier::{Artifact, Options, Verified, verify};
