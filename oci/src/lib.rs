//! The OCI vocabulary every sigmirror crate shares: image references ([`reference`](mod@reference)), digests
//! ([`digest`]), media types, typed views of manifests, indexes and descriptors
//! ([`manifest`]), the kinds of things cosign attaches to an image and the grammar of their
//! tags ([`attachment`]), and the [`Source`](source::Source) and [`Sink`](source::Sink)
//! traits through which every place content lives (a registry, the local store, a layout
//! folder) is read and written.
//!
//! It has no network, no runtime and no cryptography beyond hashing, so every other crate can
//! depend on it: the store, the signer plugins and the FUSE view included. Go-compatible JSON
//! output ([`gojson`]), RFC 3339 timestamps ([`timefmt`]) and the per-user data folder
//! ([`paths`]) live here for the same reason.
//!
//! ```
//! use sigmirror_oci::attachment::AttachmentKind;
//! use sigmirror_oci::digest::Digest;
//! use sigmirror_oci::reference::ImageRef;
//!
//! let image = ImageRef::parse("localhost:5000/team/app:v1")?;
//! let digest = Digest::sha256_of(b"{}");
//! let sig = image.with_tag(&AttachmentKind::Signature.tag_for(&digest).expect("a tag kind"));
//! assert_eq!(sig.tag(), Some(format!("sha256-{}.sig", digest.hex()).as_str()));
//! assert_eq!(AttachmentKind::parse_tag(sig.tag().unwrap()), Some((digest, AttachmentKind::Signature)));
//! # Ok::<(), sigmirror_oci::Error>(())
//! ```

pub mod attachment;
pub mod digest;
mod error;
pub mod gojson;
pub mod manifest;
pub mod media_types;
pub mod paths;
pub mod reference;
pub mod source;
pub mod stream;
pub mod timefmt;
#[cfg(feature = "yaml")]
pub mod yaml;

pub use digest::Digest;
pub use error::{Error, Result};
pub use manifest::Manifest;
pub use reference::ImageRef;
