//! The read-only FUSE view of a sigmirror store: registries, repositories, tags and digests as
//! folders, signatures, attestations and SBOMs as plain files, verification status as files.
//!
//! [`vfs::Vfs`] maps paths to nodes with no FUSE involved (tested directly); [`fs::SigFs`] is
//! the thin `fuser` adapter and [`mount`] the lifecycle (mount, stale-mount detection,
//! unmount on signals). The view reads the index as a reader does (the snapshot the last writer
//! left, or the index itself under the lock for a moment), so pulls can run while it is
//! mounted; it notices their results within a second.

pub mod content;
mod error;
pub mod fs;
pub mod mount;
pub mod snapshot;
pub mod trust;
pub mod vfs;

pub use error::{Error, Result};

/// Whether `name` may appear as one path component of the view: a registry could send anything,
/// and nothing it sends may create a name with `/`, NUL, `.` or `..`.
pub fn is_safe_component(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

#[cfg(test)]
mod tests {
    use super::is_safe_component;

    #[test]
    fn hostile_names_are_rejected() {
        for bad in ["", ".", "..", "a/b", "x\0y"] {
            assert!(!is_safe_component(bad), "{bad:?}");
        }
        assert!(is_safe_component("sha256-abc.sig"));
    }
}
