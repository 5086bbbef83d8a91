//! cosign's formats and checks: key files and key references ([`keys`], [`keyref`]), the
//! simple-signing payload ([`payload`]), the signature and attestation images
//! ([`signature_image`]), blob signatures and bundles ([`blob`], [`bundle`]), DSSE envelopes and
//! in-toto statements ([`dsse`], [`statement`], [`attest`]), and **synchronous** verification of
//! bytes the caller has fetched ([`verify`], [`attest`]).
//!
//! Fetching is not done here: the registry crate fetches from registries, the store or layout
//! folders, the FUSE view reads its snapshot, and all of them hand the bytes to the same
//! checks. Signing goes through the [`signer::Signer`] trait, so this crate needs neither a
//! network, a runtime, nor the plugin loader; the signer plugins depend on it for key files.
//!
//! ```
//! use sigmirror_cosign::blob::{sign_blob, verify_blob};
//! use sigmirror_cosign::keys::{PrivateKey, PublicKey};
//!
//! let key = PrivateKey::generate();
//! let pem = key.to_encrypted_pem(b"s3cret")?;               // what cosign.key holds
//! let key = PrivateKey::from_encrypted_pem(pem.as_bytes(), b"s3cret")?;
//! let public = PublicKey::from_pem(key.public_key().to_pem().as_bytes())?;
//! let signed = sign_blob(&key, &b"artifact"[..])?;
//! verify_blob(&public, &b"artifact"[..], &signed.signature)?;
//! assert!(verify_blob(&public, &b"artifacT"[..], &signed.signature).is_err());
//! # Ok::<(), sigmirror_cosign::Error>(())
//! ```

pub mod attest;
pub mod b64;
pub mod blob;
pub mod bundle;
pub mod bundle_image;
pub mod conventions;
pub mod dsse;
mod ecdsa_fast;
mod ecdsa_table;
mod error;
pub mod keyref;
pub mod keys;
pub mod payload;
pub mod pem;
mod predicate_check;
#[cfg(feature = "rego")]
pub mod rego_policy;
pub mod signature_image;
pub mod signer;
pub mod sigstore;
pub mod statement;
pub mod verifier;
pub mod verify;

pub use error::{Error, Result};
