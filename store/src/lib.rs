//! The local mirror of sigmirror: blobs and manifests on disk by digest, with an index of tags,
//! repositories and the signatures, attestations and SBOMs attached to each digest.
//!
//! The store is synchronous and knows nothing of registries or FUSE; the transfer engine in
//! `sigmirror-core` writes into it through the `Sink` trait. This crate is filled in by the
//! "local mirror" capability; for now it only fixes its place in the dependency graph.

/// The default location of the store: `$SIGMIRROR_STORE`, else `<data dir>/sigmirror/store`.
pub fn default_store_dir() -> Option<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os("SIGMIRROR_STORE") {
        return Some(dir.into());
    }
    sigmirror_core::paths::data_dir().map(|d| d.join("store"))
}
