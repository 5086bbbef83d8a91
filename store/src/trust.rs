//! Trust material kept with the store: the public keys the mounted view (and, later, policy
//! checks) verify against, as `trusted-keys/<name>.pub` PEM files. The store keeps them by name
//! and never interprets them: callers parse and validate the PEM (the CLI before adding one,
//! the FUSE view when it reads them).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Store;
use crate::error::{Error, Result};

/// Folder (inside the store) of the trusted public keys: `<name>.pub` files.
pub const TRUST_DIR: &str = "trusted-keys";

/// The largest key file read: a PEM public key is well under 1 KiB.
const MAX_KEY_FILE: u64 = 64 << 10;

/// A trusted key's name: it becomes a file name and a folder entry of the mounted view.
fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            name: name.to_owned(),
            reason: "use letters, digits, '-', '_' and '.' (not first), at most 64".into(),
        })
    }
}

/// The trusted keys of the store at `root` as `(name, PEM bytes)`, sorted by name, read without
/// opening the store (the mounted view reads them while other processes write). Unreadable,
/// oversized or badly named files are skipped.
pub fn read_trusted_keys(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut keys = vec![];
    let Ok(entries) = std::fs::read_dir(root.join(TRUST_DIR)) else {
        return keys;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".pub"))
        else {
            continue;
        };
        let small_file = entry
            .metadata()
            .is_ok_and(|m| m.is_file() && m.len() <= MAX_KEY_FILE);
        if validate_name(name).is_err() || !small_file {
            continue;
        }
        if let Ok(pem) = std::fs::read(&path) {
            keys.push((name.to_owned(), pem));
        }
    }
    keys.sort();
    keys
}

impl Store {
    /// The folder of the trusted keys.
    pub fn trust_dir(&self) -> PathBuf {
        self.root.join(TRUST_DIR)
    }

    /// Trusts `pem` under `name` (replacing a key of that name), written atomically.
    pub fn add_trusted_key(&self, name: &str, pem: &[u8]) -> Result<()> {
        validate_name(name)?;
        let dir = self.trust_dir();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(format!("{name}.pub"));
        let tmp = dir.join(format!(".{name}.pub.{}.tmp", std::process::id()));
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(pem)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(&path, e));
        }
        Ok(())
    }

    /// Stops trusting the key `name`.
    pub fn remove_trusted_key(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        let path = self.trust_dir().join(format!("{name}.pub"));
        std::fs::remove_file(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                what: format!("trusted key {name}"),
            },
            _ => Error::io(&path, e),
        })
    }

    /// The trusted keys as `(name, PEM bytes)`, sorted by name.
    pub fn trusted_keys(&self) -> Vec<(String, Vec<u8>)> {
        read_trusted_keys(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kept_by_safe_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.add_trusted_key("release", b"PEM 1").unwrap();
        store.add_trusted_key("ci.key-2", b"PEM 2").unwrap();
        store.add_trusted_key("release", b"PEM 3").unwrap();
        assert_eq!(
            store.trusted_keys(),
            vec![
                ("ci.key-2".to_owned(), b"PEM 2".to_vec()),
                ("release".to_owned(), b"PEM 3".to_vec())
            ]
        );
        for bad in ["", "../x", "a/b", ".hidden", "sp ace", &"x".repeat(65)] {
            assert!(store.add_trusted_key(bad, b"k").is_err(), "{bad:?}");
        }
        store.remove_trusted_key("release").unwrap();
        assert!(matches!(
            store.remove_trusted_key("release"),
            Err(Error::NotFound { .. })
        ));
        assert_eq!(store.trusted_keys().len(), 1);
        // A file dropped in by hand with an unsafe name is not read.
        std::fs::write(store.trust_dir().join("..pub"), b"x").unwrap();
        assert_eq!(read_trusted_keys(store.root()).len(), 1);
    }
}
