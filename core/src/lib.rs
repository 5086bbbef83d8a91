//! The core of sigmirror: cosign's formats, keys, signing and verification.
//!
//! It owns cosign-compatible key files ([`keys`]), key references ([`keyref`]), the plugin host
//! that every signature goes through ([`plugins`], [`signer`]), and blob signing ([`blob`],
//! [`bundle`]). Later capabilities add registry access, attestations and the transfer engine
//! here. `core` knows nothing of the store, FUSE or the terminal, and never prints.
//!
//! ```
//! use sigmirror_core::blob::{sign_blob, verify_blob};
//! use sigmirror_core::keys::{PrivateKey, PublicKey};
//!
//! let key = PrivateKey::generate();
//! let pem = key.to_encrypted_pem(b"s3cret")?;               // what cosign.key holds
//! let key = PrivateKey::from_encrypted_pem(pem.as_bytes(), b"s3cret")?;
//! let public = PublicKey::from_pem(key.public_key().to_pem().as_bytes())?;
//! let signed = sign_blob(&key, &b"artifact"[..])?;
//! verify_blob(&public, &b"artifact"[..], &signed.signature)?;
//! # Ok::<(), sigmirror_core::Error>(())
//! ```

pub mod attest;
pub mod b64;
pub mod blob;
pub mod bundle;
pub mod cosign;
pub mod digest;
mod error;
pub mod gojson;
pub mod keyref;
pub mod keys;
pub mod layout;
pub mod media_types;
mod open_registry;
pub mod paths;
pub mod pem;
pub mod plugins;
pub mod reference;
pub mod registry;
pub mod signer;
pub mod source;
pub mod timefmt;
pub mod transfer;

pub use error::{Error, Result};
