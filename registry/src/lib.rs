//! Where the network is: registry clients ([`client`], and `open.rs` for open plain-HTTP
//! registries), OCI image-layout folders ([`layout`]), the transfer engine that copies an
//! image's closure from any source to any sink ([`transfer`]), fetching for verification
//! ([`verify`], [`inspect`]), and writing cosign's signature, attestation and SBOM images
//! ([`sign`], [`attest`], [`upload`]).
//!
//! Checks are not made here: fetched bytes go to `sigmirror-cosign`. The async runtime is the
//! caller's; this crate never builds one.

pub mod attest;
pub mod client;
mod error;
pub mod inspect;
pub mod layout;
mod open;
pub mod referrers;
mod retry;
pub mod sign;
pub mod stall;
pub mod transfer;
pub mod upload;
pub mod verify;
pub mod waiting;

pub use client::{Registry, RegistryOptions};
pub use error::{Error, Result};
pub use layout::Layout;
pub use transfer::{Meter, NoProgress, Progress, Summary, Transfer, TransferOptions};

mod source_impl;
