//! Trust material kept with the store, by kind and name: the public keys the mounted view (and
//! `--offline` verification) verify against (`trusted-keys/<name>.pub`), Sigstore trusted roots
//! (`trusted-roots/<name>.json`) and the certificate identities trusted under them
//! (`trusted-identities/<name>.json`). The store keeps them by name and never interprets them:
//! callers parse and validate the contents (the CLI before adding, readers when they read).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Store;
use crate::error::{Error, Result};

/// What kind of trust material a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustKind {
    /// A PEM public key.
    Key,
    /// A Sigstore trusted root (JSON).
    Root,
    /// A certificate identity policy (JSON).
    Identity,
}

impl TrustKind {
    /// Every kind: what the mounted view watches.
    pub const ALL: [TrustKind; 3] = [TrustKind::Key, TrustKind::Root, TrustKind::Identity];

    /// The folder inside the store.
    pub fn dir(self) -> &'static str {
        match self {
            TrustKind::Key => "trusted-keys",
            TrustKind::Root => "trusted-roots",
            TrustKind::Identity => "trusted-identities",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            TrustKind::Key => ".pub",
            TrustKind::Root | TrustKind::Identity => ".json",
        }
    }

    /// The largest file read: a PEM key is well under 1 KiB; the public-good trusted root is
    /// about 15 KiB, a private one with long chains can be larger.
    fn max_size(self) -> u64 {
        match self {
            TrustKind::Key | TrustKind::Identity => 64 << 10,
            TrustKind::Root => 4 << 20,
        }
    }

    fn what(self) -> &'static str {
        match self {
            TrustKind::Key => "trusted key",
            TrustKind::Root => "trusted root",
            TrustKind::Identity => "trusted identity",
        }
    }
}

/// Folder (inside the store) of the trusted public keys.
pub const TRUST_DIR: &str = "trusted-keys";

/// A trust file's name: it becomes a file name and a folder entry of the mounted view.
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

/// The trust files of `kind` in the store at `root` as `(name, bytes)`, sorted by name, read
/// without opening the store (the mounted view reads them while other processes write).
/// Unreadable, oversized or badly named files are skipped.
pub fn read_trusted(root: &Path, kind: TrustKind) -> Vec<(String, Vec<u8>)> {
    let mut found = vec![];
    let Ok(entries) = std::fs::read_dir(root.join(kind.dir())) else {
        return found;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(kind.suffix()))
        else {
            continue;
        };
        let small_file = entry
            .metadata()
            .is_ok_and(|m| m.is_file() && m.len() <= kind.max_size());
        if validate_name(name).is_err() || !small_file {
            continue;
        }
        if let Ok(bytes) = std::fs::read(&path) {
            found.push((name.to_owned(), bytes));
        }
    }
    found.sort();
    found
}

/// The trusted keys of the store at `root` as `(name, PEM bytes)` (see [`read_trusted`]).
pub fn read_trusted_keys(root: &Path) -> Vec<(String, Vec<u8>)> {
    read_trusted(root, TrustKind::Key)
}

impl Store {
    /// The folder of the trusted keys.
    pub fn trust_dir(&self) -> PathBuf {
        self.root.join(TrustKind::Key.dir())
    }

    /// Trusts `bytes` as `kind` under `name` (replacing one of that name), written atomically.
    pub fn add_trusted(&self, kind: TrustKind, name: &str, bytes: &[u8]) -> Result<()> {
        self.writable("adding trust")?;
        validate_name(name)?;
        let dir = self.root.join(kind.dir());
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let file = format!("{name}{}", kind.suffix());
        let path = dir.join(&file);
        let tmp = dir.join(format!(".{file}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut out = std::fs::File::create(&tmp)?;
            out.write_all(bytes)?;
            out.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(&path, e));
        }
        Ok(())
    }

    /// Stops trusting the `kind` named `name`.
    pub fn remove_trusted(&self, kind: TrustKind, name: &str) -> Result<()> {
        self.writable("removing trust")?;
        validate_name(name)?;
        let path = self
            .root
            .join(kind.dir())
            .join(format!("{name}{}", kind.suffix()));
        std::fs::remove_file(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                what: format!("{} {name}", kind.what()),
            },
            _ => Error::io(&path, e),
        })
    }

    /// Trusts `pem` under `name` (replacing a key of that name), written atomically.
    pub fn add_trusted_key(&self, name: &str, pem: &[u8]) -> Result<()> {
        self.add_trusted(TrustKind::Key, name, pem)
    }

    /// Stops trusting the key `name`.
    pub fn remove_trusted_key(&self, name: &str) -> Result<()> {
        self.remove_trusted(TrustKind::Key, name)
    }

    /// The trust files of `kind` as `(name, bytes)`, sorted by name.
    pub fn trusted(&self, kind: TrustKind) -> Vec<(String, Vec<u8>)> {
        read_trusted(&self.root, kind)
    }

    /// The trusted keys as `(name, PEM bytes)`, sorted by name.
    pub fn trusted_keys(&self) -> Vec<(String, Vec<u8>)> {
        self.trusted(TrustKind::Key)
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

    #[test]
    fn each_kind_has_its_own_folder_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .add_trusted(TrustKind::Root, "public-good", b"{}")
            .unwrap();
        store
            .add_trusted(TrustKind::Identity, "release", b"{\"a\":1}")
            .unwrap();
        store
            .add_trusted(TrustKind::Key, "release", b"PEM")
            .unwrap();
        assert_eq!(
            store.trusted(TrustKind::Root),
            vec![("public-good".to_owned(), b"{}".to_vec())]
        );
        assert_eq!(store.trusted(TrustKind::Identity).len(), 1);
        assert_eq!(
            store.trusted_keys(),
            vec![("release".to_owned(), b"PEM".to_vec())]
        );
        assert!(dir.path().join("trusted-roots/public-good.json").is_file());
        store
            .remove_trusted(TrustKind::Identity, "release")
            .unwrap();
        assert!(store.trusted(TrustKind::Identity).is_empty());
        let err = store.remove_trusted(TrustKind::Root, "nope").unwrap_err();
        assert!(err.to_string().contains("trusted root nope"), "{err}");
    }
}
