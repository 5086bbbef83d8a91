//! The read-only FUSE view of a sigmirror store: registries, repositories, tags and digests as
//! folders, signatures and attestations as plain files, verification status as files.
//!
//! Filled in by the "browse the mirror as files" capability; for now it only fixes its place in
//! the dependency graph (`fusefs → store → core`).

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
